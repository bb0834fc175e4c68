"""Golden tests for billing_sync.plan.render: text, JSON and Markdown of one rich plan.

Regenerate after an intended change with BILLING_SYNC_UPDATE_GOLDEN=1 and review the diff.
"""

from __future__ import annotations

import json
import os
from dataclasses import replace
from pathlib import Path

import pytest

from billing_sync.plan.plan import Plan, operations_checksum
from billing_sync.plan.render import render
from billing_sync.resources import PRICE, PRODUCT
from tests.unit.plan_helpers import BASE, applied, config, plan_for, with_snapshot

GOLDEN = Path(__file__).parent / "golden"
UPDATE = os.environ.get("BILLING_SYNC_UPDATE_GOLDEN") == "1"


def rich_plan() -> Plan:
    """A price replace, a quantity change, a new product and price, a removed price,
    a customer metadata change and an undeclared subscription that stays."""
    before = config(BASE.replace("name: Acme\n", "name: Acme\n    metadata: {crm: A-1}\n"))
    existing = applied(before, unmanaged_subscriptions={"pro-monthly": 12})
    product = existing.of(PRODUCT).managed["pro"]
    price = existing.of(PRICE).managed["pro-yearly"]
    existing = with_snapshot(
        existing,
        PRODUCT,
        unmanaged=tuple(replace(product, key=f"prod_{n}", id=f"prod_{n}") for n in range(2)),
    )
    existing = with_snapshot(
        existing,
        PRICE,
        unmanaged=tuple(
            replace(price, key=f"price_u{n}", id=f"price_u{n}", lookup_key=None) for n in range(5)
        ),
    )
    after = config(
        BASE.replace("pro-monthly: {unit_amount: 2900,", "pro-monthly: {unit_amount: 3500,")
        .replace(
            "      pro-yearly: {unit_amount: 29000, currency: usd, recurring: {interval: year}}\n",
            "",
        )
        .replace("quantity: 12}", "quantity: 15}")
        .replace(
            "products:\n",
            "products:\n  addon:\n    name: Add-on\n    prices:\n"
            '      addon-jpy: {amount: "500", currency: jpy, recurring: {interval: month, interval_count: 3}}\n',
        )
    )
    return plan_for(after, existing)


@pytest.mark.parametrize(
    ("fmt", "name"), [("text", "plan.txt"), ("json", "plan.json"), ("markdown", "plan.md")]
)
def test_render_matches_golden(fmt: str, name: str) -> None:
    out = render(rich_plan(), fmt)
    path = GOLDEN / name
    if UPDATE:
        path.write_text(out, encoding="utf-8")
    assert out == path.read_text(encoding="utf-8")


def test_json_carries_the_checksum_of_its_operations() -> None:
    plan = rich_plan()
    doc = json.loads(render(plan, "json"))
    assert doc["checksum"] == plan.checksum == operations_checksum(doc["operations"])
    # Any edit of what apply would send changes it: an amount, a flag, a dependency token.
    edits: list[tuple[int, str, object]] = [
        (1, "request", {"method": "post", "path": "/v1/prices", "params": {"unit_amount": 1}}),
        (-1, "destructive", False),
        (0, "provides", []),
    ]
    for index, name, value in edits:
        edited = json.loads(render(plan, "json"))["operations"]
        assert edited[index][name] != value
        edited[index][name] = value
        assert operations_checksum(edited) != plan.checksum


def test_colour_only_when_asked() -> None:
    plan = rich_plan()
    assert "\x1b[" not in render(plan, "text")
    assert "\x1b[" in render(plan, "text", color=True)
