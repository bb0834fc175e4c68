"""Executes a Plan: dependency order (a ready heap), deterministic idempotency keys, bounded concurrency, an adaptive rate limit, retries."""

from __future__ import annotations

import hashlib
import heapq
import json
import math
import os
import queue
import secrets
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import stripe

from billing_sync.changes import REF_RE, Change, Delete, Detach
from billing_sync.plan.plan import Plan
from billing_sync.remote.client import Remote, describe_stripe_error, with_retries
from billing_sync.remote.pages import request as request_
from billing_sync.remote.ratelimit import (
    DEFAULT_RATE_LIVE,
    DEFAULT_RATE_TEST,
    RateLimiter,
    limited,
)

DEFAULT_PARALLELISM = 4
# The default write rate when --rate-limit is not given (else 20/s test mode, 80/s live).
RATE_ENV = "BILLING_SYNC_RATE_LIMIT"


def default_rate(livemode: bool) -> float:
    """$BILLING_SYNC_RATE_LIMIT when set to a positive number, else Stripe's limit less a margin."""
    try:
        rate = float(os.environ.get(RATE_ENV, ""))
    except ValueError:
        rate = 0.0
    if rate > 0 and math.isfinite(rate):
        return rate
    return DEFAULT_RATE_LIVE if livemode else DEFAULT_RATE_TEST


def idempotency_key(
    account: str, change: Change, method: str, path: str, params: dict[str, Any], run_id: str
) -> str:
    """The idempotency key of one change's request: the same for each of its retries within
    this run, never reused by another run.

    Retries inside a run replay Stripe's stored response instead of writing twice. Across runs,
    the state-based plan finds what an earlier, crashed run created (ownership metadata, product
    ids, lookup keys), so a key need not outlive its run; one that did would replay history for
    24 hours: a hand-deleted object "created" again from the stored response, or a stored 500
    answered to every re-run.
    """
    blob = json.dumps(
        [account, change.id, method, path, params, run_id], sort_keys=True, separators=(",", ":")
    )
    return "billing-sync-" + hashlib.sha256(blob.encode()).hexdigest()[:48]


def resolve(value: Any, ids: dict[str, str]) -> Any:
    """Replace ${price:key} placeholders with the ids earlier changes produced."""
    if isinstance(value, str):
        return REF_RE.sub(lambda m: ids[m.group(0)], value)
    if isinstance(value, list):
        return [resolve(v, ids) for v in value]
    if isinstance(value, dict):
        return {k: resolve(v, ids) for k, v in value.items()}
    return value


#: The status of a change an interrupted apply never sent (nothing depends on a failure).
NOT_STARTED = "not started"


@dataclass
class Result:
    change: Change
    status: str  # done | failed | skipped | not started | running
    message: str = ""
    stripe_id: str | None = None


@dataclass
class Report:
    results: list[Result] = field(default_factory=list)
    interrupted: bool = False  # stopped before every change was sent (see Executor.run)

    @property
    def ok(self) -> bool:
        return all(r.status == "done" for r in self.results)

    def count(self, status: str) -> int:
        return sum(1 for r in self.results if r.status == status)


Progress = Callable[[str, Result | None, int, int], None]


class Executor:
    """Runs one plan's changes; safe to call from one thread."""

    def __init__(
        self,
        remote: Remote,
        *,
        parallelism: int = DEFAULT_PARALLELISM,
        rate_limit: float | None = None,
        progress: Progress | None = None,
        retry_attempts: int = 6,
    ) -> None:
        self.remote = remote
        self.parallelism = max(1, parallelism)
        rate = rate_limit or default_rate(remote.livemode)
        # Paced from the first request, halved on a 429 and recovered (see remote/ratelimit.py);
        # an infinite rate is no limit (benchmarks).
        self.limiter = RateLimiter(rate if math.isfinite(rate) else None)
        self.progress = progress
        self.retry_attempts = retry_attempts
        self.ids: dict[str, str] = {}
        self.run_id = secrets.token_hex(8)
        self.ids_lock = threading.Lock()

    def _call(self, change: Change) -> Result:
        try:
            body = self._send(change)
        except stripe.StripeError as err:
            if isinstance(change, (Detach, Delete)) and err.http_status == 404:
                # The object or link is gone: deleted by a first attempt whose answer was lost
                # (Stripe ignores idempotency keys on DELETE, so the retry finds nothing), or by
                # hand. Either way the change's purpose holds (and what waits on it may go on).
                return Result(
                    change, "done", f"already {change.action}d", stripe_id=change.stripe_id
                )
            return Result(change, "failed", describe_stripe_error(err))
        except Exception as err:  # a bug fails this change; it must not kill the whole apply
            message = f"unexpected error: {type(err).__name__}: {err}"
            return Result(change, "failed", message)
        stripe_id = body.get("id")
        if change.produces and stripe_id:
            with self.ids_lock:
                self.ids[change.produces] = stripe_id
        return Result(change, "done", stripe_id=stripe_id)

    def _send(self, change: Change) -> dict[str, Any]:
        request = change.request
        with self.ids_lock:
            path = resolve(request.path, self.ids)
            params = resolve(dict(request.params), self.ids)
        key = idempotency_key(
            self.remote.account_fingerprint, change, request.method, path, params, self.run_id
        )

        def attempt() -> dict[str, Any]:
            return limited(  # type: ignore[no-any-return]
                self.limiter,
                lambda: request_(self.remote, request.method, path, idempotency_key=key, **params),
            )

        what = f"{request.method.upper()} {path} ({change.id})"
        return with_retries(
            attempt, attempts=self.retry_attempts, on_retry=self.remote.on_retry(what)
        )

    def run(self, plan: Plan, stop: threading.Event | None = None) -> Report:
        """Run every change once its dependencies are done, in plan order among the ready ones.

        A change whose dependency failed or was skipped is skipped, and so on down the graph.
        Once `stop` is set (Ctrl-C), nothing more is sent: the changes in flight finish (with
        their retries) and every change not yet sent is reported `not started`.
        Scheduling costs O(log n) per change: changes are numbered in plan order once, a heap
        holds the ready ones, counters what each still waits for, and finished calls arrive on
        a queue (no scan of the running ones).
        """
        changes = plan.changes
        ids = [c.id for c in changes]
        index = {cid: n for n, cid in enumerate(ids)}
        deps = [[index[d] for d in plan.depends_on.get(cid, ()) if d in index] for cid in ids]
        waiting = [len(d) for d in deps]
        dependents: list[list[int]] = [[] for _ in changes]
        for n, ds in enumerate(deps):
            for d in ds:
                dependents[d].append(n)
        ready = [n for n, w in enumerate(waiting) if w == 0]  # ascending: already a heap
        results: list[Result | None] = [None] * len(changes)
        succeeded = [False] * len(changes)
        total = len(changes)
        finished = 0
        running = 0
        completed: queue.SimpleQueue[tuple[int, Future[Result]]] = queue.SimpleQueue()

        def stopped() -> bool:
            return stop is not None and stop.is_set()

        def finish(n: int, result: Result) -> None:
            nonlocal finished
            results[n] = result
            succeeded[n] = result.status == "done"
            finished += 1
            self._report(result.status, result, finished, total)
            for nxt in dependents[n]:
                waiting[nxt] -= 1
                if waiting[nxt] == 0:
                    heapq.heappush(ready, nxt)

        with ThreadPoolExecutor(max_workers=self.parallelism, thread_name_prefix="apply") as pool:
            while (ready and not stopped()) or running:
                while ready and running < self.parallelism and not stopped():
                    n = heapq.heappop(ready)
                    change = changes[n]
                    failed = next((d for d in deps[n] if not succeeded[d]), None)
                    if failed is not None:
                        message = f"skipped: {ids[failed]} did not succeed"
                        finish(n, Result(change, "skipped", message))
                        continue
                    if self.progress is not None:
                        self._report("start", Result(change, "running"), finished, total)
                    future = pool.submit(self._call, change)
                    future.add_done_callback(lambda f, n=n: completed.put((n, f)))  # type: ignore[misc]
                    running += 1
                if not running:
                    continue
                n, future = completed.get()
                running -= 1
                finish(n, future.result())
        interrupted = stopped() and any(r is None for r in results)
        out = []
        for n, change in enumerate(changes):  # a cycle would leave changes behind: never drop them
            result = results[n]
            if result is None:
                result = (
                    Result(change, NOT_STARTED, "not started: the apply was interrupted")
                    if interrupted
                    else Result(change, "skipped", "skipped: unresolved dependency")
                )
            out.append(result)
        return Report(out, interrupted=interrupted)

    def _report(self, event: str, result: Result | None, done: int, total: int) -> None:
        if self.progress is not None:
            self.progress(event, result, done, total)
