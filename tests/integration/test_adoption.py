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


KINDS_WITH_IGNORE = """\
version: 1
meters:
  api_calls:
    display_name: API calls
    default_aggregation: {formula: count}
    ignore: {fields: [display_name]}
products:
  pro:
    name: Pro
    features: [sso]
    prices:
      pro-usage:
        amount: "0.01"
        currency: usd
        recurring: {interval: month, usage_type: metered, meter: api_calls}
features:
  sso:
    name: Single sign-on
    metadata: {category: security}
    ignore: {fields: [name]}
coupons:
  launch:
    name: Launch
    percent_off: 20
    duration: once
    metadata: {campaign: spring}
promotion_codes:
  launch-code:
    coupon: launch
    code: LAUNCH20
tax_rates:
  vat-de:
    display_name: VAT
    description: German VAT
    percentage: 19
    inclusive: false
    ignore: {fields: [description]}
ignore:
  coupons: {metadata: [crm], fields: [name]}
  promotion_codes: {metadata: [crm]}
  tax_rates: {metadata: [crm], fields: [display_name]}
  features: {metadata: [crm]}
"""


def test_ignore_works_for_every_kind_through_the_registry(
    emulator: EmulatorHandle, tmp_path: Path
) -> None:
    """Meters, coupons, promotion codes, tax rates and features honour `ignore:` (per kind and
    per object) like products and customers: another writer's edits are never planned away."""
    cfg = write_config(tmp_path, KINDS_WITH_IGNORE)
    apply_ok(emulator, cfg)
    v1 = emulator.client().v1
    (meter,) = v1.billing.meters.list().data
    (feature,) = v1.entitlements.features.list().data
    (code,) = v1.promotion_codes.list().data
    (rate,) = v1.tax_rates.list().data
    # Another writer edits what billing.yaml says it owns.
    v1.billing.meters.update(meter.id, {"display_name": "Calls (billing team)"})
    v1.entitlements.features.update(
        feature.id, {"name": "SSO (renamed by the app)", "metadata": {"crm": "F-1"}}
    )
    v1.coupons.update("launch", {"name": "Launch (CRM)", "metadata": {"crm": "C-1"}})
    v1.promotion_codes.update(code.id, {"metadata": {"crm": "P-1"}})
    v1.tax_rates.update(
        rate.id,
        {"display_name": "MwSt", "description": "set by tax team", "metadata": {"crm": "T-1"}},
    )
    assert_no_changes(emulator, cfg)
    assert run_cli(emulator, "drift", "-c", str(cfg)).returncode == 0
    # What is not ignored is still ours: a declared change applies, the owned values stay.
    cfg.write_text(cfg.read_text().replace("campaign: spring", "campaign: summer"))
    apply_ok(emulator, cfg)
    coupon = v1.coupons.retrieve("launch")
    assert coupon.name == "Launch (CRM)"
    assert coupon.metadata is not None
    assert coupon.metadata.to_dict() == {
        "campaign": "summer",
        "crm": "C-1",
        "billing_sync_key": "launch",
    }
    assert v1.tax_rates.retrieve(rate.id).display_name == "MwSt"
    assert_no_changes(emulator, cfg)
    # Without the rules, every one of those edits is drift billing-sync would undo.
    bare = write_config(
        tmp_path,
        KINDS_WITH_IGNORE.replace("campaign: spring", "campaign: summer")
        .split("ignore:\n  coupons")[0]
        .replace("    ignore: {fields: [display_name]}\n", "")
        .replace("    ignore: {fields: [name]}\n", "")
        .replace("    ignore: {fields: [description]}\n", ""),
        name="bare.yaml",
    )
    doc = json.loads(run_cli(emulator, "plan", "-c", str(bare), "--format", "json").stdout)
    updated = {op["id"].split(":")[0].split(".")[0] for op in doc["operations"]}
    assert updated == {"meter", "feature", "coupon", "promotion_code", "tax_rate"}, doc
