"""The resource-kind protocol: every field declared once, both sides of the diff, and the shared helpers."""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
import json
import operator
import re
import time
import unicodedata
from abc import ABC, abstractmethod
from collections.abc import Callable, Container, Iterable, Iterator, Mapping
from dataclasses import dataclass, field, fields, is_dataclass
from decimal import Decimal
from enum import Enum
from typing import Any, ClassVar, Generic, TypeVar, cast

from billing_sync.changes import (
    Adopt,
    Change,
    FieldChange,
    KindPlan,
    Request,
    Update,
    object_token,
    ref,
)
from billing_sync.config.models import KEY_PATTERN, BillingConfig, Policies
from billing_sync.gcpause import no_gc
from billing_sync.metadata import KEY_META

S = TypeVar("S")
T = TypeVar("T")

# Reads one list endpoint completely: (path, params) -> every object, 100 per request.
Pages = Callable[[str, Mapping[str, Any]], Iterator[dict[str, Any]]]

# `import`: kind name -> Stripe id -> the key the object gets in the imported billing.yaml.
IdKeys = Mapping[str, Mapping[str, str]]


class Mutability(Enum):
    """What Stripe lets billing-sync do when a declared value differs from the account."""

    IN_PLACE = "updated in place"
    REPLACE = "replaced (a new object takes over)"
    CREATE_ONLY = "used only at creation (a change is reported, not sent)"
    REQUEST_OPTION = "sent with this object's other changes; Stripe does not store it"


class Unset(Enum):
    """What removing the field from billing.yaml does."""

    EMPTY = "sent as an empty string, which unsets it"
    NEVER = "Stripe cannot unset it: Stripe keeps its value, and the plan says so"
    MERGE = "removed keys are sent as empty strings"
    REQUIRED = "billing.yaml requires it: it cannot be removed"
    DEFAULT = "falls back to its default value, which is compared and sent like any value"
    OWN_RULE = "the kind's own rule applies (see its module)"


@dataclass(frozen=True)
class FieldSpec:
    """One field of a kind: its name in the canonical state (and billing.yaml), how it changes
    and how it is unset. `to_param` turns the state value into Stripe's parameter."""

    name: str
    mutability: Mutability = Mutability.IN_PLACE
    unset: Unset = Unset.EMPTY
    to_param: Callable[[Any], Any] | None = None
    # Compared by the kind's own rules (e.g. `active` archives, `items` are matched one by one).
    own_rule: bool = False

    def param(self, value: Any) -> Any:
        """Stripe's parameter for `value`; None means "send nothing" (not unsettable)."""
        if value in (None, [], (), {}):
            return "" if self.unset is Unset.EMPTY else None
        return self.to_param(value) if self.to_param is not None else value


@dataclass(frozen=True)
class ListRead:
    """One list endpoint a kind is read from (always paged 100 at a time)."""

    path: str
    params: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Snapshot(Generic[S]):
    """One kind as read from Stripe."""

    # key -> the current managed object
    managed: Mapping[str, S] = field(default_factory=dict)
    # managed objects that are not current: archived or superseded versions, ended ones
    others: tuple[S, ...] = ()
    # objects without the ownership key (their key is their Stripe id); never changed
    unmanaged: tuple[S, ...] = ()


@dataclass(frozen=True)
class Ignore:
    """What another writer owns on one object: never compared, set or unset by billing-sync."""

    metadata: frozenset[str] = frozenset()
    fields: frozenset[str] = frozenset()

    def __bool__(self) -> bool:
        return bool(self.metadata or self.fields)

    def merged(self, metadata: Iterable[str], fields: Iterable[str]) -> Ignore:
        return Ignore(self.metadata | set(metadata), self.fields | set(fields))


def ignore_rules(common: Any, owners: Iterable[tuple[str, Any]]) -> dict[str, Ignore]:
    """key -> Ignore, from a kind's `ignore:` and each object's own (config models with
    `metadata` and `fields` lists); objects with no rule are left out."""
    out: dict[str, Ignore] = {}
    # A kind whose objects have no metadata (meters) declares fields only.
    shared = Ignore().merged(getattr(common, "metadata", ()), getattr(common, "fields", ()))
    for key, own in owners:
        metadata, fields = getattr(own, "metadata", ()), getattr(own, "fields", ())
        rule = shared.merged(metadata, fields) if metadata or fields else shared
        if rule:
            out[key] = rule
    return out


@dataclass(frozen=True)
class Desired:
    """billing.yaml as canonical state: kind name -> key -> state, the policies, and what
    other writers own (kind name -> key -> Ignore)."""

    objects: Mapping[str, Mapping[str, Any]]
    policies: Policies = field(default_factory=Policies)
    ignores: Mapping[str, Mapping[str, Ignore]] = field(default_factory=dict)

    def of(self, kind: Kind[S]) -> Mapping[str, S]:
        return self.objects.get(kind.name, {})

    def ignore(self, kind: Kind[Any], key: str) -> Ignore:
        return self.ignores.get(kind.name, _NO_RULES).get(key, NOTHING_IGNORED)


NOTHING_IGNORED = Ignore()
_NO_RULES: Mapping[str, Ignore] = {}


@dataclass(frozen=True)
class Existing:
    """The account as read from Stripe: kind name -> Snapshot."""

    snapshots: Mapping[str, Snapshot[Any]] = field(default_factory=dict)

    def of(self, kind: Kind[S]) -> Snapshot[S]:
        snap: Snapshot[S] = self.snapshots.get(kind.name, Snapshot())
        return snap

    def with_snapshot(self, kind: Kind[S], snapshot: Snapshot[S]) -> Existing:
        return Existing({**self.snapshots, kind.name: snapshot})

    def fingerprint(self) -> str:
        """A stable hash of everything read, used to pin a saved plan to what it was made from.

        Stable across processes (managed objects by key, dictionary keys and sets sorted; the
        other objects in the order Stripe listed them) and sensitive to every field of every
        state except observed ones. Hashed a chunk of states at a time: the account's whole
        text is never held at once."""
        digest = hashlib.sha256()
        encode = json.JSONEncoder(sort_keys=True, default=_plain, separators=(",", ":")).encode
        with no_gc():  # many short-lived rows, none of them cyclic: see no_gc
            for name in sorted(self.snapshots):
                snap = self.snapshots[name]
                managed = snap.managed
                sections: tuple[tuple[str, Iterable[tuple[str, Any]]], ...] = (
                    ("managed", ((key, managed[key]) for key in sorted(managed))),
                    ("others", (("", s) for s in snap.others)),
                    ("unmanaged", (("", s) for s in snap.unmanaged)),
                )
                for section, pairs in sections:
                    digest.update(encode([name, section]).encode())
                    for chunk in _chunks(pairs, _FINGERPRINT_CHUNK):
                        rows = [(key, type(s).__name__, _row(s)) for key, s in chunk]
                        digest.update(encode(rows).encode())
        return digest.hexdigest()


# Field metadata of a state field that is read for reports (`status`) but is not part of the
# account's state for planning: never compared, and left out of the fingerprint, so that time
# passing (a period renewing) does not make a saved plan stale.
OBSERVED: Mapping[str, bool] = {"observed": True}

# States encoded per JSON document by the fingerprint: large enough that the encoder's own cost
# per call vanishes, small enough that the text in memory stays a few hundred kilobytes.
_FINGERPRINT_CHUNK = 1000

# dataclass type -> the values of its fields that are not observed, as one tuple in the order
# the class declares them (the fingerprint's rows are positional: one version encodes them).
_ROWS: dict[type, Callable[[Any], tuple[Any, ...]]] = {}


def _row(obj: Any) -> tuple[Any, ...]:
    getter = _ROWS.get(type(obj))
    if getter is None:
        names = tuple(f.name for f in fields(obj) if not f.metadata.get("observed"))
        many = operator.attrgetter(*names)
        getter = _ROWS[type(obj)] = many if len(names) > 1 else lambda o: (many(o),)
    return getter(obj)


def _chunks(pairs: Iterable[tuple[str, Any]], size: int) -> Iterator[list[tuple[str, Any]]]:
    it = iter(pairs)
    while chunk := list(itertools.islice(it, size)):
        yield chunk


def _plain(obj: Any) -> Any:
    """JSON encoding of what a state holds besides JSON's own types: nested dataclasses (a
    subscription's items) as their rows, sets sorted, enums by value, other mappings as dicts."""
    if is_dataclass(obj) and not isinstance(obj, type):
        return [type(obj).__name__, _row(obj)]
    if isinstance(obj, (set, frozenset)):
        return sorted(obj)
    if isinstance(obj, Enum):
        return obj.value
    if isinstance(obj, Mapping):
        return dict(obj)
    return str(obj)


@dataclass(frozen=True)
class PlanContext:
    """Everything one comparison may read; nothing in it changes while the plan is built."""

    desired: Desired
    existing: Existing
    # kind name -> key -> the Stripe id (or ${kind:key} placeholder) references should use
    targets: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    # Stripe id -> (kind name, key) of every live object that points at it (managed or not)
    references: Mapping[str, tuple[tuple[str, str], ...]] = field(default_factory=dict)
    # The plan's clock (Unix seconds): what is past or future (a declared trial end) is
    # decided once, against this, for the whole plan.
    now: int = field(default_factory=lambda: int(time.time()))

    @property
    def policies(self) -> Policies:
        return self.desired.policies

    def target(self, kind: Kind[Any], key: str) -> str | None:
        return self.targets.get(kind.name, {}).get(key)


class Kind(ABC, Generic[S]):
    """One Stripe resource kind. Subclasses declare their fields, reads and rules once."""

    name: ClassVar[str]  # singular, used in change ids and placeholders: "price"
    plural: ClassVar[str]  # as in billing.yaml listings and `ids`: "prices"
    fields: ClassVar[tuple[FieldSpec, ...]]
    list_reads: ClassVar[tuple[ListRead, ...]]

    # -- billing.yaml side ---------------------------------------------------------------------
    @abstractmethod
    def desired(self, config: BillingConfig) -> dict[str, S]:
        """billing.yaml -> canonical state, by key (defaults filled in, amounts in minor units)."""

    def ignored(self, config: BillingConfig) -> Mapping[str, Ignore]:
        """key -> what billing.yaml says other writers own on that object (`ignore:`).

        By default, through the registry's naming: the kind's rule `ignore.<plural>` and each
        object's own `ignore:` in the top-level section `<plural>` of billing.yaml. A kind
        declared elsewhere (prices under products) overrides this; a kind with neither (product
        features: a link has nothing to ignore) has no rules."""
        common = getattr(config.ignore, self.plural, None)
        declared = getattr(config, self.plural, None)
        if common is None or not isinstance(declared, Mapping):
            return {}
        return ignore_rules(common, ((key, obj.ignore) for key, obj in declared.items()))

    @abstractmethod
    def render(self, state: S) -> tuple[tuple[str, ...], Any]:
        """State -> (where it sits in billing.yaml, its billing.yaml mapping): import's half.
        A list joins the list at that place (one product's features, one item each)."""

    # -- Stripe side ---------------------------------------------------------------------------
    @abstractmethod
    def read(
        self, objects: Iterable[dict[str, Any]], existing: Existing, pages: Pages
    ) -> Snapshot[S]:
        """Stripe objects from `list_reads` -> a Snapshot. `existing` holds the kinds read before."""

    def trim(self, obj: dict[str, Any]) -> dict[str, Any]:
        """What `read` needs of one object of a list page; by default all of it.

        Called on the fetching threads as each page arrives, before the page waits for its
        kind's turn to be read: a kind whose objects embed large parts `read` never looks at
        drops them here, so the pages read ahead hold less (and more of them fit the read's
        memory bound)."""
        return obj

    @abstractmethod
    def stripe_id(self, state: S) -> str | None: ...

    def is_live(self, state: S) -> bool:
        """Whether the object is in use (not archived or ended): counted and listed by `ids`."""
        return True

    # -- the comparison ------------------------------------------------------------------------
    def targets(self, desired: Desired, existing: Existing) -> Mapping[str, str]:
        """key -> the id other kinds' requests should reference (a placeholder until created)."""
        managed = existing.of(self).managed
        out: dict[str, str] = {}
        for key in desired.of(self):
            current = managed.get(key)
            stripe_id = self.stripe_id(current) if current is not None else None
            out[key] = stripe_id or ref(self.name, key)
        return out

    @abstractmethod
    def compare(self, context: PlanContext) -> KindPlan:
        """Desired vs existing for this kind -> typed changes, warnings and conflicts."""

    def references(self, snapshot: Snapshot[S]) -> Iterable[tuple[str, str]]:
        """(Stripe id it points at, key) for each live object of this kind that points at another."""
        return ()

    def monthly_revenue(self, context: PlanContext) -> Mapping[str, tuple[Decimal, Decimal]]:
        """Monthly recurring revenue this kind declares, before and after, per currency."""
        return {}

    def managed_count(self, existing: Existing) -> int:
        """Live objects of this kind that billing-sync owns: the base of the percentage
        thresholds (never inflated by objects it does not own)."""
        return sum(1 for s in existing.of(self).managed.values() if self.is_live(s))

    def needs_of(self, key: str) -> frozenset[str]:
        """The token a reference to `key` of this kind waits for."""
        return frozenset({object_token(self.name, key)})

    # -- import (account -> billing.yaml; the driver is resources.importer) -------------------
    # Imported only when the user asks for this group (`import --include-<group>`), or always.
    import_option: ClassVar[str | None] = None

    def import_key(self, state: S, ids: IdKeys) -> str:
        """A readable key for an unmanaged object (managed ones keep theirs); the driver makes
        it unique. `ids` holds the keys already given to the kinds before this one."""
        return slug(self.stripe_id(state) or getattr(state, "key", ""), self.name)

    def import_names(self, state: S) -> tuple[str, ...]:
        """Names this object holds that another object's generated key must not take (a price's
        lookup key: a price's key is also its default lookup key)."""
        return ()

    def import_state(self, state: S, key: str, ids: IdKeys) -> Imported[S]:
        """The object as billing.yaml declares it: under `key`, its references to other objects
        mapped through `ids` (every imported object of every kind), or a reason it cannot be
        declared. The default: the same state under the new key."""
        moved: S = dataclasses.replace(state, key=key)  # type: ignore[type-var]  # states are dataclasses
        return Imported(moved)


@dataclass(frozen=True)
class Imported(Generic[S]):
    """One account object as `import` writes it: its state, or None with the reason it is left
    out; `notes` are warnings about what was dropped from it (also written to the file)."""

    state: S | None
    notes: tuple[str, ...] = ()

    @staticmethod
    def skip(reason: str) -> Imported[Any]:
        return Imported(None, (reason,))


KEY_MAX = 64  # KEY_PATTERN: 1-64 letters, digits, '_' or '-', a letter or digit first
_NOT_KEY = re.compile(r"[^a-z0-9]+")
_KEY = re.compile(KEY_PATTERN)


def is_key(text: str | None) -> bool:
    """Whether `text` can be a billing.yaml key as it is."""
    return text is not None and _KEY.fullmatch(text) is not None


def slug(text: str | None, fallback: str) -> str:
    """`Pro Plan (EU)` -> `pro-plan-eu`: a readable billing.yaml key (ASCII letters and digits
    joined by '-', at most 64 characters), or `fallback` when nothing of `text` is left."""
    ascii_text = unicodedata.normalize("NFKD", text or "").encode("ascii", "ignore").decode()
    out = _NOT_KEY.sub("-", ascii_text.lower()).strip("-")[:KEY_MAX].rstrip("-")
    return out or fallback


def unique_key(base: str, taken: Container[str]) -> str:
    """`base`, else `base-2`, `base-3`, ... : the first not in `taken`. The part after the last
    '/' (a subscription's own key) is shortened so it stays within 64 characters."""
    head, sep, own = base.rpartition("/")
    n = 1
    while True:
        suffix = "" if n == 1 else f"-{n}"
        candidate = f"{head}{sep}{own[: KEY_MAX - len(suffix)]}{suffix}"
        if candidate not in taken:
            return candidate
        n += 1


# -- field comparison, shared by every kind ------------------------------------------------------
def values(state: Any, specs: Iterable[FieldSpec]) -> dict[str, Any]:
    return {s.name: getattr(state, s.name) for s in specs}


# Caches keyed by the identity of a specs tuple. Kinds pass their constant tuples, so a no-op
# plan derives each one's subsets and getters once; the tuple is kept beside its value, so a
# reused id never returns another tuple's entry, and a caller building its specs per call only
# ever fills a bounded cache.
_PER_SPECS_MAX = 256
_PER_SPECS: dict[tuple[str, int], tuple[tuple[FieldSpec, ...], Any]] = {}


def _per_specs(what: str, specs: tuple[FieldSpec, ...], build: Callable[[], T]) -> T:
    """`build()` for `specs`, made once per `what` and specs tuple."""
    hit = _PER_SPECS.get((what, id(specs)))
    if hit is not None and hit[0] is specs:
        return cast(T, hit[1])
    value = build()
    if len(_PER_SPECS) >= _PER_SPECS_MAX:
        _PER_SPECS.clear()
    _PER_SPECS[(what, id(specs))] = (specs, value)
    return value


def field_values(specs: tuple[FieldSpec, ...]) -> Callable[[Any], tuple[Any, ...]]:
    """A function: state -> the values of `specs`' fields, as a tuple (in the specs' order);
    one per specs tuple, so a no-op plan compares two tuples per object."""

    def build() -> Callable[[Any], tuple[Any, ...]]:
        names = tuple(s.name for s in specs)
        if len(names) > 1:
            return cast(Callable[[Any], tuple[Any, ...]], operator.attrgetter(*names))
        if names:
            one = operator.attrgetter(names[0])
            return lambda state: (one(state),)
        return lambda state: ()

    return _per_specs("values", specs, build)


def field_changes(
    old: Mapping[str, Any], new: Mapping[str, Any], prefix: str = ""
) -> list[FieldChange]:
    """Field-level differences as dotted paths (`metadata.tier`, `tiers.1.unit_amount`)."""
    if old == new:
        return []
    # Imported here: deepdiff costs ~10% of the start-up, and a no-op plan never needs it.
    from deepdiff import DeepDiff

    diff = DeepDiff(dict(old), dict(new), view="tree", verbose_level=2)
    changes = []
    for report in diff.values():
        for level in report:
            path = ".".join(str(p) for p in level.path(output_format="list"))
            o = level.t1 if _present(level.t1) else None
            n = level.t2 if _present(level.t2) else None
            changes.append(FieldChange(prefix + path, _jsonable(o), _jsonable(n)))
    return sorted(changes, key=lambda c: c.path)


def _present(value: Any) -> bool:
    return type(value).__name__ != "NotPresent"


def _jsonable(value: Any) -> Any:
    """Tuples in the state become lists, so changes render and round-trip as JSON."""
    if isinstance(value, tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    return value


def top_fields(changes: Iterable[FieldChange], prefix: str = "") -> set[str]:
    return {c.path[len(prefix) :].split(".", 1)[0] for c in changes}


def metadata_params(old: Mapping[str, str], new: Mapping[str, str]) -> dict[str, str]:
    """Stripe merges metadata: send changed keys, and "" to unset removed ones."""
    params = {k: v for k, v in new.items() if old.get(k) != v}
    params.update({k: "" for k in old if k not in new})
    return params


def plain_specs(specs: Iterable[FieldSpec]) -> tuple[FieldSpec, ...]:
    """The fields compared by the generic rules (not by a kind's own): for a kind's `fields`,
    the same tuple on every call (so `field_values` finds its getter)."""
    if not isinstance(specs, tuple):
        return tuple(s for s in specs if not s.own_rule)
    given = specs
    return _per_specs("plain", given, lambda: tuple(s for s in given if not s.own_rule))


def _held(
    specs: tuple[FieldSpec, ...],
) -> tuple[tuple[FieldSpec, ...], Callable[[Any], tuple[Any, ...]]]:
    """The fields whose existing value `reachable` may keep (set only at creation, or not
    unsettable by Stripe), and the getter of their values (both once per `specs` tuple)."""

    def build() -> tuple[tuple[FieldSpec, ...], Callable[[Any], tuple[Any, ...]]]:
        held = tuple(
            s for s in specs if s.mutability is Mutability.CREATE_ONLY or s.unset is Unset.NEVER
        )
        return held, field_values(held)

    return _per_specs("held", specs, build)


@dataclass(frozen=True)
class FieldDiff:
    """The generic comparison of one object's declared fields."""

    changes: tuple[FieldChange, ...]
    params: Mapping[str, Any]  # the update's parameters for in-place fields
    replace: tuple[str, ...]  # fields that force a replacement


def diff_fields(existing: Any, desired: Any, specs: Iterable[FieldSpec]) -> FieldDiff:
    """Compare the fields `specs` declares, and build the in-place update's parameters.

    Call it with the desired state from `reachable`, so fields Stripe cannot change are equal.
    """
    specs = tuple(specs)
    get = field_values(specs)
    if get(existing) == get(desired):  # the common case: nothing differs
        return FieldDiff((), {}, ())
    old, new = values(existing, specs), values(desired, specs)
    changes = field_changes(old, new)
    changed = top_fields(changes)
    params: dict[str, Any] = {}
    replace = []
    for spec in specs:
        if spec.name not in changed or spec.mutability is Mutability.REQUEST_OPTION:
            continue
        if spec.mutability is Mutability.REPLACE:
            replace.append(spec.name)
        elif spec.unset is Unset.MERGE:
            params[spec.name] = metadata_params(old[spec.name], new[spec.name])
        elif (value := spec.param(new[spec.name])) is not None:
            params[spec.name] = value
    # Parameters in a stable order: the request (and the saved plan's checksum) never depends on
    # the order fields were declared or compared in.
    return FieldDiff(tuple(changes), dict(sorted(params.items())), tuple(replace))


def in_place_update(
    kind: Kind[Any], key: str, path: str, found: FieldDiff, stripe_id: str | None, summary: str = ""
) -> list[Change]:
    """The plain in-place update of one object's changed fields (none when nothing differs)."""
    if not found.changes:
        return []
    return [
        Update(
            kind=kind.name,
            key=key,
            request=Request("post", path, dict(found.params)),
            stripe_id=stripe_id,
            fields=found.changes,
            summary=summary,
        )
    ]


def reachable(
    kind: str,
    key: str,
    existing: S,
    desired: S,
    specs: Iterable[FieldSpec],
    ignore: Ignore | None = None,
) -> tuple[S, tuple[str, ...]]:
    """The desired state as Stripe lets apply reach it, and what the plan must say about the rest.

    A field that Stripe sets only at creation keeps its existing value, and so does a field
    removed from billing.yaml that Stripe cannot unset; each is reported instead of being dropped
    in silence or sent to fail. Fields and metadata keys another writer owns (`ignore`) keep
    their existing values without a word: they are not billing-sync's.
    """
    # Only these fields can make the desired state differ from what apply reaches.
    specs, get = _held(tuple(specs))
    if not ignore:
        if get(existing) == get(desired):  # the common case: nothing to keep, nothing to say
            return desired, ()
    else:
        owned: dict[str, Any] = {n: getattr(existing, n) for n in ignore.fields}
        if ignore.metadata:
            # Every kind with metadata names it `metadata` (states are dataclasses, with slots).
            old, new = cast(Any, existing).metadata, cast(Any, desired).metadata
            theirs = {k: v for k, v in old.items() if k in ignore.metadata}
            ours = {k: v for k, v in new.items() if k not in ignore.metadata}
            owned["metadata"] = {**theirs, **ours}
        desired = dataclasses.replace(desired, **owned)  # type: ignore[type-var]
    created_only: list[str] = []
    kept: list[str] = []
    for spec in specs:
        old, new = getattr(existing, spec.name), getattr(desired, spec.name)
        if old == new:
            continue
        if spec.mutability is Mutability.CREATE_ONLY:
            created_only.append(spec.name)
        elif spec.unset is Unset.NEVER and new in (None, (), {}):
            kept.append(spec.name)
    if not created_only and not kept:
        return desired, ()
    warnings = []
    if created_only:
        warnings.append(create_only_warning(kind, key, created_only))
    if kept:
        shown = ", ".join(f"{n} ({getattr(existing, n)!r})" for n in kept)
        warnings.append(
            f"{kind} {key}: Stripe cannot unset {shown}; it keeps its value: declare another "
            "value to change it"
        )
    keep = {n: getattr(existing, n) for n in (*created_only, *kept)}
    reached: S = dataclasses.replace(desired, **keep)  # type: ignore[type-var]  # states are dataclasses
    return reached, tuple(warnings)


def adopt(
    kind: Kind[S],
    key: str,
    unmanaged: S,
    desired: S,
    path: str,
    *,
    summary: str = "",
    ignore: Ignore | None = None,
) -> tuple[Change, tuple[str, ...]]:
    """Take `unmanaged` under management as `key`: stamp the ownership metadata and update the
    plain fields billing.yaml declares differently. Returns the change and what it cannot reach."""
    reached, notes = reachable(kind.name, key, unmanaged, desired, kind.fields, ignore)
    found = diff_fields(unmanaged, reached, plain_specs(kind.fields))
    params = dict(found.params)
    meta = dict(params.get("metadata", {}))
    meta[KEY_META] = key
    params["metadata"] = meta
    change = Adopt(
        kind=kind.name,
        key=key,
        request=Request("post", path, params),
        stripe_id=kind.stripe_id(unmanaged),
        fields=(FieldChange(KEY_META, None, key), *found.changes),
        summary=summary,
        provides=frozenset({object_token(kind.name, key)}),
    )
    return change, notes


def create_changes(
    state: Any, specs: Iterable[FieldSpec], quiet: Callable[[str, Any], bool]
) -> tuple[FieldChange, ...]:
    """The field listing of a create: every field with a value, except quiet defaults."""
    return tuple(
        FieldChange(s.name, None, _jsonable(v))
        for s in specs
        if (v := getattr(state, s.name)) not in (None, [], (), {}) and not quiet(s.name, v)
    )


def never_quiet(name: str, value: Any) -> bool:
    return False


def create_only_warning(kind: str, key: str, names: Iterable[str]) -> str:
    shown = ", ".join(sorted(names))
    return (
        f"{kind} {key}: {shown} can only be set when the {kind} is created; the change is not "
        "applied to the existing object"
    )
