"""`billing-sync status` through the CLI against the emulator: rows, JSON, --customer, --fail-on."""

from __future__ import annotations

import json
import re
import urllib.error
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import EXAMPLE, EmulatorHandle, everything, run_cli, write_config

ONE = """
version: 1
products:
  pro:
    name: Pro
    prices:
      pro-monthly: {unit_amount: 2900, currency: usd, recurring: {interval: month}}
customers:
  acme:
    email: billing@acme.example
    subscriptions:
      main:
        collection_method: send_invoice
        days_until_due: 30
        items: [{price: pro-monthly, quantity: 2}]
"""


def apply_example(emulator: EmulatorHandle, cfg: Path = EXAMPLE) -> None:
    res = run_cli(emulator, "apply", "-c", str(cfg), "--auto-approve")
    assert res.returncode == 0, res.stderr


def status(emulator: EmulatorHandle, *args: str, cfg: Path = EXAMPLE) -> Any:
    return run_cli(emulator, "status", "-c", str(cfg), *args)


def subscriptions_by_key(emulator: EmulatorHandle) -> dict[str, dict[str, Any]]:
    return {
        s["metadata"]["billing_sync_key"]: s
        for s in everything(emulator)["subscriptions"]
        if "billing_sync_key" in s["metadata"]
    }


def test_after_the_demo_apply_every_declared_subscription_is_active_or_trialing(
    emulator: EmulatorHandle,
) -> None:
    apply_example(emulator)
    before = len(emulator.requests())
    res = status(emulator)
    assert res.returncode == 0, res.stderr
    lines = res.stdout.splitlines()
    header, acme, globex = lines[0], lines[1], lines[2]
    assert header.split("  ")[0] == "CUSTOMER" and "PERIOD END" in header
    # Aligned: every column starts where its header does.
    for column in ("SUBSCRIPTION ID", "STATUS", "ITEMS", "PERIOD END", "RECURRING"):
        at = header.index(column)
        for row in (acme, globex):
            assert row[at - 2 : at] == "  " and row[at] != " ", (column, row)
    subs = subscriptions_by_key(emulator)
    assert acme.split()[:5] == [
        "acme",
        subs["acme/main"]["customer"],
        "main",
        subs["acme/main"]["id"],
        "active",
    ]
    assert globex.split()[4] == "trialing"
    # 29.00 + 25 graduated seats (10 x 10.00 + 15 x 8.00) = 249.00 a month; 3 x 90.00 a year,
    # 20% off with the launch code (a repeating coupon on basic and pro): 216.00 a year, net.
    assert acme.endswith("249.00 USD/month")
    assert globex.endswith("216.00 USD/year net of discounts (270.00 USD before)")
    assert "Missing in Stripe: none" in res.stdout
    assert "Undeclared subscriptions on managed prices: 0" in res.stdout
    # Read-only and list-based: list endpoints only, never one GET per object.
    asked = emulator.requests()[before:]
    assert asked and all(r["method"] == "GET" for r in asked)
    lists = re.compile(
        r"/v1/[a-z_]+|/v1/billing/meters|/v1/entitlements/features|/v1/products/[^/]+/features"
    )
    assert all(lists.fullmatch(r["path"]) for r in asked), [r["path"] for r in asked]


def test_json_shape_and_period_end_from_the_items(emulator: EmulatorHandle) -> None:
    apply_example(emulator)
    res = status(emulator, "--format", "json")
    assert res.returncode == 0, res.stderr
    doc = json.loads(res.stdout)
    assert doc["format_version"] == 1 and doc["missing"] == [] and doc["failing"] == []
    rows = {r["key"]: r for r in doc["subscriptions"]}
    assert list(rows) == ["acme/main", "globex/main"]
    subs = subscriptions_by_key(emulator)
    acme = rows["acme/main"]
    stripe_items = subs["acme/main"]["items"]["data"]
    assert [(i["price"], i["quantity"]) for i in acme["items"]] == [
        ("pro-monthly", 1),
        ("seats-graduated", 25),
        ("ai-tokens", None),  # metered: Stripe bills the usage, no quantity
    ]
    assert [i["current_period_end"] for i in acme["items"]] == [
        i["current_period_end"] for i in stripe_items
    ]
    assert acme["current_period_end"] == min(i["current_period_end"] for i in stripe_items)
    assert acme["recurring"] == [
        {
            "currency": "usd",
            "interval": "month",
            "interval_count": 1,
            "amount": 24900,
            "net_amount": 24900,  # no discount
            "display": "249.00 USD/month",
        }
    ]
    globex = rows["globex/main"]
    assert [(r["amount"], r["net_amount"]) for r in globex["recurring"]] == [(27000, 21600)]
    assert globex["status"] == "trialing"
    assert globex["trial_end"] == subs["globex/main"]["trial_end"] is not None
    assert globex["cancel_at_period_end"] is False
    assert doc["undeclared_on_managed_prices"] == {"count": 0, "ids": []}


def test_fail_on_names_a_hand_cancel_and_a_failed_renewal(emulator: EmulatorHandle) -> None:
    apply_example(emulator)
    subs = subscriptions_by_key(emulator)
    client = emulator.client()
    client.v1.subscriptions.cancel(subs["acme/main"]["id"])
    emulator.control(
        f"subscriptions/{subs['globex/main']['id']}/fail_renewal", {"status": "past_due"}
    )
    res = status(emulator, "--fail-on", "past_due,canceled")
    assert res.returncode == 3, res.stdout + res.stderr
    assert res.stderr.strip() == (
        "2 subscription(s) in a --fail-on status: acme/main (canceled), globex/main (past_due)"
    )
    assert [line.split()[4] for line in res.stdout.splitlines()[1:3]] == ["canceled", "past_due"]
    doc = json.loads(status(emulator, "--format", "json", "--fail-on", "canceled").stdout)
    assert doc["failing"] == ["acme/main"] and doc["fail_on"] == ["canceled"]
    # Statuses that no row has: exit 0.
    assert status(emulator, "--fail-on", "unpaid,missing").returncode == 0


@pytest.mark.parametrize(
    "value", ["pastdue", "past_due,pastdue", "Active", "all", "past-due", "canceled,"]
)
def test_fail_on_accepts_only_stripe_statuses_and_missing(
    emulator: EmulatorHandle, value: str
) -> None:
    res = status(emulator, "--fail-on", value)
    if value == "canceled,":  # an empty entry is ignored, not a status
        assert res.returncode == 0, res.stderr
        return
    assert res.returncode == 1, res.stdout + res.stderr  # a usage error (never 2)
    bad = next(v for v in value.split(",") if v and v != "past_due")
    assert f"Invalid value for '--fail-on': {bad!r} is not a subscription status" in res.stderr
    assert "past_due" in res.stderr and "missing" in res.stderr
    assert emulator.requests() == []  # refused before reading the account


def test_missing_declared_subscription_and_undeclared_ones(
    emulator: EmulatorHandle, tmp_path: Path
) -> None:
    cfg = write_config(tmp_path, ONE)
    res = status(emulator, "--fail-on", "missing", cfg=cfg)
    assert res.returncode == 3 and "acme/main (missing)" in res.stderr
    assert "Missing in Stripe: acme/main" in res.stdout
    row = res.stdout.splitlines()[1].split()
    assert row[:5] == ["acme", "-", "main", "-", "missing"]
    apply_example(emulator, cfg)
    # Someone subscribes a customer to the managed price by hand: reported, not declared.
    client = emulator.client()
    price = next(p for p in everything(emulator)["prices"] if p["lookup_key"] == "pro-monthly")
    other = client.v1.customers.create({"email": "walkin@example.test"})
    hand = client.v1.subscriptions.create(
        {
            "customer": other.id,
            "items": [{"price": price["id"]}],
            "collection_method": "send_invoice",
            "days_until_due": 7,
        }
    )
    res = status(emulator, cfg=cfg)
    assert res.returncode == 0
    assert "Undeclared subscriptions on managed prices: 1" in res.stdout
    doc = json.loads(status(emulator, "--format", "json", cfg=cfg).stdout)
    assert doc["undeclared_on_managed_prices"] == {"count": 1, "ids": [hand.id]}
    assert doc["subscriptions"][0]["status"] == "active"


def test_customer_filter(emulator: EmulatorHandle) -> None:
    apply_example(emulator)
    doc = json.loads(status(emulator, "--format", "json", "--customer", "globex").stdout)
    assert [r["key"] for r in doc["subscriptions"]] == ["globex/main"]
    res = status(emulator, "--customer", "nobody")
    assert res.returncode == 1
    assert "Invalid value for '--customer': 'nobody' is not a customer key" in res.stderr


def test_failed_renewal_control_refuses_what_cannot_fail(emulator: EmulatorHandle) -> None:
    apply_example(emulator)
    subs = subscriptions_by_key(emulator)
    acme = subs["acme/main"]["id"]
    assert emulator.control(f"subscriptions/{acme}/fail_renewal", {})["status"] == "past_due"
    unpaid = emulator.control(f"subscriptions/{acme}/fail_renewal", {"status": "unpaid"})
    assert unpaid["status"] == "unpaid"
    with pytest.raises(urllib.error.HTTPError) as err:
        emulator.control(f"subscriptions/{acme}/fail_renewal", {"status": "past_due"})
    assert err.value.code == 400
    body = json.loads(err.value.read())
    assert "is unpaid: a failed renewal makes only active or trialing" in body["error"]["message"]
    res = status(emulator, "--fail-on", "unpaid")
    assert res.returncode == 3 and "acme/main (unpaid)" in res.stderr
