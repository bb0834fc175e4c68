"""Helpers shared by resources: `created` filters, currencies, amounts."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from stripe_emulator.currencies import CURRENCIES, THREE_DECIMAL, ZERO_DECIMAL
from stripe_emulator.errors import ApiError

__all__ = ["CURRENCIES", "THREE_DECIMAL", "ZERO_DECIMAL"]


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


def empty_billing_details() -> dict[str, Any]:
    """The billing_details Stripe returns when none were collected."""
    address = dict.fromkeys(("city", "country", "line1", "line2", "postal_code", "state"))
    return {"address": address, "email": None, "name": None, "phone": None, "tax_id": None}
