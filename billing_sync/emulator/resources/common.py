"""Helpers shared by resources: `created` filters, currencies, amounts."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from billing_sync.emulator.errors import ApiError

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
THREE_DECIMAL = frozenset(["bhd", "jod", "kwd", "omr", "tnd"])
# Stripe's settlement/presentment currencies (a generous subset; unknown codes are refused).
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


def check_currency(value: Any, param: str) -> str:
    cur = str(value).lower()
    if cur not in CURRENCIES:
        raise ApiError.invalid(
            f"Invalid currency: {value}. Stripe currently supports these currencies: "
            "usd, eur, gbp, jpy, ...",
            param=param,
        )
    return cur


def created_filter(value: Any) -> Callable[[int], bool] | None:
    """`created=123` or `created[gte]=...` as a predicate on a timestamp (None when absent)."""
    if value is None or value == "":
        return None
    if isinstance(value, int):
        return lambda t: t == value
    bounds = {k: v for k, v in value.items() if v != ""}

    def check(t: int) -> bool:
        return (
            ("gt" not in bounds or t > bounds["gt"])
            and ("gte" not in bounds or t >= bounds["gte"])
            and ("lt" not in bounds or t < bounds["lt"])
            and ("lte" not in bounds or t <= bounds["lte"])
        )

    return check


def non_negative(value: Any, param: str) -> int:
    if not isinstance(value, int) or value < 0:
        raise ApiError.invalid(f"Invalid non-negative integer: {value}", param=param)
    return value


def positive(value: Any, param: str) -> int:
    if not isinstance(value, int) or value < 1:
        raise ApiError.invalid(f"Invalid positive integer: {value}", param=param)
    return value
