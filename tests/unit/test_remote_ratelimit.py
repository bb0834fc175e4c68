"""The rate limiter (paced, never above its limit, halved on 429, recovered) and the retry hints.

A fake clock drives every test: no timed assertion (speed lives in `make bench`)."""

from __future__ import annotations

from typing import Any

import pytest
import stripe

from billing_sync.remote.client import is_retryable, with_retries
from billing_sync.remote.ratelimit import RateLimiter, is_rate_limited, limited, retry_after


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def time(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def limiter(rate: float | None, clock: FakeClock, **kw: Any) -> RateLimiter:
    return RateLimiter(rate, clock=clock.time, sleep=clock.sleep, **kw)


def send(bucket: RateLimiter) -> float:
    """One request that Stripe accepts."""
    ticket = bucket.acquire()
    bucket.succeeded()
    return ticket


def most_in_one_second(times: list[float]) -> int:
    return max(sum(1 for t in times if start <= t < start + 1.0) for start in times)


def rate_limit_error(headers: dict[str, str] | None = None, code: str = "rate_limit") -> Any:
    return stripe.RateLimitError("Too many requests", None, 429, None, headers, code)


def test_paced_from_the_first_request_never_above_the_limit() -> None:
    clock = FakeClock()
    bucket = limiter(10, clock)
    slots = [bucket.acquire() for _ in range(50)]
    assert slots[:3] == pytest.approx([0.0, 0.1, 0.2], abs=0.001)  # no initial burst
    assert most_in_one_second(slots) == 10
    assert clock.now == pytest.approx(4.9, abs=0.001)


def test_a_429_halves_the_pace_once_then_it_recovers_to_the_limit() -> None:
    clock = FakeClock()
    bucket = limiter(20, clock)
    tickets = [send(bucket) for _ in range(40)]
    bucket.throttled(tickets[-1])
    assert bucket.pace == pytest.approx(10)
    # 429s of requests sent before the halving do not halve again.
    bucket.throttled(tickets[-2])
    assert bucket.pace == pytest.approx(10)
    assert bucket.decreases == 1
    # Nor do those of the same one-second window.
    bucket.throttled(bucket.acquire())
    assert bucket.decreases == 1
    # A request sent a second later that is refused again halves again.
    clock.now += 1.0
    bucket.throttled(bucket.acquire())
    assert bucket.decreases == 2
    assert bucket.pace == 1  # nothing accepted in that second: the floor of 1/s
    clock.now += 60  # recovers by half the accepted rate (here the floor, 1/s) per second
    bucket.acquire()
    assert bucket.pace == 20  # recovered, never above the limit


def test_decrease_starts_from_the_rate_stripe_accepted() -> None:
    clock = FakeClock()
    bucket = limiter(100, clock)
    ticket = 0.0
    for _ in range(8):  # 8 requests in the last second, far below the limit of 100
        ticket = send(bucket)
        clock.now += 0.125
    bucket.throttled(ticket)
    assert bucket.pace == pytest.approx(3.5)  # 7 sent in the last second


def test_retry_after_pauses_every_request() -> None:
    clock = FakeClock()
    bucket = limiter(10, clock)
    ticket = bucket.acquire()
    bucket.throttled(ticket, wait=3.0)
    assert bucket.acquire() == pytest.approx(3.0)


def test_no_limit_is_unpaced_until_a_429() -> None:
    clock = FakeClock()
    bucket = limiter(None, clock)
    slots = []
    for _ in range(100):
        slots.append(send(bucket))
        clock.now += 0.01
    assert clock.slept == []
    bucket.throttled(slots[-1])
    assert bucket.pace == pytest.approx(49.5)  # half of the 99 sent in the last second
    after = [bucket.acquire() for _ in range(5)]
    assert after[1] - after[0] >= 1 / 50 - 1e-9


def test_zero_or_negative_rates_are_refused() -> None:
    for rate in (0, -1):
        with pytest.raises(ValueError):
            RateLimiter(rate)


def test_limited_reports_rate_limits_but_not_lock_timeouts() -> None:
    clock = FakeClock()
    bucket = limiter(10, clock)

    def fail(err: Exception) -> None:
        raise err

    with pytest.raises(stripe.RateLimitError):
        limited(bucket, lambda: fail(rate_limit_error(code="lock_timeout")))
    assert bucket.decreases == 0
    with pytest.raises(stripe.RateLimitError):
        limited(bucket, lambda: fail(rate_limit_error({"Retry-After": "2"})))
    assert bucket.decreases == 1
    assert bucket.paused_until >= 2.0
    assert limited(None, lambda: 7) == 7


def test_rate_limit_classification_and_retry_after_parsing() -> None:
    assert is_rate_limited(rate_limit_error())
    assert not is_rate_limited(rate_limit_error(code="lock_timeout"))
    assert not is_rate_limited(stripe.APIError("boom", None, 500, None, None))
    assert retry_after(rate_limit_error({"retry-after": "1.5"})) == 1.5
    assert retry_after(rate_limit_error({"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"})) is None
    assert retry_after(rate_limit_error({"Retry-After": "-1"})) is None
    assert retry_after(rate_limit_error({"Retry-After": "3600"})) == 60.0
    assert retry_after(rate_limit_error()) is None


def test_stripe_should_retry_overrides_the_status() -> None:
    assert not is_retryable(rate_limit_error({"Stripe-Should-Retry": "false"}))
    err = stripe.InvalidRequestError(  # type: ignore[no-untyped-call]
        "x", None, None, None, 400, None, {"stripe-should-retry": "true"}
    )
    assert is_retryable(err)
    assert is_retryable(rate_limit_error())


def test_with_retries_waits_at_least_retry_after_and_stops_when_told() -> None:
    slept: list[float] = []
    calls = iter([rate_limit_error({"Retry-After": "5"}), None])

    def fn() -> str:
        err = next(calls)
        if err is not None:
            raise err
        return "ok"

    assert with_retries(fn, sleep=slept.append) == "ok"
    assert slept == [5.0]

    attempts = 0

    def refused() -> None:
        nonlocal attempts
        attempts += 1
        raise rate_limit_error({"Stripe-Should-Retry": "false"})

    with pytest.raises(stripe.RateLimitError):
        with_retries(refused, sleep=slept.append)
    assert attempts == 1
