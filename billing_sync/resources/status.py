"""`status`: every declared subscription beside what Stripe says of it, from the account's list reads."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from billing_sync.config.models import BillingConfig
from billing_sync.money import format_amount
from billing_sync.resources.base import Existing
from billing_sync.resources.coupon import CouponState, coupon_discount
from billing_sync.resources.customer import CUSTOMER
from billing_sync.resources.price import PRICE, PriceState, charge_for_quantity, interval_words
from billing_sync.resources.subscription import (
    SUBSCRIPTION,
    SubscriptionState,
    discount_coupons,
)

# Stripe's subscription statuses for the pinned API version (stripe.Subscription.status), and
# `missing` for a declared subscription Stripe does not have.
STRIPE_STATUSES = (
    "incomplete",
    "incomplete_expired",
    "trialing",
    "active",
    "past_due",
    "canceled",
    "unpaid",
    "paused",
)
MISSING = "missing"
STATUSES = (*STRIPE_STATUSES, MISSING)

JSON_FORMAT_VERSION = 1


@dataclass(frozen=True)
class ItemRow:
    price: str  # the price key (its id when billing-sync does not manage it)
    price_id: str | None
    quantity: int
    current_period_end: int | None


@dataclass(frozen=True)
class Recurring:
    """What one billing interval of a subscription costs, in one currency (minor units)."""

    currency: str
    interval: str
    interval_count: int
    amount: int | None  # None: a price billing-sync cannot read (not managed)
    # What is charged after the subscription's recurring discounts (percent or amount off,
    # repeating or forever; a `once` coupon discounts one invoice only), as the plan's MRR.
    net_amount: int | None = None

    @property
    def net(self) -> int | None:
        return self.amount if self.net_amount is None else self.net_amount

    def words(self) -> str:
        if self.amount is None or self.interval == "?":
            return "? (a price billing-sync does not manage)"
        per = interval_words({"interval": self.interval, "interval_count": self.interval_count})
        if self.net == self.amount:
            return f"{format_amount(self.amount, self.currency)}{per}"
        before = format_amount(self.amount, self.currency)
        return (
            f"{format_amount(self.net or 0, self.currency)}{per} net of discounts ({before} before)"
        )


@dataclass(frozen=True)
class StatusRow:
    key: str  # "<customer key>/<subscription key>"
    customer: str
    customer_id: str | None
    subscription: str
    id: str | None
    status: str  # one of STATUSES
    items: tuple[ItemRow, ...]
    cancel_at_period_end: bool
    trial_end: int | None
    recurring: tuple[Recurring, ...]

    @property
    def current_period_end(self) -> int | None:
        """The earliest of the items' period ends: when the subscription next renews (items of
        different intervals renew on their own dates, listed per item)."""
        ends = [i.current_period_end for i in self.items if i.current_period_end]
        return min(ends) if ends else None

    def data(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "customer": self.customer,
            "customer_id": self.customer_id,
            "subscription": self.subscription,
            "id": self.id,
            "status": self.status,
            "items": [
                {
                    "price": i.price,
                    "price_id": i.price_id,
                    "quantity": i.quantity or None,  # None: a metered price (usage, no quantity)
                    "current_period_end": i.current_period_end,
                }
                for i in self.items
            ],
            "current_period_end": self.current_period_end,
            "cancel_at_period_end": self.cancel_at_period_end,
            "trial_end": self.trial_end,
            "recurring": [
                {
                    "currency": r.currency,
                    "interval": r.interval,
                    "interval_count": r.interval_count,
                    "amount": r.amount,
                    "net_amount": r.net,
                    "display": r.words(),
                }
                for r in self.recurring
            ],
        }


@dataclass(frozen=True)
class StatusReport:
    rows: tuple[StatusRow, ...]
    # live subscriptions on a price billing-sync manages that billing.yaml does not declare
    undeclared: tuple[SubscriptionState, ...]

    @property
    def missing(self) -> tuple[str, ...]:
        return tuple(r.key for r in self.rows if r.status == MISSING)

    def failing(self, statuses: Iterable[str]) -> tuple[StatusRow, ...]:
        wanted = set(statuses)
        return tuple(r for r in self.rows if r.status in wanted)

    def data(self, fail_on: Iterable[str] = ()) -> dict[str, Any]:
        fail = tuple(fail_on)
        return {
            "format_version": JSON_FORMAT_VERSION,
            "subscriptions": [r.data() for r in self.rows],
            "missing": list(self.missing),
            "undeclared_on_managed_prices": {
                "count": len(self.undeclared),
                "ids": sorted(s.id or s.key for s in self.undeclared),
            },
            "fail_on": list(fail),
            "failing": [r.key for r in self.failing(fail)],
        }


def parse_statuses(text: str) -> tuple[str, ...]:
    """`past_due,unpaid` -> the statuses, in STATUSES order; ValueError naming what is not one."""
    given = [s.strip() for s in text.split(",") if s.strip()]  # `a,b,` and `a, b` are fine
    unknown = [s for s in given if s not in STATUSES]
    if unknown:
        what = (
            "is not a subscription status" if len(unknown) == 1 else "are not subscription statuses"
        )
        raise ValueError(f"{', '.join(repr(s) for s in unknown)} {what}; use {', '.join(STATUSES)}")
    return tuple(s for s in STATUSES if s in given)


def build_report(
    config: BillingConfig, existing: Existing, customer: str | None = None
) -> StatusReport:
    """One row per declared subscription (of `customer` only, when given), in billing.yaml order."""
    snapshot = existing.of(SUBSCRIPTION)
    customers = existing.of(CUSTOMER).managed
    prices = PRICE.by_id(existing)
    rows: list[StatusRow] = []
    for key, d in SUBSCRIPTION.desired(config).items():
        if customer is not None and d.customer != customer:
            continue
        found = snapshot.managed.get(key) or SUBSCRIPTION.ended(snapshot, key)
        own = key.partition("/")[2]
        cus = customers.get(d.customer)
        if found is None:
            rows.append(
                StatusRow(
                    key=key,
                    customer=d.customer,
                    customer_id=cus.id if cus else None,
                    subscription=own,
                    id=None,
                    status=MISSING,
                    items=tuple(ItemRow(i.price, None, i.quantity, None) for i in d.items),
                    cancel_at_period_end=False,
                    trial_end=None,
                    recurring=(),
                )
            )
            continue
        rows.append(
            StatusRow(
                key=key,
                customer=d.customer,
                customer_id=found.customer_id,
                subscription=own,
                id=found.id,
                status=found.status or "unknown",
                items=tuple(
                    ItemRow(i.price, i.price_id, i.quantity, i.current_period_end)
                    for i in found.items
                ),
                cancel_at_period_end=found.cancel_at_period_end,
                trial_end=found.trial_end if isinstance(found.trial_end, int) else None,
                recurring=_recurring(found, prices, discount_coupons(found, existing)),
            )
        )
    managed_prices = set(prices)
    desired_keys = set(SUBSCRIPTION.desired(config))
    undeclared = tuple(
        s
        for s in (*snapshot.managed.values(), *snapshot.unmanaged)
        if s.key not in desired_keys
        and any(i.price_id in managed_prices for i in s.items)
        and (customer is None or s.customer == customer)
    )
    return StatusReport(tuple(rows), undeclared)


def _recurring(
    sub: SubscriptionState,
    prices: Mapping[str, PriceState],
    coupons: tuple[CouponState, ...] = (),
) -> tuple[Recurring, ...]:
    """The subscription's cost per interval and currency, summed over its items, before and
    after its recurring discounts (each on the items of the products it applies to, one after
    another, as the plan's MRR)."""
    totals: dict[tuple[str, str, int], int | None] = defaultdict(int)
    eligible: dict[tuple[str, str, int], dict[int, Decimal]] = defaultdict(
        lambda: defaultdict(Decimal)
    )
    for item in sub.items:
        price = prices.get(item.price_id or "")
        if price is None or not price.recurring:
            # Not a price billing-sync reads as managed: its amount is unknown here.
            totals[(sub.currency or "?", "?", 1)] = None
            continue
        group = (
            price.currency,
            str(price.recurring["interval"]),
            int(price.recurring.get("interval_count") or 1),
        )
        so_far = totals[group]
        charge = charge_for_quantity(price, item.quantity)
        if so_far is not None:
            totals[group] = so_far + int(charge)
        for n, coupon in enumerate(coupons):
            if not coupon.applies_to or price.product in coupon.applies_to:
                eligible[group][n] += charge
    order = {"day": 0, "week": 1, "month": 2, "year": 3, "?": 4}

    def net(group: tuple[str, str, int], amount: int | None) -> int | None:
        if amount is None:
            return None
        left = Decimal(amount)
        for n, coupon in enumerate(coupons):
            # One invoice per interval: an amount off comes off once per interval.
            base = min(eligible[group][n], left)
            left -= coupon_discount(coupon, group[0], base, Decimal(1))
        return int(left.quantize(Decimal(1), rounding=ROUND_HALF_UP))

    return tuple(
        Recurring(cur, interval, count, amount, net((cur, interval, count), amount))
        for (cur, interval, count), amount in sorted(
            totals.items(), key=lambda kv: (kv[0][0], order.get(kv[0][1], 5), kv[0][2])
        )
    )


def day(ts: int | None) -> str:
    """A Unix timestamp as its UTC date, `-` for none."""
    if not ts:
        return "-"
    return dt.datetime.fromtimestamp(ts, dt.UTC).strftime("%Y-%m-%d")


HEADER = (
    "CUSTOMER",
    "CUSTOMER ID",
    "SUBSCRIPTION",
    "SUBSCRIPTION ID",
    "STATUS",
    "ITEMS",
    "PERIOD END",
    "CANCELS",
    "TRIAL END",
    "RECURRING",
)


def text_rows(report: StatusReport) -> list[tuple[str, ...]]:
    """The header and one tuple of cells per row, for aligned text."""
    out: list[tuple[str, ...]] = [HEADER]
    for r in report.rows:
        recurring = " + ".join(x.words() for x in r.recurring)
        out.append(
            (
                r.customer,
                r.customer_id or "-",
                r.subscription,
                r.id or "-",
                r.status,
                ", ".join(
                    f"{i.price} x{i.quantity}" if i.quantity else f"{i.price} (metered)"
                    for i in r.items
                ),
                day(r.current_period_end),
                "at period end" if r.cancel_at_period_end else "-",
                day(r.trial_end),
                recurring or "-",
            )
        )
    return out


def align(rows: list[tuple[str, ...]]) -> list[str]:
    """Columns padded to their widest cell, two spaces apart; no trailing spaces."""
    widths = [max(len(row[c]) for row in rows) for c in range(len(rows[0]))]
    return [
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
        for row in rows
    ]
