"""`billing-sync import`: the account as read (`read_account`) -> a billing.yaml that validates.

The driver names no kind: it iterates the registry, and each kind gives, through the hooks of
`resources.base.Kind`, a readable key for an unmanaged object (`import_key`, made unique here),
the object as billing.yaml declares it, references mapped to the imported keys
(`import_state`), and its billing.yaml mapping (`render`). Managed objects keep their keys.

Nothing is dropped in silence: an object billing.yaml cannot declare (by its kind's rule, or
because the written file would not validate) is left out with a reason, which goes to the
file's header and to the caller's warnings; the objects that refer to it are then decided
again without it (a subscription on a price left out is left out too). Same account, same
bytes: every collection is sorted, and keys are given in a fixed order.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from billing_sync.config.emit import dump
from billing_sync.config.loader import load_text
from billing_sync.config.source import format_path
from billing_sync.errors import BillingSyncError, ConfigError, UsageError
from billing_sync.resources import KINDS
from billing_sync.resources.base import Existing, Kind, unique_key

# (kind name, Stripe id) -> why it is left out
Excluded = dict[tuple[str, str], str]

HEADER = (
    "billing.yaml written by `billing-sync import` from the Stripe account.",
    "The comment after each key is the Stripe id of the object it declares.",
)


@dataclass(frozen=True)
class ImportResult:
    text: str  # the billing.yaml
    # kind name -> key -> the state billing.yaml declares (what loading `text` gives back)
    states: Mapping[str, Mapping[str, Any]]
    # kind name -> key -> the Stripe id it was imported from
    ids: Mapping[str, Mapping[str, str]]
    warnings: tuple[str, ...]  # objects left out and values dropped, one line each
    left_out: Mapping[str, int] = field(default_factory=dict)  # plural -> archived, not asked

    def summary(self) -> str:
        counts = ", ".join(_count(len(self.ids[k.name]), k) for k in _kinds_in(self))
        archived = sum(self.left_out.values())
        more = f"; {archived} archived left out (--include-archived)" if archived else ""
        return f"imported {counts}{more}"


def _count(n: int, kind: Kind[Any]) -> str:
    return f"{n} {kind.name if n == 1 else kind.plural}"


def _kinds_in(result: ImportResult) -> Iterator[Kind[Any]]:
    return (k for k in KINDS if k.name in result.ids)


@dataclass(frozen=True)
class _Candidate:
    state: Any
    stripe_id: str
    key: str | None  # its managed key, kept; None: an unmanaged object, given one here


class _Taken:
    """Keys already given, and names a generated key must avoid (other objects' own names)."""

    def __init__(self, keys: set[str], reserved: set[str], own: tuple[str, ...] = ()) -> None:
        self.keys, self.reserved, self.own = keys, reserved, own

    def __contains__(self, key: object) -> bool:
        return key in self.keys or (key in self.reserved and key not in self.own)


def import_account(
    existing: Existing, *, groups: frozenset[str] = frozenset(), include_archived: bool = False
) -> ImportResult:
    """The account as billing.yaml. `groups`: the optional kinds asked for (`customers`)."""
    excluded: Excluded = {}
    # Each round either succeeds or leaves out at least one more object, so this ends.
    while True:
        outcome = _attempt(existing, groups, include_archived, excluded)
        if isinstance(outcome, ImportResult):
            return outcome
        excluded.update(outcome)


def _attempt(
    existing: Existing, groups: frozenset[str], include_archived: bool, excluded: Excluded
) -> ImportResult | Excluded:
    kinds = [k for k in KINDS if k.import_option is None or k.import_option in groups]
    left_out: dict[str, int] = {}
    candidates: dict[str, list[_Candidate]] = {}
    for kind in kinds:
        snap = existing.of(kind)
        found = []
        pairs = [*((s, k) for k, s in snap.managed.items()), *((s, None) for s in snap.unmanaged)]
        for state, key in pairs:
            stripe_id = kind.stripe_id(state)
            if not stripe_id or (kind.name, stripe_id) in excluded:
                continue
            if not include_archived and not kind.is_live(state):
                left_out[kind.plural] = left_out.get(kind.plural, 0) + 1
                continue
            found.append(_Candidate(state, stripe_id, key))
        candidates[kind.name] = found

    # Keys, in registry order: a kind's generated keys may use those of the kinds before it.
    ids: dict[str, dict[str, str]] = {}
    for kind in kinds:
        ids[kind.name] = _keys(kind, candidates[kind.name], ids)

    # The objects as billing.yaml declares them; a new exclusion starts the round again.
    new: Excluded = {}
    notes: list[str] = []
    declared: list[tuple[Kind[Any], str, Any]] = []  # (kind, Stripe id, state)
    for kind in kinds:
        for c in candidates[kind.name]:
            imported = kind.import_state(c.state, ids[kind.name][c.stripe_id], ids)
            if imported.state is None:
                new[(kind.name, c.stripe_id)] = "; ".join(imported.notes)
            else:
                notes += imported.notes
                declared.append((kind, c.stripe_id, imported.state))
    if new:
        return new

    doc: dict[str, Any] = {"version": 1}
    comments: dict[tuple[str | int, ...], str] = {}
    owners: dict[str, tuple[str, str]] = {}  # formatted path -> (kind name, Stripe id)
    rendered = sorted(
        ((kind, sid, *kind.render(state), state) for kind, sid, state in declared),
        key=lambda r: (KINDS.index(r[0]), r[2], r[4].key),
    )
    states: dict[str, dict[str, Any]] = {k.name: {} for k in kinds}
    for kind, sid, path, body, state in rendered:
        node = doc
        for part in path[:-1]:
            node = node.setdefault(part, {})
        if isinstance(body, list):  # list items (a product's features) join one list
            node.setdefault(path[-1], []).extend(body)
        else:
            node[path[-1]] = body
            comments[path] = sid
        owners[format_path(path)] = (kind.name, sid)
        states[kind.name][state.key] = state

    header = [*HEADER, *_section("Left out (billing.yaml cannot declare them):", excluded.values())]
    header += _section("Notes:", notes)
    text = dump(doc, comments, header)
    try:
        load_text(text, "imported billing.yaml")
    except ConfigError as err:
        return _invalid(err, owners)
    warnings = (*sorted(excluded.values()), *sorted(notes))
    keys_to_ids: dict[str, dict[str, str]] = {k.name: {} for k in kinds}
    for kind, sid, _, _, state in rendered:
        keys_to_ids[kind.name][state.key] = sid
    return ImportResult(text, states, keys_to_ids, warnings, left_out)


def _keys(
    kind: Kind[Any], candidates: list[_Candidate], ids: Mapping[str, Mapping[str, str]]
) -> dict[str, str]:
    """Stripe id -> key: managed objects keep theirs; the others get their kind's readable key,
    made unique (`-2`, `-3`, ...) in order of (key, Stripe id)."""
    out = {c.stripe_id: c.key for c in candidates if c.key is not None}
    keys = set(out.values())
    reserved = {n for c in candidates for n in kind.import_names(c.state)}
    wanted = sorted(
        (kind.import_key(c.state, ids), c.stripe_id, c.state) for c in candidates if c.key is None
    )
    for base, stripe_id, state in wanted:
        key = unique_key(base, _Taken(keys, reserved, kind.import_names(state)))
        keys.add(key)
        out[stripe_id] = key
    return out


def _section(title: str, lines: Iterable[str]) -> list[str]:
    shown = sorted(lines)
    return ["", title, *(f"  {line}" for line in shown)] if shown else []


def _invalid(err: ConfigError, owners: Mapping[str, tuple[str, str]]) -> Excluded:
    """The objects the loader found a problem in, each left out with the loader's message."""
    new: Excluded = {}
    for issue in err.issues:
        owner = _owner(issue.path, owners)
        if owner is None:  # not one object's fault: a bug of import, never a bad file
            raise BillingSyncError(f"import wrote a billing.yaml that does not validate: {issue}")
        if owner not in new:
            new[owner] = f"{owner[0]} {owner[1]}: {issue.message} (at {issue.path})"
    return new


def _owner(path: str, owners: Mapping[str, tuple[str, str]]) -> tuple[str, str] | None:
    """The deepest imported object whose billing.yaml path contains `path`."""
    cuts = [n for n, ch in enumerate(path) if ch in ".["] + [len(path)]
    for n in reversed(cuts):
        if path[:n] in owners:
            return owners[path[:n]]
    return None


def refuse_existing(path: str | Path) -> None:
    """One clear error when `path` exists (checked before the account is read, and again,
    atomically, when writing)."""
    if os.path.lexists(path):
        raise UsageError(f"{path} already exists: choose another --out, or add --force")


def write_file(path: str | Path, text: str, *, force: bool = False) -> None:
    """Write `text` to `path` atomically: a reader sees the old file or the whole new one, never
    half. Without `force` an existing file is never replaced, even one created meanwhile."""
    target = Path(path)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    except OSError as err:
        raise UsageError(f"cannot write {path}: {err.strerror or err}") from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)
        if force:
            os.replace(tmp, target)
        else:
            os.link(tmp, target)  # fails if the target exists: no check-then-write race
    except FileExistsError:
        raise UsageError(f"{path} already exists: choose another --out, or add --force") from None
    except OSError as err:
        raise UsageError(f"cannot write {path}: {err.strerror or err}") from None
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
