"""The planner: desired and existing in, an immutable Plan out, every kind through the registry."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from billing_sync.changes import Change
from billing_sync.config.cards import refuse_test_cards
from billing_sync.config.loader import load_text, read_source
from billing_sync.config.models import BillingConfig
from billing_sync.gcpause import no_gc
from billing_sync.plan.plan import Plan, Provenance
from billing_sync.plan.provenance import config_hash
from billing_sync.remote.client import Remote
from billing_sync.resources import KINDS
from billing_sync.resources.base import Desired, Existing, Kind, PlanContext
from billing_sync.resources.read import desired_state, read_account


def plan(
    desired: Desired,
    existing: Existing,
    *,
    provenance: Provenance | None = None,
    kinds: Sequence[Kind[Any]] = KINDS,
) -> Plan:
    """Compare desired with existing, kind by kind; nothing is written."""
    with no_gc():  # changes, indexes and states: many objects that all stay alive (see no_gc)
        return _plan(desired, existing, provenance, kinds)


def _plan(
    desired: Desired,
    existing: Existing,
    provenance: Provenance | None,
    kinds: Sequence[Kind[Any]],
) -> Plan:
    references: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for kind in kinds:
        for stripe_id, key in kind.references(existing.of(kind)):
            references[stripe_id].append((kind.name, key))
    context = PlanContext(
        desired,
        existing,
        targets={kind.name: kind.targets(desired, existing) for kind in kinds},
        references={sid: tuple(refs) for sid, refs in references.items()},
    )
    changes: list[Change] = []
    warnings: list[str] = []
    conflicts: list[str] = []
    unreachable: list[str] = []
    grandfathered: dict[str, int] = {}
    before: dict[str, Decimal] = defaultdict(Decimal)
    after: dict[str, Decimal] = defaultdict(Decimal)
    for kind in kinds:
        result = kind.compare(context)
        changes += result.changes
        warnings += result.warnings
        conflicts += result.conflicts
        unreachable += result.unreachable
        grandfathered.update(result.grandfathered)
        for currency, (b, a) in kind.monthly_revenue(context).items():
            before[currency] += b
            after[currency] += a
    return Plan.of(
        changes,
        provenance=(provenance or Provenance(remote_fingerprint=existing.fingerprint())),
        managed_count=sum(kind.managed_count(existing) for kind in kinds),
        max_destroy_percent=desired.policies.max_destroy_percent,
        max_update_percent=desired.policies.max_update_percent,
        min_objects_for_thresholds=desired.policies.min_objects_for_thresholds,
        unmanaged={kind.plural: n for kind in kinds if (n := len(existing.of(kind).unmanaged))},
        warnings=tuple(warnings),
        conflicts=tuple(conflicts),
        unreachable=tuple(unreachable),
        mrr={
            cur: (round(before[cur]), round(after[cur])) for cur in sorted(set(before) | set(after))
        },
        grandfathered=grandfathered,
    )


@dataclass(frozen=True)
class Source:
    """billing.yaml read once: the bytes a saved plan's hash covers are the bytes planned."""

    path: str
    data: bytes
    config: BillingConfig

    @classmethod
    def read(cls, path: str) -> Source:
        """Read and validate the file (no request is made on bad input)."""
        data, text = read_source(path)
        return cls(path, data, load_text(text, path))


@dataclass(frozen=True)
class Prepared:
    """What planning needs of billing.yaml once it is validated: its path and hash (the saved
    plan's provenance) and its desired state; not its models."""

    path: str
    config_hash: str
    desired: Desired

    @classmethod
    def of(cls, remote: Remote, source: Source) -> Prepared:
        """Test card tokens are refused here, located in billing.yaml, before a live key makes
        any request."""
        if remote.livemode:
            refuse_test_cards(source.config, source.path)
        return cls(source.path, config_hash(source.data), desired_state(source.config))


def plan_account(remote: Remote, source: Source, *, pin: bool = True) -> Plan:
    """Read the account and plan it against `source`.

    `pin=False` leaves the account's fingerprint out of the provenance (empty): only a plan
    that is saved, printed as JSON or checked against a saved one needs it, and hashing every
    object read costs about half a second of CPU at 100,000 objects. Such a plan cannot be
    saved (provenance.save refuses it)."""
    return plan_prepared(remote, Prepared.of(remote, source), pin=pin)


def plan_prepared(remote: Remote, prepared: Prepared, *, pin: bool = True) -> Plan:
    """Read the account and plan it against billing.yaml's desired state (see plan_account)."""
    existing = read_account(remote)
    return plan(
        prepared.desired,
        existing,
        provenance=Provenance(
            config_file=prepared.path,
            config_hash=prepared.config_hash,
            remote_fingerprint=existing.fingerprint() if pin else "",
            account=remote.account_fingerprint,
        ),
    )


def build_plan(remote: Remote, config_file: str, *, pin: bool = True) -> Plan:
    """Validate billing.yaml first (no request on bad input), then read the account and plan.

    billing.yaml's models are dropped once its desired state is built, before the account is
    read: nothing after needs them, and at 100,000 objects they are a few hundred MB that would
    otherwise stay alive beside the states read."""
    return plan_prepared(remote, Prepared.of(remote, Source.read(config_file)), pin=pin)
