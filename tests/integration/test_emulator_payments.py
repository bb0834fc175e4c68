"""Contract tests: PaymentIntents, charges and refunds through the official stripe client
against the emulator."""

from __future__ import annotations

import re
from typing import Any

import pytest
import stripe

from tests.helpers import EmulatorHandle

NO_REDIRECTS = {"enabled": True, "allow_redirects": "never"}


def _pi(c: stripe.StripeClient, **params: Any) -> stripe.PaymentIntent:
    base: dict[str, Any] = {"amount": 1999, "currency": "usd"}
    merged: Any = {**base, **params}
    return c.v1.payment_intents.create(params=merged)


def _paid(c: stripe.StripeClient, amount: int = 1999, currency: str = "usd") -> Any:
    return _pi(
        c,
        amount=amount,
        currency=currency,
        payment_method="pm_card_visa",
        confirm=True,
        automatic_payment_methods=NO_REDIRECTS,
    )


def _fields(obj: Any) -> set[str]:
    return set(obj.to_dict())


def _declared(cls: type) -> set[str]:
    return {k for k in cls.__annotations__ if k != "OBJECT_NAME"}


# --------------------------------------------------------------------------- payment intents


def test_create_returns_stripe_shape(emulator: EmulatorHandle) -> None:
    c = emulator.client()
    pi = _pi(
        c,
        description="Order 42",
        receipt_email="a@example.com",
        metadata={"order": "42"},
    )
    assert pi.id.startswith("pi_")
    assert pi.object == "payment_intent"
    assert pi.status == "requires_payment_method"
    assert pi.amount == 1999 and pi.currency == "usd"
    assert re.fullmatch(rf"{pi.id}_secret_[A-Za-z0-9]+", pi.client_secret or "")
    assert pi.livemode is False
    assert pi.latest_charge is None and pi.amount_received == 0
    assert pi.capture_method == "automatic_async"
    assert pi.description == "Order 42" and pi.receipt_email == "a@example.com"
    assert pi.metadata.to_dict() == {"order": "42"}
    assert _fields(pi) == _declared(stripe.PaymentIntent)
    got = c.v1.payment_intents.retrieve(pi.id)
    assert got.to_dict() == pi.to_dict()


def test_uppercase_currency_is_normalised(emulator: EmulatorHandle) -> None:
    assert _pi(emulator.client(), currency="EUR").currency == "eur"


def test_confirm_with_visa_succeeds_and_creates_a_charge(emulator: EmulatorHandle) -> None:
    c = emulator.client()
    pi = _pi(c, automatic_payment_methods=NO_REDIRECTS)
    done = c.v1.payment_intents.confirm(pi.id, params={"payment_method": "pm_card_visa"})
    assert done.status == "succeeded"
    assert done.amount_received == 1999
    assert isinstance(done.latest_charge, str) and done.latest_charge.startswith("ch_")
    ch = c.v1.charges.retrieve(done.latest_charge)
    assert ch.paid is True and ch.status == "succeeded" and ch.captured is True
    assert ch.amount == 1999 and ch.amount_refunded == 0 and ch.refunded is False
    assert ch.payment_intent == pi.id
    assert _fields(ch) == _declared(stripe.Charge) - {"refunds"}
    expanded = c.v1.charges.retrieve(ch.id, params={"expand": ["refunds"]})
    assert _fields(expanded) == _declared(stripe.Charge)


def test_test_tokens_become_stored_payment_methods(emulator: EmulatorHandle) -> None:
    pytest.importorskip("stripe_emulator.resources.payment_methods")
    c = emulator.client()
    pi = _paid(c)
    pm_id = str(pi.payment_method)
    assert pm_id.startswith("pm_") and pm_id != "pm_card_visa"
    pm = c.v1.payment_methods.retrieve(pm_id)
    assert pm.card is not None and pm.card.last4 == "4242"
    ch = c.v1.charges.retrieve(str(pi.latest_charge))
    assert ch.payment_method == pm_id


def test_attached_payment_methods_pay_and_decline(emulator: EmulatorHandle) -> None:
    pytest.importorskip("stripe_emulator.resources.customers")
    c = emulator.client()
    cus = c.v1.customers.create(params={"email": "a@example.com"})
    good = c.v1.payment_methods.attach("pm_card_visa", params={"customer": cus.id})
    bad = c.v1.payment_methods.attach("pm_card_chargeCustomerFail", params={"customer": cus.id})
    ok = _pi(
        c,
        customer=cus.id,
        payment_method=good.id,
        confirm=True,
        automatic_payment_methods=NO_REDIRECTS,
    )
    assert ok.status == "succeeded" and ok.payment_method == good.id
    with pytest.raises(stripe.CardError) as exc:
        _pi(
            c,
            customer=cus.id,
            payment_method=bad.id,
            confirm=True,
            automatic_payment_methods=NO_REDIRECTS,
        )
    assert exc.value.error is not None and exc.value.error.decline_code == "generic_decline"


def test_create_with_confirm_true(emulator: EmulatorHandle) -> None:
    pi = _paid(emulator.client())
    assert pi.status == "succeeded" and pi.latest_charge


def test_confirm_of_redirect_capable_intent_needs_return_url(emulator: EmulatorHandle) -> None:
    c = emulator.client()
    pi = _pi(c)
    assert pi.automatic_payment_methods is not None
    assert pi.automatic_payment_methods.allow_redirects == "always"
    with pytest.raises(stripe.InvalidRequestError) as exc:
        c.v1.payment_intents.confirm(pi.id, params={"payment_method": "pm_card_visa"})
    assert exc.value.param == "return_url"
    done = c.v1.payment_intents.confirm(
        pi.id, params={"payment_method": "pm_card_visa", "return_url": "https://x.example/r"}
    )
    assert done.status == "succeeded"


def test_payment_method_then_confirm_without_one(emulator: EmulatorHandle) -> None:
    c = emulator.client()
    pi = _pi(c, payment_method="pm_card_visa", automatic_payment_methods=NO_REDIRECTS)
    assert pi.status == "requires_confirmation"
    assert c.v1.payment_intents.confirm(pi.id).status == "succeeded"


@pytest.mark.parametrize(
    ("token", "code", "decline_code"),
    [
        ("pm_card_chargeDeclined", "card_declined", "generic_decline"),
        ("pm_card_visa_chargeDeclined", "card_declined", "generic_decline"),
        ("pm_card_chargeDeclinedInsufficientFunds", "card_declined", "insufficient_funds"),
        # Live answers for an expired card carry no decline_code (param exp_month).
        ("pm_card_chargeDeclinedExpiredCard", "expired_card", None),
    ],
)
def test_declined_card(
    emulator: EmulatorHandle, token: str, code: str, decline_code: str | None
) -> None:
    c = emulator.client()
    pi = _pi(c, automatic_payment_methods=NO_REDIRECTS)
    with pytest.raises(stripe.CardError) as exc:
        c.v1.payment_intents.confirm(pi.id, params={"payment_method": token})
    err = exc.value
    assert err.http_status == 402
    assert err.code == code
    assert err.error is not None and err.error.to_dict().get("decline_code") == decline_code
    assert err.error.payment_intent is not None
    assert err.error.payment_intent.id == pi.id
    after = c.v1.payment_intents.retrieve(pi.id)
    assert after.status == "requires_payment_method"
    assert after.last_payment_error is not None
    assert after.last_payment_error.to_dict().get("decline_code") == decline_code
    assert after.payment_method is None
    failed = c.v1.charges.retrieve(str(after.latest_charge))
    assert failed.status == "failed" and failed.paid is False and failed.failure_code == code
    # A good card afterwards pays the same intent.
    ok = c.v1.payment_intents.confirm(pi.id, params={"payment_method": "pm_card_visa"})
    assert ok.status == "succeeded" and ok.last_payment_error is None


def test_declined_on_create_with_confirm_keeps_the_intent(emulator: EmulatorHandle) -> None:
    c = emulator.client()
    with pytest.raises(stripe.CardError) as exc:
        _pi(
            c,
            payment_method="pm_card_chargeDeclined",
            confirm=True,
            automatic_payment_methods=NO_REDIRECTS,
        )
    assert exc.value.error is not None and exc.value.error.payment_intent is not None
    pi_id = exc.value.error.payment_intent.id
    assert c.v1.payment_intents.retrieve(pi_id).status == "requires_payment_method"


@pytest.mark.parametrize(
    ("currency", "minimum"), [("usd", 50), ("eur", 50), ("gbp", 30), ("jpy", 50)]
)
def test_minimum_charge_amount(emulator: EmulatorHandle, currency: str, minimum: int) -> None:
    c = emulator.client()
    assert _pi(c, amount=minimum, currency=currency).amount == minimum
    with pytest.raises(stripe.InvalidRequestError) as exc:
        _pi(c, amount=minimum - 1, currency=currency)
    assert exc.value.code == "amount_too_small"
    assert exc.value.param == "amount"
    assert exc.value.user_message is not None
    assert exc.value.user_message.startswith("Amount must be at least")


def test_amount_too_large(emulator: EmulatorHandle) -> None:
    with pytest.raises(stripe.InvalidRequestError) as exc:
        _pi(emulator.client(), amount=100_000_000)
    assert exc.value.code == "amount_too_large"


@pytest.mark.parametrize(
    ("params", "param", "fragment"),
    [
        ({"amount": 0}, "amount", "greater than or equal to 1"),
        ({"amount": -5}, "amount", "greater than or equal to 1"),
        ({"currency": "usdd"}, "currency", "Invalid currency: usdd"),
        ({"customer": "cus_missing"}, "customer", "No such customer: 'cus_missing'"),
        ({"payment_method": "pm_nope"}, "payment_method", "No such PaymentMethod"),
        ({"receipt_email": "not-an-email"}, "receipt_email", "Invalid email"),
        ({"capture_method": "manual"}, "capture_method", "not supported by the billing-sync"),
        ({"confirm": True}, "payment_method", "missing a payment method"),
        ({"unknown_thing": "x"}, "unknown_thing", "Received unknown parameter"),
        ({"shipping": {"name": "n", "address": {"line1": "l"}}}, "shipping", "not supported"),
    ],
)
def test_create_errors(
    emulator: EmulatorHandle, params: dict[str, Any], param: str, fragment: str
) -> None:
    c = emulator.client()
    with pytest.raises(stripe.InvalidRequestError) as exc:
        _pi(c, **params)
    assert exc.value.http_status == 400
    assert exc.value.param == param
    assert fragment in str(exc.value.user_message)
    assert c.v1.payment_intents.list().data == []


def test_missing_required_amount(emulator: EmulatorHandle) -> None:
    c = emulator.client()
    with pytest.raises(stripe.InvalidRequestError) as exc:
        c.v1.payment_intents.create(params={"currency": "usd"})  # type: ignore[typeddict-item]
    assert exc.value.param == "amount"


def test_customer_and_list_filter_and_pagination(emulator: EmulatorHandle) -> None:
    pytest.importorskip("stripe_emulator.resources.customers")
    c = emulator.client()
    cus = c.v1.customers.create(params={"email": "a@example.com"})
    mine = [_pi(c, customer=cus.id, amount=100 + i) for i in range(3)]
    others = [_pi(c, amount=200 + i) for i in range(4)]
    assert mine[0].customer == cus.id
    page = c.v1.payment_intents.list(params={"customer": cus.id})
    assert [p.id for p in page.data] == [p.id for p in reversed(mine)]
    first = c.v1.payment_intents.list(params={"limit": 2})
    assert first.has_more is True and len(first.data) == 2
    every = [p.id for p in first.auto_paging_iter()]
    assert every == [p.id for p in reversed(mine + others)]


def test_list_created_filter(emulator: EmulatorHandle) -> None:
    c = emulator.client()
    pi = _pi(c)
    found = c.v1.payment_intents.list(params={"created": {"gte": pi.created}}).data
    assert [p.id for p in found] == [pi.id]
    assert c.v1.payment_intents.list(params={"created": {"gt": pi.created}}).data == []
    assert c.v1.payment_intents.list(params={"created": pi.created}).data[0].id == pi.id


def test_retrieve_missing_is_404(emulator: EmulatorHandle) -> None:
    with pytest.raises(stripe.InvalidRequestError) as exc:
        emulator.client().v1.payment_intents.retrieve("pi_missing")
    assert exc.value.http_status == 404 and exc.value.code == "resource_missing"


def test_retrieve_with_wrong_client_secret(emulator: EmulatorHandle) -> None:
    c = emulator.client()
    pi = _pi(c)
    ok = c.v1.payment_intents.retrieve(pi.id, params={"client_secret": pi.client_secret or ""})
    assert ok.id == pi.id
    with pytest.raises(stripe.InvalidRequestError):
        c.v1.payment_intents.retrieve(pi.id, params={"client_secret": f"{pi.id}_secret_wrong"})


def test_update_is_limited(emulator: EmulatorHandle) -> None:
    c = emulator.client()
    pi = _pi(c, metadata={"a": "1", "b": "2"}, automatic_payment_methods=NO_REDIRECTS)
    upd = c.v1.payment_intents.update(
        pi.id, params={"amount": 2500, "metadata": {"a": "", "c": "3"}, "description": "d"}
    )
    assert upd.amount == 2500 and upd.description == "d"
    assert upd.metadata.to_dict() == {"b": "2", "c": "3"}
    with pytest.raises(stripe.InvalidRequestError) as exc:
        c.v1.payment_intents.update(pi.id, params={"amount": 10})
    assert exc.value.code == "amount_too_small"
    with pytest.raises(stripe.InvalidRequestError) as exc:
        c.v1.payment_intents.update(pi.id, params={"customer": "cus_x"})
    assert "not supported" in str(exc.value.user_message)
    c.v1.payment_intents.confirm(pi.id, params={"payment_method": "pm_card_visa"})
    with pytest.raises(stripe.InvalidRequestError) as exc:
        c.v1.payment_intents.update(pi.id, params={"amount": 3000})
    assert exc.value.code == "payment_intent_unexpected_state"
    # metadata stays editable after payment
    assert c.v1.payment_intents.update(pi.id, params={"metadata": {"x": "y"}}).metadata["x"] == "y"


def test_cancel(emulator: EmulatorHandle) -> None:
    c = emulator.client()
    pi = _pi(c)
    with pytest.raises(stripe.InvalidRequestError) as exc:
        c.v1.payment_intents.cancel(pi.id, params={"cancellation_reason": "bored"})
    assert exc.value.param == "cancellation_reason"
    canceled = c.v1.payment_intents.cancel(
        pi.id, params={"cancellation_reason": "requested_by_customer"}
    )
    assert canceled.status == "canceled" and canceled.canceled_at
    assert canceled.cancellation_reason == "requested_by_customer"
    with pytest.raises(stripe.InvalidRequestError) as exc:
        c.v1.payment_intents.confirm(pi.id, params={"payment_method": "pm_card_visa"})
    assert exc.value.code == "payment_intent_unexpected_state"
    paid = _paid(c)
    with pytest.raises(stripe.InvalidRequestError) as exc:
        c.v1.payment_intents.cancel(paid.id)
    assert exc.value.code == "payment_intent_unexpected_state"
    assert "status of succeeded" in str(exc.value.user_message)


def test_idempotent_create_replays(emulator: EmulatorHandle) -> None:
    c = emulator.client()
    a = c.v1.payment_intents.create(
        params={"amount": 1999, "currency": "usd"}, options={"idempotency_key": "k-1"}
    )
    b = c.v1.payment_intents.create(
        params={"amount": 1999, "currency": "usd"}, options={"idempotency_key": "k-1"}
    )
    assert a.id == b.id and a.client_secret == b.client_secret
    assert len(c.v1.payment_intents.list().data) == 1
    with pytest.raises(stripe.IdempotencyError):
        c.v1.payment_intents.create(
            params={"amount": 2000, "currency": "usd"}, options={"idempotency_key": "k-1"}
        )


def test_charges_list_filters(emulator: EmulatorHandle) -> None:
    c = emulator.client()
    a, b = _paid(c), _paid(c, amount=500)
    assert [ch.id for ch in c.v1.charges.list().data] == [b.latest_charge, a.latest_charge]
    only = c.v1.charges.list(params={"payment_intent": a.id}).data
    assert [ch.id for ch in only] == [a.latest_charge]


# --------------------------------------------------------------------------- refunds


def test_partial_refunds_until_fully_refunded(emulator: EmulatorHandle) -> None:
    c = emulator.client()
    pi = _paid(c)
    r1 = c.v1.refunds.create(
        params={"payment_intent": pi.id, "amount": 500, "reason": "requested_by_customer"}
    )
    assert r1.id.startswith("re_") and r1.object == "refund"
    assert r1.amount == 500 and r1.status == "succeeded" and r1.reason == "requested_by_customer"
    assert r1.charge == pi.latest_charge and r1.payment_intent == pi.id
    assert _fields(r1) == _declared(stripe.Refund)
    ch = c.v1.charges.retrieve(str(pi.latest_charge))
    assert ch.amount_refunded == 500 and ch.refunded is False

    r2 = c.v1.refunds.create(params={"charge": ch.id, "amount": 1000, "metadata": {"t": "2"}})
    assert r2.metadata is not None and r2.metadata.to_dict() == {"t": "2"}

    with pytest.raises(stripe.InvalidRequestError) as exc:
        c.v1.refunds.create(params={"payment_intent": pi.id, "amount": 500})
    assert exc.value.http_status == 400 and exc.value.param == "amount"
    assert exc.value.user_message == (
        "Refund amount ($5.00) is greater than unrefunded amount on charge ($4.99)"
    )

    rest = c.v1.refunds.create(params={"payment_intent": pi.id})
    assert rest.amount == 499
    ch = c.v1.charges.retrieve(ch.id, params={"expand": ["refunds"]})
    assert ch.amount_refunded == 1999 and ch.refunded is True
    assert ch.refunds is not None
    assert [r.id for r in ch.refunds.data] == [rest.id, r2.id, r1.id]

    with pytest.raises(stripe.InvalidRequestError) as exc:
        c.v1.refunds.create(params={"charge": ch.id})
    assert exc.value.code == "charge_already_refunded"


def test_over_refund_of_untouched_charge(emulator: EmulatorHandle) -> None:
    c = emulator.client()
    pi = _paid(c, amount=500, currency="jpy")
    with pytest.raises(stripe.InvalidRequestError) as exc:
        c.v1.refunds.create(params={"payment_intent": pi.id, "amount": 501})
    assert exc.value.user_message == "Refund amount (¥501) is greater than charge amount (¥500)"
    assert c.v1.refunds.list().data == []


def test_refund_of_unpaid_intent_is_refused(emulator: EmulatorHandle) -> None:
    c = emulator.client()
    pi = _pi(c)
    with pytest.raises(stripe.InvalidRequestError) as exc:
        c.v1.refunds.create(params={"payment_intent": pi.id})
    assert "does not have a successful charge to refund" in str(exc.value.user_message)


def test_refund_of_unknown_charge_is_404(emulator: EmulatorHandle) -> None:
    # Live Stripe: 404 resource_missing, param "id" (stripe-stateful-mock's parity test
    # "can't refund a non-existent charge").
    with pytest.raises(stripe.InvalidRequestError) as exc:
        emulator.client().v1.refunds.create(params={"charge": "ch_missing"})
    assert exc.value.http_status == 404 and exc.value.code == "resource_missing"
    assert exc.value.param == "id"
    assert exc.value.user_message == "No such charge: 'ch_missing'"


@pytest.mark.parametrize(
    ("params", "param"),
    [
        ({"payment_intent": "pi_missing"}, "payment_intent"),
        ({}, None),
        ({"payment_intent": "pi_x", "charge": "ch_x"}, "payment_intent"),
        ({"payment_intent": "pi_x", "reason": "because"}, "reason"),
        ({"payment_intent": "pi_x", "instructions_email": "a@b.c"}, "instructions_email"),
    ],
)
def test_refund_errors(emulator: EmulatorHandle, params: dict[str, Any], param: str | None) -> None:
    c = emulator.client()
    with pytest.raises(stripe.InvalidRequestError) as exc:
        c.v1.refunds.create(params=params)  # type: ignore[arg-type]
    assert exc.value.http_status == 400
    assert exc.value.param == param


def test_refund_of_failed_charge_is_refused(emulator: EmulatorHandle) -> None:
    c = emulator.client()
    pi = _pi(c, automatic_payment_methods=NO_REDIRECTS)
    with pytest.raises(stripe.CardError):
        c.v1.payment_intents.confirm(pi.id, params={"payment_method": "pm_card_chargeDeclined"})
    failed = c.v1.payment_intents.retrieve(pi.id).latest_charge
    with pytest.raises(stripe.InvalidRequestError) as exc:
        c.v1.refunds.create(params={"charge": str(failed)})
    assert exc.value.param == "charge"


def test_refund_retrieve_update_list(emulator: EmulatorHandle) -> None:
    c = emulator.client()
    a, b = _paid(c), _paid(c)
    ra = c.v1.refunds.create(params={"payment_intent": a.id, "amount": 100})
    rb = c.v1.refunds.create(params={"payment_intent": b.id, "amount": 200})
    assert c.v1.refunds.retrieve(ra.id).amount == 100
    updated = c.v1.refunds.update(ra.id, params={"metadata": {"k": "v"}})
    assert updated.metadata is not None and updated.metadata["k"] == "v"
    assert [r.id for r in c.v1.refunds.list(params={"payment_intent": a.id}).data] == [ra.id]
    assert [r.id for r in c.v1.refunds.list(params={"charge": str(b.latest_charge)}).data] == [
        rb.id
    ]
    assert [r.id for r in c.v1.refunds.list().data] == [rb.id, ra.id]
    with pytest.raises(stripe.InvalidRequestError) as exc:
        c.v1.refunds.retrieve("re_missing")
    assert exc.value.http_status == 404


def test_expand_latest_charge_and_refund_charge(emulator: EmulatorHandle) -> None:
    c = emulator.client()
    pi = _paid(c)
    got = c.v1.payment_intents.retrieve(pi.id, params={"expand": ["latest_charge"]})
    assert isinstance(got.latest_charge, stripe.Charge)
    assert got.latest_charge.amount == 1999
    r = c.v1.refunds.create(params={"payment_intent": pi.id, "expand": ["charge"]})
    assert isinstance(r.charge, stripe.Charge) and r.charge.refunded is True
