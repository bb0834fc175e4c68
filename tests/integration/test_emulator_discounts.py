"""Contract tests: coupons, promotion codes, tax rates and subscription discounts through the
official stripe client against the emulator."""

from __future__ import annotations

import time
from typing import Any

import pytest
import stripe

from tests.helpers import EmulatorHandle

# Fields Stripe fixes at creation: not in the update's parameters at all.
FIXED_COUPON: Any = {"percent_off": 30}
FIXED_RATE: Any = {"percentage": 7}


def _subscribed(c: stripe.StripeClient, **params: Any) -> stripe.Subscription:
    prod = c.v1.products.create(params={"name": "Pro"})
    price = c.v1.prices.create(
        params={
            "product": prod.id,
            "currency": "usd",
            "unit_amount": 1000,
            "recurring": {"interval": "month"},
        }
    )
    cus = c.v1.customers.create(params={"email": "a@example.test"})
    create: Any = {
        "customer": cus.id,
        "items": [{"price": price.id}],
        "collection_method": "send_invoice",
        "days_until_due": 30,
        **params,
    }
    return c.v1.subscriptions.create(params=create)


def test_coupon_create_update_delete(emulator: EmulatorHandle) -> None:
    c = emulator.client()
    coupon = c.v1.coupons.create(
        params={
            "id": "LAUNCH",
            "percent_off": 20,
            "duration": "repeating",
            "duration_in_months": 3,
            "name": "Launch",
        }
    )
    assert (coupon.id, coupon.percent_off, coupon.duration_in_months) == ("LAUNCH", 20.0, 3)
    assert coupon.valid is True and coupon.times_redeemed == 0
    assert "applies_to" not in coupon  # returned only when expanded
    updated = c.v1.coupons.update("LAUNCH", params={"name": "Launch 2", "metadata": {"a": "1"}})
    assert (
        updated.name == "Launch 2" and updated.metadata and updated.metadata.to_dict() == {"a": "1"}
    )
    with pytest.raises(stripe.InvalidRequestError) as fixed:
        c.v1.coupons.update("LAUNCH", params=FIXED_COUPON)
    assert fixed.value.code == "parameter_unknown"
    with pytest.raises(stripe.InvalidRequestError) as taken:
        c.v1.coupons.create(params={"id": "LAUNCH", "percent_off": 10})
    assert taken.value.code == "resource_already_exists"
    deleted = c.v1.coupons.delete("LAUNCH")
    assert deleted.deleted is True
    with pytest.raises(stripe.InvalidRequestError) as gone:
        c.v1.coupons.retrieve("LAUNCH")
    assert gone.value.http_status == 404
    assert [x.id for x in c.v1.coupons.list().data] == []
    again = c.v1.coupons.create(params={"id": "LAUNCH", "percent_off": 25})
    assert again.percent_off == 25.0


def test_coupon_rules(emulator: EmulatorHandle) -> None:
    c = emulator.client()
    cases = [
        ({"percent_off": 10, "amount_off": 100, "currency": "usd"}, "percent_off"),
        ({"amount_off": 100}, "currency"),
        ({"percent_off": 120}, "percent_off"),
        ({"percent_off": 10, "duration": "repeating"}, "duration_in_months"),
        ({"percent_off": 10, "duration_in_months": 2}, "duration_in_months"),
        ({"percent_off": 10, "currency_options": {"eur": {"amount_off": 5}}}, "currency_options"),
        ({"percent_off": 10, "redeem_by": int(time.time()) - 10}, "redeem_by"),
        ({"percent_off": 10, "applies_to": {"products": ["prod_nope"]}}, "applies_to[products][0]"),
    ]
    for params, param in cases:
        with pytest.raises(stripe.InvalidRequestError) as err:
            c.v1.coupons.create(params=params)  # type: ignore[arg-type]
        assert err.value.param == param, params
    assert c.v1.coupons.list().data == []


def test_coupon_currency_options_and_applies_to_when_expanded(emulator: EmulatorHandle) -> None:
    c = emulator.client()
    prod = c.v1.products.create(params={"name": "Pro"})
    c.v1.coupons.create(
        params={
            "id": "FIVE",
            "amount_off": 500,
            "currency": "usd",
            "currency_options": {"eur": {"amount_off": 450}},
            "applies_to": {"products": [prod.id]},
        }
    )
    c.v1.coupons.update("FIVE", params={"currency_options": {"gbp": {"amount_off": 400}}})
    listed = c.v1.coupons.list(params={"expand": ["data.applies_to", "data.currency_options"]})
    got = listed.data[0]
    assert got.applies_to is not None and got.applies_to.products == [prod.id]
    assert got.currency_options is not None
    assert {k: v["amount_off"] for k, v in got.currency_options.to_dict().items()} == {
        "usd": 500,
        "eur": 450,
        "gbp": 400,
    }


def test_promotion_codes_unique_among_active(emulator: EmulatorHandle) -> None:
    c = emulator.client()
    c.v1.coupons.create(params={"id": "TEN", "percent_off": 10})
    first = c.v1.promotion_codes.create(
        params={"promotion": {"type": "coupon", "coupon": "TEN"}, "code": "SAVE10"}
    )
    assert first.active and first.promotion.coupon == "TEN"
    with pytest.raises(stripe.InvalidRequestError) as dup:
        c.v1.promotion_codes.create(
            params={"promotion": {"type": "coupon", "coupon": "TEN"}, "code": "save10"}
        )
    assert dup.value.param == "code"
    c.v1.promotion_codes.update(first.id, params={"active": False})
    second = c.v1.promotion_codes.create(
        params={
            "promotion": {"type": "coupon", "coupon": "TEN"},
            "code": "SAVE10",
            "restrictions": {
                "first_time_transaction": True,
                "minimum_amount": 1000,
                "minimum_amount_currency": "usd",
            },
        }
    )
    assert second.restrictions.minimum_amount == 1000
    with pytest.raises(stripe.InvalidRequestError) as again:
        c.v1.promotion_codes.update(first.id, params={"active": True})
    assert again.value.param == "code"
    with pytest.raises(stripe.InvalidRequestError) as missing:
        c.v1.promotion_codes.create(params={"promotion": {"type": "coupon", "coupon": "NOPE"}})
    assert missing.value.code == "resource_missing"
    with pytest.raises(stripe.InvalidRequestError) as bad:
        c.v1.promotion_codes.create(
            params={"promotion": {"type": "coupon", "coupon": "TEN"}, "code": "NOT-OK"}
        )
    assert bad.value.param == "code"
    assert [p.id for p in c.v1.promotion_codes.list(params={"active": True}).data] == [second.id]
    assert len(c.v1.promotion_codes.list(params={"coupon": "TEN"}).data) == 2


def test_tax_rates_fixed_percentage(emulator: EmulatorHandle) -> None:
    c = emulator.client()
    rate = c.v1.tax_rates.create(
        params={"display_name": "VAT", "percentage": 19, "inclusive": False, "country": "DE"}
    )
    assert rate.id.startswith("txr_") and rate.percentage == 19.0 and rate.active
    with pytest.raises(stripe.InvalidRequestError) as fixed:
        c.v1.tax_rates.update(rate.id, params=FIXED_RATE)
    assert fixed.value.code == "parameter_unknown"
    upd = c.v1.tax_rates.update(rate.id, params={"display_name": "MwSt", "active": False})
    assert upd.display_name == "MwSt" and upd.active is False
    assert [r.id for r in c.v1.tax_rates.list(params={"active": False}).data] == [rate.id]
    with pytest.raises(stripe.InvalidRequestError):
        c.v1.tax_rates.create(params={"display_name": "X", "percentage": 101, "inclusive": True})


def test_subscription_discounts_and_tax_rates(emulator: EmulatorHandle) -> None:
    c = emulator.client()
    c.v1.coupons.create(
        params={"id": "Q", "percent_off": 25, "duration": "repeating", "duration_in_months": 3}
    )
    c.v1.coupons.create(params={"id": "F", "amount_off": 200, "currency": "usd"})
    promo = c.v1.promotion_codes.create(
        params={"promotion": {"type": "coupon", "coupon": "F"}, "code": "TWO"}
    )
    rate = c.v1.tax_rates.create(
        params={"display_name": "VAT", "percentage": 20, "inclusive": False}
    )
    sub = _subscribed(c, discounts=[{"coupon": "Q"}], default_tax_rates=[rate.id])
    assert [t.id for t in sub.default_tax_rates or []] == [rate.id]
    assert len(sub.discounts) == 1 and isinstance(sub.discounts[0], str)
    full = c.v1.subscriptions.retrieve(sub.id, params={"expand": ["discounts"]})
    first = full.discounts[0]
    assert isinstance(first, stripe.Discount)
    assert first.source.coupon == "Q" and first.end is not None and first.promotion_code is None
    kept = c.v1.subscriptions.update(
        sub.id,
        params={
            "discounts": [{"discount": first.id}, {"promotion_code": promo.id}],
            "expand": ["discounts"],
        },
    )
    ids = [d.id for d in kept.discounts if isinstance(d, stripe.Discount)]
    assert ids[0] == first.id and len(ids) == 2
    assert c.v1.coupons.retrieve("F").times_redeemed == 1
    # Deleting a coupon leaves its discounts in place; it cannot be redeemed again.
    c.v1.coupons.delete("Q")
    still = c.v1.subscriptions.retrieve(sub.id, params={"expand": ["discounts"]})
    assert [d.id for d in still.discounts if isinstance(d, stripe.Discount)] == ids
    with pytest.raises(stripe.InvalidRequestError) as gone:
        _subscribed(c, discounts=[{"coupon": "Q"}])
    assert gone.value.code == "resource_missing"
    cleared = c.v1.subscriptions.update(sub.id, params={"discounts": "", "default_tax_rates": ""})
    assert cleared.discounts == [] and cleared.default_tax_rates == []
    c.v1.tax_rates.update(rate.id, params={"active": False})
    with pytest.raises(stripe.InvalidRequestError) as inactive:
        c.v1.subscriptions.update(sub.id, params={"default_tax_rates": [rate.id]})
    assert inactive.value.param == "default_tax_rates[0]"
