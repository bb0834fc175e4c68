"""The CLI (`main(argv)` in-process) plans and applies billing.yaml against the emulator over HTTP."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.helpers import (
    EXAMPLE,
    EXAMPLE_COUNTS,
    EXAMPLE_CREATES,
    EXAMPLE_WRITES,
    LIST_READS,
    READS_BEFORE_FIRST_WRITE,
    ROOT,
    EmulatorHandle,
    duplicates,
    everything,
    run_cli,
    write_config,
)

SMALL = """\
version: 1
products:
  pro:
    name: Pro
    metadata: {tier: "2"}
    default_price: pro-monthly
    prices:
      pro-monthly: {unit_amount: 2900, currency: usd, recurring: {interval: month}}
      pro-yearly: {unit_amount: 29000, currency: usd, recurring: {interval: year}}
customers:
  acme:
    email: billing@acme.example
    name: Acme
    metadata: {crm: A-1, segment: smb}
    subscriptions:
      main:
        collection_method: send_invoice
        days_until_due: 30
        items:
          - {price: pro-monthly, quantity: 2}
policies:
  max_destroy_percent: 30
"""


def apply_ok(emulator: EmulatorHandle, config: Path, *extra: str) -> str:
    res = run_cli(emulator, "apply", "-c", str(config), "--auto-approve", *extra)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "Traceback" not in res.stderr
    return res.stdout


def assert_no_changes(emulator: EmulatorHandle, config: Path) -> None:
    res = run_cli(emulator, "plan", "-c", str(config), "--detailed-exitcode")
    assert res.returncode == 0, res.stdout + res.stderr
    assert "No changes" in res.stdout


def test_fresh_account_plan_lists_creates_and_writes_nothing(emulator: EmulatorHandle) -> None:
    res = run_cli(emulator, "plan", "-c", str(EXAMPLE), "--detailed-exitcode")
    assert res.returncode == 2, res.stderr
    assert "+ product pro (create)" in res.stdout
    assert "+ price seats-graduated (create)" in res.stdout
    assert "+ subscription acme/main (create)" in res.stdout
    # One create per declared object (the example's, counted by kind in the registry).
    assert f"Plan: {EXAMPLE_CREATES} to create, 0 to adopt" in res.stdout
    assert emulator.writes() == []
    # One request per list read the registry declares (one page each on an empty account).
    gets = emulator.requests()
    assert sorted(read_of(r) for r in gets) == sorted(LIST_READS)


def read_of(request: dict[str, Any]) -> tuple[str, tuple[tuple[str, str], ...]]:
    """A logged GET as (path, its parameters but the page size), as LIST_READS spells one."""
    params = request["params"]
    expand = params.get("expand") or []
    if isinstance(expand, dict):  # the emulator logs `expand[0]=...` as {"0": ...}
        expand = [v for _, v in sorted(expand.items(), key=lambda kv: int(kv[0]))]
    flat = {k: str(v) for k, v in params.items() if k not in ("limit", "expand")}
    if expand:
        flat["expand"] = str(list(expand))
    return request["path"], tuple(sorted(flat.items()))


def test_apply_example_then_plan_is_empty(emulator: EmulatorHandle, tmp_path: Path) -> None:
    out = apply_ok(emulator, EXAMPLE)
    assert f"Apply complete: {EXAMPLE_WRITES} done, 0 failed, 0 skipped" in out
    log = emulator.requests()
    writes = emulator.writes()
    # The plan's reads, the lock, the same reads, then one write per change; the lock's release.
    first_write = next(n for n, r in enumerate(log) if r["method"] != "GET")
    assert log[first_write]["path"] == "/v1/products" and first_write == len(LIST_READS)
    catalog = [n for n, r in enumerate(log) if r["method"] != "GET"][1:-1]
    assert catalog[0] == READS_BEFORE_FIRST_WRITE and len(catalog) == EXAMPLE_WRITES
    # Every POST carries a key (Stripe ignores keys on DELETE: only the lock's release is one).
    assert writes and all(w["idempotency_key"] for w in writes if w["method"] == "POST")
    assert_no_changes(emulator, EXAMPLE)
    objs = everything(emulator)
    prices = {p["lookup_key"]: p for p in objs["prices"] if p["lookup_key"]}
    assert prices["pro-monthly-jpy"]["unit_amount"] == 4200
    assert prices["pro-monthly-jpy"]["currency"] == "jpy"
    assert prices["setup-fee"]["type"] == "one_time"
    assert prices["seats-graduated"]["billing_scheme"] == "tiered"
    subs = {s["metadata"]["billing_sync_key"]: s for s in objs["subscriptions"]}
    assert subs["globex/main"]["status"] == "trialing"
    assert subs["acme/main"]["status"] == "active"
    products = {p["id"]: p for p in objs["products"]}
    assert products["pro"]["default_price"] == prices["pro-monthly"]["id"]
    # A second apply is a no-op that writes nothing.
    before = len(emulator.writes())
    out = apply_ok(emulator, EXAMPLE)
    assert "Nothing to apply" in out
    assert len(emulator.writes()) == before


def test_metadata_removal_and_field_updates_converge(
    emulator: EmulatorHandle, tmp_path: Path
) -> None:
    cfg = write_config(tmp_path, SMALL)
    apply_ok(emulator, cfg)
    cfg.write_text(
        SMALL.replace("metadata: {crm: A-1, segment: smb}", "metadata: {crm: A-2}").replace(
            "name: Pro\n", "name: Pro\n    description: Now with SSO\n"
        )
    )
    res = run_cli(emulator, "plan", "-c", str(cfg))
    assert "~ customer acme (update" in res.stdout
    assert 'metadata.segment: "smb" -> (none)' in res.stdout
    apply_ok(emulator, cfg)
    assert_no_changes(emulator, cfg)
    customer = everything(emulator)["customers"][0]
    assert customer["metadata"] == {"crm": "A-2", "billing_sync_key": "acme"}


def test_price_replace_moves_declared_and_grandfathers_others(
    emulator: EmulatorHandle, tmp_path: Path
) -> None:
    cfg = write_config(tmp_path, SMALL)
    apply_ok(emulator, cfg)
    objs = everything(emulator)
    old = next(p for p in objs["prices"] if p["lookup_key"] == "pro-monthly")
    # An undeclared subscription on the same price, made by someone else.
    client = emulator.client()
    other = client.v1.customers.create({"email": "other@example.com"})
    undeclared = client.v1.subscriptions.create(
        {
            "customer": other.id,
            "items": [{"price": old["id"], "quantity": 1}],
            "collection_method": "send_invoice",
            "days_until_due": 7,
        }
    )
    cfg.write_text(SMALL.replace("unit_amount: 2900,", "unit_amount: 3500,"))
    res = run_cli(emulator, "plan", "-c", str(cfg))
    assert "-/+ price pro-monthly" in res.stdout
    assert "29.00 USD/month -> 35.00 USD/month" in res.stdout
    assert (
        "1 declared subscription moves to the new price; "
        "1 other subscription stays on the old price" in res.stdout
    )
    apply_ok(emulator, cfg)
    assert_no_changes(emulator, cfg)
    objs = everything(emulator)
    by_id = {p["id"]: p for p in objs["prices"]}
    new = next(p for p in objs["prices"] if p["lookup_key"] == "pro-monthly")
    assert new["id"] != old["id"] and new["unit_amount"] == 3500 and new["active"]
    assert by_id[old["id"]]["active"] is False
    assert by_id[old["id"]]["lookup_key"] is None
    product = next(p for p in objs["products"] if p["id"] == "pro")
    assert product["default_price"] == new["id"]
    subs = {s["id"]: s for s in objs["subscriptions"]}
    declared = next(s for s in objs["subscriptions"] if s["metadata"].get("billing_sync_key"))
    assert declared["items"]["data"][0]["price"]["id"] == new["id"]
    assert declared["items"]["data"][0]["quantity"] == 2
    assert subs[undeclared.id]["items"]["data"][0]["price"]["id"] == old["id"]
    # Reverting reactivates the old price instead of creating a third.
    cfg.write_text(SMALL)
    apply_ok(emulator, cfg)
    assert_no_changes(emulator, cfg)
    objs = everything(emulator)
    assert len(objs["prices"]) == 3
    current = next(p for p in objs["prices"] if p["lookup_key"] == "pro-monthly")
    assert current["id"] == old["id"] and current["active"]


def test_removing_a_subscription_cancels_per_policy_and_unsafe_plans_are_refused(
    emulator: EmulatorHandle, tmp_path: Path
) -> None:
    cfg = write_config(tmp_path, SMALL)
    apply_ok(emulator, cfg)
    without = SMALL.split("    subscriptions:")[0] + (
        "policies:\n  max_destroy_percent: 10\n  min_objects_for_thresholds: 0\n"
    )
    cfg.write_text(without)
    writes = len(emulator.writes())
    res = run_cli(emulator, "apply", "-c", str(cfg), "--auto-approve")
    assert res.returncode == 3  # refused as it stands, told apart from errors (1)
    assert "- subscription acme/main (cancel" in res.stdout  # rendered before it is refused
    assert "refusing an unsafe plan" in res.stderr and "--allow-destroy" in res.stderr
    assert "Traceback" not in res.stderr
    assert len(emulator.writes()) == writes
    apply_ok(emulator, cfg, "--allow-destroy")
    sub = everything(emulator)["subscriptions"][0]
    assert sub["cancel_at_period_end"] is True and sub["status"] == "active"
    assert_no_changes(emulator, cfg)


def test_cancel_now_policy_cancels_immediately(emulator: EmulatorHandle, tmp_path: Path) -> None:
    cfg = write_config(tmp_path, SMALL)
    apply_ok(emulator, cfg)
    cfg.write_text(
        SMALL.split("    subscriptions:")[0]
        + "policies:\n  subscription_removal: cancel_now\n  max_destroy_percent: 100\n"
    )
    apply_ok(emulator, cfg)
    assert everything(emulator)["subscriptions"][0]["status"] == "canceled"
    assert_no_changes(emulator, cfg)
    # Declaring it again does not silently re-create it.
    cfg.write_text(SMALL)
    res = run_cli(emulator, "plan", "-c", str(cfg))
    assert "subscription acme/main is canceled in Stripe" in res.stdout


def test_live_key_is_refused_before_any_request(emulator: EmulatorHandle) -> None:
    live = "sk_live_" + "x" * 24
    for args in (["plan"], ["apply", "--auto-approve"]):
        res = run_cli(emulator, *args, "-c", str(EXAMPLE), api_key=live)
        assert res.returncode == 1
        assert res.stderr.startswith(
            "error: refusing to use live key sk_live_...xxxx without --live"
        )
        assert live not in res.stdout + res.stderr
    assert emulator.requests() == []


def test_unreachable_api_and_bad_key_are_one_line(emulator: EmulatorHandle, tmp_path: Path) -> None:
    res = run_cli(emulator, "plan", "-c", str(EXAMPLE), api_base="http://127.0.0.1:9")
    assert res.returncode == 1
    # Each retry is reported as it happens (no silent wait), then one error line.
    *retries, last = res.stderr.strip().splitlines()
    assert last == "error: could not reach the Stripe API at http://127.0.0.1:9: connection refused"
    assert len(retries) == 5, retries
    for n, line in enumerate(retries, start=2):
        assert line.startswith("retrying GET /v1/products in "), line
        assert line.endswith(
            f"(attempt {n} of 6): could not reach the Stripe API at http://127.0.0.1:9: "
            "connection refused"
        ), line
    res = run_cli(emulator, "plan", "-c", str(EXAMPLE), api_key="pk_test_123456789012")
    assert res.returncode == 1
    assert "is not a secret or restricted key" in res.stderr
    res = run_cli(emulator, "plan", "-c", str(EXAMPLE), api_key="sk_test_revoked-key-1234")
    assert res.returncode == 1
    assert res.stderr == "error: Stripe rejected the API key (authentication failed)\n"
    assert [r["status"] for r in emulator.requests()] == [401]


def test_bad_config_writes_nothing(emulator: EmulatorHandle, tmp_path: Path) -> None:
    cfg = write_config(
        tmp_path,
        SMALL.replace(
            "currency: usd, recurring: {interval: year}",
            "currency: usdd, recurring: {interval: year}",
        ),
    )
    res = run_cli(emulator, "apply", "-c", str(cfg), "--auto-approve")
    assert res.returncode == 1
    assert "currency" in res.stderr and str(cfg) in res.stderr
    assert "Traceback" not in res.stderr
    assert emulator.requests() == []


def test_apply_without_tty_or_auto_approve_refuses(emulator: EmulatorHandle) -> None:
    res = run_cli(emulator, "apply", "-c", str(EXAMPLE))
    assert res.returncode == 1
    assert "pass --auto-approve" in res.stderr
    assert emulator.writes() == []


def test_saved_plan_applies_exactly_and_goes_stale(
    emulator: EmulatorHandle, tmp_path: Path
) -> None:
    cfg = write_config(tmp_path, SMALL)
    saved = tmp_path / "plans" / "one.json"
    res = run_cli(emulator, "plan", "-c", str(cfg), "--out", str(saved))
    assert res.returncode == 0, res.stderr
    data = json.loads(saved.read_text())
    assert data["format_version"] == 2
    assert data == json.loads(run_cli(emulator, "plan", "-c", str(cfg), "--format", "json").stdout)
    # The account changes behind the plan's back: refused.
    emulator.client().v1.products.create({"name": "Hand made"})
    res = run_cli(emulator, "apply", "--plan", str(saved), "--auto-approve")
    assert res.returncode == 1 and "the Stripe account changed" in res.stderr
    run_cli(emulator, "plan", "-c", str(cfg), "--out", str(saved))
    # The config changes behind the plan's back: refused.
    cfg.write_text(SMALL.replace("name: Acme", "name: Acme Inc"))
    res = run_cli(emulator, "apply", "--plan", str(saved), "--auto-approve")
    assert res.returncode == 1 and "changed since" in res.stderr
    cfg.write_text(SMALL)
    res = run_cli(emulator, "apply", "--plan", str(saved), "--auto-approve")
    assert res.returncode == 0, res.stderr
    assert_no_changes(emulator, cfg)
    assert duplicates(emulator) == {}


def test_markdown_and_json_formats(emulator: EmulatorHandle) -> None:
    md = run_cli(emulator, "plan", "-c", str(EXAMPLE), "--format", "markdown").stdout
    assert md.startswith("### billing-sync plan")
    assert "<details><summary><b>meter</b>: 1 to create</summary>" in md
    assert "| `+` | `pro-monthly-jpy` | create |" in md
    doc = json.loads(run_cli(emulator, "plan", "-c", str(EXAMPLE), "--format", "json").stdout)
    assert doc["summary"]["create"] == EXAMPLE_CREATES
    assert f"<b>price</b>: {EXAMPLE_COUNTS['prices']} to create" in md
    assert doc["mrr"]["usd"]["before"] == 0


def test_ids_status_and_import(emulator: EmulatorHandle, tmp_path: Path) -> None:
    cfg = write_config(tmp_path, SMALL)
    res = run_cli(emulator, "status", "-c", str(cfg), "--fail-on", "missing")
    assert res.returncode == 3 and "acme/main (missing)" in res.stderr
    apply_ok(emulator, cfg)
    objs = everything(emulator)
    table = json.loads(run_cli(emulator, "ids").stdout)
    price = next(p for p in objs["prices"] if p["lookup_key"] == "pro-monthly")
    assert table["prices"]["pro-monthly"] == price["id"]
    assert table["products"] == {"pro": "pro"}
    assert table["subscriptions"]["acme/main"] == objs["subscriptions"][0]["id"]
    env = run_cli(emulator, "ids", "--format", "env").stdout
    assert f"BILLING_SYNC_PRICE_PRO_MONTHLY={price['id']}" in env.splitlines()
    res = run_cli(emulator, "status", "-c", str(cfg), "--fail-on", "past_due,missing")
    row = res.stdout.splitlines()[1].split()
    assert res.returncode == 0 and row[0] == "acme" and row[2] == "main" and row[4] == "active"
    res = run_cli(emulator, "import", "--include-customers")  # managed objects keep their keys
    assert res.returncode == 0, res.stderr
    assert "  pro:  # pro\n" in res.stdout and "      main:  # sub_" in res.stdout


KITCHEN = ROOT / "tests" / "fixtures" / "e2e"


def test_every_feature_applies_then_plans_empty_and_unsets_converge(
    emulator: EmulatorHandle,
) -> None:
    """transform_quantity, volume tiers with flat amounts, tiered currency options, KRW and
    KWD, interval_count, tax_behavior, a free price, item metadata, protect, trials; then
    unsetting fields and metadata, changing a tiered currency option in place."""
    first, changed = KITCHEN / "kitchen_sink.yaml", KITCHEN / "kitchen_sink_changed.yaml"
    apply_ok(emulator, first)
    assert_no_changes(emulator, first)
    res = run_cli(emulator, "plan", "-c", str(changed))
    assert "~ price api-volume (update" in res.stdout
    assert "currency_options.eur.tiers.0.unit_amount: 45 -> 44" in res.stdout
    assert "Plan: 0 to create, 0 to adopt, 5 to update, 0 to replace" in res.stdout
    apply_ok(emulator, changed)
    assert_no_changes(emulator, changed)
    objs = everything(emulator)
    product = objs["products"][0]
    assert product["description"] is None and product["images"] == []
    assert product["metadata"] == {"team": "platform", "billing_sync_key": "api"}
    subs = {s["metadata"]["billing_sync_key"]: s for s in objs["subscriptions"]}
    assert subs["initech/trial"]["status"] == "trialing"
    assert subs["initech/volume"]["cancel_at_period_end"] is False
    assert subs["initech/volume"]["metadata"]["billing_sync_protect"] == "true"


def test_drift_detects_hand_edits(emulator: EmulatorHandle, tmp_path: Path) -> None:
    cfg = write_config(tmp_path, SMALL)
    res = run_cli(emulator, "drift", "-c", str(cfg))
    assert res.returncode == 2 and "Drift" in res.stderr
    apply_ok(emulator, cfg)
    res = run_cli(emulator, "drift", "-c", str(cfg))
    assert res.returncode == 0, res.stdout + res.stderr
    price = next(p for p in everything(emulator)["prices"] if p["lookup_key"] == "pro-yearly")
    emulator.client().v1.prices.update(price["id"], {"nickname": "edited in the dashboard"})
    res = run_cli(emulator, "drift", "-c", str(cfg))
    assert res.returncode == 2
    # Stripe cannot unset a price's nickname (its types take no ""): drift, not a change.
    assert "Stripe cannot unset nickname ('edited in the dashboard')" in res.stdout
    assert "No changes that apply can make" in res.stdout


def test_currency_options_add_change_and_remove_converge(
    emulator: EmulatorHandle, tmp_path: Path
) -> None:
    yearly = "pro-yearly: {unit_amount: 29000, currency: usd, recurring: {interval: year}"
    cfg = write_config(tmp_path, SMALL)
    for options in (
        ", currency_options: {eur: {unit_amount: 27000}}}",
        ", currency_options: {eur: {unit_amount: 26000}, gbp: {unit_amount: 23000}}}",
        ", currency_options: {gbp: {unit_amount: 23000}}}",
        "}",
    ):
        cfg.write_text(SMALL.replace(yearly + "}", yearly + options))
        apply_ok(emulator, cfg)
        assert_no_changes(emulator, cfg)
    assert duplicates(emulator) == {}
