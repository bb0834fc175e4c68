"""Tests for billing_sync.apply.execute: idempotency keys, placeholder resolution (rate limiting:
test_remote_ratelimit.py)."""

from __future__ import annotations

import pytest

from billing_sync.apply.execute import idempotency_key, resolve
from billing_sync.changes import Change, Create, Request, Update


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


def test_default_rate_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    from billing_sync.apply.execute import RATE_ENV, default_rate

    monkeypatch.delenv(RATE_ENV, raising=False)
    assert (default_rate(False), default_rate(True)) == (20.0, 80.0)
    monkeypatch.setenv(RATE_ENV, "55")
    assert default_rate(False) == 55.0
    for bad in ("0", "-3", "fast", "inf", "nan"):
        monkeypatch.setenv(RATE_ENV, bad)
        assert default_rate(False) == 20.0
