"""Operation value objects and the Plan: pure data with a stable order, `.data` for JSON, and the exact API call."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

FORMAT_VERSION = 1

ACTIONS = ("create", "update", "replace", "reactivate", "archive", "cancel")
SYMBOLS = {
    "create": "+",
    "update": "~",
    "replace": "-/+",
    "reactivate": "+",
    "archive": "-",
    "cancel": "-",
}
RESOURCE_ORDER = {"product": 0, "price": 1, "customer": 2, "subscription": 3}

# Placeholders for ids that only exist once an earlier operation has run: ${price:pro-monthly}.
REF_RE = re.compile(r"\$\{(product|price|customer|subscription):([^}]+)\}")


def ref(resource: str, key: str) -> str:
    return f"${{{resource}:{key}}}"


@dataclass(frozen=True)
class FieldChange:
    """One field-level difference, `path` dotted from the resource (e.g. `metadata.tier`)."""

    path: str
    old: Any
    new: Any

    @property
    def data(self) -> dict[str, Any]:
        return {"path": self.path, "old": self.old, "new": self.new}


@dataclass
class Operation:
    """One API write the apply will make, with what it changes and what it waits for."""

    action: str
    resource: str
    key: str
    method: str
    path: str
    params: dict[str, Any]
    stripe_id: str | None = None
    step: str = ""  # distinguishes several operations on one resource ("default_price", "old")
    phase: int = 0  # execution order: lower first, dependencies permitting
    changes: list[FieldChange] = field(default_factory=list)
    depends_on: list[str] = field(default_factory=list)
    produces: str | None = None  # the ref this operation's response id fills in
    destructive: bool = False
    summary: str = ""  # money terms for people: "19.99 USD/month -> 24.99 USD/month"
    notes: list[str] = field(default_factory=list)

    @property
    def id(self) -> str:
        step = f".{self.step}" if self.step else ""
        return f"{self.resource}.{self.action}{step}:{self.key}"

    @property
    def sort_key(self) -> tuple[int, int, str, str]:
        return (self.phase, RESOURCE_ORDER[self.resource], self.key, self.id)

    @property
    def data(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "action": self.action,
            "resource": self.resource,
            "key": self.key,
            "step": self.step,
            "stripe_id": self.stripe_id,
            "phase": self.phase,
            "summary": self.summary,
            "changes": [c.data for c in self.changes],
            "notes": list(self.notes),
            "destructive": self.destructive,
            "depends_on": list(self.depends_on),
            "produces": self.produces,
            "request": {"method": self.method, "path": self.path, "params": self.params},
        }

    @classmethod
    def from_data(cls, d: dict[str, Any]) -> Operation:
        req = d["request"]
        return cls(
            action=d["action"],
            resource=d["resource"],
            key=d["key"],
            method=req["method"],
            path=req["path"],
            params=req["params"],
            stripe_id=d.get("stripe_id"),
            step=d.get("step", ""),
            phase=int(d.get("phase", 0)),
            changes=[FieldChange(c["path"], c["old"], c["new"]) for c in d.get("changes", [])],
            depends_on=list(d.get("depends_on", [])),
            produces=d.get("produces"),
            destructive=bool(d.get("destructive")),
            summary=d.get("summary", ""),
            notes=list(d.get("notes", [])),
        )


@dataclass
class Plan:
    """The diff of desired vs existing: operations plus everything a reviewer needs to judge it."""

    operations: list[Operation]
    config_file: str = ""
    config_hash: str = ""
    remote_fingerprint: str = ""
    account: str = ""
    managed_count: int = 0
    max_destroy_percent: float = 30.0
    unmanaged: dict[str, int] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    conflicts: list[str] = field(default_factory=list)
    mrr: dict[str, list[int]] = field(
        default_factory=dict
    )  # currency -> [before, after] monthly minor units
    grandfathered: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.operations.sort(key=lambda o: o.sort_key)

    @property
    def has_changes(self) -> bool:
        return bool(self.operations)

    def counts(self) -> dict[str, int]:
        """Per action, counted once per resource (a replace's steps are one replace)."""
        seen: dict[str, set[tuple[str, str]]] = {a: set() for a in ACTIONS}
        for op in self.operations:
            if op.step in ("", "create"):
                seen[op.action].add((op.resource, op.key))
        return {a: len(s) for a, s in seen.items()}

    @property
    def destructive_operations(self) -> list[Operation]:
        return [op for op in self.operations if op.destructive]

    @property
    def unsafe_reasons(self) -> list[str]:
        reasons = []
        destroy = self.destructive_operations
        if destroy and self.managed_count:
            pct = 100.0 * len(destroy) / self.managed_count
            if pct > self.max_destroy_percent:
                reasons.append(
                    f"{len(destroy)} destructive operation(s) touch {pct:.0f}% of "
                    f"{self.managed_count} managed objects (max_destroy_percent: "
                    f"{self.max_destroy_percent:g})"
                )
        protected = [op for op in destroy if "protected" in op.notes]
        for op in protected:
            reasons.append(f"{op.resource} {op.key} is protected (protect: true)")
        return reasons

    @property
    def data(self) -> dict[str, Any]:
        return {
            "format_version": FORMAT_VERSION,
            "config_file": self.config_file,
            "config_hash": self.config_hash,
            "remote_fingerprint": self.remote_fingerprint,
            "account": self.account,
            "managed_count": self.managed_count,
            "max_destroy_percent": self.max_destroy_percent,
            "summary": self.counts(),
            "unsafe": self.unsafe_reasons,
            "conflicts": list(self.conflicts),
            "warnings": list(self.warnings),
            "unmanaged": dict(sorted(self.unmanaged.items())),
            "grandfathered": dict(sorted(self.grandfathered.items())),
            "mrr": {cur: {"before": b, "after": a} for cur, (b, a) in sorted(self.mrr.items())},
            "operations": [op.data for op in self.operations],
        }

    @classmethod
    def from_data(cls, d: dict[str, Any]) -> Plan:
        return cls(
            operations=[Operation.from_data(o) for o in d["operations"]],
            config_file=d.get("config_file", ""),
            config_hash=d.get("config_hash", ""),
            remote_fingerprint=d.get("remote_fingerprint", ""),
            account=d.get("account", ""),
            managed_count=int(d.get("managed_count", 0)),
            max_destroy_percent=float(d.get("max_destroy_percent", 30.0)),
            unmanaged=dict(d.get("unmanaged", {})),
            warnings=list(d.get("warnings", [])),
            conflicts=list(d.get("conflicts", [])),
            mrr={cur: [v["before"], v["after"]] for cur, v in d.get("mrr", {}).items()},
            grandfathered=dict(d.get("grandfathered", {})),
        )
