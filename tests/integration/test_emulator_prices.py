"""Contract tests: prices through the official stripe client against the emulator."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
import stripe

from tests.helpers import EmulatorHandle


@pytest.fixture
def client(emulator: EmulatorHandle) -> stripe.StripeClient:
    return emulator.client()


@pytest.fixture
def product(client: stripe.StripeClient) -> stripe.Product:
    return client.v1.products.create(params={"name": "Pro"})


def _price(client: stripe.StripeClient, product: stripe.Product, **kw: Any) -> stripe.Price:
    params: dict[str, Any] = {"product": product.id, "currency": "usd", **kw}
    if "unit_amount" not in kw and "unit_amount_decimal" not in kw and "tiers" not in kw:
        params["unit_amount"] = 1000
    return client.v1.prices.create(params=params)  # type: ignore[arg-type]


def test_recurring_price_echoes_decimal_and_defaults(
    client: stripe.StripeClient, product: stripe.Product
) -> None:
    p = _price(client, product, unit_amount=1999, recurring={"interval": "month"})
    assert p.id.startswith("price_")
    assert p.unit_amount == 1999
    assert p.unit_amount_decimal == Decimal("1999")
    raw: Any = p.last_response.data if p.last_response else {}
    assert raw["unit_amount_decimal"] == "1999"  # a string on the wire
    assert p.type == "recurring"
    assert p.billing_scheme == "per_unit"
    assert p.tax_behavior == "unspecified"
    assert p.recurring is not None
    assert p.recurring.interval_count == 1
    assert p.recurring.usage_type == "licensed"
    assert p.livemode is False
    assert "tiers" not in p
    assert "currency_options" not in p


def test_free_and_decimal_prices(client: stripe.StripeClient, product: stripe.Product) -> None:
    free = _price(client, product, unit_amount=0)
    assert free.unit_amount == 0
    assert free.unit_amount_decimal == Decimal("0")
    frac = _price(client, product, unit_amount_decimal="12.5")
    assert frac.unit_amount is None
    assert frac.unit_amount_decimal == Decimal("12.5")
    whole = _price(client, product, unit_amount_decimal="1500.000")
    assert whole.unit_amount == 1500
    assert whole.unit_amount_decimal == Decimal("1500")
    with pytest.raises(stripe.InvalidRequestError) as exc:
        _price(client, product, unit_amount=1, unit_amount_decimal="1")
    assert exc.value.param == "unit_amount_decimal"
    with pytest.raises(stripe.InvalidRequestError) as missing:
        client.v1.prices.create(params={"product": product.id, "currency": "usd"})
    assert missing.value.param == "unit_amount"


def test_tiers_only_when_expanded(client: stripe.StripeClient, product: stripe.Product) -> None:
    p = client.v1.prices.create(
        params={
            "product": product.id,
            "currency": "usd",
            "recurring": {"interval": "month"},
            "billing_scheme": "tiered",
            "tiers_mode": "graduated",
            "tiers": [{"up_to": 10, "unit_amount": 1000}, {"up_to": "inf", "unit_amount": 800}],
        }
    )
    assert "tiers" not in p
    assert p.unit_amount is None
    got = client.v1.prices.retrieve(p.id, params={"expand": ["tiers"]})
    assert got.tiers is not None
    assert [t.up_to for t in got.tiers] == [10, None]
    assert got.tiers[1].unit_amount_decimal == Decimal("800")
    listed = client.v1.prices.list(params={"expand": ["data.tiers"]})
    assert listed.data[0].tiers is not None and listed.data[0].tiers[0].unit_amount == 1000
    plain = client.v1.prices.list()
    assert "tiers" not in plain.data[0]
    with pytest.raises(stripe.InvalidRequestError) as exc:
        client.v1.prices.create(
            params={
                "product": product.id,
                "currency": "usd",
                "billing_scheme": "tiered",
                "tiers_mode": "volume",
                "tiers": [{"up_to": 10, "unit_amount": 1}],
            }
        )
    assert "inf" in str(exc.value.user_message)


def test_currency_options_echo_main_currency(
    client: stripe.StripeClient, product: stripe.Product
) -> None:
    p = _price(client, product, unit_amount=1000, currency_options={"eur": {"unit_amount": 900}})
    assert "currency_options" not in p
    got = client.v1.prices.retrieve(p.id, params={"expand": ["currency_options"]})
    opts = got.currency_options
    assert opts is not None
    assert set(opts.to_dict()) == {"usd", "eur"}
    assert opts["usd"].unit_amount == 1000
    assert opts["eur"].unit_amount_decimal == "900"  # untyped map: left as sent
    upd = client.v1.prices.update(
        p.id,
        params={"currency_options": {"gbp": {"unit_amount": 800}}, "expand": ["currency_options"]},
    )
    assert upd.currency_options is not None
    assert set(upd.currency_options.to_dict()) == {"usd", "eur", "gbp"}


def test_transform_quantity_and_product_data(client: stripe.StripeClient) -> None:
    p = client.v1.prices.create(
        params={
            "currency": "usd",
            "unit_amount": 500,
            "product_data": {"name": "Inline", "metadata": {"k": "v"}},
            "transform_quantity": {"divide_by": 10, "round": "up"},
            "expand": ["product"],
        }
    )
    assert p.transform_quantity is not None
    assert p.transform_quantity.divide_by == 10
    assert isinstance(p.product, stripe.Product)
    assert p.product.name == "Inline"
    assert p.product.metadata["k"] == "v"


def test_immutable_fields_rejected_on_update(
    client: stripe.StripeClient, product: stripe.Product
) -> None:
    p = _price(client, product, unit_amount=1000)
    for field, value in (
        ("unit_amount", 2000),
        ("currency", "eur"),
        ("recurring", {"interval": "year"}),
    ):
        with pytest.raises(stripe.InvalidRequestError) as exc:
            client.v1.prices.update(p.id, params={field: value})  # type: ignore[arg-type]
        assert exc.value.http_status == 400
        assert exc.value.param is not None and exc.value.param.startswith(field)
        assert "Received unknown parameter" in str(exc.value.user_message)
    assert client.v1.prices.retrieve(p.id).unit_amount == 1000
    upd = client.v1.prices.update(
        p.id, params={"nickname": "n", "metadata": {"a": "1"}, "tax_behavior": "exclusive"}
    )
    assert upd.nickname == "n"
    assert upd.tax_behavior == "exclusive"
    with pytest.raises(stripe.InvalidRequestError) as exc2:
        client.v1.prices.update(p.id, params={"tax_behavior": "inclusive"})
    assert exc2.value.param == "tax_behavior"
    # The SDK types `nickname` as `str` (no `Literal['']`): Stripe refuses to unset it.
    with pytest.raises(stripe.InvalidRequestError) as exc3:
        client.v1.prices.update(p.id, params={"nickname": ""})
    assert exc3.value.code == "parameter_invalid_empty"
    assert exc3.value.param == "nickname"


def test_lookup_key_collision_and_transfer(
    client: stripe.StripeClient, product: stripe.Product
) -> None:
    a = _price(client, product, lookup_key="pro-monthly")
    with pytest.raises(stripe.InvalidRequestError) as exc:
        _price(client, product, lookup_key="pro-monthly")
    assert exc.value.param == "lookup_key"
    assert a.id in str(exc.value.user_message)
    b = _price(
        client, product, unit_amount=2000, lookup_key="pro-monthly", transfer_lookup_key=True
    )
    assert b.lookup_key == "pro-monthly"
    assert client.v1.prices.retrieve(a.id).lookup_key is None
    # Transfer back on update.
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.prices.update(a.id, params={"lookup_key": "pro-monthly"})
    moved = client.v1.prices.update(
        a.id, params={"lookup_key": "pro-monthly", "transfer_lookup_key": True}
    )
    assert moved.lookup_key == "pro-monthly"
    assert client.v1.prices.retrieve(b.id).lookup_key is None
    found = client.v1.prices.list(params={"lookup_keys": ["pro-monthly"]})
    assert [p.id for p in found.data] == [a.id]
    # `lookup_key` is typed `str` (no `Literal['']`): it cannot be unset with "".
    with pytest.raises(stripe.InvalidRequestError) as exc2:
        client.v1.prices.update(a.id, params={"lookup_key": ""})
    assert exc2.value.code == "parameter_invalid_empty"
    assert client.v1.prices.retrieve(a.id).lookup_key == "pro-monthly"


def test_list_filters(client: stripe.StripeClient, product: stripe.Product) -> None:
    other = client.v1.products.create(params={"name": "Other"})
    monthly = _price(client, product, recurring={"interval": "month"})
    once = _price(client, product)
    eur = _price(client, other, currency="eur", recurring={"interval": "year"})
    archived = _price(client, product, recurring={"interval": "month"})
    client.v1.prices.update(archived.id, params={"active": False})

    def ids(**params: Any) -> list[str]:
        return [p.id for p in client.v1.prices.list(params=params).data]  # type: ignore[arg-type]

    assert ids() == [eur.id, once.id, monthly.id]  # active only by default, newest first
    assert ids(active=False) == [archived.id]
    assert ids(product=product.id) == [once.id, monthly.id]
    assert ids(product=product.id, active=False) == [archived.id]
    assert ids(type="one_time") == [once.id]
    assert ids(currency="eur") == [eur.id]
    assert ids(recurring={"interval": "month"}) == [monthly.id]
    with pytest.raises(stripe.InvalidRequestError) as exc:
        client.v1.prices.list(params={"lookup_keys": [f"k{i}" for i in range(11)]})
    assert exc.value.param == "lookup_keys"


def test_no_delete_and_missing(client: stripe.StripeClient, product: stripe.Product) -> None:
    with pytest.raises(stripe.InvalidRequestError) as exc:
        client.v1.prices.retrieve("price_missing")
    assert exc.value.http_status == 404
    assert exc.value.code == "resource_missing"
    with pytest.raises(stripe.InvalidRequestError) as exc2:
        client.v1.prices.create(
            params={"product": "prod_missing", "currency": "usd", "unit_amount": 1}
        )
    assert exc2.value.param == "product"
    assert exc2.value.code == "resource_missing"


def test_invalid_currency_and_enum(client: stripe.StripeClient, product: stripe.Product) -> None:
    with pytest.raises(stripe.InvalidRequestError) as exc:
        _price(client, product, currency="usdd")
    assert exc.value.param == "currency"
    with pytest.raises(stripe.InvalidRequestError) as exc2:
        _price(client, product, recurring={"interval": "fortnight"})
    assert exc2.value.param == "recurring[interval]"
    with pytest.raises(stripe.InvalidRequestError) as exc3:
        _price(client, product, unit_amount=-5)
    assert exc3.value.param == "unit_amount"
