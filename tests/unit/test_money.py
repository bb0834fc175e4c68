"""Tests for billing_sync.money: exponents, minor-unit conversion, formatting."""

from decimal import Decimal

import pytest

from billing_sync.money import exponent, format_amount, to_major, to_minor


@pytest.mark.parametrize(("cur", "exp"), [("usd", 2), ("JPY", 0), ("krw", 0), ("kwd", 3)])
def test_exponent(cur: str, exp: int) -> None:
    assert exponent(cur) == exp


@pytest.mark.parametrize(
    ("amount", "cur", "minor"),
    [("19.99", "usd", 1999), ("199", "usd", 19900), ("4200", "jpy", 4200), ("1.250", "kwd", 1250)],
)
def test_to_minor(amount: str, cur: str, minor: int) -> None:
    assert to_minor(amount, cur) == minor
    assert to_major(minor, cur) == Decimal(amount)


@pytest.mark.parametrize(
    ("amount", "cur", "fragment"),
    [
        ("19.999", "usd", "too many decimals"),
        ("1.5", "jpy", "JPY takes no decimals"),
        ("1.255", "kwd", "must end in 0"),
        ("-1", "usd", "negative"),
        ("abc", "usd", "not a decimal"),
        ("NaN", "usd", "not a decimal"),
    ],
)
def test_to_minor_rejects(amount: str, cur: str, fragment: str) -> None:
    with pytest.raises(ValueError, match=fragment):
        to_minor(amount, cur)


def test_format_amount() -> None:
    assert format_amount(1999, "usd") == "19.99 USD"
    assert format_amount(4200, "jpy") == "4,200 JPY"
    assert format_amount(1250, "kwd") == "1.250 KWD"
