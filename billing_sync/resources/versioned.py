"""Kinds Stripe never deletes and whose fixed fields need a new object: promotion codes, tax rates.

Each such object carries `billing_sync_key`; several objects may share a key (the current one and
the versions it replaced, archived). The rules, once for every such kind:

- a declared key whose current object differs only in updatable fields is updated in place
  (`active` archives or reactivates it);
- a difference in a fixed field finds an archived version with the declared fixed fields and
  reactivates it (a revert, or a re-added key), else creates a new object; the current one is
  archived either way;
- a key no longer declared has its active objects archived (destructive);
- an unmanaged object the kind's `adoptable` rule matches is adopted (several: a conflict).

A kind says which fields are fixed, how to create one, how to describe one in money words, and
whether the new object must wait until the old one is archived (a promotion code's `code` is
unique among active codes).
"""

from __future__ import annotations

import functools
from abc import abstractmethod
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from typing import Any, ClassVar, Protocol, TypeVar

from billing_sync.changes import (
    Archive,
    Change,
    Create,
    FieldChange,
    KindPlan,
    Reactivate,
    Reason,
    Replace,
    Request,
    Stage,
    Update,
    object_token,
    ref,
    release_token,
)
from billing_sync.resources.base import (
    Desired,
    Existing,
    FieldSpec,
    Kind,
    Mutability,
    PlanContext,
    Snapshot,
    adopt,
    create_changes,
    diff_fields,
    field_changes,
    plain_specs,
    reachable,
    values,
)


class Versioned(Protocol):
    @property
    def key(self) -> str: ...
    @property
    def id(self) -> str | None: ...
    @property
    def active(self) -> bool: ...
    @property
    def created(self) -> int: ...


V = TypeVar("V", bound=Versioned)


class VersionedKind(Kind[V]):
    """A kind whose objects are archived, never deleted, and replaced by new objects."""

    path: ClassVar[str]  # "/v1/tax_rates"

    # -- what a kind declares ------------------------------------------------------------------
    @abstractmethod
    def create_params(self, context: PlanContext, d: V) -> tuple[dict[str, Any], frozenset[str]]:
        """The create request's parameters (with the ownership metadata) and what it needs."""

    @abstractmethod
    def describe(self, state: V) -> str:
        """The object in a few words for the plan: `19% VAT (exclusive)`."""

    def adoptable(self, d: V, snapshot: Snapshot[V]) -> list[V]:
        """Unmanaged objects that may be `d` (more than one is a conflict)."""
        return []

    def create_problem(self, context: PlanContext, d: V) -> str | None:
        """Why Stripe would refuse to create `d` now (a moment already past), or None."""
        return None

    def usable(self, desired: Desired, existing: Existing, version: V) -> bool:
        """Whether an existing object can still serve its key (kept in place or reactivated);
        False makes the plan create a new one (a promotion code whose coupon was deleted)."""
        return True

    def new_waits_for_old(self, old: V, new: V) -> bool:
        """Whether the successor can only be created once the old object is archived."""
        return False

    # -- derived -------------------------------------------------------------------------------
    @property
    def fixed(self) -> tuple[FieldSpec, ...]:
        return tuple(s for s in self.fields if s.mutability is Mutability.REPLACE)

    @property
    def mutable(self) -> tuple[FieldSpec, ...]:
        return tuple(s for s in plain_specs(self.fields) if s.mutability is Mutability.IN_PLACE)

    def same_fixed(self, a: V, b: V) -> bool:
        return values(a, self.fixed) == values(b, self.fixed)

    def _versions(self, snapshot: Snapshot[V]) -> dict[str, list[V]]:
        versions: dict[str, list[V]] = defaultdict(list)
        for s in (*snapshot.managed.values(), *snapshot.others):
            versions[s.key].append(s)
        return versions

    def _revival(
        self, desired: Desired, existing: Existing, versions: Sequence[V], d: V
    ) -> V | None:
        """The version of a key that can become `d` by updates (active first, then newest)."""
        # A stable sort: versions of the same second keep Stripe's list order, newest first.
        ordered = sorted(versions, key=lambda s: (s.active, s.created), reverse=True)
        return next((v for v in ordered if self._keeps(desired, existing, v, d)), None)

    def _keeps(self, desired: Desired, existing: Existing, version: V, d: V) -> bool:
        """Whether `version` can become `d` by updates alone."""
        return self.same_fixed(version, d) and self.usable(desired, existing, version)

    def group(self, managed: Iterable[V], unmanaged: Iterable[V]) -> Snapshot[V]:
        """Managed objects by key (current: active, then newest) and their other versions.

        `managed` comes in Stripe's list order, newest first ("sorted by creation date, with the
        most recently created ... appearing first", stripe-python TaxRateService.list; the same
        for every Stripe list): `created` is in seconds, so among
        versions made in the same second the one listed first is the newest."""
        by_key: dict[str, list[V]] = defaultdict(list)
        for state in managed:
            by_key[state.key].append(state)
        current: dict[str, V] = {}
        others: list[V] = []
        for key, states in by_key.items():
            top = max(states, key=lambda s: (s.active, s.created))  # the first of equals
            current[key] = top
            others += [s for s in states if s is not top]
        return Snapshot(managed=current, others=tuple(others), unmanaged=tuple(unmanaged))

    def stripe_id(self, state: V) -> str | None:
        return state.id

    def is_live(self, state: V) -> bool:
        return state.active

    def targets(self, desired: Desired, existing: Existing) -> Mapping[str, str]:
        """The id a declared key will have: its current object's when it stays, else a
        placeholder (a replacement is a new object)."""
        snapshot = existing.of(self)
        versions = self._versions(snapshot)
        out: dict[str, str] = {}
        for key, d in desired.of(self).items():
            cur = snapshot.managed.get(key)
            if cur is not None and cur.id and self._keeps(desired, existing, cur, d):
                out[key] = cur.id
                continue
            match = self._revival(desired, existing, versions.get(key, []), d)
            if match is not None and match.id:
                out[key] = match.id
                continue
            found = self.adoptable(d, snapshot) if cur is None else []
            if len(found) == 1 and found[0].id and self.same_fixed(found[0], d):
                out[key] = found[0].id
            elif not found:
                out[key] = ref(self.name, key)
        return out

    # -- the comparison ------------------------------------------------------------------------
    def compare(self, context: PlanContext) -> KindPlan:
        snapshot = context.existing.of(self)
        versions = self._versions(snapshot)
        changes: list[Change] = []
        conflicts: list[str] = []
        unreachable: list[str] = []
        for key, d in context.desired.of(self).items():
            cur = snapshot.managed.get(key)
            if cur is None:
                found = self.adoptable(d, snapshot)
                if len(found) > 1:
                    ids = ", ".join(sorted(s.id or "" for s in found))
                    conflicts.append(
                        f"{self.name} {key}: {len(found)} {self.plural.replace('_', ' ')} "
                        f"billing-sync does not manage match it ({ids}); it cannot tell which "
                        "one to adopt: archive the extra ones in Stripe, or declare different "
                        "values"
                    )
                    continue
                if found:
                    if not self.same_fixed(found[0], d):
                        conflicts.append(self.adopt_conflict(key, found[0], d))
                        continue
                    change, notes = adopt(
                        self,
                        key,
                        found[0],
                        d,
                        f"{self.path}/{found[0].id}",
                        summary=self.describe(d),
                        ignore=context.desired.ignore(self, key),
                    )
                    changes.append(change)
                    unreachable += notes
                    continue
            else:
                d, notes = reachable(
                    self.name, key, cur, d, self.fields, context.desired.ignore(self, key)
                )
                unreachable += notes
            declared = self._declared(context, key, cur, d, versions.get(key, []))
            problem = self.create_problem(context, d)
            if problem and any(isinstance(c, (Create, Replace)) for c in declared):
                conflicts.append(f"{self.name} {key}: {problem}")
                continue
            changes += declared
        changes += self._removed(context, snapshot)
        return KindPlan(tuple(changes), (), tuple(conflicts), unreachable=tuple(unreachable))

    def adopt_conflict(self, key: str, found: V, d: V) -> str:
        differ = ", ".join(
            c.path for c in field_changes(values(found, self.fixed), values(d, self.fixed))
        )
        return (
            f"{self.name} {key}: {self.name.replace('_', ' ')} {found.id}, which billing-sync does "
            f"not manage, matches it but differs in fields Stripe fixes at creation ({differ}): "
            "declare it as it is to adopt it, or archive it in Stripe"
        )

    def _declared(
        self, context: PlanContext, key: str, cur: V | None, d: V, versions: Sequence[V]
    ) -> list[Change]:
        token = frozenset({object_token(self.name, key)})
        keeps = functools.partial(self._keeps, context.desired, context.existing)
        if cur is not None and keeps(cur, d):
            return [*self._in_place(key, cur, d), *self._stale(key, versions, keep=cur)]
        match = self._revival(context.desired, context.existing, versions, d)
        out: list[Change] = []
        if match is not None and not d.active:
            # Declared inactive: the matching version serves the key as it is, updated in place
            # (archived if still active); reactivating it would only be undone by the next plan.
            out += self._in_place(key, match, d)
            if cur is not None and cur is not match and cur.active:
                out.append(self._archive(key, cur, Reason.REPLACED, Stage.CLEANUP))
            return out + list(self._stale(key, versions, keep=match, also=cur))
        if match is not None:  # a revert, or a removed key declared again: reactivate
            found = diff_fields(match, replace(d, active=False), self.mutable)  # type: ignore[type-var]
            params = {**found.params, "active": True}
            out.append(
                Reactivate(
                    kind=self.name,
                    key=key,
                    request=Request("post", f"{self.path}/{match.id}", params),
                    stripe_id=match.id,
                    reason=Reason.REVERTED if cur is not None else Reason.DECLARED,
                    fields=(FieldChange("active", False, True), *found.changes),
                    summary=self.describe(d),
                    notes=(f"reactivates archived {self.name.replace('_', ' ')} {match.id}",),
                    provides=token,
                )
            )
            if cur is not None and cur is not match and cur.active:
                out.append(self._archive(key, cur, Reason.REPLACED, Stage.CLEANUP, after=token))
            return out + list(self._stale(key, versions, keep=match, also=cur))
        params, needs = self.create_params(context, d)
        if cur is None or not cur.active:  # nothing live to replace: a new object
            out.append(
                Create(
                    kind=self.name,
                    key=key,
                    request=Request("post", self.path, params),
                    fields=create_changes(d, plain_specs(self.fields), _quiet),
                    summary=self.describe(d),
                    needs=needs,
                    provides=token,
                )
            )
            return out + list(self._stale(key, versions, keep=None))
        first = self.new_waits_for_old(cur, d) and cur.active
        if first:
            needs = needs | {release_token(cur.id or "")}
        out.append(
            Replace(
                kind=self.name,
                key=key,
                request=Request("post", self.path, params),
                stripe_id=cur.id,
                fields=tuple(
                    field_changes(
                        values(cur, plain_specs(self.fields)), values(d, plain_specs(self.fields))
                    )
                ),
                summary=f"{self.describe(cur)} -> {self.describe(d)}",
                notes=(
                    f"a new {self.name.replace('_', ' ')} replaces {cur.id}, which is archived "
                    "(objects already using it keep it)",
                ),
                needs=needs,
                provides=token,
            )
        )
        if cur.active:
            if first:
                out.append(
                    self._archive(
                        key,
                        cur,
                        Reason.REPLACED,
                        Stage.BUILD,
                        provides=frozenset({release_token(cur.id or "")}),
                    )
                )
            else:
                out.append(self._archive(key, cur, Reason.REPLACED, Stage.CLEANUP, after=token))
        return out + list(self._stale(key, versions, keep=None, also=cur))

    def _in_place(self, key: str, cur: V, d: V) -> list[Change]:
        found = diff_fields(cur, d, self.mutable)
        if not found.changes:
            return []
        cls: type[Change] = Update
        if d.active != cur.active:
            cls = Reactivate if d.active else Archive
        return [
            cls(
                kind=self.name,
                key=key,
                request=Request("post", f"{self.path}/{cur.id}", dict(found.params)),
                stripe_id=cur.id,
                stage=Stage.DESTROY if cls is Archive else Stage.BUILD,
                fields=found.changes,
                summary=self.describe(d),
                destructive=cls is Archive,
                provides=frozenset({object_token(self.name, key)})
                if cls is Reactivate
                else frozenset(),
            )
        ]

    def _archive(
        self,
        key: str,
        state: V,
        reason: Reason,
        stage: Stage,
        *,
        destructive: bool = False,
        after: frozenset[str] = frozenset(),
        provides: frozenset[str] = frozenset(),
    ) -> Change:
        return Archive(
            kind=self.name,
            key=key,
            request=Request("post", f"{self.path}/{state.id}", {"active": False}),
            stripe_id=state.id,
            reason=reason,
            stage=stage,
            fields=(FieldChange("active", True, False),),
            summary=self.describe(state),
            destructive=destructive,
            needs=after,
            provides=provides,
        )

    def _stale(
        self, key: str, versions: Sequence[V], *, keep: V | None, also: V | None = None
    ) -> Iterable[Change]:
        """Other active objects with this key (left by an interrupted apply) are archived."""
        for v in versions:
            if v.active and v is not keep and v is not also:
                yield self._archive(
                    key,
                    v,
                    Reason.STALE,
                    Stage.CLEANUP,
                    after=frozenset({object_token(self.name, key)}),
                )

    def _removed(self, context: PlanContext, snapshot: Snapshot[V]) -> list[Change]:
        declared = context.desired.of(self)
        return [
            self._archive(
                s.key,
                s,
                Reason.REMOVED if s is snapshot.managed.get(s.key) else Reason.STALE,
                Stage.DESTROY,
                destructive=True,
            )
            for s in sorted(
                (*snapshot.managed.values(), *snapshot.others), key=lambda s: (s.key, s.id or "")
            )
            if s.key not in declared and s.active
        ]


def _quiet(name: str, value: Any) -> bool:
    return name == "active" and value is True
