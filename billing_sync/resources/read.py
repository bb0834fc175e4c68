"""Reads the account with list endpoints only (about N/100 requests): the kinds' list streams are
fetched concurrently, and normalised kind by kind in registry order."""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from billing_sync.config.models import BillingConfig, Policies
from billing_sync.gcpause import no_gc
from billing_sync.remote.client import Remote
from billing_sync.remote.pages import list_all, list_pages
from billing_sync.remote.ratelimit import RateLimiter
from billing_sync.resources import KINDS
from billing_sync.resources.base import Desired, Existing, Kind

# List streams fetched at once. With Stripe's latency (a few hundred ms for a page of 100) four
# streams stay well under its read limits (25/s in sandboxes, 100/s live); a 429 slows them all
# (the shared limiter halves its pace, then recovers).
READ_CONCURRENCY = 4
# Pages fetched ahead of normalisation. Normalisation is one thread in registry order, so while
# the first kinds' pages arrive (at the API's pace), the later kinds' streams fetch ahead and
# their pages wait. The stream being read may hold PAGES_AHEAD pages; the streams not yet read,
# PAGES_BUDGET together. A budget the later streams fill stalls them, and the read loses its
# concurrency: at 30 ms a page, 100,400 objects read in 38 s with a budget of 16 pages and in
# 17 s with none, at 317 and 395 MB of peak memory (subscriptions trimmed, see Kind.trim). So
# the budget is a bound for accounts beyond 100,000 objects, not a squeeze below: 1,000 pages
# (100,000 objects) wait at most.
PAGES_AHEAD = 4
PAGES_BUDGET = 1_000

_END = object()


class _Shelf:
    """The list streams' pages on their way from the fetching threads to the reading thread.

    Streams are numbered in the order the reading thread reads them. `put` waits for room (see
    PAGES_AHEAD and PAGES_BUDGET; a stream's last item, its end or its error, never waits) and
    gives up, returning False, once the shelf is closed, so a fetching thread never outlives a
    read that ended (failed, interrupted, or a kind that stopped consuming). `get` waits for an
    item of its stream and makes it the stream being read. Streams are only ever put ahead of
    the one being read, which always has room: no wait can last for ever."""

    def __init__(self, ahead: int, budget: int) -> None:
        self._queues: list[deque[Any]] = []
        self._ahead = max(1, ahead)
        self._budget = max(1, budget)
        self._reading = 0
        self._closed = False
        self._changed = threading.Condition(threading.Lock())

    def stream(self) -> int:
        """A new stream, read after every earlier one; its number."""
        with self._changed:
            self._queues.append(deque())
            return len(self._queues) - 1

    def _has_room(self, n: int) -> bool:
        if n == self._reading:
            return len(self._queues[n]) < self._ahead
        ahead = sum(len(q) for i, q in enumerate(self._queues) if i != self._reading)
        return ahead < self._budget

    def put(self, n: int, item: Any, *, last: bool = False) -> bool:
        with self._changed:
            while not last and not self._closed and not self._has_room(n):
                self._changed.wait()
            if self._closed:
                return False
            self._queues[n].append(item)
            self._changed.notify_all()
            return True

    def get(self, n: int) -> Any:
        with self._changed:
            if self._reading != n:
                self._reading = n
                self._changed.notify_all()  # its pages no longer count against the budget
            while not self._queues[n]:
                self._changed.wait()
            item = self._queues[n].popleft()
            self._changed.notify_all()
            return item

    def close(self) -> None:
        """Wake every waiting `put` (they return False) and drop the pages still waiting."""
        with self._changed:
            self._closed = True
            for q in self._queues:
                q.clear()
            self._changed.notify_all()


def read_account(
    remote: Remote,
    *,
    concurrency: int = READ_CONCURRENCY,
    limiter: RateLimiter | None = None,
) -> Existing:
    """Every kind's list reads, normalised; a kind sees the kinds read before it.

    The raw pages of every list stream are fetched by up to `concurrency` threads (streams
    start in registry order, once the first page has come back); normalisation stays in registry order on this thread, each kind
    consuming its pages as they arrive. `limiter` paces the requests (default: not paced until
    Stripe answers 429, then adaptive).
    """
    with no_gc():  # the pages and states are many objects that all stay alive (see no_gc)
        return _read_account(remote, concurrency, limiter)


def _read_account(remote: Remote, concurrency: int, limiter: RateLimiter | None) -> Existing:
    limiter = limiter if limiter is not None else RateLimiter(None)

    def pages(path: str, params: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
        return list_all(remote, path, params, limiter)

    stop = threading.Event()
    shelf = _Shelf(PAGES_AHEAD, PAGES_BUDGET)
    streams: dict[tuple[str, int], int] = {}

    def fetch(read_pages: Iterator[list[dict[str, Any]]], out: int) -> None:
        try:
            for page in read_pages:
                if stop.is_set() or not shelf.put(out, page):
                    return
            shelf.put(out, _END, last=True)
        except BaseException as err:  # handed to the reading thread, raised there
            shelf.put(out, err, last=True)

    def objects(kind_name: str, n_reads: int) -> Iterator[dict[str, Any]]:
        for n in range(n_reads):
            out = streams[(kind_name, n)]
            while (item := shelf.get(out)) is not _END:
                if isinstance(item, BaseException):
                    raise item
                yield from item

    pool = ThreadPoolExecutor(max_workers=max(1, concurrency), thread_name_prefix="read")
    try:
        for kind in KINDS:
            for n, read in enumerate(kind.list_reads):
                out = streams[(kind.name, n)] = shelf.stream()
                read_pages = list_pages(remote, read.path, read.params, limiter)
                if type(kind).trim is not Kind.trim:
                    # Evaluated where the pages are fetched: on the fetching thread (Kind.trim).
                    read_pages = _trimmed(read_pages, kind.trim)
                if len(streams) == 1:
                    # The first page alone first: a bad key or an unreachable API fails one
                    # request, not one per stream.
                    first = next(read_pages, None)
                    shelf.put(out, first if first is not None else _END)
                    if first is None:
                        continue
                pool.submit(fetch, read_pages, out)
        existing = Existing()
        for kind in KINDS:
            snapshot = kind.read(objects(kind.name, len(kind.list_reads)), existing, pages)
            existing = existing.with_snapshot(kind, snapshot)
        return existing
    finally:
        stop.set()
        shelf.close()
        pool.shutdown(wait=True, cancel_futures=True)


def _trimmed(
    pages: Iterator[list[dict[str, Any]]], trim: Callable[[dict[str, Any]], dict[str, Any]]
) -> Iterator[list[dict[str, Any]]]:
    for page in pages:
        yield [trim(obj) for obj in page]


def desired_state(config: BillingConfig, policies: Policies | None = None) -> Desired:
    """billing.yaml -> Desired, every kind through the registry."""
    with no_gc():
        return Desired(
            {kind.name: kind.desired(config) for kind in KINDS},
            policies if policies is not None else config.policies,
            {kind.name: ignored for kind in KINDS if (ignored := kind.ignored(config))},
        )
