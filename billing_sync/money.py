"""Currencies and money: minor-unit conversion by exponent, and human formatting of amounts."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

# Stripe's zero-decimal currencies: amounts are whole units (JPY 500 is 500 yen).
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
# Three-decimal currencies: amounts are in thousandths and Stripe requires the last digit to be 0.
THREE_DECIMAL = frozenset(["bhd", "jod", "kwd", "omr", "tnd"])

# Presentment currencies Stripe accepts (ISO 4217, lower case).
CURRENCIES = frozenset(
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
        "bhd",
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
        "jod",
        "jpy",
        "kes",
        "kgs",
        "khr",
        "kmf",
        "krw",
        "kwd",
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
        "omr",
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
        "tnd",
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
        "xof",
        "xpf",
        "yer",
        "zar",
        "zmw",
    ]
)


#: Amounts with more digits than this in minor units are refused outright (Stripe's largest
#: amounts have 8 to 12 digits), so an exponent like '1e1000000' never builds a huge number.
MAX_MINOR_DIGITS = 30


def exponent(currency: str) -> int:
    """Number of decimal digits in the currency's minor unit."""
    c = currency.lower()
    if c in ZERO_DECIMAL:
        return 0
    if c in THREE_DECIMAL:
        return 3
    return 2


def to_minor(amount: str | Decimal, currency: str) -> int:
    """Convert a decimal amount in major units to integer minor units.

    Raises ValueError with a user-facing message when the amount has more decimals than the
    currency allows, is negative, or (three-decimal currencies) does not end in 0.
    """
    try:
        value = Decimal(str(amount).strip())
    except InvalidOperation:
        raise ValueError(f"{amount!r} is not a decimal amount") from None
    if not value.is_finite():
        raise ValueError(f"{amount!r} is not a decimal amount")
    if value < 0:
        raise ValueError(f"amount {amount!r} is negative")
    exp = exponent(currency)
    # Exact integer arithmetic on the digits (Decimal's context would round beyond 28 digits,
    # overflow on '1e1000000' and flush '1e-1000000000' to 0).
    _, digits, dexp = value.as_tuple()
    assert isinstance(dexp, int)  # finite
    number = int("".join(map(str, digits)))
    shift = dexp + exp
    if number == 0:
        minor = 0
    elif value.adjusted() + exp > MAX_MINOR_DIGITS:
        raise ValueError(f"amount {amount!r} is too large")
    elif shift >= 0:
        minor = number * 10**shift
    elif -shift > len(digits) or number % 10**-shift:
        places = "no decimals" if exp == 0 else f"at most {exp} decimals"
        raise ValueError(
            f"amount {amount!r} has too many decimals: {currency.upper()} takes {places}"
        )
    else:
        minor = number // 10**-shift
    if exp == 3 and minor % 10 != 0:
        raise ValueError(
            f"amount {amount!r}: {currency.upper()} amounts must end in 0 (Stripe rounds to 2 decimals)"
        )
    return minor


def to_major(minor: int, currency: str) -> Decimal:
    """Integer minor units back to a Decimal in major units."""
    return Decimal(minor).scaleb(-exponent(currency))


def format_amount(minor: int | None, currency: str) -> str:
    """`1999, usd` -> `19.99 USD`; `500, jpy` -> `500 JPY`."""
    if minor is None:
        return f"? {currency.upper()}"
    exp = exponent(currency)
    major = to_major(minor, currency)
    return f"{major:,.{exp}f} {currency.upper()}"


#: Stripe's `unit_amount_decimal`: "a decimal value in cents (or local equivalent) with at most
#: 12 decimal places" (stripe-python 16.x, params/_price_create_params.py).
MAX_MINOR_DECIMALS = 12


def to_minor_decimal(amount: str | Decimal, currency: str) -> Decimal:
    """A price's amount in minor units, fractions of the minor unit allowed (sub-cent prices,
    sent as `unit_amount_decimal`): at most 12 decimal places in minor units. Three-decimal
    currencies keep their whole-minor-unit rule (`to_minor`)."""
    try:
        return Decimal(to_minor(amount, currency))
    except ValueError as err:
        if "too many decimals" not in str(err) or exponent(currency) == 3:
            raise
    value = Decimal(str(amount).strip())
    minor = value.scaleb(exponent(currency))
    places = -int(minor.as_tuple().exponent)
    if places > MAX_MINOR_DECIMALS:
        most = MAX_MINOR_DECIMALS + exponent(currency)
        raise ValueError(
            f"amount {amount!r} has too many decimals: a {currency.upper()} price takes at most "
            f"{most} (Stripe's unit_amount_decimal: {MAX_MINOR_DECIMALS} decimal places of the "
            "minor unit)"
        )
    return minor


def decimal_text(value: Decimal) -> str:
    """`Decimal('0.30')` -> `0.3`: plain digits, no exponent, no trailing zeros."""
    text = format(value, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text or "0"


def format_decimal_amount(minor: str | Decimal, currency: str) -> str:
    """`0.3, usd` -> `0.003 USD`: a fractional minor amount in major units, exactly."""
    exp = exponent(currency)
    major = Decimal(minor).scaleb(-exp)
    places = max(exp, -int(major.normalize().as_tuple().exponent))
    return f"{major:,.{places}f} {currency.upper()}"
