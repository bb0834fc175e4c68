"""The Plan: an immutable list of typed changes with their order, and the safety decision on them."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from billing_sync.changes import ACTIONS, Change
from billing_sync.errors import BillingSyncError, UnsafePlanError
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
    def unsafe_reasons(self) -> list[str]:
        reasons = []
        destroy = self.destructive_changes
        if destroy and self.managed_count:
            pct = 100.0 * len(destroy) / self.managed_count
            if pct > self.max_destroy_percent:
                reasons.append(
                    f"{len(destroy)} destructive operation(s) touch {pct:.0f}% of "
                    f"{self.managed_count} managed objects (max_destroy_percent: "
                    f"{self.max_destroy_percent:g})"
                )
        for c in destroy:
            if c.protected:
                reasons.append(f"{c.kind} {c.key} is protected (protect: true)")
        return reasons

    def raise_if_conflicts(self) -> None:
        if self.conflicts:
            raise BillingSyncError(
                f"the plan has {len(self.conflicts)} conflict(s) with objects billing-sync does "
                "not manage; nothing can be applied until they are resolved"
            )

    def raise_if_unsafe(self, *, allow_destroy: bool) -> None:
        """Refuse a plan beyond the destroy threshold or touching protected objects."""
        reasons = self.unsafe_reasons
        if reasons and not allow_destroy:
            raise UnsafePlanError(
                "refusing an unsafe plan: " + "; ".join(reasons) + ". Review it, then "
                "pass --allow-destroy"
            )

    @property
    def data(self) -> dict[str, Any]:
        operations = self._operations()
        return {
            "format_version": FORMAT_VERSION,
            **self.provenance.data,
            "managed_count": self.managed_count,
            "max_destroy_percent": self.max_destroy_percent,
            "summary": self.counts(),
            "unsafe": self.unsafe_reasons,
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
