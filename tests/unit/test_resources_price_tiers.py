"""resources/price.py: tiers whose amounts are fractions of the minor unit (Stripe's
`unit_amount_decimal` / `flat_amount_decimal` with `unit_amount: null`) are read exactly, never
as 0; billing.yaml cannot declare them, so a plan shows the difference and import skips them."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from billing_sync.resources import PRICE, Snapshot
from billing_sync.resources.price import (
    charge_for_quantity,
    describe_price,
    normalise_price,
    normalise_tiers,
)
from tests.unit.plan_helpers import applied, config, find, op_ids, plan_for

# Tiers as Stripe returns them with expand[]=data.tiers: a fractional amount has only its
# `_decimal` form; a whole one has both.
STRIPE_TIERS: list[dict[str, Any]] = [
    {
        "up_to": 10,
        "unit_amount": 1000,
        "unit_amount_decimal": "1000",
        "flat_amount": None,
        "flat_amount_decimal": None,
    },
    {
        "up_to": None,
        "unit_amount": None,
        "unit_amount_decimal": "799.5",
        "flat_amount": None,
        "flat_amount_decimal": "0.25",
    },
]


def stripe_price(tiers: list[dict[str, Any]], **kw: Any) -> dict[str, Any]:
    obj: dict[str, Any] = {
        "id": "price_frac",
        "object": "price",
        "active": True,
        "currency": "usd",
        "product": "seats",
        "billing_scheme": "tiered",
        "tiers_mode": "graduated",
        "tiers": tiers,
        "unit_amount": None,
        "unit_amount_decimal": None,
        "recurring": {"interval": "month", "interval_count": 1, "usage_type": "licensed"},
        "lookup_key": "seats-graduated",
        "metadata": {"billing_sync_key": "seats-graduated"},
        "type": "recurring",
        "created": 1,
    }
    obj.update(kw)
    return obj


def test_fractional_tier_amounts_are_read_exactly_and_whole_ones_as_integers() -> None:
    assert normalise_tiers(STRIPE_TIERS) == (
        {"up_to": 10, "unit_amount": 1000, "flat_amount": 0},
        {"up_to": "inf", "unit_amount": "799.5", "flat_amount": "0.25"},
    )
    # A whole amount given only as decimal text is the same integer a declaration gives.
    whole = [{"up_to": None, "unit_amount": None, "unit_amount_decimal": "800.000"}]
    assert normalise_tiers(whole) == ({"up_to": "inf", "unit_amount": 800, "flat_amount": 0},)


def test_a_fractional_tier_is_priced_and_shown_exactly() -> None:
    state = normalise_price(stripe_price(STRIPE_TIERS), "seats")
    # 10 x 10.00 + 2 x 7.995 + 0.0025 flat, in cents: exact, not 10 x 10.00.
    assert charge_for_quantity(state, 12) == 1000 * 10 + 2 * 799.5 + 0.25
    words = describe_price(state)
    assert "7.995 USD + 0.0025 USD flat above" in words, words


def test_a_managed_price_with_a_fractional_tier_is_replaced_not_equal() -> None:
    """billing.yaml declares 800 (whole cents) for the last tier: Stripe's 799.5 differs."""
    cfg = config()
    account = applied(cfg)
    read = normalise_price(stripe_price(STRIPE_TIERS, id="price_seats-graduated"), "seats")
    current = account.of(PRICE).managed["seats-graduated"]
    existing = account.with_snapshot(
        PRICE,
        replace(
            account.of(PRICE),
            managed={
                **account.of(PRICE).managed,
                "seats-graduated": replace(current, tiers=read.tiers),
            },
        ),
    )
    plan = plan_for(cfg, existing)
    change = find(plan, "price.replace:seats-graduated")
    shown = {c.path: (c.old, c.new) for c in change.fields}
    assert shown["tiers.1.unit_amount"] == ("799.5", 800)
    assert shown["tiers.1.flat_amount"] == ("0.25", 0)
    assert plan.conflicts == ()


def test_an_unmanaged_holder_with_a_fractional_tier_is_a_conflict_not_adopted() -> None:
    """A declared tier of 0 must not match Stripe's 0.5 (which was read as 0)."""
    cfg = config(
        """
        version: 1
        products:
          seats:
            name: Seats
            prices:
              seats-graduated:
                currency: usd
                recurring: {interval: month}
                tiers_mode: graduated
                tiers: [{up_to: 10, unit_amount: 1000}, {up_to: inf, unit_amount: 0}]
        """
    )
    tiers = [STRIPE_TIERS[0], {**STRIPE_TIERS[1], "unit_amount_decimal": "0.5"}]
    tiers[1]["flat_amount_decimal"] = None
    held = normalise_price(stripe_price(tiers, metadata={}, id="price_x"), "seats")
    held = replace(held, key="price_x", product_id="seats")
    existing = applied(cfg).with_snapshot(PRICE, Snapshot(unmanaged=(held,)))
    plan = plan_for(cfg, existing)
    assert "price.adopt:seats-graduated" not in op_ids(plan)
    assert len(plan.conflicts) == 1 and "price_x" in plan.conflicts[0], plan.conflicts


def test_import_skips_a_price_whose_tiers_billing_yaml_cannot_declare() -> None:
    state = replace(
        normalise_price(stripe_price(STRIPE_TIERS, metadata={}), "seats"), key="price_frac"
    )
    got = PRICE.import_state(state, "seats-graduated", {"product": {"seats": "seats"}})
    assert got.state is None
    (reason,) = got.notes
    assert "tier 2 unit_amount 799.5 (usd)" in reason and "tier 2 flat_amount 0.25" in reason
    assert "cannot declare" in reason
