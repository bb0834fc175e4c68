"""Money in plan terms: a price in words ("19.99 USD/month") and monthly recurring revenue."""

from __future__ import annotations

from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from typing import Any

from billing_sync.money import format_amount

# How many of an interval make a month, for MRR (Stripe's own MRR uses the same 52/12 and 365/12).
PER_MONTH = {
    "day": Decimal(365) / 12,
    "week": Decimal(52) / 12,
    "month": Decimal(1),
    "year": Decimal(1) / 12,
}


def interval_words(recurring: dict[str, Any] | None) -> str:
    if not recurring:
        return "one-time"
    count = int(recurring.get("interval_count") or 1)
    interval = recurring["interval"]
    return f"/{interval}" if count == 1 else f"/{count} {interval}s"


def describe_price(immutable: dict[str, Any]) -> str:
    """`19.99 USD/month`, `499.00 USD one-time`, `graduated: 10.00 USD up to 10, ... /month`."""
    currency = immutable["currency"]
    per = interval_words(immutable.get("recurring"))
    sep = " " if per == "one-time" else ""
    tiers = immutable.get("tiers")
    if tiers:
        parts = []
        for t in tiers:
            amount = format_amount(t["unit_amount"], currency)
            if t.get("flat_amount"):
                amount += f" + {format_amount(t['flat_amount'], currency)} flat"
            bound = "above" if t["up_to"] == "inf" else f"up to {t['up_to']}"
            parts.append(f"{amount} {bound}")
        return f"{immutable.get('tiers_mode')} tiers ({'; '.join(parts)}){sep}{per}"
    text = format_amount(immutable.get("unit_amount"), currency) + sep + per
    tq = immutable.get("transform_quantity")
    if tq:
        text += f" per {tq['divide_by']} units (rounded {tq['round']})"
    return text


def charge_for_quantity(immutable: dict[str, Any], quantity: int) -> Decimal:
    """What one billing period costs for `quantity`, in minor units."""
    tq = immutable.get("transform_quantity")
    if tq:
        q = Decimal(quantity) / int(tq["divide_by"])
        quantity = int(q.to_integral_value(ROUND_CEILING if tq["round"] == "up" else ROUND_FLOOR))
    tiers = immutable.get("tiers")
    if not tiers:
        return Decimal(immutable.get("unit_amount") or 0) * quantity
    if immutable.get("tiers_mode") == "volume":
        for t in tiers:
            if t["up_to"] == "inf" or quantity <= t["up_to"]:
                return Decimal(t["unit_amount"]) * quantity + Decimal(t["flat_amount"])
        return Decimal(0)
    total, lower = Decimal(0), 0
    for t in tiers:
        if quantity <= lower:
            break
        upper = quantity if t["up_to"] == "inf" else min(quantity, t["up_to"])
        total += Decimal(t["unit_amount"]) * (upper - lower) + Decimal(t["flat_amount"])
        lower = upper
    return total


def monthly(immutable: dict[str, Any], quantity: int) -> Decimal:
    """Monthly recurring revenue of one item in minor units (0 for one-time prices)."""
    recurring = immutable.get("recurring")
    if not recurring:
        return Decimal(0)
    factor = PER_MONTH[recurring["interval"]] / int(recurring.get("interval_count") or 1)
    return charge_for_quantity(immutable, quantity) * factor
