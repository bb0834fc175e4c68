"""Contract tests: subscriptions and subscription items through the official stripe client."""

from __future__ import annotations

from typing import Any

import pytest
import stripe

from tests.helpers import EmulatorHandle


@pytest.fixture
def client(emulator: EmulatorHandle) -> stripe.StripeClient:
    return emulator.client()


@pytest.fixture
def catalog(client: stripe.StripeClient) -> dict[str, Any]:
    prod = client.v1.products.create(params={"name": "Pro"})

    def price(amount: int, currency: str = "usd", **kw: Any) -> str:
        params = {"product": prod.id, "currency": currency, "unit_amount": amount, **kw}
        return client.v1.prices.create(params=params).id  # type: ignore[arg-type]

    month: dict[str, Any] = {"recurring": {"interval": "month"}}
    return {
        "product": prod.id,
        "monthly": price(1000, **month),
        "monthly2": price(2000, **month),
        "monthly3": price(3000, **month),
        "yearly": price(10000, recurring={"interval": "year"}),
        "eur": price(900, "eur", **month),
        "one_time": price(500),
        "free": price(0, **month),
    }


@pytest.fixture
def customer(client: stripe.StripeClient) -> str:
    return client.v1.customers.create(params={"email": "sub@example.test"}).id


def _invoice_sub(
    client: stripe.StripeClient, customer: str, items: list[dict[str, Any]], **kw: Any
) -> stripe.Subscription:
    params: Any = {
        "customer": customer,
        "items": items,
        "collection_method": "send_invoice",
        "days_until_due": 30,
        **kw,
    }
    return client.v1.subscriptions.create(params=params)


def test_charge_automatically_without_payment_method(
    client: stripe.StripeClient, catalog: dict[str, Any], customer: str
) -> None:
    items: Any = [{"price": catalog["monthly"]}]
    with pytest.raises(stripe.InvalidRequestError) as exc:
        client.v1.subscriptions.create(params={"customer": customer, "items": items})
    assert exc.value.http_status == 400
    assert "no attached payment source or default payment method" in str(exc.value.user_message)
    inc = client.v1.subscriptions.create(
        params={"customer": customer, "items": items, "payment_behavior": "default_incomplete"}
    )
    assert inc.status == "incomplete"
    trial = client.v1.subscriptions.create(
        params={"customer": customer, "items": items, "trial_period_days": 14}
    )
    assert trial.status == "trialing"
    assert trial.trial_end is not None and trial.trial_start is not None
    assert trial.trial_end - trial.trial_start == 14 * 86400
    assert trial["items"].data[0].current_period_end == trial.trial_end
    # While incomplete, only metadata may change.
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.subscriptions.update(inc.id, params={"items": [{"price": catalog["monthly2"]}]})
    assert (
        client.v1.subscriptions.update(inc.id, params={"metadata": {"a": "b"}}).metadata["a"] == "b"
    )


def test_charge_automatically_with_card(
    client: stripe.StripeClient, catalog: dict[str, Any], customer: str
) -> None:
    pm = client.v1.payment_methods.attach("pm_card_visa", params={"customer": customer})
    sub = client.v1.subscriptions.create(
        params={
            "customer": customer,
            "items": [{"price": catalog["monthly"]}],
            "default_payment_method": pm.id,
        }
    )
    assert sub.status == "active"
    assert sub.default_payment_method == pm.id
    bad = client.v1.payment_methods.attach(
        "pm_card_chargeCustomerFail", params={"customer": customer}
    )
    declined = client.v1.subscriptions.create(
        params={
            "customer": customer,
            "items": [{"price": catalog["monthly"]}],
            "default_payment_method": bad.id,
        }
    )
    assert declined.status == "incomplete"
    with pytest.raises(stripe.CardError) as exc:
        client.v1.subscriptions.create(
            params={
                "customer": customer,
                "items": [{"price": catalog["monthly"]}],
                "default_payment_method": bad.id,
                "payment_behavior": "error_if_incomplete",
            }
        )
    assert exc.value.http_status == 402


def test_send_invoice_needs_days_until_due(
    client: stripe.StripeClient, catalog: dict[str, Any], customer: str
) -> None:
    with pytest.raises(stripe.InvalidRequestError) as exc:
        client.v1.subscriptions.create(
            params={
                "customer": customer,
                "items": [{"price": catalog["monthly"]}],
                "collection_method": "send_invoice",
            }
        )
    assert exc.value.param == "days_until_due"
    sub = _invoice_sub(client, customer, [{"price": catalog["monthly"], "quantity": 3}])
    assert sub.status == "active"
    assert sub.collection_method == "send_invoice"
    assert sub.days_until_due == 30
    assert sub.currency == "usd"
    item = sub["items"].data[0]
    assert item.quantity == 3
    assert item.price.id == catalog["monthly"]
    assert item.current_period_end > item.current_period_start
    assert sub["items"].url == f"/v1/subscription_items?subscription={sub.id}"


def test_item_rules(client: stripe.StripeClient, catalog: dict[str, Any], customer: str) -> None:
    with pytest.raises(stripe.InvalidRequestError) as exc:
        _invoice_sub(client, customer, [{"price": catalog["monthly"]}, {"price": catalog["eur"]}])
    assert exc.value.param == "items[1][price]"
    with pytest.raises(stripe.InvalidRequestError) as exc2:
        _invoice_sub(client, customer, [{"price": catalog["one_time"]}])
    assert "recurring" in str(exc2.value.user_message)
    with pytest.raises(stripe.InvalidRequestError) as exc3:
        _invoice_sub(
            client, customer, [{"price": catalog["monthly"]}, {"price": catalog["monthly"]}]
        )
    assert exc3.value.param == "items[1][price]"
    client.v1.prices.update(catalog["monthly3"], params={"active": False})
    with pytest.raises(stripe.InvalidRequestError) as exc4:
        _invoice_sub(client, customer, [{"price": catalog["monthly3"]}])
    assert "inactive" in str(exc4.value.user_message)
    many = [{"price": catalog["monthly"]}] * 21
    with pytest.raises(stripe.InvalidRequestError) as exc5:
        _invoice_sub(client, customer, many)
    assert exc5.value.param == "items"
    with pytest.raises(stripe.InvalidRequestError) as exc6:
        _invoice_sub(client, "cus_missing", [{"price": catalog["monthly"]}])
    assert exc6.value.http_status == 400 and exc6.value.code == "resource_missing"
    assert exc6.value.param == "customer"


def test_lifecycle(client: stripe.StripeClient, catalog: dict[str, Any], customer: str) -> None:
    sub = _invoice_sub(client, customer, [{"price": catalog["monthly"], "quantity": 2}])
    item = sub["items"].data[0]
    # Quantity change.
    sub = client.v1.subscriptions.update(
        sub.id, params={"items": [{"id": item.id, "quantity": 5}], "proration_behavior": "none"}
    )
    assert sub["items"].data[0].quantity == 5
    # Price change keeps the item id; quantity resets to 1 unless given.
    sub = client.v1.subscriptions.update(
        sub.id, params={"items": [{"id": item.id, "price": catalog["monthly2"]}]}
    )
    assert sub["items"].data[0].id == item.id
    assert sub["items"].data[0].price.id == catalog["monthly2"]
    assert sub["items"].data[0].quantity == 1
    # Add an item, then remove the first.
    sub = client.v1.subscriptions.update(
        sub.id, params={"items": [{"price": catalog["yearly"], "quantity": 2}]}
    )
    assert [i.price.id for i in sub["items"].data] == [catalog["monthly2"], catalog["yearly"]]
    sub = client.v1.subscriptions.update(
        sub.id, params={"items": [{"id": item.id, "deleted": True}]}
    )
    assert [i.price.id for i in sub["items"].data] == [catalog["yearly"]]
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.subscriptions.update(
            sub.id, params={"items": [{"id": sub["items"].data[0].id, "deleted": True}]}
        )
    # cancel_at_period_end, then back.
    sub = client.v1.subscriptions.update(sub.id, params={"cancel_at_period_end": True})
    assert sub.cancel_at_period_end is True
    assert sub.cancel_at == sub["items"].data[0].current_period_end
    assert sub.status == "active"
    sub = client.v1.subscriptions.update(sub.id, params={"cancel_at_period_end": False})
    assert sub.cancel_at is None
    # Metadata, collection method.
    sub = client.v1.subscriptions.update(
        sub.id, params={"metadata": {"billing_sync_key": "acme/main"}, "days_until_due": 14}
    )
    assert sub.days_until_due == 14
    # Cancel now: final.
    canceled = client.v1.subscriptions.cancel(sub.id)
    assert canceled.status == "canceled"
    assert canceled.canceled_at is not None
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.subscriptions.update(sub.id, params={"items": [{"price": catalog["monthly"]}]})
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.subscriptions.cancel(sub.id)
    kept = client.v1.subscriptions.update(sub.id, params={"metadata": {"note": "done"}})
    assert kept.metadata["note"] == "done"
    assert kept.status == "canceled"


def test_list_filters(client: stripe.StripeClient, catalog: dict[str, Any], customer: str) -> None:
    other = client.v1.customers.create(params={"email": "o@example.test"}).id
    a = _invoice_sub(client, customer, [{"price": catalog["monthly"]}])
    b = _invoice_sub(client, customer, [{"price": catalog["yearly"]}])
    c = _invoice_sub(client, other, [{"price": catalog["monthly"]}])
    trial = client.v1.subscriptions.create(
        params={
            "customer": other,
            "items": [{"price": catalog["monthly2"]}],
            "trial_period_days": 3,
        }
    )
    client.v1.subscriptions.cancel(b.id)

    def ids(**params: Any) -> list[str]:
        return [s.id for s in client.v1.subscriptions.list(params=params).data]  # type: ignore[arg-type]

    assert ids() == [trial.id, c.id, a.id]
    assert ids(status="all") == [trial.id, c.id, b.id, a.id]
    assert ids(status="canceled") == [b.id]
    assert ids(status="ended") == [b.id]
    assert ids(status="trialing") == [trial.id]
    assert ids(customer=customer) == [a.id]
    assert ids(customer=customer, status="all") == [b.id, a.id]
    assert ids(price=catalog["monthly"]) == [c.id, a.id]
    assert ids(collection_method="charge_automatically") == [trial.id]


def test_items_pagination_and_list_endpoint(
    client: stripe.StripeClient, catalog: dict[str, Any], customer: str
) -> None:
    prod = catalog["product"]
    prices = [
        client.v1.prices.create(
            params={
                "product": prod,
                "currency": "usd",
                "unit_amount": 100 + i,
                "recurring": {"interval": "month"},
            }
        ).id
        for i in range(13)
    ]
    sub = _invoice_sub(client, customer, [{"price": p} for p in prices])
    embedded = sub["items"]
    assert len(embedded.data) == 10
    assert embedded.has_more is True
    assert embedded.total_count == 13
    all_items = list(embedded.auto_paging_iter())
    assert [i.price.id for i in all_items] == prices
    page = client.v1.subscription_items.list(params={"subscription": sub.id, "limit": 5})
    assert page.url == "/v1/subscription_items"
    assert [i.price.id for i in page.data] == prices[:5]
    assert [i.price.id for i in page.auto_paging_iter()] == prices
    one = client.v1.subscription_items.retrieve(page.data[0].id)
    assert one.subscription == sub.id
    with pytest.raises(stripe.InvalidRequestError) as exc:
        client.v1.subscription_items.list(params={})  # type: ignore[typeddict-item]
    assert exc.value.param == "subscription"


def test_expand_nested(client: stripe.StripeClient, catalog: dict[str, Any], customer: str) -> None:
    sub = _invoice_sub(
        client,
        customer,
        [{"price": catalog["monthly"]}],
        expand=["customer", "items.data.price.product"],
    )
    assert isinstance(sub.customer, stripe.Customer)
    assert sub["items"].data[0].price.product.name == "Pro"
    with pytest.raises(stripe.InvalidRequestError) as exc:
        client.v1.subscriptions.retrieve(sub.id, params={"expand": ["nonsense"]})
    assert exc.value.param == "expand"
    listed = client.v1.subscriptions.list(params={"expand": ["data.customer"]})
    assert isinstance(listed.data[0].customer, stripe.Customer)


def test_trial_end_now_and_free_price(
    client: stripe.StripeClient, catalog: dict[str, Any], customer: str
) -> None:
    sub = client.v1.subscriptions.create(
        params={
            "customer": customer,
            "items": [{"price": catalog["monthly"]}],
            "trial_period_days": 7,
        }
    )
    ended = client.v1.subscriptions.update(
        sub.id,
        params={"trial_end": "now", "collection_method": "send_invoice", "days_until_due": 5},
    )
    assert ended.status == "active"
    free = client.v1.subscriptions.create(
        params={"customer": customer, "items": [{"price": catalog["free"]}]}
    )
    assert free.status == "active"


def test_trial_end_moves_a_trial_or_starts_one_on_an_active_subscription(
    client: stripe.StripeClient, catalog: dict[str, Any], customer: str
) -> None:
    trialing = client.v1.subscriptions.create(
        params={
            "customer": customer,
            "items": [{"price": catalog["monthly"]}],
            "trial_period_days": 7,
        }
    )
    later = int(trialing.trial_end or 0) + 10 * 86400
    moved = client.v1.subscriptions.update(trialing.id, params={"trial_end": later})
    # The same trial, ending later: the anchor follows the trial end (API reference, update
    # `trial_end`: "The billing_cycle_anchor will be updated to the trial_end value").
    assert (moved.status, moved.trial_start, moved.trial_end) == (
        "trialing",
        trialing.trial_start,
        later,
    )
    assert moved.billing_cycle_anchor == later
    assert moved["items"].data[0].current_period_end == later

    active = _invoice_sub(client, customer, [{"price": catalog["monthly2"]}])
    assert active.status == "active" and active.trial_start is None
    until = active.created + 20 * 86400
    trial = client.v1.subscriptions.update(active.id, params={"trial_end": until})
    assert (trial.status, trial.trial_end, trial.billing_cycle_anchor) == ("trialing", until, until)
    assert trial.trial_start is not None and trial.trial_start >= active.created

    ended = client.v1.subscriptions.update(trial.id, params={"trial_end": "now"})
    assert ended.status == "active"
    assert ended.billing_cycle_anchor == ended.trial_end and (ended.trial_end or 0) < until

    # A past trial end is refused (live answers quoted in stripe/stripe-go#93, stripe-ruby#682).
    with pytest.raises(stripe.InvalidRequestError) as exc:
        client.v1.subscriptions.update(trialing.id, params={"trial_end": 1_000_000_000})
    assert exc.value.param == "trial_end"
    assert "Invalid timestamp: must be an integer Unix timestamp in the future." in str(
        exc.value.user_message
    )
    assert client.v1.subscriptions.retrieve(trialing.id).trial_end == later


def test_deleting_customer_cancels_subscriptions(
    client: stripe.StripeClient, catalog: dict[str, Any], customer: str
) -> None:
    sub = _invoice_sub(client, customer, [{"price": catalog["monthly"]}])
    client.v1.customers.delete(customer)
    assert client.v1.subscriptions.retrieve(sub.id).status == "canceled"


def test_subscription_items_endpoints(
    client: stripe.StripeClient, catalog: dict[str, Any], customer: str
) -> None:
    sub = _invoice_sub(client, customer, [{"price": catalog["monthly"], "quantity": 2}])
    first = sub["items"].data[0]
    added = client.v1.subscription_items.create(
        params={
            "subscription": sub.id,
            "price": catalog["yearly"],
            "quantity": 4,
            "metadata": {"k": "v"},
        }
    )
    assert added.id.startswith("si_") and added.quantity == 4 and added.subscription == sub.id
    with pytest.raises(stripe.InvalidRequestError) as dup:
        client.v1.subscription_items.create(
            params={"subscription": sub.id, "price": catalog["monthly"]}
        )
    assert dup.value.param == "price"
    changed = client.v1.subscription_items.update(first.id, params={"quantity": 7})
    assert changed.quantity == 7
    switched = client.v1.subscription_items.update(first.id, params={"price": catalog["monthly2"]})
    assert switched.price.id == catalog["monthly2"] and switched.quantity == 1
    gone = client.v1.subscription_items.delete(added.id)
    assert gone.deleted is True
    with pytest.raises(stripe.InvalidRequestError) as last:
        client.v1.subscription_items.delete(first.id)  # the last item cannot go
    assert last.value.param == "items"
    items = client.v1.subscriptions.retrieve(sub.id)["items"].data
    assert [(i.id, i.price.id, i.quantity) for i in items] == [(first.id, catalog["monthly2"], 1)]
    client.v1.subscriptions.cancel(sub.id)
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.subscription_items.update(first.id, params={"quantity": 2})
