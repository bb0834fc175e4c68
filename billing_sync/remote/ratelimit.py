"""A paced, adaptive rate limiter: never above its limit, halved on a 429, recovered over time.

Stripe's limits (https://docs.stripe.com/rate-limits): 100 read and 100 write operations per
second in live mode, 25 and 25 in sandboxes (test mode), with a default of 25 requests per second
per endpoint; a request over a limit gets a 429 with the code `rate_limit`. Stripe sends
`Stripe-Should-Retry` on some responses (https://docs.stripe.com/error-low-level#idempotency)
and asks clients to back off exponentially on 429s.

- Paced, not bursty: consecutive requests are at least 1/rate apart from the very first one, so
  any one-second window holds at most `rate` requests (a full bucket at start would allow twice
  that in the first second).
- Multiplicative decrease, additive increase (as TCP does): a 429 `rate_limit` halves the pace
  (from the lower of the current pace and the rate Stripe accepted over the last second), at
  most once per one-second window (429s of requests sent before the last halving, or within a
  second of it, do not halve it again); the pace then grows back linearly, by half the highest
  accepted rate every `recovery` seconds (1), up to the limit.
- A `Retry-After` hint (seconds) pauses every request until then.
- With no limit (`rate=None`), requests are not paced until a 429 arrives, then as above,
  growing by the highest accepted rate per `recovery` seconds, with no ceiling (used for reads,
  which Stripe limits but billing-sync has no configured rate for).
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from typing import Any

import stripe

# Below Stripe's limits (25/s in sandboxes, 100/s live), leaving room for other clients.
DEFAULT_RATE_TEST = 20.0
DEFAULT_RATE_LIVE = 80.0
MIN_RATE = 1.0
RECOVERY_SECONDS = 1.0
# Stripe counts requests per second: after a halving, the 429s of the same one-second window say
# nothing new, so the pace is halved at most once per window (TCP: once per round trip).
WINDOW = 1.0
# Added to each interval so float sums of 1/rate never fit rate + 1 slots in one second.
SPACING_MARGIN = 1e-6


def header(headers: Mapping[str, Any] | None, name: str) -> str | None:
    """A response header by name, whatever the case of the mapping's keys."""
    if not headers:
        return None
    wanted = name.lower()
    for key, value in headers.items():
        if str(key).lower() == wanted:
            return str(value)
    return None


def retry_after(err: stripe.StripeError) -> float | None:
    """Seconds a `Retry-After` header asks to wait (delta-seconds only), capped at 60."""
    value = header(getattr(err, "headers", None), "Retry-After")
    if value is None:
        return None
    try:
        seconds = float(value)
    except ValueError:
        return None
    if not math.isfinite(seconds) or seconds < 0:
        return None
    return min(seconds, 60.0)


def is_rate_limited(err: BaseException) -> bool:
    """A 429 that says the account is over its request rate (not a lock timeout on one object)."""
    if not isinstance(err, stripe.StripeError) or err.http_status != 429:
        return False
    return getattr(err, "code", None) != "lock_timeout"


class RateLimiter:
    """Thread-safe pacing of requests (see the module docstring)."""

    def __init__(
        self,
        rate: float | None,
        *,
        recovery: float = RECOVERY_SECONDS,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if rate is not None and not rate > 0:
            raise ValueError("rate must be positive")
        self.limit = rate if rate is not None and math.isfinite(rate) else None
        self.pace = self.limit if self.limit is not None else math.inf
        self.recovery = recovery
        self.clock = clock
        self.sleep = sleep
        now = clock()
        self.next_slot = now
        self.paused_until = now
        self.updated = now
        self.last_decrease = -math.inf
        self.step = 0.0  # pace regained per second after a decrease
        self.accepted: deque[float] = deque()  # when recent requests succeeded
        self.peak = 0.0  # the highest rate accepted over a second, seen at a 429
        self.decreases = 0
        self.lock = threading.Lock()

    def acquire(self) -> float:
        """Wait for this request's slot; returns the slot (a ticket for `throttled`)."""
        with self.lock:
            now = self.clock()
            self._recover(now)
            slot = max(now, self.next_slot, self.paused_until)
            if math.isfinite(self.pace):
                self.next_slot = slot + 1.0 / self.pace + SPACING_MARGIN
        if slot > now:
            self.sleep(slot - now)
        return slot

    def succeeded(self) -> None:
        """A request paced by this limiter was accepted (not refused with a 429)."""
        with self.lock:
            now = self.clock()
            self.accepted.append(now)
            while self.accepted and self.accepted[0] <= now - WINDOW:
                self.accepted.popleft()

    def throttled(self, ticket: float, wait: float | None = None) -> None:
        """A request sent at `ticket` got a 429 rate_limit: halve the pace (once per reduction)
        and honour a `Retry-After` of `wait` seconds."""
        with self.lock:
            now = self.clock()
            self._recover(now)
            if wait is not None and wait > 0:
                self.paused_until = max(self.paused_until, now + wait)
            if ticket <= self.last_decrease or now - self.last_decrease < WINDOW:
                return
            # What Stripe accepted over the last second (its limits are per second): what the
            # account allows, where the rate sent includes the refused requests.
            while self.accepted and self.accepted[0] <= now - WINDOW:
                self.accepted.popleft()
            achieved = max(MIN_RATE, float(len(self.accepted)))
            self.peak = max(self.peak, achieved)
            self.pace = max(MIN_RATE, min(self.pace, achieved) / 2)
            # A constant additive increase (as TCP's): half the highest accepted rate per
            # `recovery` seconds, up to the limit. (A step that followed the current rate would
            # shrink with each halving and collapse the pace under random 429s.)
            # Probe above the highest accepted rate (up to the limit): nothing else would raise
            # it when the first 429 came early, or at random.
            ceiling = min(self.limit or math.inf, 2 * self.peak)
            self.step = max(MIN_RATE, ceiling / 2) / self.recovery
            self.last_decrease = now
            self.decreases += 1
            self.next_slot = max(self.next_slot, now + 1.0 / self.pace)

    def _recover(self, now: float) -> None:
        elapsed, self.updated = now - self.updated, now
        if self.pace < (self.limit or math.inf) and self.step > 0:
            self.pace += self.step * elapsed
            if self.limit is not None:
                self.pace = min(self.pace, self.limit)


def limited(limiter: RateLimiter | None, fn: Callable[[], Any]) -> Any:
    """Call fn in a slot of `limiter`, reporting a 429 rate_limit (and its hint) back to it."""
    if limiter is None:
        return fn()
    ticket = limiter.acquire()
    try:
        result = fn()
    except stripe.StripeError as err:
        if is_rate_limited(err):
            limiter.throttled(ticket, retry_after(err))
        else:
            limiter.succeeded()  # not refused for its rate
        raise
    limiter.succeeded()
    return result
