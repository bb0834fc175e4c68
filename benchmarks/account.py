"""A managed account of about N objects on the emulator, and the billing.yaml that declares it.

Shape for N: N/5 products with two flat monthly prices each (seeded by the emulator), one tiered
price per 50 products, N/5 customers (seeded) with one two-item subscription each. The tiered
prices and the subscriptions are created by one apply (no rate limit), after which planning the
same billing.yaml changes nothing (the no-op plan users run most).
"""

from __future__ import annotations

import json
import math
import urllib.request
from dataclasses import dataclass
from typing import Any

from billing_sync.resources import KINDS

TIERED_EVERY = 50


def control(url: str, name: str, body: dict[str, Any] | None = None) -> Any:
    req = urllib.request.Request(
        f"{url}/_emulator/{name}",
        data=json.dumps(body or {}).encode(),
        method="POST",
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(req, timeout=600) as resp:
        return json.loads(resp.read())


@dataclass(frozen=True)
class Shape:
    products: int
    customers: int

    @classmethod
    def of(cls, n: int) -> Shape:
        return cls(products=max(1, n // 5), customers=max(1, n // 5))

    @property
    def tiered(self) -> int:
        return math.ceil(self.products / TIERED_EVERY)

    @property
    def managed(self) -> int:
        """products + prices + customers + subscriptions."""
        return 3 * self.products + self.tiered + 2 * self.customers

    def list_requests(self) -> int:
        """What reading it costs with list pages of 100, through the registry's list reads:
        the first read of a path finds the seeded objects (products, active prices, customers,
        subscriptions), any further one (archived prices and features) none, and a kind with
        nothing seeded costs one (empty) page per list read; no product's feature list is read
        in an account without features."""
        seeded = {
            "/v1/products": self.products,
            "/v1/prices": 2 * self.products + self.tiered,
            "/v1/customers": self.customers,
            "/v1/subscriptions": self.customers,
        }
        total, seen = 0, set()
        for kind in KINDS:
            for read in kind.list_reads:
                found = 0 if read.path in seen else seeded.get(read.path, 0)
                seen.add(read.path)
                total += max(1, math.ceil(found / 100))
        return total


def config_text(shape: Shape, product_ids: list[str] | None = None) -> str:
    """The billing.yaml of the account. The seeded products have Stripe-chosen ids, which
    billing.yaml declares as `id:` (as `import` writes them): without them every product
    differs from its declaration by an id apply cannot change, and the plan is not a no-op."""
    lines = ["version: 1", "products:"]
    for i in range(shape.products):
        key = f"product-{i}"
        lines += [f"  {key}:"]
        if product_ids is not None:
            lines += [f"    id: {product_ids[i]}"]
        lines += [
            f"    name: Product {i}",
            f"    default_price: {key}-price-0",
            "    prices:",
            f"      {key}-price-0: {{unit_amount: 1000, currency: usd, recurring: {{interval: month}}}}",
            f"      {key}-price-1: {{unit_amount: 1001, currency: usd, recurring: {{interval: month}}}}",
        ]
        if i % TIERED_EVERY == 0:
            lines += [
                f"      {key}-seats:",
                "        currency: usd",
                "        recurring: {interval: month}",
                "        tiers_mode: graduated",
                "        tiers:",
                f"          - {{up_to: 10, unit_amount: {1000 + i}}}",
                "          - {up_to: inf, unit_amount: 800, flat_amount: 0}",
            ]
    lines.append("customers:")
    for c in range(shape.customers):
        p = f"product-{c % shape.products}"
        lines += [
            f"  customer-{c}:",
            f"    email: customer-{c}@example.test",
            f"    name: Customer {c}",
            "    subscriptions:",
            "      main:",
            "        collection_method: send_invoice",
            "        days_until_due: 30",
            f"        items: [{{price: {p}-price-0, quantity: 1}}, {{price: {p}-price-1, quantity: {1 + c % 5}}}]",
        ]
    return "\n".join(lines) + "\n"


def synthetic_ids(shape: Shape) -> list[str]:
    """Product ids of the length Stripe's have (`prod_` and 14 characters), for a billing.yaml
    of the benchmark's size that no account backs (validate)."""
    return [f"prod_{i:014d}" for i in range(shape.products)]


def seed(url: str, shape: Shape) -> list[str]:
    """Reset the emulator and seed the products, their flat prices and the customers; returns
    the products' ids in order."""
    control(url, "reset")
    control(url, "config", {"latency_ms": 0, "rate_limit": 0, "fault_rate": 0})
    seeded = control(
        url,
        "seed",
        {"products": shape.products, "prices_per_product": 2, "customers": shape.customers},
    )
    return list(seeded["products"])
