"""Contract tests: Stripe's test cards at attach time and at payment time, through the official
stripe client. Source: https://docs.stripe.com/testing (declined payments; 3D Secure)."""

from __future__ import annotations

from typing import Any

import pytest
import stripe

from tests.helpers import EmulatorHandle

pytestmark = pytest.mark.e2e

NO_REDIRECTS = {"enabled": True, "allow_redirects": "never"}

# token -> (code, decline_code, param): what Stripe answers when the card is attached.
REFUSED = {
    "pm_card_chargeDeclined": ("card_declined", "generic_decline", ""),
    "pm_card_visa_chargeDeclined": ("card_declined", "generic_decline", ""),
    "pm_card_chargeDeclinedInsufficientFunds": ("card_declined", "insufficient_funds", ""),
    "pm_card_visa_chargeDeclinedInsufficientFunds": ("card_declined", "insufficient_funds", ""),
    "pm_card_visa_chargeDeclinedLostCard": ("card_declined", "lost_card", ""),
    "pm_card_visa_chargeDeclinedStolenCard": ("card_declined", "stolen_card", ""),
    "pm_card_chargeDeclinedExpiredCard": ("expired_card", None, "exp_month"),
    "pm_card_chargeDeclinedIncorrectCvc": ("incorrect_cvc", None, "cvc"),
    "pm_card_chargeDeclinedProcessingError": ("processing_error", None, ""),
    "pm_card_visa_chargeDeclinedVelocityLimitExceeded": (
        "card_declined",
        "card_velocity_exceeded",
        "",
    ),
}


@pytest.fixture
def client(emulator: EmulatorHandle) -> stripe.StripeClient:
    return emulator.client()


@pytest.fixture
def customer(client: stripe.StripeClient) -> str:
    return client.v1.customers.create(params={"email": "cards@example.test"}).id


def _check_refusal(exc: stripe.CardError, token: str) -> None:
    code, decline_code, param = REFUSED[token]
    assert exc.http_status == 402
    assert exc.error is not None and exc.error.type == "card_error"
    assert exc.code == code
    body: Any = exc.json_body
    assert body["error"].get("decline_code") == decline_code
    assert body["error"]["param"] == param
    assert exc.error.message


@pytest.mark.parametrize("token", sorted(REFUSED))
def test_declining_cards_cannot_be_attached(
    emulator: EmulatorHandle, client: stripe.StripeClient, customer: str, token: str
) -> None:
    with pytest.raises(stripe.CardError) as exc:
        client.v1.payment_methods.attach(token, params={"customer": customer})
    _check_refusal(exc.value, token)
    assert client.v1.payment_methods.list(params={"customer": customer}).data == []
    # Nothing was created for the refused card.
    assert emulator.health()["objects"].get("payment_methods", 0) == 0


def test_stored_declining_card_cannot_be_attached(
    client: stripe.StripeClient, customer: str
) -> None:
    pm = client.v1.payment_methods.retrieve("pm_card_chargeDeclinedIncorrectCvc")
    with pytest.raises(stripe.CardError) as exc:
        client.v1.payment_methods.attach(pm.id, params={"customer": customer})
    _check_refusal(exc.value, "pm_card_chargeDeclinedIncorrectCvc")
    assert client.v1.payment_methods.retrieve(pm.id).customer is None


def test_customer_create_with_declining_card_creates_nothing(
    emulator: EmulatorHandle, client: stripe.StripeClient
) -> None:
    with pytest.raises(stripe.CardError) as exc:
        client.v1.customers.create(
            params={"email": "x@example.test", "payment_method": "pm_card_chargeDeclined"}
        )
    _check_refusal(exc.value, "pm_card_chargeDeclined")
    assert client.v1.customers.list().data == []
    assert emulator.health()["objects"].get("payment_methods", 0) == 0


def test_customer_create_with_unknown_payment_method_creates_nothing(
    client: stripe.StripeClient,
) -> None:
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.customers.create(params={"payment_method": "pm_nope"})
    assert client.v1.customers.list().data == []


def test_charge_customer_fail_attaches_then_declines(
    client: stripe.StripeClient, customer: str
) -> None:
    pm = client.v1.payment_methods.attach(
        "pm_card_chargeCustomerFail", params={"customer": customer}
    )
    assert pm.customer == customer and pm.card is not None and pm.card.last4 == "0341"
    with pytest.raises(stripe.CardError) as exc:
        client.v1.payment_intents.create(
            params={
                "amount": 1999,
                "currency": "usd",
                "customer": customer,
                "payment_method": pm.id,
                "confirm": True,
                "automatic_payment_methods": NO_REDIRECTS,  # type: ignore[typeddict-item]
            }
        )
    assert exc.value.code == "card_declined"
    body: Any = exc.value.json_body
    assert body["error"]["decline_code"] == "generic_decline"


@pytest.mark.parametrize(
    ("token", "code", "param"),
    [
        ("pm_card_chargeDeclinedIncorrectCvc", "incorrect_cvc", "cvc"),
        ("pm_card_chargeDeclinedExpiredCard", "expired_card", "exp_month"),
    ],
)
def test_payment_errors_name_the_card_field(
    client: stripe.StripeClient, token: str, code: str, param: str
) -> None:
    pi = client.v1.payment_intents.create(
        params={"amount": 1999, "currency": "usd", "automatic_payment_methods": NO_REDIRECTS}  # type: ignore[typeddict-item]
    )
    with pytest.raises(stripe.CardError) as exc:
        client.v1.payment_intents.confirm(pi.id, params={"payment_method": token})
    body: Any = exc.value.json_body
    assert body["error"]["code"] == code and body["error"]["param"] == param
    assert "decline_code" not in body["error"]
    after = client.v1.payment_intents.retrieve(pi.id)
    assert after.last_payment_error is not None and after.last_payment_error.param == param


def test_authentication_required_goes_to_requires_action(client: stripe.StripeClient) -> None:
    pi = client.v1.payment_intents.create(
        params={
            "amount": 1999,
            "currency": "usd",
            "payment_method": "pm_card_authenticationRequired",
            "confirm": True,
            "automatic_payment_methods": NO_REDIRECTS,  # type: ignore[typeddict-item]
        }
    )
    assert pi.status == "requires_action"
    assert pi.next_action is not None and pi.next_action.type == "use_stripe_sdk"
    assert pi.latest_charge is None and pi.amount_received == 0
    assert client.v1.charges.list().data == []
    # With a return_url the next action is a redirect.
    again = client.v1.payment_intents.confirm(
        pi.id, params={"return_url": "https://example.test/back"}
    )
    assert again.status == "requires_action"
    assert again.next_action is not None and again.next_action.type == "redirect_to_url"
    assert again.next_action.redirect_to_url is not None
    assert again.next_action.redirect_to_url.return_url == "https://example.test/back"
    # Another card pays it.
    paid = client.v1.payment_intents.confirm(pi.id, params={"payment_method": "pm_card_visa"})
    assert paid.status == "succeeded" and paid.next_action is None


def test_authentication_required_card_attaches_and_subscription_is_incomplete(
    client: stripe.StripeClient, customer: str
) -> None:
    pm = client.v1.payment_methods.attach(
        "pm_card_authenticationRequired", params={"customer": customer}
    )
    prod = client.v1.products.create(params={"name": "P"})
    price = client.v1.prices.create(
        params={
            "product": prod.id,
            "currency": "usd",
            "unit_amount": 1000,
            "recurring": {"interval": "month"},
        }
    )
    params: Any = {
        "customer": customer,
        "items": [{"price": price.id}],
        "default_payment_method": pm.id,
    }
    assert client.v1.subscriptions.create(params=params).status == "incomplete"
    with pytest.raises(stripe.CardError) as exc:
        strict: Any = {**params, "payment_behavior": "error_if_incomplete"}
        client.v1.subscriptions.create(params=strict)
    assert exc.value.code == "authentication_required"
