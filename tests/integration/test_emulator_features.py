"""Contract tests: entitlement features and product features through the official stripe client."""

from __future__ import annotations

import pytest
import stripe

from tests.helpers import EmulatorHandle


def test_feature_create_update_archive(emulator: EmulatorHandle) -> None:
    c = emulator.client()
    f = c.v1.entitlements.features.create(
        params={"name": "SSO", "lookup_key": "sso", "metadata": {"team": "id"}}
    )
    assert f.id.startswith("feat_test_") and f.object == "entitlements.feature"
    assert (f.name, f.lookup_key, f.active, f.livemode) == ("SSO", "sso", True, False)
    upd = c.v1.entitlements.features.update(
        f.id, params={"name": "Single sign-on", "metadata": {"team": "", "x": "1"}}
    )
    assert upd.name == "Single sign-on" and upd.metadata.to_dict() == {"x": "1"}
    assert c.v1.entitlements.features.retrieve(f.id).name == "Single sign-on"
    archived = c.v1.entitlements.features.update(f.id, params={"active": False})
    assert archived.active is False
    # Archiving is permanent ("permanently deactivate it").
    with pytest.raises(stripe.InvalidRequestError) as exc:
        c.v1.entitlements.features.update(f.id, params={"active": True})
    assert exc.value.param == "active" and exc.value.http_status == 400
    assert c.v1.entitlements.features.retrieve(f.id).active is False


def test_lookup_key_unique_among_active_features_only(emulator: EmulatorHandle) -> None:
    c = emulator.client()
    f = c.v1.entitlements.features.create(params={"name": "SSO", "lookup_key": "sso"})
    with pytest.raises(stripe.InvalidRequestError) as exc:
        c.v1.entitlements.features.create(params={"name": "SSO 2", "lookup_key": "sso"})
    assert exc.value.param == "lookup_key" and exc.value.code == "resource_already_exists"
    c.v1.entitlements.features.update(f.id, params={"active": False})
    again = c.v1.entitlements.features.create(params={"name": "SSO 2", "lookup_key": "sso"})
    assert again.id != f.id and again.lookup_key == "sso"


def test_feature_params_refused(emulator: EmulatorHandle) -> None:
    c = emulator.client()
    with pytest.raises(stripe.InvalidRequestError) as missing:
        c.v1.entitlements.features.create(params={"name": "SSO"})  # type: ignore[typeddict-item]
    assert missing.value.param == "lookup_key"
    with pytest.raises(stripe.InvalidRequestError) as long_name:
        c.v1.entitlements.features.create(params={"name": "x" * 81, "lookup_key": "a"})
    assert long_name.value.param == "name"
    f = c.v1.entitlements.features.create(params={"name": "SSO", "lookup_key": "sso"})
    with pytest.raises(stripe.InvalidRequestError) as empty:
        c.v1.entitlements.features.update(f.id, params={"name": ""})
    assert empty.value.code == "parameter_invalid_empty"
    with pytest.raises(stripe.InvalidRequestError) as immutable:
        c.v1.entitlements.features.update(f.id, params={"lookup_key": "x"})  # type: ignore[arg-type]
    assert immutable.value.code == "parameter_unknown"
    with pytest.raises(stripe.InvalidRequestError) as gone:
        c.v1.entitlements.features.retrieve("feat_test_nope")
    assert (
        gone.value.http_status == 404
        and gone.value.user_message == "No such feature: 'feat_test_nope'"
    )


def test_feature_list_active_unless_archived_asked(emulator: EmulatorHandle) -> None:
    c = emulator.client()
    ids = [
        c.v1.entitlements.features.create(params={"name": f"F{n}", "lookup_key": f"f{n}"}).id
        for n in range(5)
    ]
    c.v1.entitlements.features.update(ids[1], params={"active": False})
    active = [f.id for f in c.v1.entitlements.features.list(params={"limit": 2}).auto_paging_iter()]
    assert active == [ids[4], ids[3], ids[2], ids[0]]
    archived = c.v1.entitlements.features.list(params={"archived": True})
    assert [f.id for f in archived.data] == [ids[1]]
    by_key = c.v1.entitlements.features.list(params={"lookup_key": "f3"})
    assert [f.id for f in by_key.data] == [ids[3]]


def test_product_features_attach_list_detach(emulator: EmulatorHandle) -> None:
    c = emulator.client()
    pro = c.v1.products.create(params={"id": "pro", "name": "Pro"})
    other = c.v1.products.create(params={"name": "Other"})
    feats = [
        c.v1.entitlements.features.create(params={"name": f"F{n}", "lookup_key": f"f{n}"})
        for n in range(3)
    ]
    attached = [
        c.v1.products.features.create(pro.id, params={"entitlement_feature": f.id}) for f in feats
    ]
    assert attached[0].object == "product_feature"
    assert attached[0].entitlement_feature.id == feats[0].id
    assert attached[0].entitlement_feature.lookup_key == "f0"
    c.v1.products.features.create(other.id, params={"entitlement_feature": feats[0].id})
    listed = c.v1.products.features.list(pro.id, params={"limit": 2})
    assert listed.url == "/v1/products/pro/features"
    ids = [pf.id for pf in listed.auto_paging_iter()]
    assert ids == [a.id for a in reversed(attached)]
    got = c.v1.products.features.retrieve(pro.id, attached[1].id)
    assert got.entitlement_feature.id == feats[1].id
    deleted = c.v1.products.features.delete(pro.id, attached[1].id)
    assert deleted.deleted is True and deleted.id == attached[1].id
    remaining = [pf.id for pf in c.v1.products.features.list(pro.id).data]
    assert remaining == [attached[2].id, attached[0].id]
    with pytest.raises(stripe.InvalidRequestError) as gone:
        c.v1.products.features.delete(pro.id, attached[1].id)
    assert gone.value.http_status == 404
    # Another product's attachment is not reachable through this product.
    with pytest.raises(stripe.InvalidRequestError) as elsewhere:
        c.v1.products.features.retrieve(other.id, attached[0].id)
    assert elsewhere.value.http_status == 404


def test_attach_refusals(emulator: EmulatorHandle) -> None:
    c = emulator.client()
    pro = c.v1.products.create(params={"name": "Pro"})
    f = c.v1.entitlements.features.create(params={"name": "SSO", "lookup_key": "sso"})
    c.v1.products.features.create(pro.id, params={"entitlement_feature": f.id})
    with pytest.raises(stripe.InvalidRequestError) as twice:
        c.v1.products.features.create(pro.id, params={"entitlement_feature": f.id})
    assert twice.value.param == "entitlement_feature"
    with pytest.raises(stripe.InvalidRequestError) as unknown:
        c.v1.products.features.create(pro.id, params={"entitlement_feature": "feat_test_x"})
    assert unknown.value.code == "resource_missing" and unknown.value.http_status == 400
    with pytest.raises(stripe.InvalidRequestError) as no_product:
        c.v1.products.features.create("prod_nope", params={"entitlement_feature": f.id})
    assert no_product.value.http_status == 404
    archived = c.v1.entitlements.features.create(params={"name": "Old", "lookup_key": "old"})
    c.v1.entitlements.features.update(archived.id, params={"active": False})
    with pytest.raises(stripe.InvalidRequestError) as inactive:
        c.v1.products.features.create(pro.id, params={"entitlement_feature": archived.id})
    assert inactive.value.param == "entitlement_feature"
