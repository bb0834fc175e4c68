"""Meters, metered and sub-cent prices through the CLI against the emulator, checked with the stripe client.

Every step is planned and applied through `main(argv)`, then the account is read back with the
official client: a metered price on its meter, usage reported for a subscribed customer and
the meter's event summaries, and a meter created, updated, moved to a new event name,
removed and re-added, each converging to an empty plan with nothing duplicated; a meter made
by hand is never touched.
"""

from __future__ import annotations

import json
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import stripe

from tests.helpers import EmulatorHandle, duplicates, everything, run_cli, write_config

CATALOG = """\
version: 1
meters:
  {meter}:
    display_name: {display}
    default_aggregation: {{formula: {formula}}}
products:
  ai:
    name: AI assistant
    prices:
      ai-tokens:
        amount: "0.00002"
        currency: usd
        recurring: {{interval: month, usage_type: metered, meter: {meter}}}
      credits:
        amount: "0.003"
        currency: usd
      tip:
        currency: usd
        custom_unit_amount: {{minimum: 500, preset: 1000, maximum: 50000}}
      base:
        unit_amount: 1000
        currency: usd
        recurring: {{interval: month}}
customers:
  acme:
    email: billing@acme.example
    subscriptions:
      main:
        collection_method: send_invoice
        days_until_due: 30
        items:
          - {{price: base, quantity: 2}}
          - {{price: ai-tokens}}
policies:
  max_destroy_percent: 100
"""


def catalog(
    tmp_path: Path, meter: str = "ai_tokens", display: str = "AI tokens", formula: str = "sum"
) -> Path:
    return write_config(tmp_path, CATALOG.format(meter=meter, display=display, formula=formula))


def apply_ok(emulator: EmulatorHandle, config: Path) -> str:
    res = run_cli(emulator, "apply", "-c", str(config), "--auto-approve")
    assert res.returncode == 0, res.stdout + res.stderr
    return res.stdout


def assert_converged(emulator: EmulatorHandle, config: Path) -> None:
    res = run_cli(emulator, "plan", "-c", str(config), "--detailed-exitcode")
    assert res.returncode == 0, res.stdout + res.stderr
    assert "No changes" in res.stdout
    assert duplicates(emulator) == {}


def meters_by_name(client: stripe.StripeClient) -> dict[str, list[Any]]:
    out: dict[str, list[Any]] = {}
    for m in client.v1.billing.meters.list({"limit": 100}).auto_paging_iter():
        out.setdefault(m.event_name, []).append(m)
    return out


def price(client: stripe.StripeClient, lookup_key: str) -> Any:
    (found,) = client.v1.prices.list({"lookup_keys": [lookup_key]}).data
    return found


def summary(client: stripe.StripeClient, meter_id: str, customer: str) -> float:
    now = int(time.time())
    start = now - now % 60 - 3600
    page = client.v1.billing.meters.event_summaries.list(
        meter_id, {"customer": customer, "start_time": start, "end_time": start + 7200}
    )
    (only,) = page.data
    return float(only.aggregated_value)


def test_a_metered_price_bills_the_usage_reported_on_its_meter(
    emulator: EmulatorHandle, tmp_path: Path
) -> None:
    config = catalog(tmp_path)
    plan = run_cli(emulator, "plan", "-c", str(config))
    assert "+ meter ai_tokens (create)  AI tokens: sum of value (event ai_tokens)" in plan.stdout
    assert "0.00002 USD per unit of meter ai_tokens/month" in plan.stdout
    assert "0.003 USD one-time" in plan.stdout
    assert "pay what you want in USD (minimum 5.00 USD, maximum 500.00 USD, preset 10.00 USD)" in (
        plan.stdout
    )
    apply_ok(emulator, config)
    assert_converged(emulator, config)

    client = emulator.client()
    (meter,) = meters_by_name(client)["ai_tokens"]
    assert (meter.status, meter.display_name, meter.default_aggregation.formula) == (
        "active",
        "AI tokens",
        "sum",
    )
    tokens = price(client, "ai-tokens")
    assert tokens.recurring.usage_type == "metered" and tokens.recurring.meter == meter.id
    assert tokens.unit_amount is None and tokens.unit_amount_decimal == Decimal("0.002")
    assert price(client, "credits").unit_amount_decimal == Decimal("0.3")
    tip = price(client, "tip")
    assert tip.unit_amount is None and tip.type == "one_time"
    assert (tip.custom_unit_amount.minimum, tip.custom_unit_amount.preset) == (500, 1000)
    assert tip.custom_unit_amount.maximum == 50000
    (sub,) = client.v1.subscriptions.list({"status": "all"}).data
    items = {i.price.id: i.quantity for i in sub["items"].data}
    assert items == {price(client, "base").id: 2, tokens.id: None}
    customer = str(sub.customer)

    sent = run_cli(
        emulator,
        "meters",
        "report",
        "ai_tokens",
        "--customer",
        "acme",
        "--value",
        "1500",
        "--identifier",
        "req-1",
        "-c",
        str(config),
    )
    assert sent.returncode == 0, sent.stderr
    assert f"recorded: 1500 on meter ai_tokens ({meter.id}) for customer acme ({customer})" in (
        sent.stdout
    )
    again = run_cli(
        emulator,
        "meters",
        "report",
        "ai_tokens",
        "--customer",
        customer,
        "--value",
        "1500",
        "--identifier",
        "req-1",
        "--format",
        "json",
    )
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["already_recorded"] is True
    more = run_cli(
        emulator, "meters", "report", "ai_tokens", "--customer", customer, "--value", "500"
    )
    assert more.returncode == 0, more.stderr
    # The retry under the same identifier counted once: 1500 + 500.
    assert summary(client, meter.id, customer) == 2000.0
    assert_converged(emulator, config)


def test_meters_report_refuses_bad_input_before_any_write(
    emulator: EmulatorHandle, tmp_path: Path
) -> None:
    config = catalog(tmp_path)
    apply_ok(emulator, config)
    before = len(emulator.writes())
    cases = [
        (("ai_tokens", "--customer", "acme", "--value", "12x"), "is not a number"),
        (("tokens", "--customer", "acme", "--value", "1", "-c", str(config)), "unknown meter"),
        (("nope", "--customer", "acme", "--value", "1"), "no active meter with event name"),
        (("ai_tokens", "--customer", "zed", "--value", "1", "-c", str(config)), "unknown customer"),
    ]
    elsewhere = tmp_path / "no-config"  # without -c, no ./billing.yaml: Stripe's meters decide
    elsewhere.mkdir()
    for args, message in cases:
        res = run_cli(emulator, "meters", "report", *args, cwd=elsewhere)
        assert res.returncode == 1, res.stdout
        assert message in res.stderr and "Traceback" not in res.stderr
    live = run_cli(
        emulator,
        "meters",
        "report",
        "ai_tokens",
        "--customer",
        "acme",
        "--value",
        "1",
        api_key="sk_live_" + "0" * 24,
        cwd=elsewhere,
    )
    assert live.returncode == 1 and "without --live" in live.stderr
    assert len(emulator.writes()) == before


def test_meter_create_update_new_event_name_remove_readd_converge(
    emulator: EmulatorHandle, tmp_path: Path
) -> None:
    client = emulator.client()
    hand_made = client.v1.billing.meters.create(
        {
            "display_name": "Someone else's",
            "event_name": "hand_made",
            "default_aggregation": {"formula": "count"},
        }
    )
    config = catalog(tmp_path)
    apply_ok(emulator, config)
    assert_converged(emulator, config)
    (first,) = meters_by_name(client)["ai_tokens"]

    # display_name changes in place.
    config = catalog(tmp_path, display="LLM tokens")
    plan = run_cli(emulator, "plan", "-c", str(config))
    assert f"~ meter ai_tokens (update {first.id})  LLM tokens" in plan.stdout
    apply_ok(emulator, config)
    assert_converged(emulator, config)
    assert client.v1.billing.meters.retrieve(first.id).display_name == "LLM tokens"

    # The formula is fixed: reported, never sent, and the meter stays as it is.
    config = catalog(tmp_path, display="LLM tokens", formula="last")
    before = len(emulator.writes())
    plan = run_cli(emulator, "plan", "-c", str(config), "--detailed-exitcode")
    assert "default_aggregation can only be set when the meter is created" in plan.stdout
    assert "declare a meter with a new key (event name)" in plan.stdout
    assert len(emulator.writes()) == before

    # A new event name is a new meter: the metered price is replaced onto it (the declared
    # subscription moves), and the old meter, which a billing-sync price used, is deactivated.
    config = catalog(tmp_path, meter="ai_tokens_v2", display="LLM tokens", formula="last")
    plan = run_cli(emulator, "plan", "-c", str(config))
    assert "+ meter ai_tokens_v2 (create)" in plan.stdout
    assert "-/+ price ai-tokens (replace" in plan.stdout
    assert f"- meter ai_tokens (archive {first.id})" in plan.stdout
    apply_ok(emulator, config)
    assert_converged(emulator, config)
    by_name = meters_by_name(client)
    assert [m.status for m in by_name["ai_tokens"]] == ["inactive"]
    (second,) = by_name["ai_tokens_v2"]
    assert second.default_aggregation.formula == "last"
    assert price(client, "ai-tokens").recurring.meter == second.id
    (sub,) = client.v1.subscriptions.list({"status": "all"}).data
    assert price(client, "ai-tokens").id in {i.price.id for i in sub["items"].data}

    # Back to the first event name: the deactivated meter is reactivated, not duplicated.
    config = catalog(tmp_path, display="LLM tokens")
    plan = run_cli(emulator, "plan", "-c", str(config))
    assert f"+ meter ai_tokens (reactivate {first.id})" in plan.stdout
    apply_ok(emulator, config)
    assert_converged(emulator, config)
    by_name = meters_by_name(client)
    assert [(m.id, m.status) for m in by_name["ai_tokens"]] == [(first.id, "active")]
    assert [m.status for m in by_name["ai_tokens_v2"]] == ["inactive"]
    assert price(client, "ai-tokens").recurring.meter == first.id

    # Removing the meter and its price deactivates the meter; re-adding reactivates it.
    removed = write_config(
        tmp_path,
        "version: 1\npolicies: {max_destroy_percent: 100}\n"
        "products:\n  ai:\n    name: AI assistant\n",
    )
    apply_ok(emulator, removed)
    assert_converged(emulator, removed)
    assert client.v1.billing.meters.retrieve(first.id).status == "inactive"
    config = catalog(tmp_path, display="LLM tokens")
    apply_ok(emulator, config)
    assert_converged(emulator, config)
    assert client.v1.billing.meters.retrieve(first.id).status == "active"
    by_name = meters_by_name(client)
    assert sorted(by_name) == ["ai_tokens", "ai_tokens_v2", "hand_made"]
    assert all(len(ms) == 1 for ms in by_name.values())

    # The meter made by hand was never touched.
    assert client.v1.billing.meters.retrieve(hand_made.id).status == "active"
    assert all(hand_made.id not in w["path"] for w in emulator.writes())
    assert len(everything(emulator)["meters"]) == 3


def test_import_renders_meters_and_the_new_price_fields(
    emulator: EmulatorHandle, tmp_path: Path
) -> None:
    v1: Any = emulator.client().v1
    meter = v1.billing.meters.create(
        {
            "display_name": "API calls",
            "event_name": "api_calls",
            "default_aggregation": {"formula": "count"},
            "customer_mapping": {"type": "by_id", "event_payload_key": "customer"},
        }
    )
    product = v1.products.create({"name": "API"})
    v1.prices.create(
        {
            "product": product.id,
            "currency": "usd",
            "unit_amount_decimal": "0.25",
            "recurring": {"interval": "month", "usage_type": "metered", "meter": meter.id},
            "lookup_key": "api-calls",
        }
    )
    v1.prices.create(
        {
            "product": product.id,
            "currency": "usd",
            "custom_unit_amount": {"enabled": True, "minimum": 100},
            "lookup_key": "donation",
        }
    )
    out = tmp_path / "imported.yaml"
    res = run_cli(emulator, "import", "--out", str(out))
    assert res.returncode == 0, res.stderr
    text = out.read_text(encoding="utf-8")
    assert "meters:\n  api_calls:" in text
    assert "display_name: API calls" in text and "formula: count" in text
    assert "event_payload_key: customer" in text
    assert "unit_amount_decimal: '0.25'" in text or 'unit_amount_decimal: "0.25"' in text
    assert "usage_type: metered" in text and "meter: api_calls" in text
    assert "custom_unit_amount:" in text and "minimum: 100" in text
    assert run_cli(emulator, "validate", "-c", str(out)).returncode == 0
    # The imported file adopts the prices and creates nothing, then plans nothing.
    plan = run_cli(emulator, "plan", "-c", str(out))
    assert "(create)" not in plan.stdout, plan.stdout
    apply_ok(emulator, out)
    assert_converged(emulator, out)
    assert len(everything(emulator)["meters"]) == 1
