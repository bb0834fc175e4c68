"""Executes a Plan: dependency order, deterministic idempotency keys, bounded concurrency, rate limit, retries."""

from __future__ import annotations

import hashlib
import json
import secrets
import threading
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any

import stripe

from billing_sync.plan.ops import REF_RE, Operation, Plan
from billing_sync.remote.client import Remote, describe_stripe_error, with_retries
from billing_sync.remote.read import request

DEFAULT_PARALLELISM = 4
# Below Stripe's limits (25/s test mode, 100/s live), leaving room for other clients of the account.
DEFAULT_RATE_TEST = 20.0
DEFAULT_RATE_LIVE = 80.0


class TokenBucket:
    """Thread-safe token bucket: at most `rate` acquisitions per second, bursts up to `burst`."""

    def __init__(
        self,
        rate: float,
        burst: int | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if rate <= 0:
            raise ValueError("rate must be positive")
        self.rate = rate
        self.capacity = float(burst if burst is not None else max(1, int(rate)))
        self.tokens = self.capacity
        self.clock = clock
        self.sleep = sleep
        self.last = clock()
        self.lock = threading.Lock()

    def acquire(self) -> None:
        while True:
            with self.lock:
                now = self.clock()
                self.tokens = min(self.capacity, self.tokens + (now - self.last) * self.rate)
                self.last = now
                if self.tokens >= 1 - 1e-9:  # tolerance: float sums of small waits
                    self.tokens -= 1
                    return
                wait_for = max((1 - self.tokens) / self.rate, 0.001)
            self.sleep(wait_for)


def idempotency_key(
    account: str, op: Operation, method: str, path: str, params: dict[str, Any], run_id: str
) -> str:
    """The idempotency key of one operation's request, the same for each of its retries.

    Creates are keyed by account, operation and exact request alone, so a retried, re-run or
    concurrent apply of the same change cannot make a second object. Updates of existing
    objects (idempotent in effect) add the apply's run id: Stripe would otherwise replay a
    stored response when a value is changed back to what it was earlier the same day.
    """
    nonce = "" if op.produces else run_id
    blob = json.dumps(
        [account, op.id, method, path, params, nonce], sort_keys=True, separators=(",", ":")
    )
    return "billing-sync-" + hashlib.sha256(blob.encode()).hexdigest()[:48]


def resolve(value: Any, ids: dict[str, str]) -> Any:
    """Replace ${price:key} placeholders with the ids earlier operations produced."""
    if isinstance(value, str):
        return REF_RE.sub(lambda m: ids[m.group(0)], value)
    if isinstance(value, list):
        return [resolve(v, ids) for v in value]
    if isinstance(value, dict):
        return {k: resolve(v, ids) for k, v in value.items()}
    return value


@dataclass
class Result:
    op: Operation
    status: str  # done | failed | skipped
    message: str = ""
    stripe_id: str | None = None
    seconds: float = 0.0


@dataclass
class Report:
    results: list[Result] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(r.status == "done" for r in self.results)

    def count(self, status: str) -> int:
        return sum(1 for r in self.results if r.status == status)


Progress = Callable[[str, Result | None, int, int], None]


class Executor:
    """Runs one plan's operations; safe to call from one thread."""

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
        rate = rate_limit or (DEFAULT_RATE_LIVE if remote.livemode else DEFAULT_RATE_TEST)
        self.bucket = TokenBucket(rate)
        self.progress = progress
        self.retry_attempts = retry_attempts
        self.ids: dict[str, str] = {}
        self.run_id = secrets.token_hex(8)
        self.ids_lock = threading.Lock()

    def _call(self, op: Operation) -> Result:
        start = time.monotonic()
        try:
            body = self._send(op)
        except stripe.StripeError as err:
            return Result(
                op, "failed", describe_stripe_error(err), seconds=time.monotonic() - start
            )
        except Exception as err:  # a bug fails this operation; it must not kill the whole apply
            message = f"unexpected error: {type(err).__name__}: {err}"
            return Result(op, "failed", message, seconds=time.monotonic() - start)
        stripe_id = body.get("id")
        if op.produces and stripe_id:
            with self.ids_lock:
                self.ids[op.produces] = stripe_id
        return Result(op, "done", stripe_id=stripe_id, seconds=time.monotonic() - start)

    def _send(self, op: Operation) -> dict[str, Any]:
        with self.ids_lock:
            path = resolve(op.path, self.ids)
            params = resolve(op.params, self.ids)
        key = idempotency_key(
            self.remote.account_fingerprint, op, op.method, path, params, self.run_id
        )

        def attempt() -> dict[str, Any]:
            self.bucket.acquire()
            return request(self.remote, op.method, path, idempotency_key=key, **params)

        return with_retries(attempt, attempts=self.retry_attempts)

    def run(self, plan: Plan) -> Report:
        ops = {op.id: op for op in plan.operations}
        pending = dict(ops)
        results: dict[str, Result] = {}
        total = len(ops)
        running: dict[Future[Result], str] = {}

        def blocked_by(op: Operation) -> str | None:
            for dep in op.depends_on:
                r = results.get(dep)
                if r is not None and r.status != "done":
                    return dep
            return None

        def ready(op: Operation) -> bool:
            return all(dep in results or dep not in ops for dep in op.depends_on)

        with ThreadPoolExecutor(max_workers=self.parallelism, thread_name_prefix="apply") as pool:
            while pending or running:
                progressed = True
                while progressed:
                    progressed = False
                    for op_id, op in sorted(pending.items(), key=lambda kv: kv[1].sort_key):
                        if not ready(op):
                            continue
                        dep = blocked_by(op)
                        del pending[op_id]
                        progressed = True
                        if dep is not None:
                            res = Result(op, "skipped", f"skipped: {dep} did not succeed")
                            results[op_id] = res
                            self._report("skipped", res, len(results), total)
                            continue
                        if len(running) >= self.parallelism:
                            pending[op_id] = op
                            progressed = False
                            break
                        self._report("start", Result(op, "running"), len(results), total)
                        running[pool.submit(self._call, op)] = op_id
                if not running:
                    if pending:  # a dependency cycle or a missing dependency: never silently drop
                        for op_id, op in pending.items():
                            results[op_id] = Result(op, "skipped", "skipped: unresolved dependency")
                        pending.clear()
                    break
                done, _ = wait(list(running), return_when=FIRST_COMPLETED)
                for fut in done:
                    op_id = running.pop(fut)
                    res = fut.result()
                    results[op_id] = res
                    self._report(res.status, res, len(results), total)
        return Report([results[op.id] for op in plan.operations if op.id in results])

    def _report(self, event: str, result: Result | None, done: int, total: int) -> None:
        if self.progress is not None:
            self.progress(event, result, done, total)
