"""Reads the account with list endpoints only (about N/100 requests): the kinds' list streams are
fetched concurrently, and normalised kind by kind in registry order."""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from billing_sync.config.models import BillingConfig, Policies
from billing_sync.gcpause import no_gc
from billing_sync.remote.client import Remote
from billing_sync.remote.pages import list_all, list_pages
from billing_sync.remote.ratelimit import RateLimiter
from billing_sync.resources import KINDS
from billing_sync.resources.base import Desired, Existing

# List streams fetched at once. With Stripe's latency (a few hundred ms for a page of 100) four
# streams stay well under its read limits (25/s in sandboxes, 100/s live); a 429 slows them all
# (the shared limiter halves its pace, then recovers).
READ_CONCURRENCY = 4
# Pages fetched ahead per list stream. Normalisation (one thread, registry order) is slower than
# fetching, so without a bound the later kinds' pages all wait decoded in memory (at 100,000
# objects, hundreds of MB of subscriptions while products and prices are normalised); a few
# pages keep every fetching thread busy.
PAGES_AHEAD = 4

_END = object()


class _Stream:
    """One list stream's pages on their way from the thread fetching them to the reading thread.

    At most `room` items wait; `put` waits for room and gives up (False) once the stream is
    closed, so a fetching thread never outlives a read that ended (failed, interrupted, or a
    kind that stopped consuming). `get` waits for an item."""

    def __init__(self, room: int) -> None:
        self._items: deque[Any] = deque()
        self._room = max(1, room)
        self._closed = False
        self._changed = threading.Condition(threading.Lock())

    def put(self, item: Any) -> bool:
        with self._changed:
            while len(self._items) >= self._room and not self._closed:
                self._changed.wait()
            if self._closed:
                return False
            self._items.append(item)
            self._changed.notify_all()
            return True

    def get(self) -> Any:
        with self._changed:
            while not self._items:
                self._changed.wait()
            item = self._items.popleft()
            self._changed.notify_all()
            return item

    def close(self) -> None:
        """Wake every waiting `put` (they return False) and drop the pages still waiting."""
        with self._changed:
            self._closed = True
            self._items.clear()
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
    streams: dict[tuple[str, int], _Stream] = {}

    def fetch(read_pages: Iterator[list[dict[str, Any]]], out: _Stream) -> None:
        try:
            for page in read_pages:
                if stop.is_set() or not out.put(page):
                    return
            out.put(_END)
        except BaseException as err:  # handed to the reading thread, raised there
            out.put(err)

    def objects(kind_name: str, n_reads: int) -> Iterator[dict[str, Any]]:
        for n in range(n_reads):
            out = streams[(kind_name, n)]
            while (item := out.get()) is not _END:
                if isinstance(item, BaseException):
                    raise item
                yield from item

    pool = ThreadPoolExecutor(max_workers=max(1, concurrency), thread_name_prefix="read")
    try:
        for kind in KINDS:
            for n, read in enumerate(kind.list_reads):
                out = _Stream(PAGES_AHEAD)
                streams[(kind.name, n)] = out
                read_pages = list_pages(remote, read.path, read.params, limiter)
                if len(streams) == 1:
                    # The first page alone first: a bad key or an unreachable API fails one
                    # request, not one per stream.
                    first = next(read_pages, None)
                    out.put(first if first is not None else _END)
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
        for stream in streams.values():
            stream.close()
        pool.shutdown(wait=True, cancel_futures=True)


def desired_state(config: BillingConfig, policies: Policies | None = None) -> Desired:
    """billing.yaml -> Desired, every kind through the registry."""
    with no_gc():
        return Desired(
            {kind.name: kind.desired(config) for kind in KINDS},
            policies if policies is not None else config.policies,
            {kind.name: ignored for kind in KINDS if (ignored := kind.ignored(config))},
        )
