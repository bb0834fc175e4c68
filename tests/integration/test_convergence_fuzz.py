"""Property: for random catalogs A and B, applying A then B leaves nothing to plan, and no
managed key is ever held by two live objects. Runs the planner and executor in-process
against the emulator over HTTP (the CLI around them is covered by test_plan_apply.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from billing_sync.apply.execute import Executor
from billing_sync.plan.planner import build_plan
from billing_sync.remote.client import connect
from tests.helpers import EmulatorHandle, duplicates, everything

CURRENCIES = ["usd", "eur", "jpy", "kwd"]

price_st = st.fixed_dictionaries(
    {
        "currency": st.sampled_from(CURRENCIES),
        "unit_amount": st.integers(0, 5).map(lambda n: n * 500),
        "interval": st.sampled_from(["month", "year", None]),
        "nickname": st.sampled_from([None, "A", "B"]),
        "meta": st.sampled_from([{}, {"k": "1"}, {"k": "2", "j": "x"}]),
    }
)
product_st = st.fixed_dictionaries(
    {
        "name": st.sampled_from(["Alpha", "Beta"]),
        "description": st.sampled_from([None, "d1", "d2"]),
        "prices": st.dictionaries(st.sampled_from(["a", "b", "c"]), price_st, max_size=3),
    }
)
catalog_st = st.fixed_dictionaries(
    {
        "products": st.dictionaries(st.sampled_from(["p1", "p2", "p3"]), product_st, max_size=3),
        "seats": st.integers(1, 3),
        "subscribe": st.booleans(),
    }
)


def to_yaml(catalog: dict[str, Any]) -> str:
    products: dict[str, Any] = {}
    recurring_usd: list[str] = []
    for pkey, prod in catalog["products"].items():
        prices: dict[str, Any] = {}
        for suffix, p in prod["prices"].items():
            key = f"{pkey}-{suffix}"
            price: dict[str, Any] = {"unit_amount": p["unit_amount"], "currency": p["currency"]}
            if p["interval"]:
                price["recurring"] = {"interval": p["interval"]}
                if p["currency"] == "usd":
                    recurring_usd.append(key)
            if p["nickname"]:
                price["nickname"] = p["nickname"]
            if p["meta"]:
                price["metadata"] = p["meta"]
            prices[key] = price
        product: dict[str, Any] = {"name": prod["name"], "prices": prices}
        if prod["description"]:
            product["description"] = prod["description"]
        products[pkey] = product
    doc: dict[str, Any] = {
        "version": 1,
        "products": products,
        "policies": {"max_destroy_percent": 100},
    }
    if catalog["subscribe"] and recurring_usd:
        interval = next(
            p["prices"][k.split("-", 1)[1]]["interval"]
            for pk, p in catalog["products"].items()
            for k in recurring_usd
            if k.startswith(pk + "-")
        )
        items = [
            {"price": k, "quantity": catalog["seats"]}
            for k in recurring_usd
            if catalog["products"][k.split("-", 1)[0]]["prices"][k.split("-", 1)[1]]["interval"]
            == interval
        ]
        doc["customers"] = {
            "c1": {
                "email": "c1@example.com",
                "subscriptions": {
                    "main": {
                        "items": items,
                        "collection_method": "send_invoice",
                        "days_until_due": 30,
                    }
                },
            }
        }
    return yaml.safe_dump(doc, sort_keys=False)


def apply(url: str, key: str, config: Path) -> None:
    remote = connect(key, url)
    plan = build_plan(remote, str(config))
    assert not plan.conflicts, plan.conflicts
    report = Executor(remote, parallelism=2, rate_limit=1000).run(plan)
    assert report.ok, [(r.change.id, r.message) for r in report.results if r.status != "done"]


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(first=catalog_st, second=catalog_st)
def test_any_transition_converges(
    emulator: EmulatorHandle, tmp_path: Path, first: dict[str, Any], second: dict[str, Any]
) -> None:
    emulator.reset()
    config = tmp_path / "billing.yaml"
    for catalog in (first, second):
        config.write_text(to_yaml(catalog))
        apply(emulator.url, emulator.api_key, config)
        again = build_plan(connect(emulator.api_key, emulator.url), str(config))
        assert [c.id for c in again.changes] == [], config.read_text()
        assert duplicates(emulator) == {}


HAND_EDITS = ["rename", "product_metadata", "archive_price", "quantity", "cancel", "add_item"]


def hand_edit(emulator: EmulatorHandle, edit: str) -> bool:
    """One edit someone could make in the Dashboard; False when the account has nothing to edit."""
    client = emulator.client()
    objs = everything(emulator)
    managed = [o for o in objs["products"] if o["metadata"].get("billing_sync_key")]
    prices = [o for o in objs["prices"] if o["active"] and o["metadata"].get("billing_sync_key")]
    subs = [s for s in objs["subscriptions"] if s["status"] == "active"]
    if edit == "rename" and managed:
        client.v1.products.update(managed[0]["id"], {"name": "Renamed by hand"})
    elif edit == "product_metadata" and managed:
        client.v1.products.update(managed[0]["id"], {"metadata": {"hand": "1"}})
    elif edit == "archive_price" and prices:
        defaults = {p.get("default_price") for p in objs["products"]}
        free = [p for p in prices if p["id"] not in defaults]
        if not free:
            return False
        client.v1.prices.update(free[0]["id"], {"active": False})
    elif edit == "quantity" and subs:
        item = subs[0]["items"]["data"][0]
        client.v1.subscription_items.update(item["id"], {"quantity": item["quantity"] + 1})
    elif edit == "cancel" and subs:
        client.v1.subscriptions.cancel(subs[0]["id"])
    elif edit == "add_item" and subs:
        sub = subs[0]
        first = sub["items"]["data"][0]["price"]
        extra = client.v1.prices.create(
            {
                "product": first["product"],
                "currency": first["currency"],
                "unit_amount": 700,
                "recurring": {"interval": first["recurring"]["interval"]},
            }
        )
        client.v1.subscription_items.create(
            {"subscription": sub["id"], "price": extra.id, "quantity": 1}
        )
    else:
        return False
    return True


@settings(
    max_examples=10,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(first=catalog_st, second=catalog_st, edit=st.sampled_from(HAND_EDITS))
def test_hand_edits_are_drift_and_the_next_apply_converges(
    emulator: EmulatorHandle,
    tmp_path: Path,
    first: dict[str, Any],
    second: dict[str, Any],
    edit: str,
) -> None:
    emulator.reset()
    config = tmp_path / "billing.yaml"
    config.write_text(to_yaml(first))
    apply(emulator.url, emulator.api_key, config)
    assume(hand_edit(emulator, edit))
    remote = connect(emulator.api_key, emulator.url)
    assert not build_plan(remote, str(config)).in_sync, (edit, config.read_text())
    cancelled = edit == "cancel"
    config.write_text(to_yaml(second))
    if not build_plan(remote, str(config)).conflicts:
        apply(emulator.url, emulator.api_key, config)
    again = build_plan(connect(emulator.api_key, emulator.url), str(config))
    assert [c.id for c in again.changes] == [], (edit, config.read_text())
    # What may stay different is only what Stripe does not allow: a nickname it cannot unset,
    # and a subscription cancelled by hand (never re-created without someone deciding to).
    allowed = ("cannot unset",) + (("canceled in Stripe",) if cancelled else ())
    assert all(any(a in u for a in allowed) for u in again.unreachable), again.unreachable
    assert duplicates(emulator) == {}
    # Read through the official client, not billing-sync: the declared products are as declared.
    declared = yaml.safe_load(config.read_text())["products"]
    live = {p["id"]: p for p in everything(emulator)["products"] if p["active"]}
    for key, product in declared.items():
        assert live[key]["name"] == product["name"]
        assert live[key]["description"] == product.get("description")
