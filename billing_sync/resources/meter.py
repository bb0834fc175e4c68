"""Billing meters: keyed by event_name (Stripe meters carry no metadata), display_name in place, deactivate on removal.

Stripe keeps no metadata on a meter, so billing-sync cannot stamp `billing_sync_key` on one.
A meter's billing.yaml key is its `event_name`, which Stripe lets only one meter use ("You can
only use an event name with a single meter", docs.stripe.com/billing/subscriptions/usage-based/
meters/configure). Ownership follows from that: billing-sync changes a meter only when
billing.yaml declares its event name, and deactivates an undeclared one only when a
billing-sync price (archived ones included) is metered on it; a meter made by hand or by
another tool is never touched. After creation Stripe changes only `display_name` ("After you
configure the meter, you can't make any changes aside from the display name", same page);
the other settings are fixed, and since the event name cannot be reused, a new meter needs a
new event name (key).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
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
    object_token,
    ref,
)
from billing_sync.config.models import BillingConfig
from billing_sync.resources.base import (
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
    create_changes,
    diff_fields,
    in_place_update,
    is_key,
    reachable,
)

DEFAULT_CUSTOMER_KEY = "stripe_customer_id"
DEFAULT_VALUE_KEY = "value"
PATH = "/v1/billing/meters"


@dataclass(frozen=True, slots=True)
class MeterState:
    key: str  # the event_name
    display_name: str
    default_aggregation: Mapping[str, str] = field(default_factory=lambda: {"formula": "sum"})
    customer_mapping: Mapping[str, str] = field(
        default_factory=lambda: {"event_payload_key": DEFAULT_CUSTOMER_KEY}
    )
    value_settings: Mapping[str, str] = field(
        default_factory=lambda: {"event_payload_key": DEFAULT_VALUE_KEY}
    )
    event_time_window: str | None = None
    active: bool = True
    id: str | None = None  # existing only
    created: int = 0  # existing only


def _fixed(name: str) -> FieldSpec:
    # Fixed at creation, and the event name cannot move to a new meter: reported, never sent.
    return FieldSpec(name, mutability=Mutability.CREATE_ONLY, unset=Unset.DEFAULT, own_rule=True)


class MeterKind(Kind[MeterState]):
    name = "meter"
    plural = "meters"
    fields = (
        FieldSpec("display_name", unset=Unset.REQUIRED),
        _fixed("default_aggregation"),
        _fixed("customer_mapping"),
        _fixed("value_settings"),
        _fixed("event_time_window"),
        # Deactivated and reactivated through endpoints of their own.
        FieldSpec("active", unset=Unset.DEFAULT, own_rule=True),
    )
    # Without a `status` filter Stripe lists active and inactive meters alike.
    list_reads = (ListRead(PATH),)

    # -- billing.yaml ------------------------------------------------------------------------
    def desired(self, config: BillingConfig) -> dict[str, MeterState]:
        return {
            key: MeterState(
                key=key,
                display_name=m.display_name,
                default_aggregation={"formula": m.default_aggregation.formula},
                customer_mapping={"event_payload_key": m.customer_mapping.event_payload_key},
                value_settings={"event_payload_key": m.value_settings.event_payload_key},
                event_time_window=m.event_time_window,
                active=m.active,
            )
            for key, m in config.meters.items()
        }

    def render(self, state: MeterState) -> tuple[tuple[str, ...], dict[str, Any]]:
        doc: dict[str, Any] = {"display_name": state.display_name}
        if state.default_aggregation.get("formula") != "sum":
            doc["default_aggregation"] = dict(state.default_aggregation)
        if state.customer_mapping.get("event_payload_key") != DEFAULT_CUSTOMER_KEY:
            doc["customer_mapping"] = dict(state.customer_mapping)
        if state.value_settings.get("event_payload_key") != DEFAULT_VALUE_KEY:
            doc["value_settings"] = dict(state.value_settings)
        if state.event_time_window:
            doc["event_time_window"] = state.event_time_window
        if not state.active:
            doc["active"] = False
        return ("meters", state.key), doc

    # -- Stripe ------------------------------------------------------------------------------
    def read(
        self, objects: Iterable[dict[str, Any]], existing: Existing, pages: Pages
    ) -> Snapshot[MeterState]:
        by_name: dict[str, list[MeterState]] = defaultdict(list)
        for obj in objects:
            state = normalise_meter(obj)
            by_name[state.key].append(state)
        managed: dict[str, MeterState] = {}
        others: list[MeterState] = []
        for key, states in by_name.items():
            current = max(states, key=lambda m: (m.active, m.created))
            managed[key] = current
            others += [m for m in states if m is not current]
        return Snapshot(managed=managed, others=tuple(others))

    def stripe_id(self, state: MeterState) -> str | None:
        return state.id

    def is_live(self, state: MeterState) -> bool:
        return state.active

    def managed_count(self, existing: Existing) -> int:
        """Meters carry no metadata, so only the active meters a billing-sync price is metered
        on count as billing-sync's (a meter made by hand must not dilute the thresholds)."""
        referenced = _metered_on_prices(existing)
        return sum(
            1 for m in existing.of(self).managed.values() if m.active and m.key in referenced
        )

    def keys_by_id(self, existing: Existing) -> dict[str, str]:
        """Stripe meter id -> its key (event name), for every meter read."""
        snap = existing.of(self)
        return {m.id: m.key for m in (*snap.managed.values(), *snap.others) if m.id}

    # -- import ------------------------------------------------------------------------------
    def import_key(self, state: MeterState, ids: IdKeys) -> str:
        return state.key

    def import_state(self, state: MeterState, key: str, ids: IdKeys) -> Imported[MeterState]:
        if key != state.key or not is_key(state.key):
            return Imported.skip(
                f"meter {state.id}: its event_name {state.key!r} cannot be a billing.yaml key "
                "(1-64 letters, digits, '_' or '-')"
            )
        return Imported(state)

    # -- comparison --------------------------------------------------------------------------
    def compare(self, context: PlanContext) -> KindPlan:
        snapshot = context.existing.of(self)
        changes: list[Change] = []
        unreachable: list[str] = []
        for key, d in context.desired.of(self).items():
            e = snapshot.managed.get(key)
            if e is None:
                changes += self._create(d)
                continue
            ignore = context.desired.ignore(self, key)
            reached, notes = reachable(self.name, key, e, d, self.fields, ignore)
            if notes:
                unreachable += notes
                unreachable.append(
                    f"meter {key}: Stripe lets an event name belong to one meter only: declare a "
                    "meter with a new key (event name) and point its prices at it to change these"
                )
            changes += self._in_place(e, reached)
        referenced = _metered_on(context)
        for key, e in snapshot.managed.items():
            if key in context.desired.of(self) or not e.active or key not in referenced:
                continue
            changes.append(self._status(e, False, Reason.REMOVED))
        return KindPlan(tuple(changes), unreachable=tuple(unreachable))

    def _create(self, d: MeterState) -> list[Change]:
        params: dict[str, Any] = {
            "customer_mapping": {"type": "by_id", **d.customer_mapping},
            "default_aggregation": dict(d.default_aggregation),
            "display_name": d.display_name,
            "event_name": d.key,
            "value_settings": dict(d.value_settings),
        }
        if d.event_time_window:
            params["event_time_window"] = d.event_time_window
        create = Create(
            kind=self.name,
            key=d.key,
            request=Request("post", PATH, params),
            fields=create_changes(d, self.fields, _quiet),
            summary=describe_meter(d),
            provides=frozenset({object_token(self.name, d.key)}),
        )
        if d.active:
            return [create]
        return [create, self._status(d, False, Reason.DECLARED, ref(self.name, d.key))]

    def _in_place(self, e: MeterState, d: MeterState) -> list[Change]:
        found = diff_fields(e, d, (self.fields[0],))
        changes = in_place_update(self, e.key, f"{PATH}/{e.id}", found, e.id, describe_meter(d))
        if d.active != e.active:
            changes.append(self._status(e, d.active, Reason.DECLARED))
        return changes

    def _status(
        self, e: MeterState, active: bool, reason: Reason, stripe_id: str | None = None
    ) -> Change:
        """Deactivate (no more events accepted, no new prices) or reactivate one meter."""
        meter_id = stripe_id or e.id
        cls: type[Change] = Reactivate if active else Archive
        return cls(
            kind=self.name,
            key=e.key,
            request=Request(
                "post", f"{PATH}/{meter_id}/{'reactivate' if active else 'deactivate'}", {}
            ),
            stripe_id=e.id,
            reason=reason,
            stage=Stage.BUILD if active else Stage.DESTROY,
            fields=(FieldChange("active", not active, active),),
            summary=describe_meter(e),
            destructive=not active,
            provides=frozenset({object_token(self.name, e.key)}) if active else frozenset(),
        )


def _metered_on(context: PlanContext) -> set[str]:
    """Keys of the meters a billing-sync price (current or archived) is metered on."""
    return _metered_on_prices(context.existing)


def _metered_on_prices(existing: Existing) -> set[str]:
    snap = existing.snapshots.get("price")
    if snap is None:
        return set()
    return {
        str(p.recurring["meter"])
        for p in (*snap.managed.values(), *snap.others)
        if p.recurring and p.recurring.get("meter")
    }


def normalise_meter(obj: Mapping[str, Any]) -> MeterState:
    mapping = obj.get("customer_mapping") or {}
    value = obj.get("value_settings") or {}
    return MeterState(
        key=obj["event_name"],
        display_name=obj.get("display_name") or "",
        default_aggregation={
            "formula": str((obj.get("default_aggregation") or {}).get("formula") or "")
        },
        customer_mapping={
            "event_payload_key": mapping.get("event_payload_key") or DEFAULT_CUSTOMER_KEY
        },
        value_settings={"event_payload_key": value.get("event_payload_key") or DEFAULT_VALUE_KEY},
        event_time_window=obj.get("event_time_window"),
        active=obj.get("status") == "active",
        id=obj["id"],
        created=int(obj.get("created") or 0),
    )


def describe_meter(m: MeterState) -> str:
    """`AI tokens: sum of value per customer (event ai_tokens)`."""
    formula = m.default_aggregation.get("formula")
    what = (
        "count of events"
        if formula == "count"
        else f"{formula} of {m.value_settings.get('event_payload_key')}"
    )
    return f"{m.display_name}: {what} (event {m.key})"


def _quiet(name: str, value: Any) -> bool:
    return (name, value) in [
        ("active", True),
        ("customer_mapping", {"event_payload_key": DEFAULT_CUSTOMER_KEY}),
        ("value_settings", {"event_payload_key": DEFAULT_VALUE_KEY}),
    ]


METER = MeterKind()
