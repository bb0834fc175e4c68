"""Coupons in money words, and monthly recurring revenue net of subscription discounts."""

from __future__ import annotations

import pytest

from billing_sync.resources import Existing
from billing_sync.resources.coupon import CouponState, describe_coupon
from tests.unit.plan_helpers import applied, config, plan_for

CATALOG = """
version: 1
products:
  pro:
    name: Pro
    prices:
      pro-monthly: {unit_amount: 2900, currency: usd, recurring: {interval: month}}
      pro-yearly: {unit_amount: 29000, currency: usd, recurring: {interval: year}}
  seats:
    name: Seats
    prices:
      seat: {unit_amount: 1000, currency: usd, recurring: {interval: month}}
coupons:
  pro-only: {percent_off: 20, duration: forever, applies_to: {products: [pro]}}
  launch: {percent_off: 50, duration: repeating, duration_in_months: 3}
  once: {percent_off: 50}
  fiver: {amount_off: 500, currency: usd, duration: forever}
promotion_codes:
  half: {coupon: launch, code: HALF}
customers:
  acme:
    subscriptions:
      main:
        items: [{price: pro-monthly}, {price: seat, quantity: 2}]
"""


@pytest.mark.parametrize(
    ("state", "words"),
    [
        (
            CouponState("a", "a", percent_off="20", duration="repeating", duration_in_months=3),
            "20% off for 3 months",
        ),
        (CouponState("a", "a", amount_off=500, currency="eur"), "5.00 EUR off once"),
        (CouponState("a", "a", percent_off="7.5", duration="forever"), "7.5% off forever"),
        (
            CouponState(
                "a",
                "a",
                amount_off=500,
                currency="usd",
                currency_options={"gbp": 400},
                duration="repeating",
                duration_in_months=1,
                applies_to=("pro",),
                max_redemptions=10,
            ),
            "5.00 USD off (or 4.00 GBP) for 1 month on pro (10 redemptions)",
        ),
    ],
)
def test_coupon_in_money_words(state: CouponState, words: str) -> None:
    assert describe_coupon(state) == words


def mrr_after(discounts: str, items: str | None = None) -> int:
    text = CATALOG + f"        discounts: {discounts}\n"
    if items is not None:
        text = text.replace("[{price: pro-monthly}, {price: seat, quantity: 2}]", items)
    plan = plan_for(config(text), Existing())
    (before, after) = plan.mrr["usd"]
    assert before == 0
    return after


def test_no_discount_is_the_full_price() -> None:
    assert mrr_after("[]") == 2900 + 2000


def test_percent_off_applies_to_its_products_only() -> None:
    assert mrr_after("[{coupon: pro-only}]") == 2900 - 580 + 2000


def test_repeating_discount_through_a_promotion_code() -> None:
    assert mrr_after("[{promotion_code: half}]") == (2900 + 2000) // 2


def test_a_once_coupon_leaves_recurring_revenue_alone() -> None:
    assert mrr_after("[{coupon: once}]") == 4900


def test_amount_off_is_taken_once_per_invoice() -> None:
    assert mrr_after("[{coupon: fiver}]") == 4900 - 500
    # A yearly subscription is invoiced once a year: 5.00 a year is 0.42 a month.
    assert mrr_after("[{coupon: fiver}]", "[{price: pro-yearly}]") == round(29000 / 12 - 500 / 12)


def test_discounts_apply_one_after_another() -> None:
    assert mrr_after("[{coupon: pro-only}, {coupon: fiver}]") == 2900 - 580 + 2000 - 500


def test_the_applied_account_has_the_same_revenue_before_and_after() -> None:
    cfg = config(CATALOG + "        discounts: [{coupon: pro-only}, {promotion_code: half}]\n")
    plan = plan_for(cfg, applied(cfg))
    before, after = plan.mrr["usd"]
    assert before == after == round((2900 - 580 + 2000) / 2)
    assert plan.changes == ()


def test_discounts_another_writer_owns_are_left_alone() -> None:
    cfg = config(CATALOG + "        discounts: [{coupon: pro-only}]\n")
    existing = applied(cfg)  # the account has the pro-only discount
    plain = config(CATALOG + "        discounts: []\n")
    removes = plan_for(plain, existing)
    (update,) = [c for c in removes.changes if c.kind == "subscription"]
    assert update.request.params["discounts"] == ""
    ignored = config(CATALOG + "        ignore: {fields: [discounts]}\n")
    assert [c for c in plan_for(ignored, existing).changes if c.kind == "subscription"] == []


def test_a_past_or_too_distant_moment_is_refused_before_any_write() -> None:
    past = config(
        CATALOG.replace(
            "once: {percent_off: 50}", "once: {percent_off: 50, redeem_by: 2020-01-01T00:00:00Z}"
        ).replace(
            "half: {coupon: launch, code: HALF}",
            "half: {coupon: launch, code: HALF, expires_at: 2020-01-01T00:00:00Z}",
        )
    )
    plan = plan_for(past, Existing())
    assert any("coupon once: redeem_by 2020-01-01T00:00:00Z is past" in c for c in plan.conflicts)
    assert any(
        "promotion_code half: expires_at 2020-01-01T00:00:00Z is past" in c for c in plan.conflicts
    )
    assert not any(c.key in ("once", "half") for c in plan.changes)
    far = config(
        CATALOG.replace(
            "once: {percent_off: 50}", "once: {percent_off: 50, redeem_by: 2099-01-01T00:00:00Z}"
        )
    )
    assert any("more than 5 years away" in c for c in plan_for(far, Existing()).conflicts)
