"""Entitlement features: name and metadata change in place, the lookup key only by a new feature,
and removal archives (Stripe archives a feature permanently and never deletes one).

Stripe facts this module relies on (see emulator/BEHAVIOUR.md for the sources):
- a feature's update takes `name`, `metadata` and `active` only: `lookup_key` is fixed;
- "Update a feature's metadata or permanently deactivate it": an archived feature is never
  reactivated, so re-adding a removed feature creates a new one;
- a lookup key is held by one active feature; archiving frees it for a new feature;
- the list returns active features unless `archived=true` is asked.
"""

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
    Reason,
    Replace,
    Request,
    Stage,
    object_token,
    ref,
    release_token,
)
from billing_sync.config.models import BillingConfig
from billing_sync.metadata import KEY_META, managed_key, user_metadata
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
    field_changes,
    in_place_update,
    is_key,
    never_quiet,
    plain_specs,
    reachable,
    slug,
    values,
)

PATH = "/v1/entitlements/features"


@dataclass(frozen=True, slots=True)
class FeatureState:
    key: str
    name: str | None
    lookup_key: str | None = None
    metadata: Mapping[str, str] = field(default_factory=dict)
    active: bool = True  # existing only: archived features stay archived
    id: str | None = None  # existing only


def lookup_token(lookup_key: str | None) -> str:
    """The token a change provides when it frees `lookup_key` (by archiving its holder)."""
    return f"feature-lookup:{lookup_key}"


class FeatureKind(Kind[FeatureState]):
    name = "feature"
    plural = "features"
    fields = (
        FieldSpec("name", unset=Unset.REQUIRED),
        FieldSpec("metadata", unset=Unset.MERGE),
        # Defaults to the feature key; Stripe fixes it at creation, so a new feature takes over.
        FieldSpec("lookup_key", mutability=Mutability.REPLACE, unset=Unset.DEFAULT),
    )
    # Stripe lists only active features unless `archived=true` is asked.
    list_reads = (ListRead(PATH), ListRead(PATH, {"archived": "true"}))

    # -- billing.yaml ------------------------------------------------------------------------
    def desired(self, config: BillingConfig) -> dict[str, FeatureState]:
        return {
            key: FeatureState(
                key=key, name=f.name, lookup_key=f.lookup_key or key, metadata=dict(f.metadata)
            )
            for key, f in config.features.items()
        }

    def render(self, state: FeatureState) -> tuple[tuple[str, ...], dict[str, Any]]:
        doc: dict[str, Any] = {"name": state.name}
        if state.lookup_key != state.key:
            doc["lookup_key"] = state.lookup_key
        if state.metadata:
            doc["metadata"] = dict(state.metadata)
        return ("features", state.key), doc

    # -- Stripe ------------------------------------------------------------------------------
    def read(
        self, objects: Iterable[dict[str, Any]], existing: Existing, pages: Pages
    ) -> Snapshot[FeatureState]:
        """Per key, the newest active feature is current (else the newest archived one); the
        others (archived, or left active by an interrupted replace) are kept as others."""
        managed: dict[str, FeatureState] = {}
        others: list[FeatureState] = []
        unmanaged: list[FeatureState] = []
        # Active features are listed first, each list newest first.
        for obj in objects:
            key = managed_key(obj)
            state = FeatureState(
                key=key or obj["id"],
                name=obj.get("name"),
                lookup_key=obj.get("lookup_key"),
                metadata=user_metadata(obj),
                active=bool(obj.get("active")),
                id=obj["id"],
            )
            if key is None:
                unmanaged.append(state)
            elif key in managed:
                others.append(state)
            else:
                managed[key] = state
        return Snapshot(managed=managed, others=tuple(others), unmanaged=tuple(unmanaged))

    def stripe_id(self, state: FeatureState) -> str | None:
        return state.id

    def is_live(self, state: FeatureState) -> bool:
        return state.active

    def live(self, snapshot: Snapshot[FeatureState], key: str) -> list[FeatureState]:
        """The active managed features of `key`, the current one first."""
        current = snapshot.managed.get(key)
        found = [current] if current is not None and current.active else []
        return found + [f for f in snapshot.others if f.key == key and f.active]

    def kept(
        self, snapshot: Snapshot[FeatureState], key: str, d: FeatureState
    ) -> FeatureState | None:
        """The active managed feature that stays `key`'s: the one with the declared lookup key."""
        return next((f for f in self.live(snapshot, key) if f.lookup_key == d.lookup_key), None)

    def holder(
        self, snapshot: Snapshot[FeatureState], lookup_key: str | None
    ) -> FeatureState | None:
        """The unmanaged active feature holding `lookup_key`, if any."""
        return next(
            (f for f in snapshot.unmanaged if f.active and f.lookup_key == lookup_key), None
        )

    def targets(self, desired: Desired, existing: Existing) -> Mapping[str, str]:
        """The kept feature's id, an adoptable unmanaged feature's id, else a placeholder for
        the feature a create or replace makes (a conflict has no target)."""
        snapshot = existing.of(self)
        out: dict[str, str] = {}
        for key, d in desired.of(self).items():
            kept = self.kept(snapshot, key, d)
            holder = self.holder(snapshot, d.lookup_key) if kept is None else None
            if kept is not None and kept.id:
                out[key] = kept.id
            elif holder is not None and holder.id:
                if not self.live(snapshot, key):
                    out[key] = holder.id
            else:
                out[key] = ref(self.name, key)
        return out

    # -- import ------------------------------------------------------------------------------
    def import_key(self, state: FeatureState, ids: IdKeys) -> str:
        """Its lookup key when that is a valid key (so billing.yaml needs no `lookup_key:`),
        else from its name."""
        if is_key(state.lookup_key):
            return str(state.lookup_key)
        return slug(state.name, slug(state.id, "feature"))

    def import_names(self, state: FeatureState) -> tuple[str, ...]:
        return (state.lookup_key,) if state.lookup_key else ()

    def import_state(self, state: FeatureState, key: str, ids: IdKeys) -> Imported[FeatureState]:
        if not state.active:
            return Imported.skip(
                f"feature {state.id}: archived (Stripe archives features permanently; "
                "billing.yaml declares active ones)"
            )
        return Imported(replace(state, key=key))

    # -- comparison --------------------------------------------------------------------------
    def compare(self, context: PlanContext) -> KindPlan:
        snapshot = context.existing.of(self)
        desired = context.desired.of(self)
        changes: list[Change] = []
        conflicts: list[str] = []
        unreachable: list[str] = []
        for key, d in desired.items():
            live = self.live(snapshot, key)
            kept = self.kept(snapshot, key, d)
            if kept is not None:
                ignore = context.desired.ignore(self, key)
                reached, notes = reachable(self.name, key, kept, d, self.fields, ignore)
                unreachable += notes
                found = diff_fields(kept, reached, plain_specs(self.fields))
                path = f"{PATH}/{kept.id}"
                changes += in_place_update(self, key, path, found, kept.id, str(d.name))
                changes += [
                    self._archive(f, Reason.STALE, Stage.CLEANUP) for f in live if f is not kept
                ]
                continue
            holder = self.holder(snapshot, d.lookup_key)
            if holder is not None and live:
                conflicts.append(
                    f"feature {key}: lookup_key {d.lookup_key!r} belongs to feature {holder.id}, "
                    "which is not managed by billing-sync, and Stripe cannot change the lookup "
                    f"key of {key}'s feature {live[0].id}: archive or rename one of them in "
                    "Stripe, or give this feature another lookup_key"
                )
                continue
            if holder is not None:
                change, notes = adopt(
                    self,
                    key,
                    holder,
                    d,
                    f"{PATH}/{holder.id}",
                    summary=str(d.name),
                    ignore=context.desired.ignore(self, key),
                )
                changes.append(change)
                unreachable += notes
                continue
            changes += self._create(key, d, live, snapshot)
        for key, current in snapshot.managed.items():
            if key in desired:
                continue
            changes += [
                self._archive(f, Reason.REMOVED if f is current else Reason.STALE, Stage.DESTROY)
                for f in self.live(snapshot, key)
            ]
        return KindPlan(tuple(changes), conflicts=tuple(conflicts), unreachable=tuple(unreachable))

    def _create(
        self, key: str, d: FeatureState, live: list[FeatureState], snapshot: Snapshot[FeatureState]
    ) -> list[Change]:
        """A new feature for `key`: created, or replacing the live one whose lookup key differs
        (that one is archived once its attachments moved)."""
        params: dict[str, Any] = {
            "lookup_key": d.lookup_key,
            "name": d.name,
            "metadata": {**d.metadata, KEY_META: key},
        }
        request = Request("post", PATH, params)
        # A managed feature of another key may still hold the lookup key: its archive frees it.
        needs = frozenset({lookup_token(d.lookup_key)})
        provides = frozenset({object_token(self.name, key)})
        if not live:
            archived = snapshot.managed.get(key)
            notes = (
                (
                    f"re-creates the feature: Stripe archives features permanently, so "
                    f"{archived.id} stays archived",
                )
                if archived is not None
                else ()
            )
            return [
                Create(
                    kind=self.name,
                    key=key,
                    request=request,
                    fields=create_changes(d, plain_specs(self.fields), never_quiet),
                    summary=str(d.name),
                    notes=notes,
                    needs=needs,
                    provides=provides,
                )
            ]
        old = live[0]
        # The old feature is archived after its successor exists, unless that successor waits
        # for an archive itself (two features swapping lookup keys would wait for each other).
        held = any(
            f.active and f.key != key and f.lookup_key == d.lookup_key
            for f in (*snapshot.managed.values(), *snapshot.others)
        )
        after = frozenset() if held else provides
        return [
            Replace(
                kind=self.name,
                key=key,
                request=request,
                stripe_id=old.id,
                fields=tuple(field_changes(values(old, self.fields), values(d, self.fields))),
                summary=str(d.name),
                notes=(
                    "Stripe cannot change a feature's lookup key: a new feature takes over, the "
                    "products move to it and the old one is archived",
                ),
                needs=needs,
                provides=provides,
            ),
            self._archive(old, Reason.REPLACED, Stage.CLEANUP, after=after),
            *(self._archive(f, Reason.STALE, Stage.CLEANUP, after=after) for f in live[1:]),
        ]

    def _archive(
        self,
        f: FeatureState,
        reason: Reason,
        stage: Stage,
        after: frozenset[str] = frozenset(),
    ) -> Change:
        """Archive one feature (Stripe never deletes one) once no product grants it."""
        return Archive(
            kind=self.name,
            key=f.key,
            request=Request("post", f"{PATH}/{f.id}", {"active": False}),
            stripe_id=f.id,
            reason=reason,
            stage=stage,
            fields=(FieldChange("active", True, False),),
            summary=str(f.name),
            notes=("archived for good: Stripe cannot reactivate a feature",)
            if reason is Reason.REMOVED
            else (),
            destructive=reason is Reason.REMOVED,
            needs=after | {release_token(f.id or "")},
            provides=frozenset({lookup_token(f.lookup_key)}),
        )


FEATURE = FeatureKind()
