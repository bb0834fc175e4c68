"""Tests for billing_sync.money: exponents, minor-unit conversion, formatting."""

from decimal import Decimal

import pytest

from billing_sync.money import exponent, format_amount, to_major, to_minor


@pytest.mark.parametrize(("cur", "exp"), [("usd", 2), ("JPY", 0), ("krw", 0), ("kwd", 3)])
def test_exponent(cur: str, exp: int) -> None:
    assert exponent(cur) == exp


def test_to_minor_is_exact() -> None:
    assert to_minor("1e3", "usd") == 100000  # payments' public behaviour is unchanged
    assert to_minor("0E-1000000000", "usd") == 0
    assert to_minor("1234567890123456789012345678.91", "usd") == 123456789012345678901234567891


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
        # Huge exponents: refused, never a decimal.Overflow or a million-digit integer.
        ("1e1000000", "usd", "too large"),
        ("1E+999999999999999999", "jpy", "too large"),
        ("1e-1000000000", "usd", "too many decimals"),
        # Beyond Decimal's 28-digit context: still exact, not rounded into an integer.
        ("1234567890123456789012345.001", "usd", "too many decimals"),
    ],
)
def test_to_minor_rejects(amount: str, cur: str, fragment: str) -> None:
    with pytest.raises(ValueError, match=fragment):
        to_minor(amount, cur)


def test_format_amount() -> None:
    assert format_amount(1999, "usd") == "19.99 USD"
    assert format_amount(4200, "jpy") == "4,200 JPY"
    assert format_amount(1250, "kwd") == "1.250 KWD"
