"""`billing-sync payments checkout` for every pricing model (tiered graduated and volume, package
prices, sub-cent amounts, metered usage, pay what you want) and `--trial-days`, through the CLI
against the emulator; each session completed with the test control and what it created read
back with the official stripe client."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import stripe

from tests.helpers import EXAMPLE, EmulatorHandle, everything, run_cli

PRICING = Path(__file__).parent.parent / "fixtures" / "checkout" / "pricing.yaml"
OK = "https://shop.example/thanks?session={CHECKOUT_SESSION_ID}"
BACK = "https://shop.example/pricing"


def _apply(emulator: EmulatorHandle, config: Path) -> EmulatorHandle:
    res = run_cli(emulator, "apply", "-c", str(config), "--auto-approve")
    assert res.returncode == 0, res.stderr
    return emulator


@pytest.fixture
def example(emulator: EmulatorHandle) -> EmulatorHandle:
    return _apply(emulator, EXAMPLE)


@pytest.fixture
def pricing(emulator: EmulatorHandle) -> EmulatorHandle:
    return _apply(emulator, PRICING)


def checkout(emulator: EmulatorHandle, config: Path, *args: str) -> Any:
    return run_cli(
        emulator,
        "payments",
        "checkout",
        "-c",
        str(config),
        "--success-url",
        OK,
        "--cancel-url",
        BACK,
        *args,
    )


def created(res: Any) -> tuple[str, list[str]]:
    """The new session's id and the output's lines."""
    assert res.returncode == 0, res.stderr
    lines = res.stdout.splitlines()
    assert lines[0].startswith("created Checkout Session cs_test_"), res.stdout
    return lines[0].split()[-1], lines


def price_id(emulator: EmulatorHandle, key: str) -> str:
    return next(str(p["id"]) for p in everything(emulator)["prices"] if p["lookup_key"] == key)


def last_session_request(emulator: EmulatorHandle) -> dict[str, Any]:
    posts = [w for w in emulator.writes() if w["path"] == "/v1/checkout/sessions"]
    params: dict[str, Any] = posts[-1]["params"]
    return params


def complete(emulator: EmulatorHandle, session_id: str, **body: Any) -> dict[str, Any]:
    done: dict[str, Any] = emulator.control(f"checkout_sessions/{session_id}/complete", body)
    assert done["status"] == "complete"
    return done


def items_of(client: stripe.StripeClient, sub_id: str) -> list[tuple[str, int | None]]:
    sub = client.v1.subscriptions.retrieve(sub_id)
    return [(i.price.id, i.to_dict().get("quantity")) for i in sub["items"].data]


def refused_before_any_write(emulator: EmulatorHandle, res: Any, message: str) -> None:
    assert res.returncode == 1 and res.stdout == "", res.stdout
    assert res.stderr.splitlines() == [message], res.stderr


# --------------------------------------------------------------------------- tiers


def test_graduated_tiers_price_each_tier_and_subscribe_the_quantity(
    example: EmulatorHandle,
) -> None:
    emulator = example
    session_id, lines = created(
        checkout(emulator, EXAMPLE, "--price", "seats-graduated", "--quantity", "25")
    )
    # 10 seats at 10.00 + 15 at 8.00
    assert "  amount due now: 220.00 USD" in lines
    assert (
        "  price:          seats-graduated x25 (graduated tiers: 1-10 at 10.00 USD, "
        "11-50 at 8.00 USD, 51+ at 6.00 USD; every month)"
    ) in lines
    seats = price_id(emulator, "seats-graduated")
    assert last_session_request(emulator)["line_items"] == {"0": {"price": seats, "quantity": "25"}}
    done = complete(emulator, session_id, email="new@shop.example")
    assert done["payment_status"] == "paid" and done["amount_total"] == 22000
    client = emulator.client()
    assert client.v1.subscriptions.retrieve(done["subscription"]).status == "active"
    assert items_of(client, done["subscription"]) == [(seats, 25)]


@pytest.mark.parametrize(("quantity", "due"), [("6", "39.00 USD"), ("11", "76.00 USD")])
def test_volume_tiers_price_the_whole_quantity_at_one_tier(
    pricing: EmulatorHandle, quantity: str, due: str
) -> None:
    # By id too: the price is read with its tiers (expanded) either way.
    fonts = price_id(pricing, "fonts-volume")
    session_id, lines = created(
        checkout(pricing, PRICING, "--price", fonts, "--quantity", quantity)
    )
    assert f"  amount due now: {due}" in lines
    assert any("volume tiers: 1-5 at 7.00 USD" in line for line in lines)
    assert any("6-10 at 6.50 USD, 11+ at 6.00 USD + 10.00 USD flat" in line for line in lines)
    done = complete(pricing, session_id, email="fonts@shop.example")
    client = pricing.client()
    assert client.v1.subscriptions.retrieve(done["subscription"]).status == "active"
    assert items_of(client, done["subscription"]) == [(fonts, int(quantity))]


# --------------------------------------------------------------------------- one-time units


def test_package_price_charges_started_packs_and_the_payment_intent_matches(
    pricing: EmulatorHandle,
) -> None:
    emulator = pricing
    session_id, lines = created(
        checkout(emulator, PRICING, "--price", "font-packs", "--quantity", "21", "--format", "text")
    )
    assert "  mode:           payment" in lines
    assert "  amount due now: 30.00 USD" in lines  # 21 fonts: 3 started packs of 10
    assert "(10.00 USD per 10 units, rounded up, one-time)" in lines[4]
    done = complete(emulator, session_id)
    pi = emulator.client().v1.payment_intents.retrieve(done["payment_intent"])
    assert (pi.amount, pi.currency, pi.status) == (3000, "usd", "succeeded")


def test_sub_cent_price_totals_exactly(example: EmulatorHandle) -> None:
    emulator = example
    res = checkout(
        emulator, EXAMPLE, "--price", "ai-credits", "--quantity", "10000", "--format", "json"
    )
    assert res.returncode == 0, res.stderr
    doc = json.loads(res.stdout)
    assert (doc["amount_total"], doc["amount_display"]) == (3000, "30.00 USD")
    assert doc["pricing"] == "0.003 USD one-time" and doc["quantity"] == 10000
    done = complete(emulator, doc["id"])
    pi = emulator.client().v1.payment_intents.retrieve(done["payment_intent"])
    assert (pi.amount, pi.status) == (3000, "succeeded")


# --------------------------------------------------------------------------- metered


def test_metered_price_sends_no_quantity_and_charges_nothing_now(example: EmulatorHandle) -> None:
    emulator = example
    res = checkout(
        emulator, EXAMPLE, "--price", "ai-tokens", "--customer", "globex", "--format", "json"
    )
    assert res.returncode == 0, res.stderr
    doc = json.loads(res.stdout)
    assert doc["metered"] is True and doc["quantity"] is None and doc["amount_total"] == 0
    assert doc["pricing"] == "metered usage, 0.00002 USD a unit; every month"
    tokens = price_id(emulator, "ai-tokens")
    assert last_session_request(emulator)["line_items"] == {"0": {"price": tokens}}
    done = complete(emulator, doc["id"])
    assert done["payment_status"] == "no_payment_required"
    client = emulator.client()
    sub = client.v1.subscriptions.retrieve(done["subscription"])
    assert sub.status == "active" and sub.customer == doc["customer"]
    assert items_of(client, sub.id) == [(tokens, None)]
    text = checkout(emulator, EXAMPLE, "--price", "ai-tokens")
    assert (
        "  amount due now: 0.00 USD (metered: usage is billed at the end of each period)"
        in text.stdout.splitlines()
    )
    assert "  price:          ai-tokens (metered usage" in text.stdout


def test_metered_price_with_a_quantity_is_refused_before_any_write(
    example: EmulatorHandle,
) -> None:
    emulator = example
    before = len(emulator.writes())
    res = checkout(emulator, EXAMPLE, "--price", "ai-tokens", "--quantity", "1")
    tokens = price_id(emulator, "ai-tokens")
    refused_before_any_write(
        emulator,
        res,
        f"error: price ai-tokens ({tokens}) is metered: Stripe bills its meter's usage at the "
        "end of each period and takes no quantity; omit --quantity",
    )
    res = checkout(emulator, EXAMPLE, "--price", "ai-tokens", "--mode", "payment")
    assert res.returncode == 1 and res.stderr.startswith(
        f"error: --mode payment does not match price ai-tokens ({tokens}): it is recurring "
        "(metered usage, 0.00002 USD a unit; every month), sold in subscription mode"
    )
    assert len(emulator.writes()) == before


# --------------------------------------------------------------------------- pay what you want


def test_pay_what_you_want_the_customer_chooses_within_the_bounds(
    pricing: EmulatorHandle,
) -> None:
    emulator = pricing
    session_id, lines = created(
        checkout(emulator, PRICING, "--price", "tip", "--reference", "TIP-1")
    )
    assert (
        "  amount due now: chosen by the customer (minimum 5.00 USD, maximum 100.00 USD, "
        "preset 15.00 USD)"
    ) in lines
    tip = price_id(emulator, "tip")
    assert last_session_request(emulator)["line_items"] == {"0": {"price": tip, "quantity": "1"}}
    done = complete(emulator, session_id, amount=4200)
    assert done["amount_total"] == 4200
    pi = emulator.client().v1.payment_intents.retrieve(done["payment_intent"])
    assert (pi.amount, pi.status) == (4200, "succeeded")
    # Run again: the completed session is shown with what the customer paid.
    again = checkout(emulator, PRICING, "--price", "tip", "--reference", "TIP-1")
    assert again.returncode == 0, again.stderr
    assert "  amount due now: 42.00 USD" in again.stdout.splitlines()
    shown = run_cli(emulator, "payments", "show", "--reference", "TIP-1", "--format", "json")
    assert json.loads(shown.stdout)["amount"] == 4200


def test_pay_what_you_want_without_bounds(pricing: EmulatorHandle) -> None:
    session_id, lines = created(checkout(pricing, PRICING, "--price", "any-tip"))
    assert "  amount due now: chosen by the customer (any amount)" in lines
    assert complete(pricing, session_id, amount=777)["amount_total"] == 777


def test_pay_what_you_want_refusals_come_before_any_write(pricing: EmulatorHandle) -> None:
    emulator = pricing
    tip = price_id(emulator, "tip")
    before = len(emulator.writes())
    refused_before_any_write(
        emulator,
        checkout(emulator, PRICING, "--price", "tip", "--quantity", "2"),
        f"error: price tip ({tip}) lets the customer choose the amount: --quantity must be 1 "
        "(got 2)",
    )
    res = checkout(emulator, PRICING, "--price", "tip", "--mode", "subscription")
    assert res.returncode == 1 and res.stderr.startswith(
        f"error: --mode subscription does not match price tip ({tip}): it is one-time "
        "(amount chosen by the customer (minimum 5.00 USD"
    )
    assert len(emulator.writes()) == before


# --------------------------------------------------------------------------- trials


def test_trial_days_start_a_trialing_subscription_with_nothing_due(
    example: EmulatorHandle,
) -> None:
    emulator = example
    session_id, lines = created(
        checkout(
            emulator, EXAMPLE, "--price", "seats-graduated", "--quantity", "3", "--trial-days", "14"
        )
    )
    assert "  trial:          14 days (nothing is charged before it ends)" in lines
    assert "  amount due now: 0.00 USD" in lines
    request = last_session_request(emulator)
    assert request["subscription_data"] == {"trial_period_days": "14"}
    done = complete(emulator, session_id, email="trial@shop.example")
    assert done["payment_status"] == "no_payment_required"
    sub = emulator.client().v1.subscriptions.retrieve(done["subscription"])
    assert sub.status == "trialing"
    assert sub.trial_end is not None and sub.trial_start is not None
    assert sub.trial_end - sub.trial_start == 14 * 86400


def test_trial_days_with_a_reference_are_part_of_the_request(example: EmulatorHandle) -> None:
    emulator = example
    args = ("--price", "pro-monthly", "--reference", "T-1", "--format", "json")
    first = json.loads(checkout(emulator, EXAMPLE, *args, "--trial-days", "7").stdout)
    request = last_session_request(emulator)
    assert request["subscription_data"] == {
        "metadata": {"billing_sync_reference": "T-1"},
        "trial_period_days": "7",
    }
    assert first["trial_days"] == 7
    again = json.loads(checkout(emulator, EXAMPLE, *args, "--trial-days", "7").stdout)
    assert again["id"] == first["id"] and again["created_now"] is False
    before = len(emulator.writes())
    other = checkout(emulator, EXAMPLE, *args, "--trial-days", "30")
    assert (
        other.returncode == 1 and "for another price, quantity, customer or trial" in other.stderr
    )
    without = checkout(emulator, EXAMPLE, *args)
    assert without.returncode == 1 and "is already used by" in without.stderr
    assert len(emulator.writes()) == before


def test_trial_days_in_payment_mode_are_refused_before_any_request(
    example: EmulatorHandle,
) -> None:
    emulator = example
    before = len(emulator.writes())
    fee = price_id(emulator, "setup-fee")
    refused_before_any_write(
        emulator,
        checkout(emulator, EXAMPLE, "--price", "setup-fee", "--trial-days", "14"),
        f"error: --trial-days applies to subscription mode; price setup-fee ({fee}) is one-time "
        "(499.00 USD one-time), sold in payment mode",
    )
    assert len(emulator.writes()) == before


@pytest.mark.parametrize("days", ["0", "731", "two"])
def test_trial_days_out_of_range_are_usage_errors(emulator: EmulatorHandle, days: str) -> None:
    res = checkout(emulator, EXAMPLE, "--price", "pro-monthly", "--trial-days", days)
    # Exit 1 for usage errors too (docs/payments.md).
    assert res.returncode == 1 and "Invalid value for '--trial-days'" in res.stderr
    assert emulator.requests() == []
