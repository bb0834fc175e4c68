"""The meter kind's own rules and the new price amounts, planned in-process (no HTTP)."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

import pytest

from billing_sync.changes import Archive, Create, Reactivate, Replace
from billing_sync.money import format_decimal_amount, to_minor_decimal
from billing_sync.resources import METER, PRICE, Snapshot
from billing_sync.resources.meter import normalise_meter
from billing_sync.resources.price import describe_price, normalise_price
from tests.unit.plan_helpers import applied, config, find, op_ids, plan_for, with_snapshot

METERED = """
version: 1
meters:
  ai_tokens: {display_name: AI tokens}
products:
  ai:
    name: AI
    prices:
      ai-tokens:
        amount: "0.00002"
        currency: usd
        recurring: {interval: month, usage_type: metered, meter: ai_tokens}
policies: {max_destroy_percent: 100}
"""
NO_METERS = """
version: 1
products:
  ai:
    name: AI
policies: {max_destroy_percent: 100}
"""


@pytest.mark.parametrize(
    ("amount", "currency", "minor", "shown"),
    [
        ("0.003", "usd", Decimal("0.3"), "0.003 USD"),
        ("19.99", "usd", Decimal(1999), "19.99 USD"),
        ("4200.5", "jpy", Decimal("4200.5"), "4,200.5 JPY"),
        ("0.00000000000001", "usd", Decimal("1E-12"), "0.00000000000001 USD"),
    ],
)
def test_sub_cent_amounts_are_exact(amount: str, currency: str, minor: Decimal, shown: str) -> None:
    assert to_minor_decimal(amount, currency) == minor
    assert format_decimal_amount(minor, currency) == shown


@pytest.mark.parametrize(
    ("amount", "currency", "message"),
    [
        ("0.000000000000001", "usd", "a USD price takes at most 14"),
        ("1.2345", "kwd", "KWD takes at most 3 decimals"),  # three-decimal: whole minor units
        ("-0.1", "usd", "negative"),
    ],
)
def test_amounts_stripe_cannot_take_are_refused(amount: str, currency: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        to_minor_decimal(amount, currency)


def test_a_sub_cent_price_is_sent_as_unit_amount_decimal_and_stripes_echo_is_equal() -> None:
    cfg = config(METERED)
    plan = plan_for(cfg, applied(config(NO_METERS)))
    create = find(plan, "price.create:ai-tokens")
    params = create.request.params
    assert params["unit_amount_decimal"] == "0.002" and "unit_amount" not in params
    assert params["recurring"]["meter"] == "${meter:ai_tokens}"
    assert "meter:ai_tokens" in create.needs
    assert create.summary == "0.00002 USD per unit of meter ai_tokens/month"
    # Stripe answers with unit_amount null and the decimal as a string; nothing differs.
    echoed = normalise_price(
        {
            "id": "price_1",
            "product": "ai",
            "currency": "usd",
            "unit_amount": None,
            "unit_amount_decimal": "0.0020",
            "billing_scheme": "per_unit",
            "recurring": {
                "interval": "month",
                "interval_count": 1,
                "usage_type": "metered",
                "meter": "mtr_1",
            },
            "metadata": {"billing_sync_key": "ai-tokens"},
            "lookup_key": "ai-tokens",
            "active": True,
        },
        "ai",
        {"mtr_1": "ai_tokens"},
    )
    declared = PRICE.desired(cfg)["ai-tokens"]
    assert replace(echoed, id=None, product_id=None) == declared
    assert describe_price(echoed) == "0.00002 USD per unit of meter ai_tokens/month"


def test_a_removed_meter_is_deactivated_only_when_a_billing_sync_price_used_it() -> None:
    existing = applied(config(METERED))
    plan = plan_for(config(NO_METERS), existing)
    deactivate = find(plan, "meter.archive:ai_tokens")
    assert isinstance(deactivate, Archive) and deactivate.destructive
    assert deactivate.request.path == "/v1/billing/meters/mtr_ai_tokens/deactivate"
    # A meter no billing-sync price ever used (made by hand or by another tool): left alone.
    hand_made = replace(existing.of(METER).managed["ai_tokens"], key="hand_made", id="mtr_h")
    alone = with_snapshot(
        applied(config(NO_METERS)), METER, managed={"hand_made": hand_made}, others=()
    )
    assert op_ids(plan_for(config(NO_METERS), alone)) == []


def test_a_deactivated_meter_declared_again_is_reactivated_not_created() -> None:
    existing = applied(config(METERED))
    inactive = replace(existing.of(METER).managed["ai_tokens"], active=False)
    existing = existing.with_snapshot(METER, Snapshot({"ai_tokens": inactive}))
    plan = plan_for(config(METERED), existing)
    assert op_ids(plan) == ["meter.reactivate:ai_tokens"]
    change = find(plan, "meter.reactivate:ai_tokens")
    assert isinstance(change, Reactivate) and "meter:ai_tokens" in change.provides


def test_a_meter_declared_inactive_is_created_then_deactivated() -> None:
    cfg = config(NO_METERS + "meters:\n  later: {display_name: Later, active: false}\n")
    plan = plan_for(cfg, applied(config(NO_METERS)))
    assert isinstance(find(plan, "meter.create:later"), Create)
    assert find(plan, "meter.archive:later").request.path == (
        "/v1/billing/meters/${meter:later}/deactivate"
    )


def test_a_metered_price_moved_to_another_meter_is_replaced() -> None:
    moved = METERED.replace("meter: ai_tokens}", "meter: ai_tokens_v2}").replace(
        "ai_tokens: {display_name: AI tokens}", "ai_tokens_v2: {display_name: AI tokens}"
    )
    plan = plan_for(config(moved), applied(config(METERED)))
    assert isinstance(find(plan, "price.replace:ai-tokens"), Replace)
    assert isinstance(find(plan, "meter.create:ai_tokens_v2"), Create)
    assert isinstance(find(plan, "meter.archive:ai_tokens"), Archive)


def test_stripe_meter_objects_are_read_by_event_name() -> None:
    state = normalise_meter(
        {
            "id": "mtr_1",
            "event_name": "ai_tokens",
            "display_name": "AI tokens",
            "default_aggregation": {"formula": "sum"},
            "customer_mapping": {"type": "by_id", "event_payload_key": "stripe_customer_id"},
            "value_settings": {"event_payload_key": "value"},
            "event_time_window": None,
            "status": "inactive",
            "created": 5,
        }
    )
    assert (state.key, state.active, state.id) == ("ai_tokens", False, "mtr_1")
    assert (
        replace(state, id=None, created=0, active=True)
        == METER.desired(config(METERED))["ai_tokens"]
    )


def test_a_metered_item_takes_no_quantity_and_its_removal_is_shown_as_usage() -> None:
    with_sub = METERED.replace(
        "policies:",
        """      base: {unit_amount: 1000, currency: usd, recurring: {interval: month}}
customers:
  acme:
    subscriptions:
      main:
        collection_method: send_invoice
        days_until_due: 30
        items: [{price: base, quantity: 2}, {price: ai-tokens}]
policies:""",
    )
    create = find(
        plan_for(config(with_sub), applied(config(METERED))), "subscription.create:acme/main"
    )
    assert create.request.params["items"][1] == {"price": "price_ai-tokens"}  # no quantity
    assert "usage of ai-tokens (0.00002 USD per unit of meter ai_tokens/month)" in create.summary
    existing = applied(config(with_sub))
    assert op_ids(plan_for(config(with_sub), existing)) == []  # Stripe's null quantity is equal
    dropped = with_sub.replace(", {price: ai-tokens}]", "]")
    update = find(plan_for(config(dropped), existing), "subscription.update:acme/main")
    assert update.destructive
    assert any("stops billing the metered usage of ai-tokens" in n for n in update.notes), (
        update.notes
    )


def test_a_meter_made_by_hand_does_not_count_towards_the_thresholds() -> None:
    existing = applied(config(METERED))
    own = existing.of(METER).managed["ai_tokens"]
    assert METER.managed_count(existing) == 1  # the meter a billing-sync price is metered on
    hand = replace(own, key="by_hand", id="mtr_hand")
    managed = {**existing.of(METER).managed, "by_hand": hand}
    widened = with_snapshot(existing, METER, managed=managed)
    assert METER.managed_count(widened) == 1
    plan = plan_for(config(METERED), widened)
    assert plan.managed_count == plan_for(config(METERED), existing).managed_count
    assert not [c for c in plan.changes if c.key == "by_hand"]
