"""resources/base.py: the account fingerprint that pins a saved plan: stable across processes
and hash seeds, sensitive to every field of every state, blind to observed facts."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from billing_sync.config.loader import load_text
from billing_sync.resources import KINDS
from billing_sync.resources.base import Existing, Snapshot
from billing_sync.resources.read import desired_state
from billing_sync.resources.subscription import SUBSCRIPTION
from tests.unit.test_resources_fields import FULL

ROOT = Path(__file__).resolve().parents[2]


def account() -> Existing:
    """Every kind of the full example as if read: one managed state per declared object."""
    desired = desired_state(load_text(FULL))
    return Existing({k.name: Snapshot(managed=dict(desired.of(k))) for k in KINDS if desired.of(k)})


STATES = [
    (kind, key, name)
    for kind, snap in sorted(account().snapshots.items())
    for key, state in snap.managed.items()
    for name in (f.name for f in dataclasses.fields(state) if not f.metadata.get("observed"))
]


def with_state(existing: Existing, kind: str, key: str, changes: dict[str, Any]) -> Existing:
    snap = existing.snapshots[kind]
    state = dataclasses.replace(snap.managed[key], **changes)
    return Existing({**existing.snapshots, kind: Snapshot({**snap.managed, key: state})})


def test_every_kind_of_the_example_is_covered() -> None:
    assert {kind for kind, _, _ in STATES} == {k.name for k in KINDS}


@pytest.mark.parametrize(("kind", "key", "name"), STATES, ids=[f"{k}.{n}" for k, _, n in STATES])
def test_a_change_to_any_field_changes_the_fingerprint(kind: str, key: str, name: str) -> None:
    before = account()
    value = getattr(before.snapshots[kind].managed[key], name)
    other = "changed" if value != "changed" else "changed again"
    assert with_state(before, kind, key, {name: other}).fingerprint() != before.fingerprint()


def test_nested_values_count_and_their_order_does_not() -> None:
    """A metadata value and an item's quantity count; the order a mapping was built in does not."""
    before = account()
    key, sub = next(iter(before.snapshots[SUBSCRIPTION.name].managed.items()))
    item = sub.items[0]
    more = dataclasses.replace(item, quantity=item.quantity + 1)
    assert (
        with_state(before, SUBSCRIPTION.name, key, {"items": (more, *sub.items[1:])}).fingerprint()
        != before.fingerprint()
    )
    meta = {"a": "1", "b": "2"}
    one = with_state(before, SUBSCRIPTION.name, key, {"metadata": meta})
    two = with_state(before, SUBSCRIPTION.name, key, {"metadata": dict(reversed(meta.items()))})
    three = with_state(before, SUBSCRIPTION.name, key, {"metadata": {"a": "1", "b": "3"}})
    assert one.fingerprint() == two.fingerprint() != three.fingerprint()
    assert one.fingerprint() != before.fingerprint()


def test_an_observed_field_does_not_change_it() -> None:
    before = account()
    key, sub = next(iter(before.snapshots[SUBSCRIPTION.name].managed.items()))
    items = tuple(dataclasses.replace(i, current_period_end=1_800_000_000) for i in sub.items)
    assert with_state(before, SUBSCRIPTION.name, key, {"items": items}).fingerprint() == (
        before.fingerprint()
    )


def test_where_a_state_sits_in_the_snapshot_counts() -> None:
    """The same state as the current managed object, or as an archived version, is another account."""
    before = account()
    kind, snap = next(iter(before.snapshots.items()))
    key, state = next(iter(snap.managed.items()))
    rest = {k: v for k, v in snap.managed.items() if k != key}
    archived = Existing({**before.snapshots, kind: Snapshot(rest, others=(state,))})
    unmanaged = Existing({**before.snapshots, kind: Snapshot(rest, unmanaged=(state,))})
    fingerprints = {before.fingerprint(), archived.fingerprint(), unmanaged.fingerprint()}
    assert len(fingerprints) == 3


# Built in a fresh interpreter: mappings filled from sets, whose order follows the hash seed.
SCRIPT = """
import dataclasses
from tests.unit.test_resources_fingerprint import account, with_state
from billing_sync.resources.subscription import SUBSCRIPTION
existing = account()
key = next(iter(existing.snapshots[SUBSCRIPTION.name].managed))
names = {f"k{n}" for n in range(50)}
print(with_state(existing, SUBSCRIPTION.name, key, {"metadata": {k: "v" for k in names}}).fingerprint())
print(list(names)[:5])
"""


def test_two_processes_with_other_hash_seeds_agree() -> None:
    outputs = []
    for seed in ("0", "1", "4242"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        done = subprocess.run(
            [sys.executable, "-c", SCRIPT], cwd=ROOT, env=env, capture_output=True, text=True
        )
        assert done.returncode == 0, done.stderr
        outputs.append(done.stdout.splitlines())
    assert len({fingerprint for fingerprint, _ in outputs}) == 1
    # The seeds did change the order the mappings were built in (else this proves nothing).
    assert len({order for _, order in outputs}) > 1
