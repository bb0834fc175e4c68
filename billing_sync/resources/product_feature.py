"""Product features: which entitlement features a product grants (`products.X.features`),
attached and detached one link at a time; links to unmanaged products or features are never touched.

An attachment has no fields and no metadata of its own in Stripe: it is the pair (product,
feature), identified here as `product-key/feature-key`. It is billing-sync's when both ends
are. Stripe lists attachments per product only (`/v1/products/{id}/features`), so reading them
costs one list request per product, and none when the account has no features at all.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import Any

from billing_sync.changes import (
    Change,
    Create,
    Detach,
    KindPlan,
    Reason,
    Request,
    Stage,
    release_token,
)
from billing_sync.config.models import BillingConfig
from billing_sync.metadata import LOCK_PRODUCT_ID
from billing_sync.remote.pages import id_of
from billing_sync.resources.base import (
    Existing,
    IdKeys,
    Imported,
    Kind,
    Pages,
    PlanContext,
    Snapshot,
)
from billing_sync.resources.feature import FEATURE
from billing_sync.resources.product import PRODUCT

# Attachment lists read at once (one per product); the reader's limiter paces them.
READ_CONCURRENCY = 4


@dataclass(frozen=True, slots=True)
class ProductFeatureState:
    key: str  # "<product key>/<feature key>" (an unmanaged end: its Stripe id)
    product: str  # product key (unmanaged: the product id)
    feature: str  # feature key (unmanaged: the feature id)
    active: bool = True  # existing only: whether the attached feature is active
    id: str | None = None  # existing only: the product_feature id
    product_id: str | None = None  # existing only
    feature_id: str | None = None  # existing only


def attachment_key(product: str, feature: str) -> str:
    return f"{product}/{feature}"


class ProductFeatureKind(Kind[ProductFeatureState]):
    name = "product_feature"
    plural = "product_features"
    # Existence only: Stripe's attachment has nothing to change (a different feature or
    # product is another attachment).
    fields = ()
    # Read per product from `read` (Stripe has no account-wide list of attachments).
    list_reads = ()

    # -- billing.yaml ------------------------------------------------------------------------
    def desired(self, config: BillingConfig) -> dict[str, ProductFeatureState]:
        return {
            attachment_key(pk, fk): ProductFeatureState(
                key=attachment_key(pk, fk), product=pk, feature=fk
            )
            for pk, product in config.products.items()
            for fk in product.features
        }

    def render(self, state: ProductFeatureState) -> tuple[tuple[str, ...], Any]:
        # A list item: the importer joins the attachments of one product into its list.
        return ("products", state.product, "features"), [state.feature]

    # -- Stripe ------------------------------------------------------------------------------
    def read(
        self, objects: Iterable[dict[str, Any]], existing: Existing, pages: Pages
    ) -> Snapshot[ProductFeatureState]:
        features = existing.of(FEATURE)
        if not (features.managed or features.others or features.unmanaged):
            return Snapshot()  # no feature in the account: no product can grant one
        products = existing.of(PRODUCT)
        product_keys = {p.id: p.key for p in products.managed.values()}
        product_ids = sorted(
            {p.id for p in (*products.managed.values(), *products.unmanaged)} - {LOCK_PRODUCT_ID}
        )
        feature_keys = {f.id: f.key for f in (*features.managed.values(), *features.others)}
        current = {f.id for f in features.managed.values()}

        def attachments(product_id: str) -> list[dict[str, Any]]:
            return list(pages(f"/v1/products/{product_id}/features", {}))

        with ThreadPoolExecutor(READ_CONCURRENCY, thread_name_prefix="read-features") as pool:
            found = list(zip(product_ids, pool.map(attachments, product_ids), strict=True))
        managed: dict[str, ProductFeatureState] = {}
        others: list[ProductFeatureState] = []
        unmanaged: list[ProductFeatureState] = []
        for product_id, objs in found:
            for obj in objs:
                feature = obj.get("entitlement_feature")
                feature_id = id_of(feature) or ""
                active = bool(feature.get("active", True)) if isinstance(feature, dict) else True
                pkey = product_keys.get(product_id)
                fkey = feature_keys.get(feature_id)
                state = ProductFeatureState(
                    key=attachment_key(pkey or product_id, fkey or feature_id),
                    product=pkey or product_id,
                    feature=fkey or feature_id,
                    active=active,
                    id=obj["id"],
                    product_id=product_id,
                    feature_id=feature_id,
                )
                if pkey is None or fkey is None:
                    unmanaged.append(state)
                elif state.key in managed or feature_id not in current:
                    others.append(state)
                else:
                    managed[state.key] = state
        return Snapshot(managed=managed, others=tuple(others), unmanaged=tuple(unmanaged))

    def stripe_id(self, state: ProductFeatureState) -> str | None:
        return state.id

    def is_live(self, state: ProductFeatureState) -> bool:
        return state.active

    def targets(self, desired: Any, existing: Existing) -> Mapping[str, str]:
        return {}  # nothing refers to an attachment

    # -- import ------------------------------------------------------------------------------
    def import_key(self, state: ProductFeatureState, ids: IdKeys) -> str:
        return state.key

    def import_state(
        self, state: ProductFeatureState, key: str, ids: IdKeys
    ) -> Imported[ProductFeatureState]:
        product = ids.get(PRODUCT.name, {}).get(state.product_id or "")
        feature = ids.get(FEATURE.name, {}).get(state.feature_id or "")
        if product is None or feature is None:
            missing = (
                f"its product {state.product_id}"
                if product is None
                else f"its feature {state.feature_id}"
            )
            return Imported.skip(f"product feature {state.id}: {missing} is not imported")
        return Imported(
            replace(state, key=attachment_key(product, feature), product=product, feature=feature)
        )

    # -- comparison --------------------------------------------------------------------------
    def compare(self, context: PlanContext) -> KindPlan:
        snapshot = context.existing.of(self)
        everything = (*snapshot.managed.values(), *snapshot.others, *snapshot.unmanaged)
        by_ends = {(a.product_id, a.feature_id): a for a in everything}
        changes: list[Change] = []
        kept: set[str] = set()
        untouchable: set[str] = set()  # a conflict of an end: its links stay as they are
        for key, d in context.desired.of(self).items():
            product_id = context.target(PRODUCT, d.product)
            feature_id = context.target(FEATURE, d.feature)
            if product_id is None or feature_id is None:
                untouchable.add(key)  # the conflict is reported by the product or the feature
                continue
            found = by_ends.get((product_id, feature_id))
            if found is not None:
                kept.add(found.id or "")
                continue
            changes.append(
                Create(
                    kind=self.name,
                    key=key,
                    request=Request(
                        "post",
                        f"/v1/products/{product_id}/features",
                        {"entitlement_feature": feature_id},
                    ),
                    summary=f"{d.product} grants {d.feature}",
                    needs=PRODUCT.needs_of(d.product) | FEATURE.needs_of(d.feature),
                )
            )
        declared_products = context.desired.of(PRODUCT)
        declared_features = context.desired.of(FEATURE)
        declared = context.desired.of(self)
        moved: set[str] = set()
        ours = (*snapshot.managed.values(), *snapshot.others, *self._adopted(context, snapshot))
        for a in sorted(ours, key=lambda a: a.key):
            if a.id in kept or a.key in untouchable:
                continue
            if a.product not in declared_products and a.feature in declared_features:
                # The product is archived, not gone: its subscribers keep what it granted.
                continue
            if a.key in declared:  # its feature was replaced: the link moves to the new one
                reason = Reason.STALE if a.key in moved else Reason.REPLACED
                moved.add(a.key)
            else:
                reason = Reason.REMOVED
            changes.append(self._detach(a, reason))
        return KindPlan(tuple(changes))

    def _adopted(
        self, context: PlanContext, snapshot: Snapshot[ProductFeatureState]
    ) -> list[ProductFeatureState]:
        """Unmanaged links whose ends are each managed or adopted in this plan: billing-sync's
        from this apply on, so what billing.yaml does not declare is detached now, not on the
        next run."""
        products = _owned(context, PRODUCT, context.existing.of(PRODUCT).managed)
        features = _owned(context, FEATURE, context.existing.of(FEATURE).managed)
        for f in context.existing.of(FEATURE).others:
            features.setdefault(f.id or "", f.key)
        out = []
        for a in snapshot.unmanaged:
            pkey = products.get(a.product_id or "")
            fkey = features.get(a.feature_id or "")
            if pkey is not None and fkey is not None:
                out.append(replace(a, key=attachment_key(pkey, fkey), product=pkey, feature=fkey))
        return out

    def _detach(self, a: ProductFeatureState, reason: Reason) -> Change:
        return Detach(
            kind=self.name,
            key=a.key,
            request=Request("delete", f"/v1/products/{a.product_id}/features/{a.id}", {}),
            stripe_id=a.id,
            reason=reason,
            stage=Stage.DESTROY if reason is Reason.REMOVED else Stage.CLEANUP,
            summary=f"{a.product} no longer grants {a.feature}",
            # Customers lose the feature at their next billing period.
            destructive=reason is Reason.REMOVED,
            # The feature's archive waits until no product grants it.
            provides=frozenset({release_token(a.feature_id or "")}),
        )


PRODUCT_FEATURE = ProductFeatureKind()


def _owned(context: PlanContext, kind: Kind[Any], managed: Mapping[str, Any]) -> dict[str, str]:
    """Stripe id -> key of `kind`'s objects billing-sync manages or adopts in this plan."""
    out = {kind.stripe_id(s) or "": key for key, s in managed.items()}
    for key, target in context.targets.get(kind.name, {}).items():
        out.setdefault(target, key)
    return out
