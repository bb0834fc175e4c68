"""What a quantity of a price costs: per unit, tiered (graduated or volume), transformed quantity.

Rules (sources in BEHAVIOUR.md): graduated tiers charge each tier's units at that tier's rate and
add the flat amount of every tier the quantity reaches; volume tiers charge the whole quantity at
the rate (and flat amount) of the one tier the quantity falls in
(https://docs.stripe.com/subscriptions/pricing-models/tiered-pricing; a tier's `flat_amount` is
"the flat billing amount for an entire tier, regardless of the number of units in the tier",
`stripe.params.PriceCreateParamsTier`). `transform_quantity` divides the quantity by `divide_by`
and rounds `up` or `down` before the unit amount applies
(https://docs.stripe.com/billing/subscriptions/usage-based/transform-quantities). Sub-cent
amounts (`unit_amount_decimal`) are summed exactly and the line's total is rounded once, half
up: the rounding rule is the emulator's choice (unconfirmed).
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from typing import Any

Obj = dict[str, Any]


def _dec(amount: Any, decimal: Any) -> Decimal:
    if decimal not in (None, ""):
        return Decimal(str(decimal))
    return Decimal(int(amount or 0))


def transformed_quantity(price: Obj, quantity: int) -> int:
    """The quantity billed after `transform_quantity` (the quantity itself without one)."""
    tq = price.get("transform_quantity")
    if not tq:
        return quantity
    whole, rest = divmod(quantity, int(tq["divide_by"]))
    return whole + 1 if rest and tq["round"] == "up" else whole


def _tiered(tiers: list[Obj], mode: str, quantity: int) -> Decimal:
    total = Decimal(0)
    lower = 0  # units covered by the tiers before this one
    for tier in tiers:
        upper = tier["up_to"]  # None: the last tier, up to infinity
        unit = _dec(tier.get("unit_amount"), tier.get("unit_amount_decimal"))
        flat = _dec(tier.get("flat_amount"), tier.get("flat_amount_decimal"))
        if mode == "volume":
            if upper is None or quantity <= upper:
                return unit * quantity + flat
        else:
            units = quantity - lower if upper is None else min(quantity, upper) - lower
            if units <= 0:
                break
            total += unit * units + flat
        if upper is not None:
            lower = upper
    return total


def line_amount(price: Obj, quantity: int) -> int:
    """The amount in minor units of `quantity` of `price` (a licensed price: metered prices
    bill their usage, custom amounts are chosen by the customer)."""
    if price.get("billing_scheme") == "tiered":
        exact = _tiered(price["tiers"] or [], str(price["tiers_mode"]), quantity)
    else:
        unit = _dec(price.get("unit_amount"), price.get("unit_amount_decimal"))
        exact = unit * transformed_quantity(price, quantity)
    return int(exact.quantize(Decimal(1), rounding=ROUND_HALF_UP))
