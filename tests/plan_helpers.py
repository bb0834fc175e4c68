"""Builds planner inputs for layer tests: a config from YAML, and an Existing as if it had been applied."""

from __future__ import annotations

import copy
import textwrap

from billing_sync.config.loader import load_text
from billing_sync.config.models import BillingConfig
from billing_sync.plan.diff import diff
from billing_sync.plan.ops import Operation, Plan
from billing_sync.state import (
    CustomerState,
    Existing,
    ItemState,
    PriceState,
    SubscriptionState,
    desired_state,
)

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


def applied(cfg: BillingConfig) -> Existing:
    """The Existing state an account would have after applying cfg (ids are made up)."""
    d = desired_state(cfg)
    ex = Existing()
    for key, p in d.products.items():
        prod = copy.deepcopy(p)
        ex.products[key] = prod
    for key, price in d.prices.items():
        pid = f"price_{key}"
        p = PriceState(
            key=key,
            product=price.product,
            active=price.active,
            lookup_key=price.lookup_key,
            mutable=copy.deepcopy(price.mutable),
            immutable=copy.deepcopy(price.immutable),
            id=pid,
            product_id=d.products[price.product].id,
        )
        ex.prices[key] = p
        ex.all_prices.append(p)
        ex.price_keys[pid] = key
    for prod in ex.products.values():
        if prod.default_price:
            prod.default_price = f"price_{prod.default_price}"
    for key, c in d.customers.items():
        ex.customers[key] = CustomerState(key, copy.deepcopy(c.fields), id=f"cus_{key}")
    for key, s in d.subscriptions.items():
        items = [
            ItemState(
                i.price,
                i.quantity,
                dict(i.metadata),
                id=f"si_{key}_{n}",
                price_id=f"price_{i.price}",
            )
            for n, i in enumerate(s.items)
        ]
        sid = "sub_" + key.replace("/", "_")
        ex.subscriptions[key] = SubscriptionState(
            key,
            s.customer,
            items,
            copy.deepcopy(s.fields),
            id=sid,
            status="active",
            protect=s.protect,
            currency=s.currency,
        )
        for i in items:
            ex.subscriptions_per_price[i.price_id or ""] = (
                ex.subscriptions_per_price.get(i.price_id or "", 0) + 1
            )
    return ex


def plan_for(cfg: BillingConfig, existing: Existing) -> Plan:
    return diff(desired_state(cfg), existing, cfg.policies)


def op_ids(plan: Plan) -> list[str]:
    return [op.id for op in plan.operations]


def find(plan: Plan, op_id: str) -> Operation:
    for op in plan.operations:
        if op.id == op_id:
            return op
    raise AssertionError(f"{op_id} not in {op_ids(plan)}")
