"""`billing-sync payments checkout` through the CLI against the emulator, and a session
completed as its customer would (the emulator's test control)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.helpers import EXAMPLE, EmulatorHandle, everything, run_cli

OK = "https://shop.example/thanks?session={CHECKOUT_SESSION_ID}"
BACK = "https://shop.example/pricing"


@pytest.fixture
def applied(emulator: EmulatorHandle) -> EmulatorHandle:
    res = run_cli(emulator, "apply", "-c", str(EXAMPLE), "--auto-approve")
    assert res.returncode == 0, res.stderr
    return emulator


def checkout(emulator: EmulatorHandle, *args: str) -> Any:
    return run_cli(
        emulator,
        "payments",
        "checkout",
        "-c",
        str(EXAMPLE),
        "--success-url",
        OK,
        "--cancel-url",
        BACK,
        *args,
    )


def session_writes(emulator: EmulatorHandle, since: int) -> list[dict[str, Any]]:
    return [w for w in emulator.writes()[since:] if w["path"] == "/v1/checkout/sessions"]


def price_id(emulator: EmulatorHandle, key: str) -> str:
    return next(str(p["id"]) for p in everything(emulator)["prices"] if p["lookup_key"] == key)


def test_a_recurring_price_gives_a_url_and_completing_it_subscribes_the_customer(
    applied: EmulatorHandle,
) -> None:
    emulator = applied
    res = checkout(emulator, "--price", "pro-yearly", "--customer", "acme", "--quantity", "3")
    assert res.returncode == 0, res.stderr
    lines = res.stdout.splitlines()
    assert lines[0].startswith("created Checkout Session cs_test_")
    session_id = lines[0].split()[-1]
    url = next(line.split()[-1] for line in lines if line.strip().startswith("url:"))
    assert url == f"https://checkout.stripe.com/c/pay/{session_id}"
    assert "  mode:           subscription" in lines
    assert "  amount due now: 870.00 USD" in lines
    acme = next(
        c for c in everything(emulator)["customers"] if c["email"] == "billing@acme.example"
    )
    request = session_writes(emulator, 0)[-1]["params"]
    assert request["mode"] == "subscription" and request["customer"] == acme["id"]
    assert request["line_items"] == {
        "0": {"price": price_id(emulator, "pro-yearly"), "quantity": "3"}
    }

    done = emulator.control(f"checkout_sessions/{session_id}/complete", {})
    assert done["status"] == "complete" and done["url"] is None
    sub = emulator.client().v1.subscriptions.retrieve(done["subscription"])
    assert sub.status == "active" and sub.customer == acme["id"]
    assert [(i.price.id, i.quantity) for i in sub["items"].data] == [
        (price_id(emulator, "pro-yearly"), 3)
    ]
    # status sees it as a subscription billing.yaml does not declare, on a managed price.
    res = run_cli(emulator, "status", "-c", str(EXAMPLE))
    assert "Undeclared subscriptions on managed prices: 1" in res.stdout
    # A second checkout of the same price for that customer says it would add another.
    again = checkout(emulator, "--price", "pro-yearly", "--customer", "acme", "--format", "json")
    assert again.returncode == 0, again.stderr
    warning = (
        f"customer acme already has a subscription to pro-yearly ({sub.id}); paying this "
        "checkout adds another"
    )
    assert again.stderr == f"warning: {warning}\n"
    assert json.loads(again.stdout)["warnings"] == [warning]


def test_a_one_time_price_with_mode_subscription_is_refused_before_any_write(
    applied: EmulatorHandle,
) -> None:
    emulator = applied
    before = len(emulator.writes())
    res = checkout(emulator, "--price", "setup-fee", "--mode", "subscription")
    assert res.returncode == 1 and res.stdout == ""
    lines = res.stderr.splitlines()
    assert len(lines) == 1
    assert lines[0].startswith(
        "error: --mode subscription does not match price setup-fee (price_"
    ) and lines[0].endswith(
        "it is one-time (499.00 USD one-time), sold in payment mode; use --mode payment or "
        "omit --mode"
    )
    res = checkout(emulator, "--price", "pro-monthly", "--mode", "payment")
    assert res.returncode == 1 and "it is recurring (29.00 USD/month)" in res.stderr
    assert len(emulator.writes()) == before


def test_payment_mode_completes_as_a_succeeded_payment_intent_found_by_reference(
    applied: EmulatorHandle,
) -> None:
    emulator = applied
    res = checkout(emulator, "--price", "setup-fee", "--reference", "ORDER-7", "--format", "json")
    assert res.returncode == 0, res.stderr
    doc = json.loads(res.stdout)
    assert doc["mode"] == "payment" and doc["status"] == "open" and doc["created_now"] is True
    assert doc["amount_total"] == 49900 and doc["amount_display"] == "499.00 USD"
    assert doc["reference"] == "ORDER-7" and doc["url"].endswith(doc["id"])
    assert (doc["price_key"], doc["quantity"]) == ("setup-fee", 1)
    assert doc["price"] == price_id(emulator, "setup-fee")
    done = emulator.control(f"checkout_sessions/{doc['id']}/complete", {})
    assert done["payment_status"] == "paid"
    shown = run_cli(emulator, "payments", "show", "--reference", "ORDER-7", "--format", "json")
    assert shown.returncode == 0, shown.stderr
    pi = json.loads(shown.stdout)
    assert pi["id"] == done["payment_intent"] and pi["status"] == "succeeded"
    assert pi["amount"] == 49900
    # Run again: the completed session is the answer, nothing is created.
    before = len(emulator.writes())
    again = checkout(emulator, "--price", "setup-fee", "--reference", "ORDER-7")
    assert again.returncode == 0, again.stderr
    assert f"Checkout Session {doc['id']} already exists for reference ORDER-7" in again.stdout
    assert "status:         complete (paid)" in again.stdout
    assert len(emulator.writes()) == before


def test_reference_makes_it_idempotent_and_replaces_an_expired_session(
    applied: EmulatorHandle,
) -> None:
    emulator = applied
    start = len(emulator.writes())
    args = ("--price", "basic-monthly", "--customer", "globex", "--reference", "R-1")
    first = json.loads(checkout(emulator, *args, "--format", "json").stdout)
    second = json.loads(checkout(emulator, *args, "--format", "json").stdout)
    assert second["id"] == first["id"] and second["created_now"] is False
    assert len(session_writes(emulator, start)) == 1
    # The same reference for another request is refused, before any write.
    other = checkout(emulator, "--price", "basic-monthly", "--quantity", "2", "--reference", "R-1")
    assert other.returncode == 1
    assert f"reference 'R-1' is already used by Checkout Session {first['id']}" in other.stderr
    someone_else = checkout(
        emulator, "--price", "basic-monthly", "--customer", "acme", "--reference", "R-1"
    )
    assert someone_else.returncode == 1 and "is already used by" in someone_else.stderr
    assert len(session_writes(emulator, start)) == 1
    # Once expired, the reference gets a new session (once, however often it is run).
    emulator.client().v1.checkout.sessions.expire(first["id"])
    third = json.loads(checkout(emulator, *args, "--format", "json").stdout)
    fourth = json.loads(checkout(emulator, *args, "--format", "json").stdout)
    assert third["id"] != first["id"] and third["status"] == "open"
    assert fourth["id"] == third["id"] and fourth["created_now"] is False
    posts = session_writes(emulator, start)
    assert len(posts) == 2
    assert posts[1]["idempotency_key"].startswith("billing-sync-cs-")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--success-url", "shop.example/thanks"],
            "error: --success-url 'shop.example/thanks' is not an absolute http(s) URL",
        ),
        (
            ["--cancel-url", "ftp://shop.example/"],
            "error: --cancel-url 'ftp://shop.example/' is not an absolute http(s) URL",
        ),
        (
            ["--price", "nope"],
            "error: unknown price key 'nope' (billing.yaml declares: ai-credits, ai-tokens, basic-",
        ),
        (["--quantity", "0"], "Invalid value for '--quantity': 0 is not in the range"),
        (["--mode", "setup"], "Invalid value for '--mode': 'setup' is not one of"),
        (["--reference", " "], "error: --reference must not be empty"),
    ],
)
def test_bad_input_is_refused_before_any_request(
    emulator: EmulatorHandle, args: list[str], message: str
) -> None:
    base = {"--price": "pro-monthly", "--success-url": OK, "--cancel-url": BACK}
    given = dict(zip(args[::2], args[1::2], strict=True))
    argv = [x for k, v in {**base, **given}.items() for x in (k, v)]
    res = run_cli(emulator, "payments", "checkout", "-c", str(EXAMPLE), *argv)
    assert res.returncode in (1, 2) and message in res.stderr, res.stderr
    assert emulator.requests() == []


def test_prices_checkout_cannot_sell(applied: EmulatorHandle) -> None:
    emulator = applied
    client = emulator.client()
    before = len(emulator.writes())
    res = checkout(emulator, "--price", "price_doesnotexist")
    assert res.returncode == 1 and "error: no such price: 'price_doesnotexist'" in res.stderr
    product = client.v1.products.create({"name": "Old"})
    old = client.v1.prices.create(
        {"product": product.id, "currency": "usd", "unit_amount": 500, "active": False}
    )
    res = checkout(emulator, "--price", old.id)
    assert res.returncode == 1 and f"({old.id}) is archived" in res.stderr
    assert [w["path"] for w in emulator.writes()[before:]] == ["/v1/products", "/v1/prices"]
