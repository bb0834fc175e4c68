"""resources/status.py: --fail-on parsing, aligned text, recurring money per interval, and
period ends kept out of the saved plan's fingerprint."""

from __future__ import annotations

from dataclasses import replace

import pytest

from billing_sync.resources.base import Existing, Snapshot
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
