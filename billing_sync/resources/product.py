"""Products: fields updated in place, archive instead of delete, and the default price moved once prices exist."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from billing_sync.changes import (
    Archive,
    Change,
    Create,
    FieldChange,
    KindPlan,
    Reactivate,
    Reason,
    Request,
    Stage,
    Update,
    object_token,
    release_token,
)
from billing_sync.config.models import BillingConfig
from billing_sync.metadata import KEY_META, LOCK_PRODUCT_ID, managed_key, user_metadata
from billing_sync.remote.pages import id_of
from billing_sync.resources.base import (
    Desired,
    Existing,
    FieldSpec,
    IdKeys,
    Imported,
    Kind,
    ListRead,
    Mutability,
    Pages,
    PlanContext,
    Snapshot,
    Unset,
    adopt,
    create_changes,
    diff_fields,
    plain_specs,
    reachable,
    slug,
)


@dataclass(frozen=True, slots=True)
class ProductState:
    key: str
    id: str
    name: str | None
    description: str | None = None
    active: bool = True
    tax_code: str | None = None
    statement_descriptor: str | None = None
    unit_label: str | None = None
    url: str | None = None
    images: tuple[str, ...] = ()
    marketing_features: tuple[str, ...] = ()
    metadata: Mapping[str, str] = field(default_factory=dict)
    # desired: a price key of billing.yaml; existing: the Stripe price id
    default_price: str | None = None


def _features_param(names: tuple[str, ...]) -> Any:
    return [{"name": n} for n in names] if names else ""


class ProductKind(Kind[ProductState]):
    name = "product"
    plural = "products"
    fields = (
        FieldSpec("name", unset=Unset.REQUIRED),
        FieldSpec("description"),
        FieldSpec("active", unset=Unset.DEFAULT),
        FieldSpec("tax_code"),
        FieldSpec("statement_descriptor", unset=Unset.NEVER),
        FieldSpec("unit_label"),
        FieldSpec("url"),
        FieldSpec("images", to_param=list),
        FieldSpec("marketing_features", to_param=_features_param),
        FieldSpec("metadata", unset=Unset.MERGE),
        # The product id is its identity in Stripe: chosen at creation, never changed.
        FieldSpec("id", mutability=Mutability.CREATE_ONLY, unset=Unset.DEFAULT, own_rule=True),
        # Moved in a change of its own once the price exists: resources.price does it.
        FieldSpec("default_price", own_rule=True),
    )
    list_reads = (ListRead("/v1/products"),)

    # -- billing.yaml ------------------------------------------------------------------------
    def desired(self, config: BillingConfig) -> dict[str, ProductState]:
        return {
            key: ProductState(
                key=key,
                id=prod.id or key,
                name=prod.name,
                description=prod.description,
                active=prod.active,
                tax_code=prod.tax_code,
                statement_descriptor=prod.statement_descriptor,
                unit_label=prod.unit_label,
                url=prod.url,
                images=tuple(prod.images),
                marketing_features=tuple(prod.marketing_features),
                metadata=dict(prod.metadata),
                default_price=prod.default_price,
            )
            for key, prod in config.products.items()
        }

    def render(self, state: ProductState) -> tuple[tuple[str, ...], dict[str, Any]]:
        doc: dict[str, Any] = {"name": state.name}
        if state.id != state.key:
            doc["id"] = state.id
        for spec in plain_specs(self.fields):
            value = getattr(state, spec.name)
            if spec.name == "name" or value in (None, (), {}) or (spec.name == "active" and value):
                continue
            doc[spec.name] = list(value) if isinstance(value, tuple) else value
        if state.default_price:
            doc["default_price"] = state.default_price
        if "metadata" in doc:
            doc["metadata"] = dict(doc["metadata"])
        return ("products", state.key), doc

    # -- Stripe ------------------------------------------------------------------------------
    def read(
        self, objects: Iterable[dict[str, Any]], existing: Existing, pages: Pages
    ) -> Snapshot[ProductState]:
        managed: dict[str, ProductState] = {}
        unmanaged: list[ProductState] = []
        for obj in objects:
            if obj["id"] == LOCK_PRODUCT_ID:  # the apply lock, not part of the catalog
                continue
            key = managed_key(obj)
            state = ProductState(
                key=key or obj["id"],
                id=obj["id"],
                name=obj.get("name"),
                description=obj.get("description"),
                active=bool(obj.get("active")),
                tax_code=id_of(obj.get("tax_code")),
                statement_descriptor=obj.get("statement_descriptor"),
                unit_label=obj.get("unit_label"),
                url=obj.get("url"),
                images=tuple(obj.get("images") or ()),
                marketing_features=tuple(
                    f["name"] for f in obj.get("marketing_features") or () if f.get("name")
                ),
                metadata=user_metadata(obj),
                default_price=id_of(obj.get("default_price")),
            )
            if key is None:
                unmanaged.append(state)
            else:
                managed[key] = state
        return Snapshot(managed=managed, unmanaged=tuple(unmanaged))

    def stripe_id(self, state: ProductState) -> str | None:
        return state.id

    def is_live(self, state: ProductState) -> bool:
        return state.active

    def targets(self, desired: Desired, existing: Existing) -> Mapping[str, str]:
        """Product ids are known before creation (custom ids): the existing one's, else the desired."""
        managed = existing.of(self).managed
        return {
            key: (managed[key].id if key in managed else d.id)
            for key, d in desired.of(self).items()
        }

    # -- import ------------------------------------------------------------------------------
    def import_key(self, state: ProductState, ids: IdKeys) -> str:
        """From its name (`Pro Plan` -> `pro-plan`); billing.yaml keeps the Stripe id in `id:`."""
        return slug(state.name, slug(state.id, "product"))

    def import_state(self, state: ProductState, key: str, ids: IdKeys) -> Imported[ProductState]:
        """The default price becomes the imported price's key (dropped, with a note, when that
        price is not imported: the plan would then unset it)."""
        default = state.default_price
        price_key = ids.get("price", {}).get(default) if default else None
        notes: tuple[str, ...] = ()
        if default and price_key is None:
            notes = (
                f"product {key} ({state.id}): its default price {default} is not imported, so "
                "billing.yaml declares none (a plan would unset it)",
            )
        return Imported(replace(state, key=key, default_price=price_key), notes)

    # -- comparison --------------------------------------------------------------------------
    def compare(self, context: PlanContext) -> KindPlan:
        desired = context.desired.of(self)
        snapshot = context.existing.of(self)
        unmanaged = {p.id: p for p in snapshot.unmanaged}
        changes: list[Change] = []
        conflicts: list[str] = []
        warnings: list[str] = []
        unreachable: list[str] = []
        specs = plain_specs(self.fields)
        for key, d in desired.items():
            e = snapshot.managed.get(key)
            if e is None:
                found_by_id = unmanaged.get(d.id)
                if found_by_id is not None:  # the declared id exists: adopt it, never duplicate
                    change, notes = adopt(
                        self,
                        key,
                        found_by_id,
                        d,
                        f"/v1/products/{d.id}",
                        summary=str(d.name),
                        ignore=context.desired.ignore(self, key),
                    )
                    changes.append(change)
                    unreachable += notes
                    continue
                changes.append(self._create(d))
                continue
            d, notes = reachable(
                self.name, key, e, d, self.fields, context.desired.ignore(self, key)
            )
            unreachable += notes
            found = diff_fields(e, d, specs)
            if not found.changes:
                continue
            cls: type[Change] = Update
            if d.active and not e.active:
                cls = Reactivate
            elif e.active and not d.active:
                cls = Archive
            changes.append(
                cls(
                    kind=self.name,
                    key=key,
                    request=Request("post", f"/v1/products/{e.id}", dict(found.params)),
                    stripe_id=e.id,
                    fields=found.changes,
                    summary=str(d.name),
                    destructive=cls is Archive,
                    provides=frozenset({object_token(self.name, key)})
                    if cls is Reactivate
                    else frozenset(),
                )
            )
        for key, e in snapshot.managed.items():
            if key not in desired and e.active:
                changes.append(self._archive_removed(e))
        return KindPlan(
            tuple(changes), tuple(warnings), tuple(conflicts), unreachable=tuple(unreachable)
        )

    def _create(self, d: ProductState) -> Change:
        specs = [s for s in plain_specs(self.fields) if s.name != "metadata"]
        params: dict[str, Any] = {"id": d.id}
        for spec in sorted(specs, key=lambda s: s.name):
            value = spec.param(getattr(d, spec.name))
            if value not in ("", None):
                params[spec.name] = value
        params["metadata"] = {**d.metadata, KEY_META: d.key}
        return Create(
            kind=self.name,
            key=d.key,
            request=Request("post", "/v1/products", params),
            stripe_id=d.id,
            fields=create_changes(d, plain_specs(self.fields), _quiet),
            summary=str(d.name),
            provides=frozenset({object_token(self.name, d.key)}),
        )

    def _archive_removed(self, e: ProductState) -> Change:
        params: dict[str, Any] = {"active": False}
        provides: frozenset[str] = frozenset()
        if e.default_price:
            params["default_price"] = ""  # Stripe refuses to archive a product's default price
            provides = frozenset({release_token(e.default_price)})
        return Archive(
            kind=self.name,
            key=e.key,
            request=Request("post", f"/v1/products/{e.id}", params),
            stripe_id=e.id,
            reason=Reason.REMOVED,
            stage=Stage.DESTROY,
            fields=(FieldChange("active", True, False),),
            summary=str(e.name),
            destructive=True,
            provides=provides,
        )


def _quiet(name: str, value: Any) -> bool:
    return name == "active" and value is True


PRODUCT = ProductKind()
