"""Contract tests: Checkout Sessions for tiered, transformed-quantity, sub-cent, metered and
customer-chosen (custom_unit_amount) prices, through the official stripe client; completed
with the emulator's test control."""

from __future__ import annotations

import json
import urllib.error
from typing import Any

import pytest
import stripe

from tests.helpers import EmulatorHandle

OK = "https://shop.example/ok"


@pytest.fixture
def client(emulator: EmulatorHandle) -> stripe.StripeClient:
    return emulator.client()


def _price(client: stripe.StripeClient, **params: Any) -> str:
    product = client.v1.products.create({"name": "Fonts"})
    body: Any = {"product": product.id, "currency": "usd", **params}
    return client.v1.prices.create(body).id


MONTHLY = {"interval": "month"}
# The tiers of Stripe's own example (docs.stripe.com/subscriptions/pricing-models/tiered-pricing),
# with a flat fee on the last tier so that flat amounts are counted too.
TIERS = [
    {"up_to": 5, "unit_amount": 700},
    {"up_to": 10, "unit_amount": 650},
    {"up_to": "inf", "unit_amount": 600, "flat_amount": 1000},
]


def session(client: stripe.StripeClient, mode: str, **item: Any) -> stripe.checkout.Session:
    body: Any = {"mode": mode, "success_url": OK, "line_items": [item]}
    return client.v1.checkout.sessions.create(body)


@pytest.mark.parametrize(
    ("tiers_mode", "quantity", "total"),
    [
        # Stripe's example: 6 fonts cost 39 USD (volume); graduated: 5 x 7 + 1 x 6.5 = 41.50.
        ("volume", 5, 3500),
        ("volume", 6, 3900),
        ("graduated", 5, 3500),
        ("graduated", 6, 4150),
        # 11 reaches the last tier: volume 11 x 6 + 10 flat; graduated 35 + 32.50 + 6 + 10.
        ("volume", 11, 7600),
        ("graduated", 11, 8350),
    ],
)
def test_tiered_amounts(
    client: stripe.StripeClient, tiers_mode: str, quantity: int, total: int
) -> None:
    price = _price(
        client, recurring=MONTHLY, billing_scheme="tiered", tiers_mode=tiers_mode, tiers=TIERS
    )
    cs = session(client, "subscription", price=price, quantity=quantity)
    assert (cs.amount_subtotal, cs.amount_total) == (total, total)
    (line,) = client.v1.checkout.sessions.line_items.list(cs.id).data
    assert (line.quantity, line.amount_subtotal, line.amount_total) == (quantity, total, total)


@pytest.mark.parametrize(("round_", "quantity", "total"), [("up", 21, 3000), ("down", 21, 2000)])
def test_transform_quantity_divides_and_rounds(
    client: stripe.StripeClient, round_: str, quantity: int, total: int
) -> None:
    price = _price(client, unit_amount=1000, transform_quantity={"divide_by": 10, "round": round_})
    assert session(client, "payment", price=price, quantity=quantity).amount_total == total


def test_sub_cent_unit_amounts_are_summed_then_rounded(client: stripe.StripeClient) -> None:
    price = _price(client, unit_amount_decimal="0.3")  # 0.3 cents a credit
    assert session(client, "payment", price=price, quantity=10_000).amount_total == 3000
    assert session(client, "payment", price=price, quantity=1_005).amount_total == 302  # 301.5


def test_metered_items_take_no_quantity_and_charge_nothing_up_front(
    client: stripe.StripeClient, emulator: EmulatorHandle
) -> None:
    meter = client.v1.billing.meters.create(
        {
            "display_name": "Tokens",
            "event_name": "tokens",
            "default_aggregation": {"formula": "sum"},
        }
    )
    metered = _price(
        client, unit_amount=2, recurring={**MONTHLY, "usage_type": "metered", "meter": meter.id}
    )
    with pytest.raises(stripe.InvalidRequestError) as err:
        session(client, "subscription", price=metered, quantity=1)
    assert err.value.param == "line_items[0][quantity]"
    assert str(err.value.user_message) == (
        "Quantity should not be specified where usage_type is `metered`. Remove quantity from "
        "`line_items[0]`"
    )
    cs = session(client, "subscription", price=metered)
    assert cs.amount_total == 0
    (line,) = client.v1.checkout.sessions.line_items.list(cs.id).data
    assert line.quantity is None and line.amount_total == 0
    done = emulator.control(f"checkout_sessions/{cs.id}/complete", {})
    assert done["payment_status"] == "no_payment_required"
    sub = client.v1.subscriptions.retrieve(done["subscription"])
    assert sub.status == "active"
    assert [(i.price.id, i.to_dict().get("quantity")) for i in sub["items"].data] == [
        (metered, None)
    ]


def _control_error(emulator: EmulatorHandle, name: str, body: dict[str, Any]) -> Any:
    with pytest.raises(urllib.error.HTTPError) as err:
        emulator.control(name, body)
    return json.loads(err.value.read())["error"]


def test_custom_amount_is_chosen_by_the_customer_within_bounds(
    client: stripe.StripeClient, emulator: EmulatorHandle
) -> None:
    bounds = {"enabled": True, "minimum": 500, "maximum": 10_000, "preset": 1500}
    price = _price(client, custom_unit_amount=bounds)
    cs = session(client, "payment", price=price, quantity=1)
    assert cs.amount_total == 1500  # the preset, until the customer chooses
    complete = f"checkout_sessions/{cs.id}/complete"
    for amount, words in [(499, "outside"), (10_001, "outside"), ("x", "integer")]:
        assert words in _control_error(emulator, complete, {"amount": amount})["message"]
    assert client.v1.checkout.sessions.retrieve(cs.id).status == "open"
    done = emulator.control(complete, {"amount": 4200})
    assert (done["amount_subtotal"], done["amount_total"], done["payment_status"]) == (
        4200,
        4200,
        "paid",
    )
    pi = client.v1.payment_intents.retrieve(done["payment_intent"])
    assert (pi.amount, pi.status) == (4200, "succeeded")
    # Without an amount, the customer takes the preset.
    again = session(client, "payment", price=price, quantity=1)
    assert emulator.control(f"checkout_sessions/{again.id}/complete", {})["amount_total"] == 1500


def test_custom_amount_without_preset_needs_the_customers_amount(
    client: stripe.StripeClient, emulator: EmulatorHandle
) -> None:
    price = _price(client, custom_unit_amount={"enabled": True})
    cs = session(client, "payment", price=price, quantity=1)
    error = _control_error(emulator, f"checkout_sessions/{cs.id}/complete", {})
    assert error["param"] == "amount" and "amount is required" in error["message"]
    # Stripe's minimum charge still applies to what the customer chooses.
    error = _control_error(emulator, f"checkout_sessions/{cs.id}/complete", {"amount": 20})
    assert "minimum charge of $0.50 usd" in error["message"]
    assert emulator.control(f"checkout_sessions/{cs.id}/complete", {"amount": 50})["amount_total"]


def test_amount_is_refused_for_a_price_the_customer_does_not_choose(
    client: stripe.StripeClient, emulator: EmulatorHandle
) -> None:
    cs = session(client, "payment", price=_price(client, unit_amount=900), quantity=1)
    error = _control_error(emulator, f"checkout_sessions/{cs.id}/complete", {"amount": 100})
    assert error["param"] == "amount"


def test_custom_amount_refusals(client: stripe.StripeClient) -> None:
    custom = _price(client, custom_unit_amount={"enabled": True, "preset": 1000})
    monthly = _price(client, unit_amount=900, recurring=MONTHLY)
    one_time = _price(client, unit_amount=900)

    def refused(mode: str, items: list[dict[str, Any]]) -> stripe.InvalidRequestError:
        with pytest.raises(stripe.InvalidRequestError) as err:
            body: Any = {"mode": mode, "success_url": OK, "line_items": items}
            client.v1.checkout.sessions.create(body)
        return err.value

    err = refused(
        "subscription", [{"price": monthly, "quantity": 1}, {"price": custom, "quantity": 1}]
    )
    assert err.param == "line_items[1][price]" and "`payment` mode" in str(err.user_message)
    err = refused("payment", [{"price": custom, "quantity": 1}, {"price": one_time, "quantity": 1}])
    assert err.param == "line_items" and "only that one line item" in str(err.user_message)
    err = refused("payment", [{"price": custom, "quantity": 2}])
    assert err.param == "line_items[0][quantity]"
