"""The emulator's meters, meter events, summaries, metered and pay-what-you-want prices, through the official client."""

from __future__ import annotations

import time
from typing import Any

import pytest
import stripe

from tests.helpers import EmulatorHandle


def meter(v1: Any, event_name: str = "tokens", formula: str = "sum") -> Any:
    return v1.billing.meters.create(
        {
            "display_name": "Tokens",
            "event_name": event_name,
            "default_aggregation": {"formula": formula},
        }
    )


def refused(call: Any, param: str | None = None) -> stripe.InvalidRequestError:
    with pytest.raises(stripe.InvalidRequestError) as err:
        call()
    assert err.value.http_status == 400
    if param is not None:
        assert err.value.param == param, err.value.user_message
    return err.value


def test_meter_lifecycle_and_what_stripe_changes_in_place(emulator: EmulatorHandle) -> None:
    v1: Any = emulator.client().v1
    m = meter(v1)
    assert (m.status, m.customer_mapping.event_payload_key, m.value_settings.event_payload_key) == (
        "active",
        "stripe_customer_id",
        "value",
    )
    assert v1.billing.meters.update(m.id, {"display_name": "LLM tokens"}).display_name == (
        "LLM tokens"
    )
    err = refused(
        lambda: v1.billing.meters.update(m.id, {"event_name": "other"}),
        "event_name",
    )
    assert "unknown parameter" in str(err.user_message)
    refused(lambda: meter(v1), "event_name")  # one meter per event name
    off = v1.billing.meters.deactivate(m.id)
    assert off.status == "inactive" and off.status_transitions.deactivated_at is not None
    refused(lambda: meter(v1), "event_name")  # inactive meters keep their name (strict reading)
    refused(lambda: v1.billing.meters.deactivate(m.id))
    assert [x.id for x in v1.billing.meters.list({"status": "inactive"}).data] == [m.id]
    assert v1.billing.meters.list({"status": "active"}).data == []
    on = v1.billing.meters.reactivate(m.id)
    assert on.status == "active" and on.status_transitions.deactivated_at is None
    refused(lambda: meter(v1, "x", formula="max"), "default_aggregation[formula]")


def test_metered_prices_need_an_active_meter_and_items_take_no_quantity(
    emulator: EmulatorHandle,
) -> None:
    v1: Any = emulator.client().v1
    product = v1.products.create({"name": "AI"})
    m = meter(v1)

    def metered(meter_id: str | None) -> Any:
        recurring: dict[str, Any] = {"interval": "month", "usage_type": "metered"}
        if meter_id is not None:
            recurring["meter"] = meter_id
        return v1.prices.create(
            {
                "product": product.id,
                "currency": "usd",
                "unit_amount_decimal": "0.002",
                "recurring": recurring,
            }
        )

    refused(lambda: metered(None), "recurring[meter]")
    refused(lambda: metered("mtr_missing"), "recurring[meter]")
    price = metered(m.id)
    assert (price.unit_amount, str(price.unit_amount_decimal)) == (None, "0.002")
    v1.billing.meters.deactivate(m.id)
    refused(lambda: metered(m.id), "recurring[meter]")
    v1.billing.meters.reactivate(m.id)
    customer = v1.customers.create({"name": "Acme"})
    common = {"customer": customer.id, "collection_method": "send_invoice", "days_until_due": 7}
    refused(
        lambda: v1.subscriptions.create({**common, "items": [{"price": price.id, "quantity": 1}]}),
        "items[0][quantity]",
    )
    sub = v1.subscriptions.create({**common, "items": [{"price": price.id}]})
    (item,) = sub["items"].data
    assert item.quantity is None and item.plan.meter == m.id and item.plan.usage_type == "metered"


def test_pay_what_you_want_is_one_time_only(emulator: EmulatorHandle) -> None:
    v1: Any = emulator.client().v1
    product = v1.products.create({"name": "Tips"})
    base: dict[str, Any] = {"product": product.id, "currency": "usd"}
    tip = v1.prices.create(
        {**base, "custom_unit_amount": {"enabled": True, "minimum": 100, "preset": 500}}
    )
    assert tip.unit_amount is None and tip.custom_unit_amount.preset == 500
    assert tip.custom_unit_amount.maximum is None
    refused(
        lambda: v1.prices.create(
            {**base, "custom_unit_amount": {"enabled": True}, "recurring": {"interval": "month"}}
        ),
        "custom_unit_amount",
    )
    refused(
        lambda: v1.prices.create(
            {**base, "custom_unit_amount": {"enabled": True, "minimum": 500, "preset": 100}}
        ),
        "custom_unit_amount[preset]",
    )
    refused(
        lambda: v1.prices.create(
            {**base, "unit_amount": 5, "custom_unit_amount": {"enabled": True}}
        ),
        "unit_amount",
    )


def test_meter_events_are_deduplicated_and_summarised(emulator: EmulatorHandle) -> None:
    v1: Any = emulator.client().v1
    m = meter(v1)
    counted = meter(v1, "calls", formula="count")
    acme = v1.customers.create({"name": "Acme"})
    other = v1.customers.create({"name": "Other"})
    now = int(time.time())
    hour = now - now % 3600

    def send(name: str, customer: str, value: str, **extra: Any) -> Any:
        return v1.billing.meter_events.create(
            {
                "event_name": name,
                "payload": {"stripe_customer_id": customer, "value": value},
                **extra,
            }
        )

    first = send("tokens", acme.id, "100", identifier="e1", timestamp=hour - 3600)
    assert (first.identifier, first.payload["value"]) == ("e1", "100")
    err = refused(lambda: send("tokens", acme.id, "100", identifier="e1"), "identifier")
    assert "already exists with identifier e1" in str(err.user_message)
    send("tokens", acme.id, "250", timestamp=hour)
    send("tokens", acme.id, "-50", timestamp=hour)  # a correction
    send("tokens", other.id, "999", timestamp=hour)
    send("tokens", acme.id, "lots", timestamp=hour)  # Stripe rejects it asynchronously
    send("calls", acme.id, "7", timestamp=hour)
    send("calls", acme.id, "7", timestamp=hour)
    refused(lambda: send("tokens", acme.id, "1", timestamp=now - 40 * 86400), "timestamp")

    def summaries(meter_id: str, **params: Any) -> list[tuple[int, float]]:
        page = v1.billing.meters.event_summaries.list(
            meter_id,
            {"customer": acme.id, "start_time": hour - 3600, "end_time": hour + 3600, **params},
        )
        return [(s.start_time, s.aggregated_value) for s in page.data]

    assert summaries(m.id) == [(hour - 3600, 300.0)]
    assert summaries(m.id, value_grouping_window="hour") == [(hour, 200.0), (hour - 3600, 100.0)]
    assert summaries(counted.id) == [(hour - 3600, 2.0)]
    refused(
        lambda: v1.billing.meters.event_summaries.list(
            m.id, {"customer": acme.id, "start_time": hour + 1, "end_time": hour + 3600}
        ),
        "start_time",
    )
    # A deactivated meter takes no more events into its summaries.
    v1.billing.meters.deactivate(m.id)
    send("tokens", acme.id, "1000", timestamp=hour)
    v1.billing.meters.reactivate(m.id)
    assert summaries(m.id) == [(hour - 3600, 300.0)]
