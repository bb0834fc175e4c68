"""The emulator's framework: routes, strict params, the store, ids, rendering, expand, lists.

How to add a resource (e.g. `emulator/stripe_emulator/resources/refunds.py`)
=========================================================================
Every module in `stripe_emulator.resources` is imported automatically; it registers
itself at import time. Nothing else needs editing.

1. Declare the object type (what `expand[]` may do, and how it renders)::

       from stripe_emulator.framework import ObjectType, register_type, route, Request

       register_type(ObjectType(
           name="refund",                 # the `object` field
           collection="refunds",          # store collection name
           id_prefix="re",                # ids look like re_XXXXXXXXXXXXXXXXXXXXXXXX
           expandable={"charge": "charge", "payment_intent": "payment_intent"},
           includable=(),                 # fields present only when expanded (price.tiers)
           nested={},                     # embedded objects/lists: {"items": "list:subscription_item"}
           index_on=("payment_intent",),  # secondary indexes for fast filtered lists
           stripe_class=stripe.Refund,    # for the fields test
       ))

2. Register endpoints. `params` is the stripe TypedDict naming every parameter Stripe knows;
   `implemented` the dotted paths the emulator handles (`recurring.interval`, `metadata`,
   `items.price`, `currency_options.*.unit_amount`; a path covers its subtree; `expand` and,
   for lists, `limit`/`starting_after`/`ending_before` are implied). Unknown names -> 400
   "Received unknown parameter", known but not implemented -> 400 "not supported by the
   billing-sync emulator", missing required -> 400; values arrive coerced (int, bool, Decimal,
   lists, dicts; an empty form value arrives as "" meaning unset)::

       @route("POST", "/v1/refunds", stripe.params.RefundCreateParams,
              implemented={"payment_intent", "charge", "amount", "reason", "metadata"},
              returns="refund")
       def create_refund(req: Request) -> dict[str, Any]:
           p = req.params
           pi = req.store.get_or_404("payment_intent", p["payment_intent"], param="payment_intent")
           obj = {"id": req.store.new_id("refund"), "object": "refund", "created": req.now, ...,
                  "metadata": apply_metadata({}, p.get("metadata"))}
           req.store.insert("refund", obj)
           return req.render("refund", obj)

   `returns` names what the route answers, so `expand[]` is checked before anything runs:
   a type name ("refund"), "list:refund" for lists (expand paths need the `data.` prefix),
   or "raw" (no expand, e.g. a deleted stub `{"id", "object", "deleted": true}`).
   Path templates use `{name}` segments: `req.path_args["name"]`. Handlers run under the
   store's lock (`req.store.lock`, one global RLock), so a handler is atomic; they must not
   block. Return the rendered object (`req.render(type, obj)`) or a list page
   (`req.list_response(type, url="/v1/refunds", where=pred, index=("payment_intent", pi))`:
   newest first; `limit`/`starting_after`/`ending_before` handled; `index` uses a secondary
   index from `index_on`; `where` filters while scanning, so keep it cheap;
   `ascending=True` for oldest-first lists), or `(status, body)` for a non-200 success.
   `list_page(store, type, url=..., limit=10, index=...)` builds an unrendered page (for
   embedded lists in `compute`). `req.store.table("name")` is a persisted dict for
   auxiliary indexes (e.g. lookup_key -> price id). `req.now` is the request's timestamp.
3. Raise `ApiError` (stripe_emulator.errors) for Stripe errors:
   `ApiError.invalid(msg, param=...)`: 400 for bad input (a validation failure: never stored
   under an idempotency key); pass `validation=False` when the refusal depends on state.
   `ApiError.missing("refund", id, param=...)`: 404 resource_missing "No such refund: 'id'".
   `ApiError.conflict(msg, param=..., code=...)`: 400 conflicting with the account's state
   (stored and replayed like a success). `ApiError(402, "card_error", msg, code=...,
   extra={"decline_code": ...})` for anything else.
4. Internal fields start with "_" (e.g. `_token` on payment methods made from test tokens);
   they are stored and persisted but never rendered. `ObjectType.compute(store, obj)` adds
   computed fields at render time (e.g. subscription.items). Objects are dicts mutated in place by handlers; fields named in
   `index_on` must never change after `insert`. Everything must stay JSON-serialisable
   (Decimal amounts as strings) so `--state FILE` can persist it.
5. Tests: tests/test_emulator_params.py checks every route's `implemented` against the
   stripe TypedDict and the rendered fields against `stripe_class.__annotations__`.

Idempotency, API keys, request ids, the request log, faults and latency are handled by the
server (emulator/stripe_emulator/server.py) for every route.
"""

from __future__ import annotations

import bisect
import re
import secrets
import string
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from stripe_emulator.errors import ApiError
from stripe_emulator.params import Implemented, Params, check_implemented_subset

Obj = dict[str, Any]
Handler = Callable[["Request"], Any]

LIST_PARAMS = frozenset({"limit", "starting_after", "ending_before"})

# ---------------------------------------------------------------------------------------------
# Object types
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ObjectType:
    name: str
    collection: str
    id_prefix: str
    id_length: int = 24
    expandable: dict[str, str] = field(default_factory=dict)
    includable: tuple[str, ...] = ()
    nested: dict[str, str] = field(default_factory=dict)
    index_on: tuple[str, ...] = ()
    stripe_class: type | None = None
    # Adds computed fields at render time (e.g. subscription.items from the item collection).
    compute: Callable[[Store, Obj], Obj] | None = None


TYPES: dict[str, ObjectType] = {}


def register_type(t: ObjectType) -> ObjectType:
    TYPES[t.name] = t
    return t


# ---------------------------------------------------------------------------------------------
# Routes
# ---------------------------------------------------------------------------------------------


@dataclass
class Route:
    method: str
    template: str
    regex: re.Pattern[str]
    params_type: type
    implemented: Implemented
    implemented_paths: frozenset[str]
    handler: Handler
    returns: str  # "price", "list:price", "deleted:product", "raw"
    write: bool


ROUTES: list[Route] = []


def _compile(template: str) -> re.Pattern[str]:
    pattern = re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(template))
    return re.compile(f"^{pattern}$")


def route(
    method: str,
    template: str,
    params_type: type,
    *,
    implemented: set[str] | frozenset[str],
    returns: str,
) -> Callable[[Handler], Handler]:
    """Register a handler for METHOD TEMPLATE (see the module docstring)."""

    def deco(fn: Handler) -> Handler:
        from stripe_emulator.params import typed_fields

        known = typed_fields(params_type)
        paths = set(implemented)
        if "expand" in known:
            paths.add("expand")
        if returns.startswith("list:"):
            paths |= LIST_PARAMS & set(known)
        unknown = check_implemented_subset(params_type, paths)
        if unknown:
            raise AssertionError(f"{method} {template}: not Stripe parameters: {unknown}")
        ROUTES.append(
            Route(
                method=method,
                template=template,
                regex=_compile(template),
                params_type=params_type,
                implemented=Implemented(paths),
                implemented_paths=frozenset(paths),
                handler=fn,
                returns=returns,
                write=method in ("POST", "DELETE"),
            )
        )
        return fn

    return deco


def match_route(method: str, path: str) -> tuple[Route, dict[str, str]] | None:
    """The route for METHOD PATH, or None; raises 405-ish as Stripe's 404 for a wrong method."""
    for r in ROUTES:
        if r.method != method:
            continue
        m = r.regex.match(path)
        if m:
            return r, m.groupdict()
    return None


# Test controls under /_emulator/ that resource modules register (never part of Stripe's
# surface): (method, template relative to /_emulator/, handler(store, path args, JSON body, now)).
ControlHandler = Callable[["Store", dict[str, str], dict[str, Any], int], Any]
CONTROLS: list[tuple[str, re.Pattern[str], ControlHandler]] = []


def control(method: str, template: str) -> Callable[[ControlHandler], ControlHandler]:
    """Register a test control, e.g. `@control("POST", "checkout_sessions/{id}/complete")`; it
    runs under the store's lock, and the state is saved after it."""

    def deco(fn: ControlHandler) -> ControlHandler:
        CONTROLS.append((method, _compile(template), fn))
        return fn

    return deco


def match_control(method: str, name: str) -> tuple[ControlHandler, dict[str, str]] | None:
    for m, regex, fn in CONTROLS:
        found = regex.match(name) if m == method else None
        if found:
            return fn, found.groupdict()
    return None


# ---------------------------------------------------------------------------------------------
# Ids
# ---------------------------------------------------------------------------------------------

_ALPHABET = string.ascii_letters + string.digits


def random_token(n: int) -> str:
    return "".join(secrets.choice(_ALPHABET) for _ in range(n))


# ---------------------------------------------------------------------------------------------
# The store
# ---------------------------------------------------------------------------------------------


class Collection:
    """Objects of one type in insertion order: id -> position, so a page costs O(page).

    `order[pos]` is an id or None once removed (delete leaves a hole); secondary indexes map
    a field value to the ascending positions of the objects that have it.
    """

    def __init__(self, index_on: tuple[str, ...] = ()) -> None:
        self.objs: dict[str, Obj] = {}
        self.order: list[str | None] = []
        self.pos: dict[str, int] = {}
        self.index_on = index_on
        self.indexes: dict[str, dict[Any, list[int]]] = {f: {} for f in index_on}

    def insert(self, obj: Obj) -> None:
        oid = obj["id"]
        self.objs[oid] = obj
        self.pos[oid] = len(self.order)
        self.order.append(oid)
        for f in self.index_on:
            self.indexes[f].setdefault(obj.get(f), []).append(self.pos[oid])

    def remove(self, oid: str, *, keep: Obj | None = None) -> None:
        """Take an object out of listings; `keep` stays retrievable (a deleted stub)."""
        p = self.pos.pop(oid, None)
        if p is not None:
            self.order[p] = None
        if keep is not None:
            self.objs[oid] = keep
        else:
            self.objs.pop(oid, None)

    def __len__(self) -> int:
        return len(self.pos)

    def positions(self, index: tuple[str, Any] | None) -> list[int] | range:
        if index is None:
            return range(len(self.order))
        f, v = index
        return self.indexes[f].get(v, [])

    def iter_desc(
        self, index: tuple[str, Any] | None = None, before_pos: int | None = None
    ) -> Iterator[Obj]:
        """Objects newest first, starting strictly before position `before_pos`."""
        seq = self.positions(index)
        i = len(seq) if before_pos is None else bisect.bisect_left(seq, before_pos)
        while i > 0:
            i -= 1
            oid = self.order[seq[i]]
            if oid is not None:
                yield self.objs[oid]

    def iter_asc(self, index: tuple[str, Any] | None, after_pos: int) -> Iterator[Obj]:
        """Objects oldest first, starting strictly after position `after_pos`."""
        seq = self.positions(index)
        i = bisect.bisect_right(seq, after_pos)
        while i < len(seq):
            oid = self.order[seq[i]]
            i += 1
            if oid is not None:
                yield self.objs[oid]


class Store:
    """All emulator state, guarded by one re-entrant lock."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.collections: dict[str, Collection] = {}
        # Free-form per-feature state (e.g. lookup_key -> price id) that must persist.
        self.extra: dict[str, dict[str, Any]] = {}
        # Objects list pages have looked at: lets tests check O(page) cost without timing.
        self.list_examined = 0

    def coll(self, type_name: str) -> Collection:
        t = TYPES[type_name]
        c = self.collections.get(t.collection)
        if c is None:
            c = self.collections[t.collection] = Collection(t.index_on)
        return c

    def table(self, name: str) -> dict[str, Any]:
        """A named dict for auxiliary state (persisted with the store)."""
        return self.extra.setdefault(name, {})

    def new_id(self, type_name: str) -> str:
        t = TYPES[type_name]
        c = self.coll(type_name)
        while True:
            oid = f"{t.id_prefix}_{random_token(t.id_length)}"
            if oid not in c.objs:
                return oid

    def insert(self, type_name: str, obj: Obj) -> Obj:
        self.coll(type_name).insert(obj)
        return obj

    def get(self, type_name: str, oid: str) -> Obj | None:
        return self.coll(type_name).objs.get(oid)

    def get_or_404(
        self, type_name: str, oid: Any, *, param: str | None = "id", kind: str | None = None
    ) -> Obj:
        """An object named in the URL path: 404 resource_missing when absent."""
        obj = self.get(type_name, oid) if isinstance(oid, str) else None
        if obj is None or obj.get("deleted"):
            raise ApiError.missing(kind or type_name.replace("_", " "), str(oid), param=param)
        return obj

    def get_named(self, type_name: str, oid: Any, *, param: str, kind: str | None = None) -> Obj:
        """An object named in a request parameter: 400 resource_missing when absent."""
        obj = self.get(type_name, oid) if isinstance(oid, str) else None
        if obj is None or obj.get("deleted"):
            raise ApiError.missing_param(kind or type_name.replace("_", " "), str(oid), param=param)
        return obj

    def clear(self) -> None:
        self.collections.clear()
        self.extra.clear()

    # -- persistence ---------------------------------------------------------------------------

    def dump(self) -> dict[str, Any]:
        return {
            "collections": {
                name: {"order": [o for o in c.order if o is not None], "objs": c.objs}
                for name, c in self.collections.items()
            },
            "extra": self.extra,
        }

    def load(self, data: dict[str, Any]) -> None:
        self.clear()
        by_coll = {t.collection: t for t in TYPES.values()}
        for name, blob in data.get("collections", {}).items():
            t = by_coll.get(name)
            c = self.collections[name] = Collection(t.index_on if t else ())
            objs: dict[str, Obj] = blob["objs"]
            listed = set(blob["order"])
            for oid in blob["order"]:
                c.insert(objs[oid])
            for oid, obj in objs.items():
                if oid not in listed:
                    c.objs[oid] = obj
        self.extra = data.get("extra", {})


# ---------------------------------------------------------------------------------------------
# Rendering and expand
# ---------------------------------------------------------------------------------------------


def _split(paths: list[str], key: str) -> list[str]:
    """Sub-paths below `key` from dotted expand paths (`items.data.price` -> `data.price`)."""
    out = []
    for p in paths:
        if p == key:
            out.append("")
        elif p.startswith(key + "."):
            out.append(p[len(key) + 1 :])
    return [p for p in out if p]


def check_expand(type_name: str, paths: list[str]) -> None:
    """Validate expand paths against the type tree before executing anything."""
    for p in paths:
        if p.count(".") >= 4:
            raise ApiError.invalid(
                f"You cannot expand more than 4 levels of a property. Property: {p}",
                param="expand",
            )
        _check_path(type_name, p, p)


def _check_path(tname: str, path: str, full: str) -> None:
    if tname.startswith("list:"):
        head, _, rest = path.partition(".")
        if head != "data" or not rest:
            raise ApiError.invalid(f"This property cannot be expanded ({full}).", param="expand")
        _check_path(tname[5:], rest, full)
        return
    t = TYPES.get(tname)
    if t is None:
        raise ApiError.invalid(f"This property cannot be expanded ({full}).", param="expand")
    for key in sorted([*t.expandable, *t.includable, *t.nested], key=len, reverse=True):
        if path == key or path.startswith(key + "."):
            rest = path[len(key) + 1 :]
            if key in t.includable:
                if rest:
                    break
                return
            target = t.expandable.get(key) or t.nested[key]
            if rest:
                _check_path(target, rest, full)
            elif key in t.nested:
                break
            return
    raise ApiError.invalid(f"This property cannot be expanded ({full}).", param="expand")


def _get_dotted(obj: Obj, key: str) -> tuple[Obj | None, str]:
    parts = key.split(".")
    node: Any = obj
    for part in parts[:-1]:
        node = node.get(part) if isinstance(node, dict) else None
    return (node if isinstance(node, dict) else None), parts[-1]


def render(store: Store, tname: str, obj: Obj, expand: list[str] | None = None) -> Obj:
    """The public JSON of an object: no `_` fields, includables only when expanded, ids expanded."""
    expand = expand or []
    if tname.startswith("list:"):
        sub = _split(expand, "data")
        return {**obj, "data": [render(store, tname[5:], o, sub) for o in obj["data"]]}
    t = TYPES[tname]
    if t.compute is not None:
        obj = {**obj, **t.compute(store, obj)}
    out = {
        k: v
        for k, v in obj.items()
        if not k.startswith("_") and (k not in t.includable or k in expand)
    }
    for key, target in t.nested.items():
        value = out.get(key)
        if isinstance(value, dict):
            out[key] = render(store, target, value, _split(expand, key))
    for key, target in t.expandable.items():
        sub = _split(expand, key)
        if key not in expand and not sub:
            continue
        holder, leaf = _get_dotted(out, key)
        if holder is None:
            continue
        value = holder.get(leaf)
        if isinstance(value, list) and "." not in key:
            # A list of ids (subscription.discounts): each one found is expanded.
            found = [(v, store.get(target, v)) if isinstance(v, str) else (v, None) for v in value]
            out = {**out, key: [render(store, target, r, sub) if r else v for v, r in found]}
            continue
        if isinstance(value, str):
            ref = store.get(target, value)
            if ref is not None:
                if "." in key:
                    # Copy the path down to the holder so the stored object is not mutated.
                    out = _copy_path(out, key)
                    holder, leaf = _get_dotted(out, key)
                    assert holder is not None
                holder[leaf] = render(store, target, ref, sub)
    return out


def _copy_path(obj: Obj, key: str) -> Obj:
    parts = key.split(".")
    root = dict(obj)
    node = root
    for part in parts[:-1]:
        child = node.get(part)
        if not isinstance(child, dict):
            return root
        node[part] = dict(child)
        node = node[part]
    return root


# ---------------------------------------------------------------------------------------------
# The request context
# ---------------------------------------------------------------------------------------------


@dataclass
class Request:
    store: Store
    method: str
    path: str
    path_args: dict[str, str]
    params: Params
    api_key: str
    route: Route
    now: int = field(default_factory=lambda: int(time.time()))

    @property
    def expand(self) -> list[str]:
        value = self.params.get("expand") or []
        return [v for v in value if v]

    def render(self, tname: str, obj: Obj) -> Obj:
        return render(self.store, tname, obj, self.expand)

    def list_response(
        self,
        tname: str,
        *,
        url: str,
        where: Callable[[Obj], bool] | None = None,
        index: tuple[str, Any] | None = None,
        ascending: bool = False,
    ) -> Obj:
        """A Stripe list page: newest first, `limit`, `starting_after`, `ending_before`."""
        page = list_page(
            self.store,
            tname,
            url=url,
            limit=self.params.get("limit"),
            starting_after=self.params.get("starting_after"),
            ending_before=self.params.get("ending_before"),
            where=where,
            index=index,
            ascending=ascending,
        )
        return render(self.store, f"list:{tname}", page, self.expand)


def list_page(
    store: Store,
    tname: str,
    *,
    url: str,
    limit: Any = None,
    starting_after: Any = None,
    ending_before: Any = None,
    where: Callable[[Obj], bool] | None = None,
    index: tuple[str, Any] | None = None,
    ascending: bool = False,
) -> Obj:
    """Unrendered list page (see Request.list_response); costs O(page) when `where` is dense.

    Newest first, unless `ascending` (oldest first, as subscription items are listed).
    """
    if limit in (None, ""):
        limit = 10
    if not isinstance(limit, int) or not 1 <= limit <= 100:
        raise ApiError.invalid(
            "Invalid limit: must be between 1 and 100", param="limit", validation=True
        )
    if starting_after and ending_before:
        raise ApiError.invalid(
            "You may only specify one of these parameters: ending_before, starting_after.",
            param="ending_before",
        )
    coll = store.coll(tname)

    def cursor_pos(oid: Any, param: str) -> int:
        p = coll.pos.get(oid) if isinstance(oid, str) else None
        if p is None:
            raise ApiError.missing_param(tname.replace("_", " "), str(oid), param=param)
        return p

    def take(it: Iterator[Obj]) -> tuple[list[Obj], bool]:
        out: list[Obj] = []
        for obj in it:
            store.list_examined += 1
            if where is None or where(obj):
                out.append(obj)
                if len(out) > limit:
                    break
        return out[:limit], len(out) > limit

    if ending_before:
        end = cursor_pos(ending_before, "ending_before")
        towards = coll.iter_desc(index, end) if ascending else coll.iter_asc(index, end)
        data, has_more = take(towards)
        data.reverse()
    else:
        start = cursor_pos(starting_after, "starting_after") if starting_after else None
        if ascending:
            data, has_more = take(coll.iter_asc(index, -1 if start is None else start))
        else:
            data, has_more = take(coll.iter_desc(index, start))
    return {"object": "list", "data": data, "has_more": has_more, "url": url}


# ---------------------------------------------------------------------------------------------
# Small helpers for handlers
# ---------------------------------------------------------------------------------------------


def apply_metadata(current: dict[str, str] | None, update: Any) -> dict[str, str]:
    """Stripe's metadata semantics: merge keys, an empty value unsets a key, "" unsets all."""
    result = dict(current or {})
    if update is None:
        return result
    if update == "":
        return {}
    for k, v in update.items():
        if len(k) > 40:
            raise ApiError.invalid(
                f"Metadata keys can have at most 40 characters (key: {k}).",
                param=f"metadata[{k}]",
            )
        if "[" in k or "]" in k:
            raise ApiError.invalid(
                "Metadata keys may not contain square brackets.", param=f"metadata[{k}]"
            )
        if v == "" or v is None:
            result.pop(k, None)
        else:
            if not isinstance(v, str):
                raise ApiError.invalid(f"Invalid string: metadata[{k}]", param=f"metadata[{k}]")
            if len(v) > 500:
                raise ApiError.invalid(
                    f"Metadata values can have at most 500 characters (key: {k}).",
                    param=f"metadata[{k}]",
                )
            result[k] = v
    if len(result) > 50:
        raise ApiError.invalid(
            "You can have at most 50 keys in metadata.", param="metadata", validation=True
        )
    return result


def decimal_str(d: Decimal | int | str) -> str:
    """Stripe's string form of a decimal amount: no exponent, no trailing zeros."""
    d = Decimal(d)
    text = format(d, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text or "0"


def unset(value: Any) -> Any:
    """ "" (an empty form value) as None."""
    return None if value == "" else value
