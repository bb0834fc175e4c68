"""Adoption: an account built by hand (the official stripe client, never billing-sync) is taken
under management by declaring it; nothing is created twice."""

from __future__ import annotations

import json
from pathlib import Path

from tests.helpers import EmulatorHandle, everything, run_cli, write_config
from tests.integration.test_plan_apply import apply_ok, assert_no_changes

DECLARED = """\
version: 1
products:
  pro:
    name: Pro
    default_price: pro-monthly
    prices:
      pro-monthly: {unit_amount: 2900, currency: usd, recurring: {interval: month}}
customers:
  acme:
    email: billing@acme.example
    name: Acme
    subscriptions:
      main:
        collection_method: send_invoice
        days_until_due: 30
        items: [{price: pro-monthly, quantity: 3}]
"""


def build_by_hand(emulator: EmulatorHandle) -> dict[str, str]:
    client = emulator.client()
    product = client.v1.products.create({"id": "pro", "name": "Pro (old name)"})
    price = client.v1.prices.create(
        {
            "product": "pro",
            "currency": "usd",
            "unit_amount": 2900,
            "recurring": {"interval": "month"},
            "lookup_key": "pro-monthly",
        }
    )
    client.v1.products.update("pro", {"default_price": price.id})
    customer = client.v1.customers.create({"email": "billing@acme.example", "name": "Acme"})
    sub = client.v1.subscriptions.create(
        {
            "customer": customer.id,
            "items": [{"price": price.id, "quantity": 2}],
            "collection_method": "send_invoice",
            "days_until_due": 30,
        }
    )
    return {"product": product.id, "price": price.id, "customer": customer.id, "sub": sub.id}


def test_a_hand_built_account_is_adopted_not_duplicated(
    emulator: EmulatorHandle, tmp_path: Path
) -> None:
    ids = build_by_hand(emulator)
    cfg = write_config(tmp_path, DECLARED)
    res = run_cli(emulator, "plan", "-c", str(cfg))
    assert res.returncode == 0, res.stderr
    for line in (
        f"<= product pro (adopt {ids['product']})",
        f"<= price pro-monthly (adopt {ids['price']})",
        f"<= customer acme (adopt {ids['customer']})",
        f"<= subscription acme/main (adopt {ids['sub']})",
        'name: "Pro (old name)" -> "Pro"',
        "items.pro-monthly.quantity: 2 -> 3",
        "Plan: 0 to create, 4 to adopt, 0 to update",
    ):
        assert line in res.stdout, (line, res.stdout)
    apply_ok(emulator, cfg)
    assert_no_changes(emulator, cfg)
    objs = everything(emulator)
    assert [p["id"] for p in objs["products"]] == ["pro"]
    assert [p["id"] for p in objs["prices"]] == [ids["price"]]
    assert [c["id"] for c in objs["customers"]] == [ids["customer"]]
    assert [s["id"] for s in objs["subscriptions"]] == [ids["sub"]]
    (sub,) = objs["subscriptions"]
    assert sub["metadata"]["billing_sync_key"] == "acme/main"
    assert sub["items"]["data"][0]["quantity"] == 3
    # Managed from now on: a hand rename is drift.
    emulator.client().v1.customers.update(ids["customer"], {"name": "Renamed"})
    res = run_cli(emulator, "drift", "-c", str(cfg))
    assert res.returncode == 2 and 'name: "Renamed" -> "Acme"' in res.stdout


def test_a_declared_customer_whose_email_exists_is_adopted(
    emulator: EmulatorHandle, tmp_path: Path
) -> None:
    existing = emulator.client().v1.customers.create({"email": "billing@acme.example"})
    cfg = write_config(tmp_path, DECLARED.split("    subscriptions:")[0])
    apply_ok(emulator, cfg)
    (customer,) = everything(emulator)["customers"]
    assert customer["id"] == existing.id
    assert customer["name"] == "Acme" and customer["metadata"]["billing_sync_key"] == "acme"


def test_unmanage_leaves_the_subscription_billing_and_unmanaged(
    emulator: EmulatorHandle, tmp_path: Path
) -> None:
    cfg = write_config(tmp_path, DECLARED)
    apply_ok(emulator, cfg)
    cfg.write_text(
        DECLARED.split("    subscriptions:")[0] + "policies: {subscription_removal: unmanage}\n"
    )
    out = apply_ok(emulator, cfg)
    assert "subscription.update:acme/main" in out or "1 done" in out
    (sub,) = everything(emulator)["subscriptions"]
    assert sub["status"] == "active" and "billing_sync_key" not in sub["metadata"]
    assert_no_changes(emulator, cfg)
    res = run_cli(emulator, "plan", "-c", str(cfg))
    assert "Unmanaged (never changed): 1 subscriptions" in res.stdout


def test_ignore_keeps_another_writers_metadata_and_fields(
    emulator: EmulatorHandle, tmp_path: Path
) -> None:
    """`ignore:` (per kind and per object): never compared, never unset, kept across plans."""
    cfg = write_config(
        tmp_path,
        DECLARED.replace("    name: Acme\n", "    name: Acme\n    ignore: {fields: [phone]}\n")
        + "ignore:\n  customers: {metadata: [firebaseRole]}\n",
    )
    apply_ok(emulator, cfg)
    (customer,) = everything(emulator)["customers"]
    emulator.client().v1.customers.update(
        customer["id"], {"metadata": {"firebaseRole": "admin"}, "phone": "+15555550100"}
    )
    assert_no_changes(emulator, cfg)
    res = run_cli(emulator, "drift", "-c", str(cfg))
    assert res.returncode == 0, res.stdout
    # What is not ignored is still ours: a declared change applies, the owned values stay.
    cfg.write_text(cfg.read_text().replace("name: Acme\n", "name: Acme Inc\n"))
    apply_ok(emulator, cfg)
    (customer,) = everything(emulator)["customers"]
    assert customer["name"] == "Acme Inc" and customer["phone"] == "+15555550100"
    assert customer["metadata"]["firebaseRole"] == "admin"
    assert_no_changes(emulator, cfg)


def test_import_then_plan_adopts_everything_and_creates_nothing(
    emulator: EmulatorHandle, tmp_path: Path
) -> None:
    """The adoption flow: import a hand-built account, plan (only adoptions), apply, in sync."""
    ids = build_by_hand(emulator)
    client = emulator.client()
    # A price without a lookup key: only its id (written by import as stripe_id) can match it.
    yearly = client.v1.prices.create(
        {
            "product": "pro",
            "currency": "usd",
            "unit_amount": 29000,
            "recurring": {"interval": "year"},
        }
    )
    client.v1.customers.create({"email": "ops@globex.example", "name": "Globex"})
    out = tmp_path / "billing.yaml"
    res = run_cli(emulator, "import", "--include-customers", "--out", str(out))
    assert res.returncode == 0, res.stderr
    assert f"stripe_id: {yearly.id}" in out.read_text()
    writes = len(emulator.writes())
    res = run_cli(emulator, "plan", "-c", str(out), "--format", "json")
    assert res.returncode == 0, res.stderr
    doc = json.loads(res.stdout)
    assert doc["conflicts"] == []
    actions = {op["action"] for op in doc["operations"]}
    assert actions <= {"adopt", "update"}, [op["id"] for op in doc["operations"]]
    assert doc["summary"]["adopt"] == 6 and doc["summary"]["create"] == 0
    apply_ok(emulator, out)
    assert_no_changes(emulator, out)
    assert run_cli(emulator, "drift", "-c", str(out)).returncode == 0
    objs = everything(emulator)
    assert len(objs["prices"]) == 2 and len(objs["customers"]) == 2
    assert {s["id"] for s in objs["subscriptions"]} == {ids["sub"]}
    assert len(emulator.writes()) > writes
