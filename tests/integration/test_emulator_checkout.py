"""Contract tests: Checkout Sessions through the official stripe client, and the controls that
complete a session as its customer would and fail a renewal."""

from __future__ import annotations

import json
import time
import urllib.error
from typing import Any

import pytest
import stripe
from stripe_emulator.server import Emulator, dumps

from tests.helpers import EmulatorHandle

OK = "https://shop.example/ok"


@pytest.fixture
def client(emulator: EmulatorHandle) -> stripe.StripeClient:
    return emulator.client()


@pytest.fixture
def prices(client: stripe.StripeClient) -> dict[str, str]:
    prod = client.v1.products.create({"name": "Pro"})

    def price(amount: int, **kw: Any) -> str:
        params = {"product": prod.id, "currency": "usd", "unit_amount": amount, **kw}
        return client.v1.prices.create(params).id  # type: ignore[arg-type]

    return {
        "monthly": price(1000, recurring={"interval": "month"}),
        "yearly": price(10000, recurring={"interval": "year"}),
        "eur": price(900, currency="eur", recurring={"interval": "month"}),
        "one_time": price(4900),
        "cheap": price(10),
    }


def create(client: stripe.StripeClient, **params: Any) -> stripe.checkout.Session:
    return client.v1.checkout.sessions.create({"success_url": OK, **params})  # type: ignore[arg-type]


def refused(client: stripe.StripeClient, **params: Any) -> stripe.InvalidRequestError:
    with pytest.raises(stripe.InvalidRequestError) as err:
        create(client, **params)
    return err.value


def control_error(emulator: EmulatorHandle, name: str, body: dict[str, Any]) -> tuple[int, Any]:
    with pytest.raises(urllib.error.HTTPError) as err:
        emulator.control(name, body)
    return err.value.code, json.loads(err.value.read())["error"]


def test_create_retrieve_and_line_items(
    client: stripe.StripeClient, prices: dict[str, str]
) -> None:
    cs = create(
        client,
        mode="subscription",
        line_items=[
            {"price": prices["monthly"], "quantity": 2},
            {"price": prices["one_time"], "quantity": 1},
        ],
        cancel_url="https://shop.example/back",
        client_reference_id="cart-9",
        metadata={"order": "9"},
    )
    assert cs.object == "checkout.session" and cs.id.startswith("cs_test_")
    assert cs.status == "open" and cs.payment_status == "unpaid" and cs.mode == "subscription"
    assert cs.url == f"https://checkout.stripe.com/c/pay/{cs.id}"
    assert cs.expires_at == cs.created + 24 * 3600
    # The recurring items and the one-time item on the first invoice.
    assert cs.amount_total == 2 * 1000 + 4900 and cs.currency == "usd"
    assert cs.customer is None and cs.subscription is None and cs.payment_intent is None
    assert "line_items" not in cs  # includable: only when expanded
    got = client.v1.checkout.sessions.retrieve(cs.id, {"expand": ["line_items"]})
    assert got.line_items is not None
    assert [(li["price"]["id"], li.quantity, li.amount_total) for li in got.line_items.data] == [
        (prices["monthly"], 2, 2000),
        (prices["one_time"], 1, 4900),
    ]
    listed = client.v1.checkout.sessions.line_items.list(cs.id, {"limit": 1})
    assert listed.has_more and listed.data[0].object == "item"
    assert listed.url == f"/v1/checkout/sessions/{cs.id}/line_items"


@pytest.mark.parametrize(
    ("params", "param", "message"),
    [
        (
            {"line_items": [{"price": "monthly", "quantity": 1}]},
            "mode",
            "Missing required param: mode.",
        ),
        (
            {"mode": "payment", "line_items": [{"price": "monthly", "quantity": 1}]},
            "line_items[0]",
            "You specified `payment` mode but passed a recurring price.",
        ),
        (
            {"mode": "subscription", "line_items": [{"price": "one_time", "quantity": 1}]},
            "line_items",
            "You must provide at least one recurring price in `subscription` mode",
        ),
        ({"mode": "payment"}, "line_items", "Missing required param: line_items."),
        (
            {"mode": "payment", "line_items": [{"price": "one_time"}]},
            "line_items[0][quantity]",
            "Quantity is required.",
        ),
        (
            {"mode": "payment", "line_items": [{"price": "price_nope", "quantity": 1}]},
            "line_items[0][price]",
            "No such price: 'price_nope'",
        ),
        (
            {"mode": "payment", "line_items": [{"price": "cheap", "quantity": 1}]},
            "line_items",
            "total amount due must add up to at least $0.50 usd",
        ),
        (
            {
                "mode": "subscription",
                "line_items": [
                    {"price": "monthly", "quantity": 1},
                    {"price": "eur", "quantity": 1},
                ],
            },
            "line_items",
            "same currency",
        ),
        (
            {
                "mode": "payment",
                "line_items": [{"price": "one_time", "quantity": 1}],
                "cancel_url": "not a url",
            },
            "cancel_url",
            "Not a valid URL",
        ),
        (
            {
                "mode": "payment",
                "line_items": [{"price": "one_time", "quantity": 1}],
                "subscription_data": {"trial_period_days": 7},
            },
            "subscription_data",
            "You can only specify `subscription_data` in `subscription` mode.",
        ),
        (
            {
                "mode": "payment",
                "line_items": [{"price": "one_time", "quantity": 1}],
                "customer": "cus_nope",
            },
            "customer",
            "No such customer: 'cus_nope'",
        ),
        (
            {
                "mode": "payment",
                "line_items": [{"price": "one_time", "quantity": 1}],
                "expires_at": 60,
            },
            "expires_at",
            "between 30 minutes and 24 hours",
        ),
        (
            {
                "mode": "payment",
                "line_items": [{"price": "one_time", "quantity": 1}],
                "ui_mode": "embedded_page",
            },
            "ui_mode",
            "not supported by the billing-sync emulator",
        ),
    ],
)
def test_refusals(
    client: stripe.StripeClient,
    prices: dict[str, str],
    params: dict[str, Any],
    param: str,
    message: str,
) -> None:
    for item in params.get("line_items", []):
        item["price"] = prices.get(item["price"], item["price"])
    err = refused(client, **params)
    assert err.http_status == 400 and err.param == param and message in str(err.user_message)


def test_success_url_is_required_and_unknown_parameters_refused(
    client: stripe.StripeClient, prices: dict[str, str]
) -> None:
    items = [{"price": prices["one_time"], "quantity": 1}]
    with pytest.raises(stripe.InvalidRequestError) as err:
        client.v1.checkout.sessions.create({"mode": "payment", "line_items": items})  # type: ignore[arg-type]
    assert err.value.param == "success_url" and err.value.code == "parameter_missing"
    with pytest.raises(stripe.InvalidRequestError) as err:
        create(client, mode="payment", line_items=items, shipping_rate="x")
    assert err.value.code == "parameter_unknown"
    with pytest.raises(stripe.InvalidRequestError) as err:
        create(client, mode="payment", line_items=items, allow_promotion_codes=True)
    assert err.value.code == "parameter_unsupported"


def test_expire_and_list(client: stripe.StripeClient, prices: dict[str, str]) -> None:
    items = [{"price": prices["one_time"], "quantity": 1}]
    a = create(client, mode="payment", line_items=items)
    b = create(client, mode="payment", line_items=items)
    expired = client.v1.checkout.sessions.expire(a.id)
    assert expired.status == "expired" and expired.url is None
    with pytest.raises(stripe.InvalidRequestError) as err:
        client.v1.checkout.sessions.expire(a.id)
    assert err.value.http_status == 400 and "only an open Checkout Session" in str(err.value)
    open_ids = [s.id for s in client.v1.checkout.sessions.list({"status": "open"}).data]
    assert open_ids == [b.id]
    assert [s.id for s in client.v1.checkout.sessions.list().data] == [b.id, a.id]
    with pytest.raises(stripe.InvalidRequestError) as err:
        client.v1.checkout.sessions.retrieve("cs_test_nope")
    assert err.value.http_status == 404


def test_complete_in_subscription_mode_creates_customer_and_subscription(
    emulator: EmulatorHandle, client: stripe.StripeClient, prices: dict[str, str]
) -> None:
    cs = create(
        client,
        mode="subscription",
        line_items=[{"price": prices["monthly"], "quantity": 3}],
        customer_email="new@example.test",
        subscription_data={"metadata": {"plan": "m"}},
    )
    done = emulator.control(f"checkout_sessions/{cs.id}/complete", {})
    assert done["status"] == "complete" and done["payment_status"] == "paid"
    assert done["url"] is None and done["customer_details"]["email"] == "new@example.test"
    customer = client.v1.customers.retrieve(done["customer"])
    assert customer.email == "new@example.test"
    sub = client.v1.subscriptions.retrieve(done["subscription"])
    assert sub.status == "active" and sub.customer == customer.id
    assert sub.metadata.to_dict() == {"plan": "m"} and sub.default_payment_method is not None
    assert [(i.price.id, i.quantity) for i in sub["items"].data] == [(prices["monthly"], 3)]
    listed = client.v1.checkout.sessions.list({"subscription": sub.id}).data
    assert [s.id for s in listed] == [cs.id]
    code, error = control_error(emulator, f"checkout_sessions/{cs.id}/complete", {})
    assert code == 400 and "is complete" in error["message"]


def test_complete_with_a_trial_is_trialing_and_needs_no_payment(
    emulator: EmulatorHandle, client: stripe.StripeClient, prices: dict[str, str]
) -> None:
    cus = client.v1.customers.create({"email": "t@example.test"})
    cs = create(
        client,
        mode="subscription",
        customer=cus.id,
        line_items=[{"price": prices["yearly"], "quantity": 1}],
        subscription_data={"trial_period_days": 14},
    )
    assert cs.amount_total == 0  # the first invoice of a trial is for 0
    done = emulator.control(f"checkout_sessions/{cs.id}/complete", {})
    assert done["payment_status"] == "no_payment_required" and done["customer"] == cus.id
    sub = client.v1.subscriptions.retrieve(done["subscription"])
    assert sub.status == "trialing" and sub.trial_end == (sub.trial_start or 0) + 14 * 86400


def test_complete_in_payment_mode_and_a_declined_card(
    emulator: EmulatorHandle, client: stripe.StripeClient, prices: dict[str, str]
) -> None:
    cs = create(
        client,
        mode="payment",
        line_items=[{"price": prices["one_time"], "quantity": 2}],
        payment_intent_data={"metadata": {"order": "A-1"}},
    )
    code, error = control_error(
        emulator,
        f"checkout_sessions/{cs.id}/complete",
        {"payment_method": "pm_card_chargeDeclined"},
    )
    assert code == 402 and error["decline_code"] == "generic_decline"
    assert client.v1.payment_intents.list().data == []  # nothing was written
    assert client.v1.checkout.sessions.retrieve(cs.id).status == "open"
    done = emulator.control(f"checkout_sessions/{cs.id}/complete", {})
    pi = client.v1.payment_intents.retrieve(done["payment_intent"])
    assert (
        pi.status == "succeeded" and pi.amount == 9800 and pi.metadata.to_dict() == {"order": "A-1"}
    )
    assert done["customer"] is None  # payment mode creates a customer only when asked


def test_a_session_past_its_expiry_is_expired_when_read() -> None:
    emu = Emulator()
    key = {"authorization": "Bearer sk_test_x", "content-type": "application/x-www-form-urlencoded"}

    def call(method: str, path: str, body: str = "") -> Any:
        resp = emu.handle(method, path, key, body.encode())
        assert resp.status == 200, resp.body
        return json.loads(dumps(resp.body))

    prod = call("POST", "/v1/products", "name=P")
    price = call("POST", "/v1/prices", f"product={prod['id']}&currency=usd&unit_amount=900")
    cs = call(
        "POST",
        "/v1/checkout/sessions",
        f"mode=payment&success_url={OK}&line_items[0][price]={price['id']}"
        f"&line_items[0][quantity]=1&expires_at={int(time.time()) + 1800}",
    )
    stored = emu.store.get("checkout.session", cs["id"])
    assert stored is not None
    stored["expires_at"] = int(time.time()) - 1
    got = call("GET", f"/v1/checkout/sessions/{cs['id']}")
    assert got["status"] == "expired" and got["url"] is None


def test_fail_renewal_needs_a_live_subscription(
    emulator: EmulatorHandle, client: stripe.StripeClient, prices: dict[str, str]
) -> None:
    cus = client.v1.customers.create({"email": "r@example.test"})
    sub = client.v1.subscriptions.create(
        {
            "customer": cus.id,
            "items": [{"price": prices["monthly"]}],
            "collection_method": "send_invoice",
            "days_until_due": 7,
        }
    )
    code, error = control_error(emulator, f"subscriptions/{sub.id}/fail_renewal", {"status": "x"})
    assert code == 400 and "past_due, unpaid" in error["message"]
    before = time.time()
    failed = emulator.control(f"subscriptions/{sub.id}/fail_renewal", {})
    item = failed["items"]["data"][0]
    # The renewal happened now: a new monthly period starts, its payment failed.
    assert failed["status"] == "past_due" and item["current_period_start"] >= int(before)
    assert 28 * 86400 <= item["current_period_end"] - item["current_period_start"] <= 31 * 86400
    unpaid = emulator.control(f"subscriptions/{sub.id}/fail_renewal", {"status": "unpaid"})
    assert unpaid["status"] == "unpaid"
    assert unpaid["items"]["data"][0]["current_period_start"] == item["current_period_start"]
    client.v1.subscriptions.cancel(sub.id)
    code, error = control_error(emulator, f"subscriptions/{sub.id}/fail_renewal", {})
    assert code == 400 and "is canceled" in error["message"]
    code, _ = control_error(emulator, "subscriptions/sub_nope/fail_renewal", {})
    assert code == 404
