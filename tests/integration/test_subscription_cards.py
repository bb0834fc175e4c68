"""A subscription's `default_payment_method` through the CLI: a test card token (`pm_card_visa`)
is attached to the customer and its new id used (test mode only; a live key refuses it before
any request), an attached `pm_...` id is used as it is. Stripe's state is read with the
official client."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import stripe

from tests.helpers import ROOT, EmulatorHandle, run_cli, write_config

LIVE = ROOT / "tests" / "fixtures" / "config" / "live"
LIVE_KEY = "sk_live_" + "emulator_" + "0" * 15  # built, so no file holds a live-key shape

CONFIG = """\
version: 1
products:
  pro:
    name: Pro
    prices:
      pro-monthly: {{unit_amount: 2900, currency: usd, recurring: {{interval: month}}}}
customers:
  acme:
    email: billing@acme.example
    subscriptions:
      main:
        items: [{{price: pro-monthly, quantity: 2}}]
        default_payment_method: {card}
"""


def config(tmp_path: Path, card: str, name: str = "billing.yaml") -> Path:
    return write_config(tmp_path, CONFIG.format(card=card), name)


def apply_ok(emulator: EmulatorHandle, path: Path) -> str:
    res = run_cli(emulator, "apply", "-c", str(path), "--auto-approve")
    assert res.returncode == 0, res.stdout + res.stderr
    return res.stdout


def plan(emulator: EmulatorHandle, path: Path) -> tuple[int, str]:
    res = run_cli(emulator, "plan", "-c", str(path), "--detailed-exitcode")
    assert "Traceback" not in res.stderr
    return res.returncode, res.stdout + res.stderr


def account(emulator: EmulatorHandle) -> tuple[Any, Any, list[Any]]:
    """The one subscription, its default payment method (expanded), the customer's cards."""
    v1 = emulator.client().v1
    (sub,) = v1.subscriptions.list(params={"expand": ["data.default_payment_method"]}).data
    cards = v1.customers.payment_methods.list(str(sub.customer)).data
    return sub, sub.default_payment_method, cards


def test_a_test_card_token_is_attached_and_its_id_used(
    emulator: EmulatorHandle, tmp_path: Path
) -> None:
    visa = config(tmp_path, "pm_card_visa")
    code, out = plan(emulator, visa)
    assert code == 2, out
    assert "+ subscription acme/main (attach test card)  pm_card_visa to customer acme" in out
    assert "Plan: 5 to create" in out

    apply_ok(emulator, visa)
    sub, pm, cards = account(emulator)
    assert sub.status == "active"  # charged with the attached card, not `incomplete`
    assert pm.id.startswith("pm_") and pm.id != "pm_card_visa"
    assert (pm.customer, pm.card.brand, pm.card.last4) == (sub.customer, "visa", "4242")
    assert [c.id for c in cards] == [pm.id]
    assert plan(emulator, visa)[0] == 0  # the attached id is the declared token
    assert run_cli(emulator, "drift", "-c", str(visa)).returncode == 0

    # Another test card: a new attach, and the subscription moves to it.
    mastercard = config(tmp_path, "pm_card_mastercard", "mastercard.yaml")
    code, out = plan(emulator, mastercard)
    assert code == 2, out
    assert 'default_payment_method: "pm_card_visa" -> "pm_card_mastercard"' in out
    apply_ok(emulator, mastercard)
    sub, pm2, cards = account(emulator)
    assert pm2.card.brand == "mastercard" and pm2.id != pm.id
    assert sorted(c.id for c in cards) == sorted([pm.id, pm2.id])
    assert plan(emulator, mastercard)[0] == 0


def test_an_attached_payment_method_id_works_as_before_and_hand_changes_are_drift(
    emulator: EmulatorHandle, tmp_path: Path
) -> None:
    apply_ok(emulator, config(tmp_path, "pm_card_visa"))
    sub, pm, _ = account(emulator)
    v1 = emulator.client().v1
    # By hand: another card attached and made the subscription's default.
    other = v1.payment_methods.attach("pm_card_amex", params={"customer": sub.customer})
    v1.subscriptions.update(sub.id, params={"default_payment_method": other.id})
    drift = run_cli(emulator, "drift", "-c", str(tmp_path / "billing.yaml"))
    assert drift.returncode == 2, drift.stdout + drift.stderr
    assert f'default_payment_method: "{other.id}" -> "pm_card_visa"' in drift.stdout

    # Declaring the attached id itself: used as it is, and the token's marker is dropped.
    by_id = config(tmp_path, pm.id, "by-id.yaml")
    code, out = plan(emulator, by_id)
    assert code == 2 and "attach test card" not in out, out
    apply_ok(emulator, by_id)
    sub, now, _ = account(emulator)
    assert now.id == pm.id
    assert "billing_sync_card" not in sub.metadata
    assert plan(emulator, by_id)[0] == 0


def test_stripe_refuses_a_test_token_given_directly_as_the_default(
    emulator: EmulatorHandle,
) -> None:
    """What billing-sync works around: the token is not one of the customer's payment methods."""
    v1 = emulator.client().v1
    product = v1.products.create(params={"name": "Pro"})
    price = v1.prices.create(
        params={
            "product": product.id,
            "unit_amount": 2900,
            "currency": "usd",
            "recurring": {"interval": "month"},
        }
    )
    customer = v1.customers.create(params={"email": "direct@example.test"})
    try:
        v1.subscriptions.create(
            params={
                "customer": customer.id,
                "items": [{"price": price.id}],
                "default_payment_method": "pm_card_visa",
            }
        )
    except stripe.InvalidRequestError as err:
        assert err.http_status == 400
        assert err.param == "default_payment_method"
        assert "does not have a payment method with the ID pm_card_visa" in str(err.user_message)
    else:
        raise AssertionError("a test token was accepted as a subscription's default")
    assert v1.subscriptions.list(params={"status": "all"}).data == []


def test_a_live_key_refuses_test_card_tokens_before_any_request(
    emulator: EmulatorHandle,
) -> None:
    fixture = LIVE / "test_card.yaml"
    (expected,) = [
        line
        for line in (LIVE / "expected.txt").read_text(encoding="utf-8").splitlines()
        if line.startswith("billing.yaml:")
    ]
    located = expected.replace("billing.yaml:", f"{fixture}:", 1)

    valid = run_cli(None, "validate", "-c", str(fixture), env={"STRIPE_API_KEY": "sk_test_x"})
    assert valid.returncode == 0, valid.stderr

    refused = run_cli(None, "validate", "-c", str(fixture), env={"STRIPE_API_KEY": LIVE_KEY})
    assert refused.returncode == 1
    assert refused.stderr.splitlines()[0] == located

    before = len(emulator.requests())
    planned = run_cli(emulator, "--live", "plan", "-c", str(fixture), api_key=LIVE_KEY)
    assert planned.returncode == 1
    assert located in planned.stderr and "Traceback" not in planned.stderr
    assert len(emulator.requests()) == before  # refused before reading the account


def test_a_saved_plan_with_an_attach_applies_exactly_that_plan(
    emulator: EmulatorHandle, tmp_path: Path
) -> None:
    visa = config(tmp_path, "pm_card_visa")
    saved = tmp_path / "plan.json"
    res = run_cli(emulator, "plan", "-c", str(visa), "--out", str(saved))
    assert res.returncode == 0, res.stderr
    ops = {c["id"]: c for c in json.loads(saved.read_text(encoding="utf-8"))["operations"]}
    attach = ops["subscription.create.payment_method:acme/main"]
    assert attach["produces"] == "${subscription:acme/main.payment_method}"
    assert (
        ops["subscription.create:acme/main"]["request"]["params"]["default_payment_method"]
        == attach["produces"]
    )
    res = run_cli(emulator, "apply", "--plan", str(saved), "--auto-approve")
    assert res.returncode == 0, res.stdout + res.stderr
    sub, pm, cards = account(emulator)
    assert sub.metadata["billing_sync_card"] == f"pm_card_visa {pm.id}"
    assert [c.id for c in cards] == [pm.id]  # one attach, no duplicate
    assert plan(emulator, visa)[0] == 0
