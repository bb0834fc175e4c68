"""Contract tests: customers and payment methods through the official stripe client."""

from __future__ import annotations

import pytest
import stripe

from tests.helpers import EmulatorHandle


def invoice_settings(customer: stripe.Customer) -> stripe.Customer.InvoiceSettings:
    assert customer.invoice_settings is not None
    return customer.invoice_settings


@pytest.fixture
def client(emulator: EmulatorHandle) -> stripe.StripeClient:
    return emulator.client()


def test_customer_crud(client: stripe.StripeClient) -> None:
    c = client.v1.customers.create(
        params={"email": "a@example.test", "name": "Acme", "metadata": {"k": "v", "x": "1"}}
    )
    assert c.id.startswith("cus_")
    assert c.object == "customer"
    assert c.livemode is False
    assert invoice_settings(c).default_payment_method is None
    assert "subscriptions" not in c
    got = client.v1.customers.retrieve(c.id)
    assert got.email == "a@example.test"
    upd = client.v1.customers.update(c.id, params={"name": "Acme Inc", "metadata": {"x": ""}})
    assert upd.name == "Acme Inc"
    assert upd.metadata is not None and upd.metadata.to_dict() == {"k": "v"}
    deleted = client.v1.customers.delete(c.id)
    assert deleted.deleted is True
    stub = client.v1.customers.retrieve(c.id)
    assert stub.to_dict().get("deleted") is True
    with pytest.raises(stripe.InvalidRequestError) as exc:
        client.v1.customers.update(c.id, params={"name": "x"})
    assert exc.value.http_status == 404


def test_customer_list_by_email(client: stripe.StripeClient) -> None:
    a = client.v1.customers.create(params={"email": "a@example.test"})
    b = client.v1.customers.create(params={"email": "b@example.test"})
    a2 = client.v1.customers.create(params={"email": "a@example.test"})
    assert [c.id for c in client.v1.customers.list().data] == [a2.id, b.id, a.id]
    found = client.v1.customers.list(params={"email": "a@example.test"})
    assert [c.id for c in found.data] == [a2.id, a.id]
    assert found.url == "/v1/customers"


def test_attach_test_tokens_and_default_payment_method(client: stripe.StripeClient) -> None:
    cus = client.v1.customers.create(params={"email": "pm@example.test"})
    visa = client.v1.payment_methods.attach("pm_card_visa", params={"customer": cus.id})
    mc = client.v1.payment_methods.attach("pm_card_mastercard", params={"customer": cus.id})
    assert visa.id.startswith("pm_") and visa.id != "pm_card_visa"
    assert visa.customer == cus.id
    assert visa.card is not None and visa.card.last4 == "4242" and visa.card.brand == "visa"
    assert mc.card is not None and mc.card.brand == "mastercard"
    again = client.v1.payment_methods.attach("pm_card_visa", params={"customer": cus.id})
    assert again.id != visa.id  # each attach of a token creates a new payment method
    listed = client.v1.payment_methods.list(params={"customer": cus.id, "type": "card"})
    assert {p.id for p in listed.data} == {visa.id, mc.id, again.id}
    via_customer = client.v1.customers.payment_methods.list(cus.id)
    assert len(via_customer.data) == 3
    upd = client.v1.customers.update(
        cus.id,
        params={
            "invoice_settings": {"default_payment_method": visa.id},
            "expand": ["invoice_settings.default_payment_method"],
        },
    )
    dpm = invoice_settings(upd).default_payment_method
    assert isinstance(dpm, stripe.PaymentMethod) and dpm.id == visa.id
    # Stored object is not mutated by expansion.
    assert invoice_settings(client.v1.customers.retrieve(cus.id)).default_payment_method == visa.id
    detached = client.v1.payment_methods.detach(visa.id)
    assert detached.customer is None
    assert invoice_settings(client.v1.customers.retrieve(cus.id)).default_payment_method is None


def test_default_payment_method_must_be_attached(client: stripe.StripeClient) -> None:
    a = client.v1.customers.create(params={"email": "a@example.test"})
    b = client.v1.customers.create(params={"email": "b@example.test"})
    pm = client.v1.payment_methods.attach("pm_card_visa", params={"customer": b.id})
    with pytest.raises(stripe.InvalidRequestError) as exc:
        client.v1.customers.update(
            a.id, params={"invoice_settings": {"default_payment_method": pm.id}}
        )
    assert exc.value.param == "invoice_settings[default_payment_method]"
    with pytest.raises(stripe.InvalidRequestError) as exc2:
        client.v1.payment_methods.attach(pm.id, params={"customer": a.id})
    assert "already been attached" in str(exc2.value.user_message)


def test_retrieve_token_and_unknown_payment_method(client: stripe.StripeClient) -> None:
    pm = client.v1.payment_methods.retrieve("pm_card_chargeDeclined")
    assert pm.id.startswith("pm_") and pm.card is not None and pm.card.last4 == "0002"
    with pytest.raises(stripe.InvalidRequestError) as exc:
        client.v1.payment_methods.retrieve("pm_nope")
    assert exc.value.http_status == 404


def test_customer_created_with_payment_method(client: stripe.StripeClient) -> None:
    cus = client.v1.customers.create(
        params={
            "email": "x@example.test",
            "payment_method": "pm_card_visa",
        }
    )
    pms = client.v1.payment_methods.list(params={"customer": cus.id})
    assert len(pms.data) == 1
