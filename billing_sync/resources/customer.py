"""Customers: fields updated in place; never deleted (a customer no longer declared is reported)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from billing_sync.changes import Change, Create, KindPlan, Request, object_token, ref
from billing_sync.config.models import BillingConfig
from billing_sync.metadata import KEY_META, managed_key, user_metadata
from billing_sync.resources.base import (
    Desired,
    Existing,
    FieldSpec,
    IdKeys,
    Kind,
    ListRead,
    Pages,
    PlanContext,
    Snapshot,
    Unset,
    adopt,
    create_changes,
    diff_fields,
    in_place_update,
    never_quiet,
    reachable,
    slug,
)


@dataclass(frozen=True, slots=True)
class CustomerState:
    key: str
    email: str | None = None
    name: str | None = None
    description: str | None = None
    phone: str | None = None
    metadata: Mapping[str, str] = field(default_factory=dict)
    id: str | None = None  # existing only


class CustomerKind(Kind[CustomerState]):
    name = "customer"
    plural = "customers"
    # Stripe's customer update takes no empty string for these (stripe.params types): kept.
    fields = (
        FieldSpec("email", unset=Unset.NEVER),
        FieldSpec("name", unset=Unset.NEVER),
        FieldSpec("description", unset=Unset.NEVER),
        FieldSpec("phone", unset=Unset.NEVER),
        FieldSpec("metadata", unset=Unset.MERGE),
    )
    list_reads = (ListRead("/v1/customers"),)

    def desired(self, config: BillingConfig) -> dict[str, CustomerState]:
        return {
            key: CustomerState(
                key=key,
                email=c.email,
                name=c.name,
                description=c.description,
                phone=c.phone,
                metadata=dict(c.metadata),
            )
            for key, c in config.customers.items()
        }

    def render(self, state: CustomerState) -> tuple[tuple[str, ...], dict[str, Any]]:
        doc: dict[str, Any] = {}
        for spec in self.fields:
            value = getattr(state, spec.name)
            if value not in (None, {}):
                doc[spec.name] = dict(value) if spec.name == "metadata" else value
        return ("customers", state.key), doc

    def read(
        self, objects: Iterable[dict[str, Any]], existing: Existing, pages: Pages
    ) -> Snapshot[CustomerState]:
        managed: dict[str, CustomerState] = {}
        unmanaged: list[CustomerState] = []
        for obj in objects:
            key = managed_key(obj)
            state = CustomerState(
                key=key or obj["id"],
                email=obj.get("email"),
                name=obj.get("name"),
                description=obj.get("description"),
                phone=obj.get("phone"),
                metadata=user_metadata(obj),
                id=obj["id"],
            )
            if key is None:
                unmanaged.append(state)
            else:
                managed[key] = state
        return Snapshot(managed=managed, unmanaged=tuple(unmanaged))

    def stripe_id(self, state: CustomerState) -> str | None:
        return state.id

    def candidates(self, desired: CustomerState, snapshot: Snapshot[CustomerState]) -> list[str]:
        """Unmanaged customers a declared one may be: the same email (case-insensitive)."""
        if not desired.email:
            return []
        email = desired.email.lower()
        return sorted(u.id or "" for u in snapshot.unmanaged if (u.email or "").lower() == email)

    def targets(self, desired: Desired, existing: Existing) -> Mapping[str, str]:
        snapshot = existing.of(self)
        out: dict[str, str] = {}
        for key, d in desired.of(self).items():
            current = snapshot.managed.get(key)
            found = self.candidates(d, snapshot) if current is None else []
            if current is not None and current.id:
                out[key] = current.id
            elif len(found) == 1:
                out[key] = found[0]
            elif not found:  # several candidates: a conflict, and nothing may refer to it
                out[key] = ref(self.name, key)
        return out

    # -- import ------------------------------------------------------------------------------
    import_option = "customers"

    def import_key(self, state: CustomerState, ids: IdKeys) -> str:
        """From its name (`Acme Inc.` -> `acme-inc`), else its email (`billing-acme-com`)."""
        return slug(state.name, slug(state.email, slug(state.id, "customer")))

    def compare(self, context: PlanContext) -> KindPlan:
        snapshot = context.existing.of(self)
        desired = context.desired.of(self)
        changes: list[Change] = []
        warnings: list[str] = []
        conflicts: list[str] = []
        unreachable: list[str] = []
        for key, d in desired.items():
            e = snapshot.managed.get(key)
            found_ids = self.candidates(d, snapshot) if e is None else []
            if len(found_ids) > 1:
                conflicts.append(
                    f"customer {key}: {len(found_ids)} customers billing-sync does not manage "
                    f"have the email {d.email!r} ({', '.join(found_ids)}); it cannot tell which "
                    "one to adopt: merge them in Stripe, or declare a different email"
                )
                continue
            if len(found_ids) == 1:
                unmanaged = next(u for u in snapshot.unmanaged if u.id == found_ids[0])
                change, notes = adopt(
                    self,
                    key,
                    unmanaged,
                    d,
                    f"/v1/customers/{unmanaged.id}",
                    summary=str(d.name or d.email),
                    ignore=context.desired.ignore(self, key),
                )
                changes.append(change)
                unreachable += notes
                continue
            if e is None:
                params: dict[str, Any] = {
                    s.name: getattr(d, s.name)
                    for s in self.fields
                    if s.name != "metadata" and getattr(d, s.name) is not None
                }
                params["metadata"] = {**d.metadata, KEY_META: key}
                changes.append(
                    Create(
                        kind=self.name,
                        key=key,
                        request=Request("post", "/v1/customers", params),
                        fields=create_changes(d, self.fields, never_quiet),
                        summary=str(d.name or d.email or ""),
                        provides=frozenset({object_token(self.name, key)}),
                    )
                )
                continue
            d, notes = reachable(
                self.name, key, e, d, self.fields, context.desired.ignore(self, key)
            )
            unreachable += notes
            found = diff_fields(e, d, self.fields)
            changes += in_place_update(self, key, f"/v1/customers/{e.id}", found, e.id)
        warnings += [
            f"customer {key} is no longer declared; billing-sync never deletes customers "
            "(left as it is)"
            for key in snapshot.managed
            if key not in desired
        ]
        return KindPlan(
            tuple(changes), tuple(warnings), tuple(conflicts), unreachable=tuple(unreachable)
        )


CUSTOMER = CustomerKind()
