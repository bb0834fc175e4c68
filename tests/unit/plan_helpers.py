"""Builds planner inputs for layer tests: a config from YAML, and an Existing as if it had been applied."""

from __future__ import annotations

import textwrap
from dataclasses import replace
from typing import Any

from billing_sync.changes import Change
from billing_sync.config.loader import load_text
from billing_sync.config.models import BillingConfig
from billing_sync.plan.plan import Plan
from billing_sync.plan.planner import plan
from billing_sync.resources import (
    COUPON,
    CUSTOMER,
    FEATURE,
    METER,
    PRICE,
    PRODUCT,
    PRODUCT_FEATURE,
    PROMOTION_CODE,
    SUBSCRIPTION,
    TAX_RATE,
    Existing,
    Snapshot,
)
from billing_sync.resources.read import desired_state
from billing_sync.resources.subscription import ItemState, SubscriptionState

BASE = """
version: 1
products:
  pro:
    name: Pro
    default_price: pro-monthly
    prices:
      pro-monthly: {unit_amount: 2900, currency: usd, recurring: {interval: month}}
      pro-yearly: {unit_amount: 29000, currency: usd, recurring: {interval: year}}
  seats:
    name: Seats
    prices:
      seats-graduated:
        currency: usd
        recurring: {interval: month}
        tiers_mode: graduated
        tiers: [{up_to: 10, unit_amount: 1000}, {up_to: inf, unit_amount: 800}]
customers:
  acme:
    email: billing@acme.example
    name: Acme
    subscriptions:
      main:
        collection_method: send_invoice
        days_until_due: 30
        items:
          - {price: pro-monthly, quantity: 2}
          - {price: seats-graduated, quantity: 12}
"""


def config(text: str = BASE) -> BillingConfig:
    return load_text(textwrap.dedent(text), "billing.yaml")


def applied(
    cfg: BillingConfig, *, unmanaged_subscriptions: dict[str, int] | None = None
) -> Existing:
    """The Existing state an account would have after applying cfg (ids are made up).

    `unmanaged_subscriptions` adds, per price key, that many live subscriptions billing-sync
    does not manage (they stay on the price when it is replaced).
    """
    d = desired_state(cfg)
    products = {
        key: replace(p, default_price=f"price_{p.default_price}" if p.default_price else None)
        for key, p in d.of(PRODUCT).items()
    }
    prices = {
        key: replace(p, id=f"price_{key}", product_id=products[p.product].id)
        for key, p in d.of(PRICE).items()
    }
    customers = {key: replace(c, id=f"cus_{key}") for key, c in d.of(CUSTOMER).items()}
    meters = {key: replace(m, id=f"mtr_{key}") for key, m in d.of(METER).items()}
    coupons = dict(d.of(COUPON))
    codes = {
        key: replace(p, id=f"promo_{key}", coupon_id=coupons[p.coupon].id)
        for key, p in d.of(PROMOTION_CODE).items()
    }
    rates = {key: replace(t, id=f"txr_{key}") for key, t in d.of(TAX_RATE).items()}

    def discount_ids(s: SubscriptionState) -> tuple[tuple[str, str, str], ...]:
        out = []
        for n, x in enumerate(s.discounts):
            field, ref_key = next(iter(x.items()))
            target = coupons[ref_key].id if field == "coupon" else f"promo_{ref_key}"
            out.append((field, target, f"di_{n}"))
        return tuple(out)

    subscriptions = {
        key: replace(
            s,
            items=tuple(
                replace(i, id=f"si_{key}_{n}", price_id=f"price_{i.price}")
                for n, i in enumerate(s.items)
            ),
            id="sub_" + key.replace("/", "_"),
            status="active",
            proration_behavior=None,
            discount_ids=discount_ids(s),
            tax_rate_ids=tuple(f"txr_{k}" for k in s.default_tax_rates),
        )
        for key, s in d.of(SUBSCRIPTION).items()
    }
    others = [
        SubscriptionState(
            key=f"sub_other_{price_key}_{n}",
            customer=f"cus_other_{n}",
            items=(
                ItemState(
                    price_key, 1, id=f"si_other_{price_key}_{n}", price_id=f"price_{price_key}"
                ),
            ),
            id=f"sub_other_{price_key}_{n}",
            status="active",
        )
        for price_key, count in (unmanaged_subscriptions or {}).items()
        for n in range(count)
    ]
    features = {key: replace(f, id=f"feat_{key}") for key, f in d.of(FEATURE).items()}
    product_features = {
        key: replace(
            a,
            id="prodft_" + key.replace("/", "_"),
            product_id=products[a.product].id,
            feature_id=features[a.feature].id,
        )
        for key, a in d.of(PRODUCT_FEATURE).items()
    }
    return Existing(
        {
            FEATURE.name: Snapshot(features),
            PRODUCT_FEATURE.name: Snapshot(product_features),
            PRODUCT.name: Snapshot(products),
            METER.name: Snapshot(meters),
            PRICE.name: Snapshot(prices),
            COUPON.name: Snapshot(coupons),
            PROMOTION_CODE.name: Snapshot(codes),
            TAX_RATE.name: Snapshot(rates),
            CUSTOMER.name: Snapshot(customers),
            SUBSCRIPTION.name: Snapshot(subscriptions, unmanaged=tuple(others)),
        }
    )


def with_snapshot(existing: Existing, kind: Any, **changes: Any) -> Existing:
    """A copy of existing with one kind's snapshot fields replaced."""
    return existing.with_snapshot(kind, replace(existing.of(kind), **changes))


def plan_for(cfg: BillingConfig, existing: Existing) -> Plan:
    return plan(desired_state(cfg), existing)


def op_ids(p: Plan) -> list[str]:
    return [c.id for c in p.changes]


def find(p: Plan, change_id: str) -> Change:
    for c in p.changes:
        if c.id == change_id:
            return c
    raise AssertionError(f"{change_id} not in {op_ids(p)}")
