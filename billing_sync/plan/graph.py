"""Derives the order of a plan's changes from what each provides and needs, and rejects a broken plan."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Mapping, Sequence

from billing_sync.changes import REF_RE, Change, placeholders
from billing_sync.errors import BillingSyncError


class PlanGraphError(BillingSyncError):
    """The plan cannot be executed as built (a billing-sync bug, caught before any write)."""


def dependencies(
    changes: Sequence[Change], kinds: Collection[str]
) -> Mapping[str, tuple[str, ...]]:
    """change id -> ids of the changes that must succeed before it runs.

    A placeholder (${price:pro}) in a request needs the change that creates that object, and a
    placeholder of an unknown kind or with no creator is refused here, never at apply time. A
    token in `needs` orders a change after every change that provides it, when there is one.
    """
    ids = [c.id for c in changes]
    if len(set(ids)) != len(ids):
        twice = sorted({i for i in ids if ids.count(i) > 1})
        raise PlanGraphError(f"the plan has two changes with one id: {', '.join(twice)}")
    providers: dict[str, list[str]] = defaultdict(list)
    creators: dict[str, str] = {}
    for c in changes:
        for token in c.provides:
            providers[token].append(c.id)
        if c.produces:
            creators[c.produces] = c.id
    edges: dict[str, tuple[str, ...]] = {}
    for c in changes:
        deps: set[str] = set()
        for placeholder in sorted(placeholders(c.request.path) | placeholders(c.request.params)):
            match = REF_RE.fullmatch(placeholder)
            kind = match.group(1) if match else ""
            if kind not in kinds:
                raise PlanGraphError(f"{c.id} refers to {placeholder}: no such resource kind")
            if placeholder not in creators:
                raise PlanGraphError(
                    f"{c.id} refers to {placeholder}, which no change in the plan creates"
                )
            deps.add(creators[placeholder])
        for token in c.needs:
            deps.update(providers.get(token, ()))
        deps.discard(c.id)
        edges[c.id] = tuple(sorted(deps))
    _refuse_cycles(edges)
    return edges


def _refuse_cycles(edges: Mapping[str, tuple[str, ...]]) -> None:
    waiting = {node: len(deps) for node, deps in edges.items()}
    dependents: dict[str, list[str]] = defaultdict(list)
    for node, deps in edges.items():
        for dep in deps:
            dependents[dep].append(node)
    ready = [node for node, n in waiting.items() if n == 0]
    seen = 0
    while ready:
        node = ready.pop()
        seen += 1
        for nxt in dependents[node]:
            waiting[nxt] -= 1
            if waiting[nxt] == 0:
                ready.append(nxt)
    if seen != len(edges):
        stuck = sorted(node for node, n in waiting.items() if n > 0)
        raise PlanGraphError("the plan's changes wait for each other: " + ", ".join(stuck))
