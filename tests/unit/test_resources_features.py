"""The rules of entitlement features and their attachments to products, planned in-process."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import replace
from typing import Any

from billing_sync.changes import Adopt, Archive, Create, Detach, Reason, Replace
from billing_sync.plan.graph import dependencies
from billing_sync.resources import FEATURE, KINDS, PRODUCT, PRODUCT_FEATURE, Existing, Snapshot
from billing_sync.resources.feature import FeatureState
from billing_sync.resources.product_feature import ProductFeatureState
from tests.unit.plan_helpers import applied, config, op_ids, plan_for, with_snapshot

CATALOG = """
version: 1
features:
  sso: {name: SSO}
  audit: {name: Audit log}
products:
  pro:
    name: Pro
    features: [sso, audit]
  basic:
    name: Basic
    features: [audit]
policies: {max_destroy_percent: 100}
"""


def test_applied_catalog_plans_nothing() -> None:
    cfg = config(CATALOG)
    assert op_ids(plan_for(cfg, applied(cfg))) == []


def test_new_catalog_creates_features_then_attaches() -> None:
    plan = plan_for(config(CATALOG), Existing())
    creates = [c for c in plan.changes if isinstance(c, Create) and c.kind == "product_feature"]
    assert sorted(c.key for c in creates) == ["basic/audit", "pro/audit", "pro/sso"]
    pro_sso = next(c for c in creates if c.key == "pro/sso")
    assert pro_sso.request.path == "/v1/products/pro/features"
    assert pro_sso.request.params == {"entitlement_feature": "${feature:sso}"}
    edges = dependencies(plan.changes, {k.name for k in KINDS})
    assert set(edges[pro_sso.id]) == {"feature.create:sso", "product.create:pro"}


def test_removed_feature_is_detached_then_archived_for_good() -> None:
    before = config(CATALOG)
    after = config(
        CATALOG.replace("  audit: {name: Audit log}\n", "")
        .replace("[sso, audit]", "[sso]")
        .replace("    features: [audit]\n", "")
    )
    plan = plan_for(after, applied(before))
    detaches = [c for c in plan.changes if isinstance(c, Detach)]
    assert sorted(c.key for c in detaches) == ["basic/audit", "pro/audit"]
    assert all(c.destructive and c.reason is Reason.REMOVED for c in detaches)
    assert detaches[0].request.method == "delete"
    archive = next(c for c in plan.changes if isinstance(c, Archive))
    assert (archive.key, archive.request.params) == ("audit", {"active": False})
    assert archive.destructive
    edges = dependencies(plan.changes, {k.name for k in KINDS})
    assert set(edges[archive.id]) == {c.id for c in detaches}


def test_detaching_from_one_product_keeps_the_feature() -> None:
    before = config(CATALOG)
    after = config(CATALOG.replace("[sso, audit]", "[sso]"))
    plan = plan_for(after, applied(before))
    assert op_ids(plan) == ["product_feature.detach:pro/audit"]
    (detach,) = plan.changes
    assert detach.request.path == "/v1/products/pro/features/prodft_pro_audit"


def test_archived_product_keeps_what_it_granted() -> None:
    """A product removed from billing.yaml is archived, not gone: its subscribers keep its
    features while the features are still declared."""
    before = config(CATALOG)
    after = config(CATALOG.replace("  basic:\n    name: Basic\n    features: [audit]\n", ""))
    plan = plan_for(after, applied(before))
    assert op_ids(plan) == ["product.archive:basic"]


def test_lookup_key_change_replaces_and_moves_the_links() -> None:
    before = config(CATALOG)
    after = config(CATALOG.replace("sso: {name: SSO}", "sso: {name: SSO, lookup_key: sso-v2}"))
    plan = plan_for(after, applied(before))
    replace_ = next(c for c in plan.changes if isinstance(c, Replace))
    assert replace_.request.params["lookup_key"] == "sso-v2"
    assert replace_.stripe_id == "feat_sso"
    attach = next(c for c in plan.changes if isinstance(c, Create))
    assert (attach.key, attach.request.params) == (
        "pro/sso",
        {"entitlement_feature": "${feature:sso}"},
    )
    detach = next(c for c in plan.changes if isinstance(c, Detach))
    # A moved link is not destructive: pro still grants sso.
    assert detach.reason is Reason.REPLACED and not detach.destructive
    old = next(c for c in plan.changes if isinstance(c, Archive))
    assert old.reason is Reason.REPLACED and old.stripe_id == "feat_sso"
    edges = dependencies(plan.changes, {k.name for k in KINDS})
    assert set(edges[old.id]) == {replace_.id, detach.id}


def test_swapping_two_lookup_keys_orders_without_a_cycle() -> None:
    text = CATALOG.replace("sso: {name: SSO}", "sso: {name: SSO, lookup_key: audit}").replace(
        "audit: {name: Audit log}", "audit: {name: Audit log, lookup_key: sso}"
    )
    plan = plan_for(config(text), applied(config(CATALOG)))
    edges = dependencies(plan.changes, {k.name for k in KINDS})
    # Each new feature waits for the archive that frees its lookup key.
    assert "feature.archive.old:audit" in edges["feature.replace:sso"]
    assert "feature.archive.old:sso" in edges["feature.replace:audit"]


def _unmanaged_feature(existing: Existing, **kw: Any) -> Existing:
    snap = existing.of(FEATURE)
    state = FeatureState(**{"key": "feat_theirs", "name": "Theirs", "id": "feat_theirs", **kw})
    return with_snapshot(existing, FEATURE, unmanaged=(*snap.unmanaged, state))


def test_unmanaged_feature_with_the_lookup_key_is_adopted() -> None:
    cfg = config(CATALOG)
    existing = applied(cfg)
    features = dict(existing.of(FEATURE).managed)
    del features["sso"]
    existing = with_snapshot(existing, FEATURE, managed=features)
    links = {k: v for k, v in existing.of(PRODUCT_FEATURE).managed.items() if k != "pro/sso"}
    existing = with_snapshot(existing, PRODUCT_FEATURE, managed=links)
    existing = _unmanaged_feature(existing, lookup_key="sso", name="Single sign-on")
    plan = plan_for(cfg, existing)
    adopt = next(c for c in plan.changes if isinstance(c, Adopt))
    assert adopt.request.path == "/v1/entitlements/features/feat_theirs"
    assert adopt.request.params == {"metadata": {"billing_sync_key": "sso"}, "name": "SSO"}
    assert adopt.symbol == "<="
    attach = next(c for c in plan.changes if isinstance(c, Create))
    assert attach.request.params == {"entitlement_feature": "feat_theirs"}
    assert not [c for c in plan.changes if c.kind == "feature" and isinstance(c, Create)]


def test_lookup_key_held_by_an_unmanaged_feature_is_a_conflict() -> None:
    before = config(CATALOG)
    existing = _unmanaged_feature(applied(before), lookup_key="sso-v2")
    after = config(CATALOG.replace("sso: {name: SSO}", "sso: {name: SSO, lookup_key: sso-v2}"))
    plan = plan_for(after, existing)
    assert len(plan.conflicts) == 1 and "feat_theirs" in plan.conflicts[0]
    assert not [c for c in plan.changes if c.kind == "feature"]
    assert not [c for c in plan.changes if c.key == "pro/sso"]


def test_unmanaged_links_and_features_are_never_touched() -> None:
    cfg = config(CATALOG)
    existing = _unmanaged_feature(applied(cfg), lookup_key="theirs")
    link = ProductFeatureState(
        key="pro/feat_theirs",
        product="pro",
        feature="feat_theirs",
        id="prodft_theirs",
        product_id="pro",
        feature_id="feat_theirs",
    )
    existing = with_snapshot(existing, PRODUCT_FEATURE, unmanaged=(link,))
    plan = plan_for(cfg, existing)
    assert op_ids(plan) == []
    assert plan.unmanaged == {"features": 1, "product_features": 1}


def test_readding_an_archived_feature_creates_a_new_one() -> None:
    cfg = config(CATALOG)
    existing = applied(cfg)
    features = dict(existing.of(FEATURE).managed)
    features["sso"] = replace(features["sso"], active=False)
    existing = with_snapshot(existing, FEATURE, managed=features)
    links = {k: v for k, v in existing.of(PRODUCT_FEATURE).managed.items() if k != "pro/sso"}
    existing = with_snapshot(existing, PRODUCT_FEATURE, managed=links)
    plan = plan_for(cfg, existing)
    assert op_ids(plan) == ["feature.create:sso", "product_feature.create:pro/sso"]
    assert "feat_sso stays archived" in plan.changes[0].notes[0]


def test_a_stale_active_duplicate_is_archived() -> None:
    cfg = config(CATALOG)
    existing = applied(cfg)
    twin = FeatureState(key="sso", name="SSO", lookup_key="sso-old", id="feat_twin")
    existing = with_snapshot(existing, FEATURE, others=(twin,))
    plan = plan_for(cfg, existing)
    assert op_ids(plan) == ["feature.archive.stale.feat_twin:sso"]


class _Pages:
    """A `pages` reader that records what it is asked for."""

    def __init__(self, lists: Mapping[str, list[dict[str, Any]]]) -> None:
        self.lists = lists
        self.asked: list[str] = []

    def __call__(self, path: str, params: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
        self.asked.append(path)
        return iter(self.lists.get(path, []))


def test_reading_links_costs_nothing_without_features() -> None:
    existing = applied(config(CATALOG))
    existing = with_snapshot(existing, FEATURE, managed={})
    pages = _Pages({})
    assert PRODUCT_FEATURE.read([], existing, pages) == Snapshot()
    assert pages.asked == []


def test_reading_links_classifies_by_both_ends() -> None:
    existing = applied(config(CATALOG))
    existing = _unmanaged_feature(existing, lookup_key="theirs")
    products = existing.of(PRODUCT)
    existing = with_snapshot(
        existing,
        PRODUCT,
        unmanaged=(replace(products.managed["pro"], key="prod_x", id="prod_x"),),
    )

    def link(pid: str, fid: str, active: bool = True) -> dict[str, Any]:
        return {"id": f"prodft_{pid}_{fid}", "entitlement_feature": {"id": fid, "active": active}}

    pages = _Pages(
        {
            "/v1/products/pro/features": [link("pro", "feat_sso"), link("pro", "feat_theirs")],
            "/v1/products/prod_x/features": [link("prod_x", "feat_sso")],
        }
    )
    snap = PRODUCT_FEATURE.read([], existing, pages)
    assert sorted(pages.asked) == [
        "/v1/products/basic/features",
        "/v1/products/pro/features",
        "/v1/products/prod_x/features",
    ]
    assert list(snap.managed) == ["pro/sso"]
    assert sorted(u.key for u in snap.unmanaged) == ["pro/feat_theirs", "prod_x/sso"]


def test_an_adopted_products_undeclared_links_to_managed_features_are_detached_at_once() -> None:
    """The product is adopted in this plan: its link to a managed feature that billing.yaml does
    not list is detached now (one apply converges); a link to an unmanaged feature stays."""
    cfg = config(CATALOG.replace("[sso, audit]", "[sso]"))
    existing = _unmanaged_feature(applied(config(CATALOG)), lookup_key="theirs")
    products = existing.of(PRODUCT)
    pro = products.managed["pro"]
    existing = with_snapshot(
        existing,
        PRODUCT,
        managed={k: v for k, v in products.managed.items() if k != "pro"},
        unmanaged=(replace(pro, key="pro"),),
    )
    links = existing.of(PRODUCT_FEATURE).managed

    def unmanaged(a: ProductFeatureState) -> ProductFeatureState:
        return replace(a, key=f"pro/{a.feature_id}", product="pro")

    theirs = ProductFeatureState(
        key="pro/feat_theirs",
        product="pro",
        feature="feat_theirs",
        id="prodft_theirs",
        product_id="pro",
        feature_id="feat_theirs",
    )
    existing = with_snapshot(
        existing,
        PRODUCT_FEATURE,
        managed={k: v for k, v in links.items() if not k.startswith("pro/")},
        unmanaged=(unmanaged(links["pro/sso"]), unmanaged(links["pro/audit"]), theirs),
    )
    plan = plan_for(cfg, existing)
    assert op_ids(plan) == ["product.adopt:pro", "product_feature.detach:pro/audit"]
    assert plan.changes[1].request.path == "/v1/products/pro/features/prodft_pro_audit"
