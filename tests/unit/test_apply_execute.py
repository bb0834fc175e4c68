"""Tests for billing_sync.apply.execute: rate limiting, idempotency keys, placeholder resolution."""

from __future__ import annotations

import pytest

from billing_sync.apply.execute import TokenBucket, idempotency_key, resolve
from billing_sync.changes import Change, Create, Request, Update


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def time(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def test_token_bucket_allows_a_burst_then_paces_to_the_rate() -> None:
    clock = FakeClock()
    bucket = TokenBucket(10, burst=5, clock=clock.time, sleep=clock.sleep)
    for _ in range(5):
        bucket.acquire()
    assert clock.now == 0.0  # the burst is free
    for _ in range(20):
        bucket.acquire()
    # 20 more at 10/s take two seconds of (fake) waiting.
    assert clock.now == pytest.approx(2.0, abs=0.01)


def test_token_bucket_rejects_a_zero_rate() -> None:
    with pytest.raises(ValueError):
        TokenBucket(0)


def op(produces: str | None, params: dict[str, object]) -> Change:
    cls = Create if produces else Update
    change = cls(kind="price", key="pro", request=Request("post", "/v1/prices", dict(params)))
    assert change.produces == produces
    return change


def test_keys_are_stable_for_retries_and_never_shared_between_runs() -> None:
    for change in (op("${price:pro}", {"unit_amount": 1}), op(None, {"nickname": "x"})):
        params = dict(change.request.params)
        a = idempotency_key("acct", change, "post", "/v1/prices", params, "run1")
        retry = idempotency_key("acct", change, "post", "/v1/prices", params, "run1")
        other_run = idempotency_key("acct", change, "post", "/v1/prices", params, "run2")
        assert a == retry and a != other_run
        assert a.startswith("billing-sync-") and len(a) <= 255
    base = op("${price:pro}", {"unit_amount": 1})
    a = idempotency_key("acct", base, "post", "/v1/prices", {"unit_amount": 1}, "run1")
    other_params = idempotency_key("acct", base, "post", "/v1/prices", {"unit_amount": 2}, "run1")
    other_account = idempotency_key("acct2", base, "post", "/v1/prices", {"unit_amount": 1}, "run1")
    assert len({a, other_params, other_account}) == 3


def test_resolve_fills_placeholders_deeply() -> None:
    ids = {"${price:pro}": "price_1", "${customer:acme}": "cus_1"}
    params = {"customer": "${customer:acme}", "items": [{"price": "${price:pro}", "quantity": 2}]}
    assert resolve(params, ids) == {
        "customer": "cus_1",
        "items": [{"price": "price_1", "quantity": 2}],
    }
    assert resolve("/v1/prices/${price:pro}", ids) == "/v1/prices/price_1"
    with pytest.raises(KeyError):
        resolve("${price:missing}", ids)
