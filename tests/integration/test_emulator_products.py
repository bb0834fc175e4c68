"""Contract tests: products through the official stripe client against the emulator."""

from __future__ import annotations

import pytest
import stripe

from tests.helpers import EmulatorHandle


def test_create_retrieve_update_product(emulator: EmulatorHandle) -> None:
    c = emulator.client()
    p = c.v1.products.create(params={"name": "Pro", "metadata": {"tier": "2", "x": "y"}})
    assert p.id.startswith("prod_")
    assert p.object == "product"
    assert p.active is True
    assert p.livemode is False
    assert p.metadata.to_dict() == {"tier": "2", "x": "y"}
    got = c.v1.products.retrieve(p.id)
    assert got.name == "Pro"
    upd = c.v1.products.update(
        p.id, params={"name": "Pro 2", "metadata": {"x": "", "z": "1"}, "description": "d"}
    )
    assert upd.name == "Pro 2"
    assert upd.description == "d"
    assert upd.metadata.to_dict() == {"tier": "2", "z": "1"}
    cleared = c.v1.products.update(p.id, params={"metadata": "", "description": ""})
    assert cleared.metadata.to_dict() == {}
    assert cleared.description is None


def test_custom_id_and_collision(emulator: EmulatorHandle) -> None:
    c = emulator.client()
    p = c.v1.products.create(params={"id": "pro", "name": "Pro"})
    assert p.id == "pro"
    with pytest.raises(stripe.InvalidRequestError) as exc:
        c.v1.products.create(params={"id": "pro", "name": "Pro again"})
    assert exc.value.code == "resource_already_exists"
    assert exc.value.param == "id"
    assert exc.value.http_status == 400


def test_missing_name_and_404(emulator: EmulatorHandle) -> None:
    c = emulator.client()
    with pytest.raises(stripe.InvalidRequestError) as exc:
        c.v1.products.create(params={})  # type: ignore[typeddict-item]
    assert exc.value.param == "name"
    assert "Missing required param: name" in str(exc.value.user_message)
    with pytest.raises(stripe.InvalidRequestError) as exc404:
        c.v1.products.retrieve("prod_nope")
    assert exc404.value.http_status == 404
    assert exc404.value.code == "resource_missing"
    assert exc404.value.user_message == "No such product: 'prod_nope'"


def test_default_price_rules(emulator: EmulatorHandle) -> None:
    c = emulator.client()
    a = c.v1.products.create(params={"name": "A"})
    b = c.v1.products.create(params={"name": "B"})
    pa = c.v1.prices.create(params={"product": a.id, "currency": "usd", "unit_amount": 100})
    pb = c.v1.prices.create(params={"product": b.id, "currency": "usd", "unit_amount": 100})
    with pytest.raises(stripe.InvalidRequestError) as exc:
        c.v1.products.update(a.id, params={"default_price": pb.id})
    assert exc.value.param == "default_price"
    upd = c.v1.products.update(a.id, params={"default_price": pa.id, "expand": ["default_price"]})
    assert upd.default_price.id == pa.id  # type: ignore[union-attr]
    # Archiving the default price is refused; after moving the default it is allowed.
    with pytest.raises(stripe.InvalidRequestError) as exc2:
        c.v1.prices.update(pa.id, params={"active": False})
    assert exc2.value.param == "active"
    assert c.v1.prices.retrieve(pa.id).active is True
    pa2 = c.v1.prices.create(params={"product": a.id, "currency": "usd", "unit_amount": 200})
    c.v1.products.update(a.id, params={"default_price": pa2.id})
    assert c.v1.prices.update(pa.id, params={"active": False}).active is False


def test_default_price_data_on_create(emulator: EmulatorHandle) -> None:
    c = emulator.client()
    p = c.v1.products.create(
        params={
            "name": "P",
            "default_price_data": {
                "currency": "eur",
                "unit_amount": 500,
                "recurring": {"interval": "year"},
            },
        }
    )
    assert isinstance(p.default_price, str)
    price = c.v1.prices.retrieve(p.default_price)
    assert price.product == p.id
    assert price.recurring is not None and price.recurring.interval == "year"


def test_delete_only_without_prices(emulator: EmulatorHandle) -> None:
    c = emulator.client()
    p = c.v1.products.create(params={"name": "Gone"})
    deleted = c.v1.products.delete(p.id)
    assert deleted.deleted is True
    with pytest.raises(stripe.InvalidRequestError):
        c.v1.products.retrieve(p.id)
    q = c.v1.products.create(params={"name": "Kept"})
    c.v1.prices.create(params={"product": q.id, "currency": "usd", "unit_amount": 1})
    with pytest.raises(stripe.InvalidRequestError) as exc:
        c.v1.products.delete(q.id)
    assert "prices" in str(exc.value.user_message)
    assert c.v1.products.retrieve(q.id).id == q.id


def test_list_active_and_ids(emulator: EmulatorHandle) -> None:
    c = emulator.client()
    ids = [c.v1.products.create(params={"name": f"P{i}"}).id for i in range(5)]
    c.v1.products.update(ids[1], params={"active": False})
    page = c.v1.products.list()
    assert [p.id for p in page.data] == list(reversed(ids))
    assert page.url == "/v1/products"
    assert page.has_more is False
    inactive = c.v1.products.list(params={"active": False})
    assert [p.id for p in inactive.data] == [ids[1]]
    active = c.v1.products.list(params={"active": True})
    assert ids[1] not in [p.id for p in active.data]
    assert len(active.data) == 4
    chosen = c.v1.products.list(params={"ids": [ids[0], ids[3]]})
    assert [p.id for p in chosen.data] == [ids[3], ids[0]]
    with pytest.raises(stripe.InvalidRequestError) as exc:
        c.v1.products.list(params={"ids": [ids[0]], "starting_after": ids[2]})
    assert exc.value.param == "ids"


def test_statement_descriptor_rules(emulator: EmulatorHandle) -> None:
    c = emulator.client()
    with pytest.raises(stripe.InvalidRequestError) as exc:
        c.v1.products.create(params={"name": "x", "statement_descriptor": "A" * 23})
    assert exc.value.param == "statement_descriptor"
    with pytest.raises(stripe.InvalidRequestError):
        c.v1.products.create(params={"name": "x", "statement_descriptor": "bad<"})
