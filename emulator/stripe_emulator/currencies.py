"""Currencies as Stripe documents them, written for the emulator (never shared with a client).

Source: Stripe, "Supported currencies", https://docs.stripe.com/currencies (sections
"Supported presentment currencies", "Zero-decimal currencies", "Three-decimal currencies",
"Minimum and maximum charge amounts").
"""

from __future__ import annotations

from decimal import Decimal

# Zero-decimal currencies: the amount is in whole units (docs.stripe.com/currencies#zero-decimal).
ZERO_DECIMAL = frozenset(
    [
        "bif",
        "clp",
        "djf",
        "gnf",
        "jpy",
        "kmf",
        "krw",
        "mga",
        "pyg",
        "rwf",
        "ugx",
        "vnd",
        "vuv",
        "xaf",
        "xof",
        "xpf",
    ]
)

# Three-decimal currencies: amounts in thousandths, last digit 0 for payments
# (docs.stripe.com/currencies#three-decimal).
THREE_DECIMAL = frozenset(["bhd", "jod", "kwd", "omr", "tnd"])

# Presentment currencies for card payments (docs.stripe.com/currencies#presentment-currencies),
# lowercase as the API requires.
CURRENCIES = (
    frozenset(
        [
            "usd",
            "aed",
            "afn",
            "all",
            "amd",
            "ang",
            "aoa",
            "ars",
            "aud",
            "awg",
            "azn",
            "bam",
            "bbd",
            "bdt",
            "bgn",
            "bif",
            "bmd",
            "bnd",
            "bob",
            "brl",
            "bsd",
            "bwp",
            "byn",
            "bzd",
            "cad",
            "cdf",
            "chf",
            "clp",
            "cny",
            "cop",
            "crc",
            "cve",
            "czk",
            "djf",
            "dkk",
            "dop",
            "dzd",
            "egp",
            "etb",
            "eur",
            "fjd",
            "fkp",
            "gbp",
            "gel",
            "gip",
            "gmd",
            "gnf",
            "gtq",
            "gyd",
            "hkd",
            "hnl",
            "htg",
            "huf",
            "idr",
            "ils",
            "inr",
            "isk",
            "jmd",
            "jpy",
            "kes",
            "kgs",
            "khr",
            "kmf",
            "krw",
            "kyd",
            "kzt",
            "lak",
            "lbp",
            "lkr",
            "lrd",
            "lsl",
            "mad",
            "mdl",
            "mga",
            "mkd",
            "mmk",
            "mnt",
            "mop",
            "mur",
            "mvr",
            "mwk",
            "mxn",
            "myr",
            "mzn",
            "nad",
            "ngn",
            "nio",
            "nok",
            "npr",
            "nzd",
            "pab",
            "pen",
            "pgk",
            "php",
            "pkr",
            "pln",
            "pyg",
            "qar",
            "ron",
            "rsd",
            "rub",
            "rwf",
            "sar",
            "sbd",
            "scr",
            "sek",
            "sgd",
            "shp",
            "sle",
            "sos",
            "srd",
            "std",
            "szl",
            "thb",
            "tjs",
            "top",
            "try",
            "ttd",
            "twd",
            "tzs",
            "uah",
            "ugx",
            "uyu",
            "uzs",
            "vnd",
            "vuv",
            "wst",
            "xaf",
            "xcd",
            "xcg",
            "xof",
            "xpf",
            "yer",
            "zar",
            "zmw",
        ]
    )
    | THREE_DECIMAL
)

# Minimum charge amounts, in major units as the docs list them
# (docs.stripe.com/currencies#minimum-and-maximum-charge-amounts). Stripe applies the minimum
# in the account's settlement currency; the emulator's account settles in the charge's own
# currency, so the minimum applies to the presentment currency. Currencies not listed here
# have no minimum of their own in the emulator.
_MINIMUM_MAJOR = {
    "usd": "0.50",
    "aed": "2.00",
    "aud": "0.50",
    "bgn": "1.00",
    "brl": "0.50",
    "cad": "0.50",
    "chf": "0.50",
    "czk": "15.00",
    "dkk": "2.50",
    "eur": "0.50",
    "gbp": "0.30",
    "hkd": "4.00",
    "huf": "175.00",
    "inr": "0.50",
    "jpy": "50",
    "mxn": "10",
    "myr": "2",
    "nok": "3.00",
    "nzd": "0.50",
    "pln": "2.00",
    "ron": "2.00",
    "sek": "3.00",
    "sgd": "0.50",
    "thb": "10",
}

# "The amount value supports up to eight digits (e.g., a value of 99999999 for a USD charge of
# $999,999.99)" (docs.stripe.com/currencies#minimum-and-maximum-charge-amounts).
MAX_AMOUNT = 99_999_999


def exponent(currency: str) -> int:
    """Digits after the decimal point in the currency's minor unit."""
    if currency in ZERO_DECIMAL:
        return 0
    if currency in THREE_DECIMAL:
        return 3
    return 2


MINIMUM_CHARGE: dict[str, int] = {
    cur: int(Decimal(major).scaleb(exponent(cur))) for cur, major in _MINIMUM_MAJOR.items()
}
