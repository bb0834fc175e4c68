"""The vocabulary of a plan: typed, frozen changes (one Stripe write each) and their field-level differences."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import IntEnum, StrEnum
from functools import cached_property
from typing import Any, ClassVar

# Placeholders for ids that only exist once an earlier change has run: ${price:pro-monthly}.
REF_RE = re.compile(r"\$\{([a-z_]+):([^}]+)\}")


def ref(kind: str, key: str) -> str:
    """The placeholder a later change uses for the id that creating `kind` `key` returns."""
    return f"${{{kind}:{key}}}"


def is_ref(value: str | None) -> bool:
    return bool(value) and str(value).startswith("${")


def object_token(kind: str, key: str) -> str:
    """The dependency token a change provides when it makes `kind` `key` usable."""
    return f"{kind}:{key}"


def release_token(stripe_id: str) -> str:
    """The token a change provides when it stops pointing at `stripe_id` (so it may be archived)."""
    return f"release:{stripe_id}"


def placeholders(value: Any) -> set[str]:
    """Every ${kind:key} placeholder inside a request (path or params, at any depth)."""
    found: set[str] = set()
    if isinstance(value, str):
        found.update(m.group(0) for m in REF_RE.finditer(value))
    elif isinstance(value, Mapping):
        for v in value.values():
            found |= placeholders(v)
    elif isinstance(value, (list, tuple)):
        for v in value:
            found |= placeholders(v)
    return found


class Reason(StrEnum):
    """Why a change is in the plan; renderers and the change's id read it, never free text."""

    DECLARED = "declared"  # billing.yaml declares a value that Stripe does not have
    REMOVED = "removed"  # no longer declared
    REVERTED = "reverted"  # billing.yaml went back to an archived object: it is reactivated
    REPLACED = "replaced"  # superseded by a replacement (the old price of a replace)
    STALE = "stale"  # a duplicate left by an interrupted apply
    DEFAULT_PRICE = "default_price"  # a product's default price moves
    UNMANAGED = "unmanaged"  # no longer declared, and left to bill as it is: ownership dropped
    # a test card token attached to the customer, for the subscription that declares it
    PAYMENT_METHOD = "payment_method"


# Reason -> the step of its change's id (`Reason.X` is a slow lookup on Python 3.11, and every
# change's id asks).
_STEPS: Mapping[Reason, str] = {
    Reason.REPLACED: "old",
    Reason.DEFAULT_PRICE: "default_price",
    Reason.PAYMENT_METHOD: "payment_method",
}
_STALE = Reason.STALE


class Stage(IntEnum):
    """Coarse execution order, dependencies permitting: build, link, clean up, destroy."""

    BUILD = 1  # creates, updates, replacements, reactivations
    LINK = 2  # references moved once their targets exist (a product's default price)
    CLEANUP = 3  # superseded objects archived
    DESTROY = 4  # removals: archives and cancellations of what is no longer declared


@dataclass(frozen=True)
class FieldChange:
    """One field-level difference, `path` dotted from the resource (e.g. `metadata.tier`)."""

    path: str
    old: Any
    new: Any

    @property
    def data(self) -> dict[str, Any]:
        return {"path": self.path, "old": self.old, "new": self.new}


@dataclass(frozen=True)
class Request:
    """The exact Stripe API call a change makes (placeholders filled in at apply time)."""

    method: str
    path: str
    params: Mapping[str, Any]

    @property
    def data(self) -> dict[str, Any]:
        return {"method": self.method, "path": self.path, "params": dict(self.params)}


@dataclass(frozen=True)
class Change:
    """One write the apply will make. Subclasses fix the action; the reason says why.

    The subclasses add no field, so they are not decorated again: they inherit the generated
    methods, which already work per class (`repr` names the subclass, `==` needs the same
    class, fields cannot be assigned). Decorating each cost about 0.7 ms of every run's
    start-up, for nine identical copies of these methods."""

    kind: str
    key: str
    request: Request
    stripe_id: str | None = None
    reason: Reason = Reason.DECLARED
    stage: Stage = Stage.BUILD
    fields: tuple[FieldChange, ...] = ()
    summary: str = ""  # money terms for people: "19.99 USD/month -> 24.99 USD/month"
    notes: tuple[str, ...] = ()
    protected: bool = False  # touches a `protect: true` object
    destructive: bool = False  # counts against max_destroy_percent
    provides: frozenset[str] = frozenset()  # dependency tokens this change satisfies
    needs: frozenset[str] = (
        frozenset()
    )  # tokens it waits for when a change in the plan provides them

    action: ClassVar[str] = ""
    symbol: ClassVar[str] = ""

    @cached_property
    def step(self) -> str:
        """Distinguishes several changes of one object in the same plan (computed once)."""
        if self.reason is _STALE:
            return f"stale.{self.stripe_id}"
        return _STEPS.get(self.reason, "")

    @cached_property
    def id(self) -> str:
        """Unique in a plan; computed once (the graph, the renderers and the executor each ask
        for it of every change). Not a field: equality and the saved plan are unchanged."""
        step = self.step
        return (
            f"{self.kind}.{self.action}.{step}:{self.key}"
            if step
            else (f"{self.kind}.{self.action}:{self.key}")
        )

    @property
    def produces(self) -> str | None:
        """The placeholder this change's response id fills in, for changes that create."""
        return None

    @property
    def data(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "action": self.action,
            "kind": self.kind,
            "key": self.key,
            "reason": self.reason.value,
            "stage": self.stage.value,
            "stripe_id": self.stripe_id,
            "summary": self.summary,
            "changes": [c.data for c in self.fields],
            "notes": list(self.notes),
            "protected": self.protected,
            "destructive": self.destructive,
            "provides": sorted(self.provides),
            "needs": sorted(self.needs),
            "produces": self.produces,
            "request": self.request.data,
        }


class Create(Change):
    action: ClassVar[str] = "create"
    symbol: ClassVar[str] = "+"

    @cached_property
    def produces(self) -> str | None:
        """${kind:key}, or ${kind:key.step} for an object created on another's behalf (the
        payment method a subscription declares). Computed once."""
        return ref(self.kind, f"{self.key}.{self.step}" if self.step else self.key)


class Update(Change):
    action: ClassVar[str] = "update"
    symbol: ClassVar[str] = "~"


class Replace(Change):
    """Creates the successor of an object whose fixed fields changed (`stripe_id` is the old one)."""

    action: ClassVar[str] = "replace"
    symbol: ClassVar[str] = "-/+"

    @property
    def produces(self) -> str | None:
        return ref(self.kind, self.key)


class Reactivate(Change):
    action: ClassVar[str] = "reactivate"
    symbol: ClassVar[str] = "+"


class Archive(Change):
    action: ClassVar[str] = "archive"
    symbol: ClassVar[str] = "-"


class Cancel(Change):
    action: ClassVar[str] = "cancel"
    symbol: ClassVar[str] = "-"


class Delete(Change):
    """Deletes an object Stripe lets go for good (a coupon: discounts already applied keep working)."""

    action: ClassVar[str] = "delete"
    symbol: ClassVar[str] = "-"


class Detach(Change):
    """Removes an attachment between two objects (a feature from a product): a DELETE of the
    link only; neither object is archived or deleted."""

    action: ClassVar[str] = "detach"
    symbol: ClassVar[str] = "-"


class Adopt(Change):
    """Takes an existing, unmanaged object under management: stamps the ownership metadata
    (and updates what billing.yaml declares differently) instead of creating a duplicate."""

    action: ClassVar[str] = "adopt"
    symbol: ClassVar[str] = "<="


CHANGE_TYPES: tuple[type[Change], ...] = (
    Create,
    Adopt,
    Update,
    Replace,
    Reactivate,
    Archive,
    Cancel,
    Delete,
    Detach,
)
ACTIONS: tuple[str, ...] = tuple(t.action for t in CHANGE_TYPES)
_BY_ACTION: dict[str, type[Change]] = {t.action: t for t in CHANGE_TYPES}


def change_from_data(data: Mapping[str, Any]) -> Change:
    """The change whose `.data` this is (a saved plan's operation, `depends_on` aside).

    Raises ValueError when it is not exactly what a change of this vocabulary writes."""
    try:
        cls = _BY_ACTION[data["action"]]
        request = data["request"]
        change = cls(
            kind=data["kind"],
            key=data["key"],
            request=Request(request["method"], request["path"], dict(request["params"])),
            stripe_id=data["stripe_id"],
            reason=Reason(data["reason"]),
            stage=Stage(data["stage"]),
            fields=tuple(FieldChange(f["path"], f["old"], f["new"]) for f in data["changes"]),
            summary=data["summary"],
            notes=tuple(data["notes"]),
            protected=data["protected"],
            destructive=data["destructive"],
            provides=frozenset(data["provides"]),
            needs=frozenset(data["needs"]),
        )
    except (KeyError, TypeError, AttributeError) as err:
        raise ValueError(f"not a change ({type(err).__name__}: {err})") from None
    expected = {k: v for k, v in data.items() if k != "depends_on"}
    if change.data != expected:
        raise ValueError(f"operation {data.get('id')!r} is not one billing-sync writes")
    return change


@dataclass(frozen=True)
class KindPlan:
    """What comparing one resource kind yields: its changes and what a reviewer must read."""

    changes: tuple[Change, ...] = ()
    warnings: tuple[str, ...] = ()
    conflicts: tuple[str, ...] = ()
    # Differences apply cannot make (fields Stripe sets only at creation or cannot unset).
    unreachable: tuple[str, ...] = ()
    # Objects not declared that stay on a superseded version (price key -> subscriptions).
    grandfathered: Mapping[str, int] = field(default_factory=dict)
