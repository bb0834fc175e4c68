"""resources/status.py: --fail-on parsing, aligned text, recurring money per interval, and
period ends kept out of the saved plan's fingerprint."""

from __future__ import annotations

from dataclasses import replace

import pytest

from billing_sync.resources.base import Existing, Snapshot
from billing_sync.resources.coupon import CouponState
from billing_sync.resources.price import PriceState
from billing_sync.resources.status import (
    STATUSES,
    ItemRow,
    StatusReport,
    StatusRow,
    _recurring,
    align,
    parse_statuses,
    text_rows,
)
from billing_sync.resources.subscription import SUBSCRIPTION, ItemState, SubscriptionState


def test_parse_statuses_keeps_stripe_order_and_refuses_anything_else() -> None:
    assert parse_statuses("") == ()
    assert parse_statuses("missing, past_due,unpaid,") == ("past_due", "unpaid", "missing")
    assert set(STATUSES) >= {"active", "trialing", "past_due", "canceled", "unpaid", "paused"}
    with pytest.raises(ValueError, match=r"'pastdue', 'Unpaid' are not subscription statuses"):
        parse_statuses("pastdue,Unpaid,active")


def test_align_pads_columns_without_trailing_spaces() -> None:
    lines = align([("A", "BB", "C"), ("long", "x", "")])
    assert lines == ["A     BB  C", "long  x"]


def price(
    key: str, amount: int, interval: str, count: int = 1, currency: str = "usd"
) -> PriceState:
    return PriceState(
        key=key,
        product="p",
        currency=currency,
        unit_amount=amount,
        recurring={"interval": interval, "interval_count": count},
        id=f"price_{key}",
    )


def sub(*items: tuple[str, int]) -> SubscriptionState:
    return SubscriptionState(
        key="acme/main",
        customer="acme",
        items=tuple(ItemState(p, q, price_id=f"price_{p}", id=f"si_{p}") for p, q in items),
        currency="usd",
        id="sub_1",
        status="active",
    )


def test_recurring_sums_per_interval_and_marks_prices_it_cannot_read() -> None:
    prices = {
        p.id or "": p
        for p in (price("m", 1000, "month"), price("m2", 250, "month"), price("y", 9000, "year"))
    }
    got = _recurring(sub(("m", 2), ("y", 1), ("m2", 4)), prices)
    assert [r.words() for r in got] == ["30.00 USD/month", "90.00 USD/year"]
    quarterly = _recurring(sub(("q", 1)), {"price_q": price("q", 3000, "month", 3)})
    assert [r.words() for r in quarterly] == ["30.00 USD/3 months"]
    unknown = _recurring(sub(("m", 1), ("other", 1)), prices)
    assert [r.words() for r in unknown] == [
        "10.00 USD/month",
        "? (a price billing-sync does not manage)",
    ]


def test_recurring_is_shown_net_of_recurring_discounts_only() -> None:
    """As the plan's MRR: a percentage or an amount off, on the products it applies to, one
    after another; a `once` coupon discounts one invoice, not the recurring amount."""
    monthly = price("m", 1000, "month")
    other = replace(price("o", 500, "month"), product="other")
    prices = {"price_m": monthly, "price_o": other}
    two = sub(("m", 2), ("o", 1))  # 20.00 on product p + 5.00 on product other
    pct = CouponState("half", "half", percent_off="50", duration="forever", applies_to=("p",))
    off = CouponState("three", "three", amount_off=300, currency="usd", duration="repeating")
    once = CouponState("first", "first", percent_off="100", duration="once")
    (r,) = _recurring(two, prices, (pct,))
    assert (r.amount, r.net) == (2500, 1500)  # half of 20.00 only
    assert r.words() == "15.00 USD/month net of discounts (25.00 USD before)"
    (r,) = _recurring(two, prices, (pct, off))
    assert r.net == 1200  # then 3.00 off the rest
    (r,) = _recurring(two, prices, (once,))
    assert r.net == r.amount == 2500 and r.words() == "25.00 USD/month"
    eur = CouponState("eur", "eur", amount_off=99999, currency="eur", duration="forever")
    assert _recurring(two, prices, (eur,))[0].net == 2500  # no amount in this currency
    big = CouponState("big", "big", amount_off=99999, currency="usd", duration="forever")
    assert _recurring(two, prices, (big,))[0].words() == (
        "0.00 USD/month net of discounts (25.00 USD before)"
    )


def test_text_rows_show_dashes_for_what_is_not_there() -> None:
    row = StatusRow(
        key="acme/main",
        customer="acme",
        customer_id=None,
        subscription="main",
        id=None,
        status="missing",
        items=(ItemRow("pro", None, 2, None),),
        cancel_at_period_end=False,
        trial_end=None,
        recurring=(),
    )
    header, cells = text_rows(StatusReport((row,), ()))
    assert header[0] == "CUSTOMER" and len(header) == len(cells)
    assert cells == ("acme", "-", "main", "-", "missing", "pro x2", "-", "-", "-", "-")


def test_a_renewal_does_not_change_the_accounts_fingerprint() -> None:
    """Period and trial ends are observed facts: a saved plan stays fresh when a period rolls."""
    s = sub(("m", 1))
    s1 = replace(
        s,
        items=tuple(replace(i, current_period_end=1_800_000_000) for i in s.items),
        trial_end=1_700_000_000,
    )
    s2 = replace(s1, items=tuple(replace(i, current_period_end=1_802_592_000) for i in s.items))
    one = Existing({SUBSCRIPTION.name: Snapshot(managed={s.key: s1})})
    two = Existing({SUBSCRIPTION.name: Snapshot(managed={s.key: s2})})
    assert one.fingerprint() == two.fingerprint()
    assert s1 == s2  # never compared either
    # ... while what planning reads still counts.
    three = Existing({SUBSCRIPTION.name: Snapshot(managed={s.key: replace(s2, status="past_due")})})
    assert three.fingerprint() != two.fingerprint()
