"""The subscription kind's trial and payment-method rules, planned against an account built in memory."""

from __future__ import annotations

import time
from dataclasses import replace

import pytest
import yaml

from billing_sync.changes import Create, Update
from billing_sync.config.timestamps import iso
from billing_sync.metadata import CARD_META
from billing_sync.plan.plan import Plan
from billing_sync.resources import SUBSCRIPTION, Existing
from billing_sync.resources.read import desired_state
from billing_sync.resources.subscription import _normalise
from tests.unit.plan_helpers import applied, config, find, op_ids, plan_for, with_snapshot

DAY = 86_400
SUB = """
version: 1
products:
  pro:
    name: Pro
    prices:
      pro-monthly: {{unit_amount: 2900, currency: usd, recurring: {{interval: month}}}}
customers:
  acme:
    subscriptions:
      main:
        items: [{{price: pro-monthly, quantity: 3}}]
{extra}
"""


def text(extra: str = "") -> str:
    return SUB.format(extra=extra)


def account(status: str, trial_end: int | None, extra: str = "") -> Existing:
    existing = applied(config(text(extra)))
    subs = existing.of(SUBSCRIPTION).managed
    changed = {k: replace(s, status=status, trial_end=trial_end) for k, s in subs.items()}
    return with_snapshot(existing, SUBSCRIPTION, managed=changed)


def planned(extra: str, existing: Existing) -> Plan:
    return plan_for(config(text(extra)), existing)


def in_days(n: int) -> int:
    return int(time.time()) // DAY * DAY + n * DAY


def test_now_on_an_active_subscription_plans_nothing() -> None:
    p = planned("        trial_end: now", account("active", in_days(-3)))
    assert p.in_sync, (op_ids(p), p.unreachable)


def test_a_date_on_a_trialing_subscription_moves_the_trial_and_the_first_charge() -> None:
    p = planned(f"        trial_end: {iso(in_days(30))}", account("trialing", in_days(5)))
    update = find(p, "subscription.update:acme/main")
    assert isinstance(update, Update)
    assert update.request.params == {"trial_end": in_days(30)}
    assert not update.destructive
    assert any("87.00 USD before tax and discounts" in n for n in update.notes), update.notes


@pytest.mark.parametrize(
    ("proration", "words"),
    [
        ("create_prorations", "the unused part of the paid period is credited"),
        ("none", "no credit for the paid period (proration_behavior: none)"),
    ],
)
def test_a_trial_on_an_active_subscription_is_destructive_and_prorated_per_policy(
    proration: str, words: str
) -> None:
    extra = f"        proration_behavior: {proration}\n        trial_end: {iso(in_days(9))}"
    p = planned(extra, account("active", None, f"        proration_behavior: {proration}"))
    update = find(p, "subscription.update:acme/main")
    assert update.destructive
    assert update.request.params == {"trial_end": in_days(9), "proration_behavior": proration}
    assert any(words in n for n in update.notes), update.notes


@pytest.mark.parametrize(
    ("status", "want", "reason"),
    [
        ("trialing", -2, "is in the past"),
        ("trialing", 800, "more than two years ahead"),
        ("past_due", 10, "the subscription is past_due"),
    ],
)
def test_what_stripe_cannot_take_is_reported_not_sent(status: str, want: int, reason: str) -> None:
    p = planned(f"        trial_end: {iso(in_days(want))}", account(status, in_days(3)))
    assert p.changes == ()
    assert any(reason in u and "acme/main" in u for u in p.unreachable), p.unreachable


def test_a_new_subscription_with_a_past_trial_end_is_a_conflict() -> None:
    cfg = config(text(f"        trial_end: {iso(in_days(-1))}"))
    existing = with_snapshot(applied(cfg), SUBSCRIPTION, managed={})
    p = plan_for(cfg, existing)
    assert not any(c.kind == "subscription" for c in p.changes)
    assert any("is in the past" in c for c in p.conflicts), p.conflicts


def test_a_test_card_is_attached_before_the_subscription_uses_it() -> None:
    cfg = config(text("        default_payment_method: pm_card_visa"))
    existing = with_snapshot(applied(cfg), SUBSCRIPTION, managed={})
    p = plan_for(cfg, existing)
    attach = find(p, "subscription.create.payment_method:acme/main")
    create = find(p, "subscription.create:acme/main")
    assert isinstance(attach, Create)
    assert attach.request.path == "/v1/payment_methods/pm_card_visa/attach"
    assert attach.produces == "${subscription:acme/main.payment_method}"
    assert create.request.params["default_payment_method"] == attach.produces
    assert create.request.params["metadata"][CARD_META] == f"pm_card_visa {attach.produces}"
    assert p.depends_on[create.id] == (attach.id,)


def test_the_card_marker_reads_back_only_for_the_attached_id() -> None:
    obj = {
        "id": "sub_1",
        "items": {"data": []},
        "customer": "cus_1",
        "default_payment_method": "pm_123",
        "metadata": {"billing_sync_key": "acme/main", CARD_META: "pm_card_visa pm_123"},
    }
    assert _normalise(obj, "acme/main", [], {}, {}).default_payment_method == "pm_card_visa"
    moved = {**obj, "default_payment_method": "pm_456"}
    assert _normalise(moved, "acme/main", [], {}, {}).default_payment_method == "pm_456"
    assert CARD_META not in _normalise(obj, "acme/main", [], {}, {}).metadata


@pytest.mark.parametrize("declared", ["now", "2027-03-01", "2027-03-01T17:30:00+02:00"])
def test_a_declared_trial_end_renders_back_to_the_same_state(declared: str) -> None:
    first = desired_state(config(text(f"        trial_end: {declared}"))).of(SUBSCRIPTION)
    where, body = SUBSCRIPTION.render(first["acme/main"])
    assert where == ("customers", "acme", "subscriptions", "main")
    assert "trial_period_days" not in body
    doc = yaml.safe_load(text())
    doc["customers"]["acme"]["subscriptions"]["main"] = body
    again = desired_state(config(yaml.safe_dump(doc))).of(SUBSCRIPTION)
    assert again == first
    if declared != "now":
        assert isinstance(first["acme/main"].trial_end, int)
