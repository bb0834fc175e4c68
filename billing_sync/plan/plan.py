"""The Plan: an immutable list of typed changes with their order, and the safety decision on them."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from billing_sync.changes import ACTIONS, Change, Reason, change_from_data
from billing_sync.errors import ConflictsError, UnsafePlanError
from billing_sync.plan.graph import dependencies
from billing_sync.resources import BY_NAME, RANK

# Version 2: typed changes (kind, reason, stage, protected, provides, needs) replaced phase/step.
FORMAT_VERSION = 2


@dataclass(frozen=True)
class Provenance:
    """The config bytes and the account state a plan was computed from."""

    config_file: str = ""
    config_hash: str = ""
    remote_fingerprint: str = ""
    account: str = ""

    @property
    def data(self) -> dict[str, str]:
        return {
            "config_file": self.config_file,
            "config_hash": self.config_hash,
            "remote_fingerprint": self.remote_fingerprint,
            "account": self.account,
        }


def operations_checksum(operations: Any) -> str:
    """sha256 of the canonical JSON of a plan's operations (as saved, or as recomputed)."""
    blob = json.dumps(operations, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(blob.encode()).hexdigest()


@dataclass(frozen=True)
class Unsafe:
    """Why apply refuses a plan as it stands, and the flag that lets a reviewed plan through."""

    reason: str
    flag: str


# Below this many managed objects the percentage thresholds do not apply (octoDNS's rule too):
# in a catalog of 5 objects any single removal is 20%.
MIN_OBJECTS_FOR_THRESHOLDS = 10


def sort_key(change: Change) -> tuple[int, int, str, str]:
    """Stage first, then the registry's kind order, then key: the order people read a plan in."""
    return (change.stage, RANK.get(change.kind, len(RANK)), change.key, change.id)


@dataclass(frozen=True)
class Plan:
    """What apply would do to make the account match billing.yaml, and what a reviewer must know."""

    changes: tuple[Change, ...]
    depends_on: Mapping[str, tuple[str, ...]]
    provenance: Provenance = field(default_factory=Provenance)
    managed_count: int = 0
    max_destroy_percent: float = 30.0
    max_update_percent: float = 30.0
    min_objects_for_thresholds: int = MIN_OBJECTS_FOR_THRESHOLDS
    unmanaged: Mapping[str, int] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()
    conflicts: tuple[str, ...] = ()
    # Differences between billing.yaml and the account that apply cannot make (reported).
    unreachable: tuple[str, ...] = ()
    mrr: Mapping[str, tuple[int, int]] = field(default_factory=dict)  # currency -> before, after
    grandfathered: Mapping[str, int] = field(default_factory=dict)

    @classmethod
    def of(cls, changes: list[Change] | tuple[Change, ...], **kw: Any) -> Plan:
        """A plan of these changes in reading order, their dependencies derived and checked."""
        ordered = tuple(sorted(changes, key=sort_key))
        return cls(ordered, dependencies(ordered, BY_NAME), **kw)

    @classmethod
    def from_data(cls, doc: Mapping[str, Any]) -> Plan:
        """The plan a saved JSON document (`.data`) describes, for showing it without the API.

        Raises ValueError unless the document is exactly what this plan renders back (an
        edited file, even in a field apply does not trust, is refused)."""
        try:
            operations = doc["operations"]
            changes = tuple(change_from_data(op) for op in operations)
            plan = cls(
                changes,
                {c.id: tuple(op["depends_on"]) for c, op in zip(changes, operations, strict=True)},
                provenance=Provenance(
                    doc["config_file"],
                    doc["config_hash"],
                    doc["remote_fingerprint"],
                    doc["account"],
                ),
                managed_count=doc["managed_count"],
                max_destroy_percent=doc["max_destroy_percent"],
                # Plans saved before these policies existed were made with their defaults.
                max_update_percent=doc.get("max_update_percent", 100.0),
                min_objects_for_thresholds=doc.get("min_objects_for_thresholds", 0),
                unmanaged=dict(doc["unmanaged"]),
                warnings=tuple(doc["warnings"]),
                conflicts=tuple(doc["conflicts"]),
                unreachable=tuple(doc["unreachable"]),
                mrr={cur: (m["before"], m["after"]) for cur, m in doc["mrr"].items()},
                grandfathered=dict(doc["grandfathered"]),
            )
            rendered = plan.data
        except (KeyError, TypeError, AttributeError, ZeroDivisionError) as err:
            raise ValueError(f"{type(err).__name__}: {err}") from None
        for key in ("max_update_percent", "min_objects_for_thresholds", "unsafe_overrides"):
            if key not in doc:
                rendered.pop(key)
        if rendered != dict(doc):
            differs = sorted(k for k in set(rendered) | set(doc) if rendered.get(k) != doc.get(k))
            raise ValueError(f"its {', '.join(differs)} do not match its operations")
        return plan

    @property
    def checksum(self) -> str:
        """A hash of exactly what apply would send: every change's kind, key, reason, flags,
        tokens and request. Two plans with one checksum make the same writes."""
        return operations_checksum(self._operations())

    @property
    def has_changes(self) -> bool:
        return bool(self.changes)

    @property
    def in_sync(self) -> bool:
        """The account matches billing.yaml: nothing to change and nothing apply cannot change."""
        return not self.changes and not self.unreachable

    def counts(self) -> dict[str, int]:
        """Changes per action: one per rendered row, so the summary adds up to the listing."""
        counts = dict.fromkeys(ACTIONS, 0)
        for c in self.changes:
            counts[c.action] += 1
        return counts

    @property
    def destructive_changes(self) -> tuple[Change, ...]:
        return tuple(c for c in self.changes if c.destructive)

    @property
    def updated_objects(self) -> int:
        """Managed objects changed in place or replaced, each counted once. Destructive changes
        count against the destroy threshold instead, and a product's default price following
        its replaced price is part of that replacement, not an edit of its own."""
        return len(
            {
                (c.kind, c.key)
                for c in self.changes
                if c.action in ("update", "replace")
                and not c.destructive
                and c.reason is not Reason.DEFAULT_PRICE
            }
        )

    @property
    def thresholds_apply(self) -> bool:
        """The percentage thresholds apply from min_objects_for_thresholds managed objects."""
        return self.managed_count >= max(self.min_objects_for_thresholds, 1)

    @property
    def unsafe(self) -> tuple[Unsafe, ...]:
        """Every reason apply refuses this plan as it stands, with the flag that overrides it."""
        found: list[Unsafe] = []
        destroy = self.destructive_changes
        if self.thresholds_apply:
            for count, limit, what, policy, flag in (
                (
                    len(destroy),
                    self.max_destroy_percent,
                    "destructive operation(s) touch",
                    "max_destroy_percent",
                    "--allow-destroy",
                ),
                (
                    self.updated_objects,
                    self.max_update_percent,
                    "update(s) and replace(s) change",
                    "max_update_percent",
                    "--allow-mass-update",
                ),
            ):
                pct = 100.0 * count / self.managed_count
                if count and pct > limit:
                    found.append(
                        Unsafe(
                            f"{count} {what} {pct:.0f}% of {self.managed_count} managed "
                            f"objects ({policy}: {limit:g})",
                            flag,
                        )
                    )
        touched = {(c.kind, c.key) for c in destroy}
        if (
            not self.thresholds_apply
            and self.max_destroy_percent < 100
            and self.managed_count
            and len(touched) >= self.managed_count
        ):
            # Below the minimum the percentages stay quiet, but a plan that destroys everything
            # billing-sync manages is what an emptied or truncated billing.yaml looks like
            # (unless max_destroy_percent: 100 says that is fine).
            found.append(
                Unsafe(
                    f"{len(destroy)} destructive operation(s) touch every one of the "
                    f"{self.managed_count} managed objects (an emptied billing.yaml?)",
                    "--allow-destroy",
                )
            )
        for c in destroy:
            if c.protected:
                found.append(
                    Unsafe(f"{c.kind} {c.key} is protected (protect: true)", "--allow-destroy")
                )
        return tuple(found)

    @property
    def unsafe_reasons(self) -> list[str]:
        return [u.reason for u in self.unsafe]

    def raise_if_conflicts(self) -> None:
        if self.conflicts:
            raise ConflictsError(
                f"the plan has {len(self.conflicts)} conflict(s) with objects billing-sync does "
                "not manage; nothing can be applied until they are resolved"
            )

    def unsafe_error(
        self, *, allow_destroy: bool, allow_mass_update: bool, lead: str = "refusing an unsafe plan"
    ) -> UnsafePlanError | None:
        """The refusal of this plan given the override flags, or None when it may be applied."""
        allowed = {"--allow-destroy": allow_destroy, "--allow-mass-update": allow_mass_update}
        refused = [u for u in self.unsafe if not allowed[u.flag]]
        if not refused:
            return None
        flags = " and ".join(sorted({u.flag for u in refused}))
        return UnsafePlanError(
            f"{lead}: " + "; ".join(u.reason for u in refused) + f". Review it, then pass {flags}"
        )

    def raise_if_unsafe(self, *, allow_destroy: bool, allow_mass_update: bool = False) -> None:
        """Refuse a plan beyond the destroy or update threshold, or touching protected objects."""
        err = self.unsafe_error(allow_destroy=allow_destroy, allow_mass_update=allow_mass_update)
        if err is not None:
            raise err

    @property
    def data(self) -> dict[str, Any]:
        operations = self._operations()
        return {
            "format_version": FORMAT_VERSION,
            **self.provenance.data,
            "managed_count": self.managed_count,
            "max_destroy_percent": self.max_destroy_percent,
            "max_update_percent": self.max_update_percent,
            "min_objects_for_thresholds": self.min_objects_for_thresholds,
            "summary": self.counts(),
            "unsafe": self.unsafe_reasons,
            # Added after format_version 2 was first saved (so not a new version): which
            # override flag each reason needs. `unsafe` stays a list of strings for old readers.
            "unsafe_overrides": [{"reason": u.reason, "flag": u.flag} for u in self.unsafe],
            "conflicts": list(self.conflicts),
            "warnings": list(self.warnings),
            "unreachable": list(self.unreachable),
            "unmanaged": dict(sorted(self.unmanaged.items())),
            "grandfathered": dict(sorted(self.grandfathered.items())),
            "mrr": {cur: {"before": b, "after": a} for cur, (b, a) in sorted(self.mrr.items())},
            "checksum": operations_checksum(operations),
            "operations": operations,
        }

    def _operations(self) -> list[dict[str, Any]]:
        return [{**c.data, "depends_on": list(self.depends_on.get(c.id, ()))} for c in self.changes]
