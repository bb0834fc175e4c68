"""Integration: planning reads the account with list pages (about N/100 requests per type)."""

from __future__ import annotations

import json
import math
from collections import Counter

from tests.helpers import EXAMPLE, EmulatorHandle, everything, expected_list_requests, run_cli


def test_plan_of_a_large_account_costs_one_request_per_page(emulator: EmulatorHandle) -> None:
    products, prices_per_product, customers = 300, 3, 250
    emulator.seed(
        products=products,
        prices_per_product=prices_per_product,
        customers=customers,
        subscriptions_per_customer=1,
        items_per_subscription=2,
    )
    managed = products * (1 + prices_per_product) + customers * 2
    assert managed >= 1000
    res = run_cli(emulator, "plan", "-c", str(EXAMPLE))
    assert res.returncode == 3, res.stderr  # unsafe (see below): shown, then refused
    assert "Traceback" not in res.stderr
    requests = emulator.requests()
    assert all(r["method"] == "GET" for r in requests)
    per_path = Counter(r["path"] for r in requests)
    seeded = {
        "/v1/products": products,
        "/v1/prices": products * prices_per_product,
        "/v1/customers": customers,
        "/v1/subscriptions": customers,
    }
    # Every kind of the registry is read with its list reads, 100 a page; a kind with nothing
    # seeded costs one request per list read (archived prices and features: one empty page).
    assert per_path == expected_list_requests(seeded)
    # What the registry's arithmetic must come to for the seeded kinds:
    assert per_path["/v1/products"] == math.ceil(products / 100)
    assert per_path["/v1/prices"] == math.ceil(products * prices_per_product / 100) + 1
    assert per_path["/v1/subscriptions"] == math.ceil(customers / 100)
    assert set(per_path) >= {"/v1/coupons", "/v1/entitlements/features"}
    assert sum(per_path.values()) < 50  # against 1,700 GETs for one request per object
    # Every seeded object is managed (it carries billing_sync_key) and absent from the
    # example: the plan archives and cancels them, and is unsafe.
    assert "UNSAFE" in res.stdout


def test_subscription_items_beyond_the_embedded_page_are_paged(emulator: EmulatorHandle) -> None:
    emulator.seed(
        products=15,
        prices_per_product=1,
        customers=1,
        subscriptions_per_customer=1,
        items_per_subscription=15,
    )
    res = run_cli(emulator, "plan", "-c", str(EXAMPLE))
    assert res.returncode == 3, res.stderr  # it removes all 32 seeded objects: unsafe
    paths = Counter(r["path"] for r in emulator.requests())
    assert paths["/v1/subscription_items"] == 1
    # All 15 items were read: the revenue the plan removes is that of all 15 items.
    doc = json.loads(run_cli(emulator, "plan", "-c", str(EXAMPLE), "--format", "json").stdout)
    sub = everything(emulator)["subscriptions"][0]
    items = (
        emulator.client()
        .raw_request("get", "/v1/subscription_items", subscription=sub["id"], limit=100)
        .data["data"]
    )
    assert len(items) == 15
    assert doc["mrr"]["usd"]["before"] == sum(
        i["price"]["unit_amount"] * i["quantity"] for i in items
    )


def test_links_cost_one_list_per_product_once_the_account_has_features(
    emulator: EmulatorHandle,
) -> None:
    """Stripe lists a product's features per product only (no account-wide list)."""
    products = 30
    emulator.seed(products=products, prices_per_product=0, customers=0)
    emulator.client().v1.entitlements.features.create(params={"name": "SSO", "lookup_key": "sso"})
    before = len(emulator.requests())
    res = run_cli(emulator, "plan", "-c", str(EXAMPLE))
    # The seeded products are managed and not in the example: the plan archives them (unsafe).
    assert res.returncode == 3 and "Traceback" not in res.stderr, res.stderr
    paths = Counter(r["path"] for r in emulator.requests()[before:])
    links = [p for p in paths if p.startswith("/v1/products/") and p.endswith("/features")]
    assert len(links) == products and all(paths[p] == 1 for p in links)
