"""Tests for billing_sync.apply.execute: idempotency keys, placeholder resolution, the scheduler's
order and skipping (rate limiting: test_remote_ratelimit.py)."""

from __future__ import annotations

import threading

import pytest

from billing_sync.apply.execute import Executor, Result, idempotency_key, resolve
from billing_sync.changes import Change, Create, Request, Update, object_token
from billing_sync.demo import DEMO_KEY
from billing_sync.plan.plan import Plan
from billing_sync.remote.client import connect


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


# --- the scheduler (Executor.run) with the requests stubbed ---------------------------------
class _Recorder(Executor):
    """No request: records the order changes start in; `fail` names changes that fail."""

    def __init__(self, fail: frozenset[str] = frozenset(), parallelism: int = 1) -> None:
        super().__init__(connect(DEMO_KEY, "http://127.0.0.1:9"), parallelism=parallelism)
        self.fail = fail
        self.started: list[str] = []
        self.lock = threading.Lock()

    def _call(self, change: Change) -> Result:
        with self.lock:
            self.started.append(change.id)
        if change.key in self.fail:
            return Result(change, "failed", "boom")
        return Result(change, "done", stripe_id=f"id_{change.key}")


def _create(kind: str, key: str, needs: tuple[str, ...] = ()) -> Change:
    return Create(
        kind=kind,
        key=key,
        request=Request("post", f"/v1/{kind}s", {"name": key}),
        provides=frozenset({object_token(kind, key)}),
        needs=frozenset(needs),
    )


def _chain_plan() -> Plan:
    # p1 <- a, p1 <- b <- c; p2 alone; plan order: products then prices, by key.
    return Plan.of(
        [
            _create("price", "c", ("price:b",)),
            _create("price", "b", ("product:p1",)),
            _create("price", "a", ("product:p1",)),
            _create("product", "p2"),
            _create("product", "p1"),
        ]
    )


def test_changes_run_in_plan_order_among_the_ready_ones() -> None:
    plan = _chain_plan()
    executor = _Recorder()
    report = executor.run(plan)
    assert report.ok
    assert executor.started == [
        "product.create:p1",
        "product.create:p2",
        "price.create:a",
        "price.create:b",
        "price.create:c",
    ]
    assert [r.change.id for r in report.results] == [c.id for c in plan.changes]


def test_a_change_waits_for_every_dependency_even_when_later_in_plan_order() -> None:
    # z (first in plan order) needs both products; it starts only after both succeeded.
    plan = Plan.of(
        [
            _create("customer", "z", ("product:p1", "product:p2")),
            _create("product", "p2"),
            _create("product", "p1"),
        ]
    )
    executor = _Recorder(parallelism=4)
    assert executor.run(plan).ok
    assert executor.started[-1] == "customer.create:z"


def test_a_failure_skips_everything_downstream_and_nothing_else() -> None:
    plan = _chain_plan()
    executor = _Recorder(fail=frozenset({"b"}))
    report = executor.run(plan)
    by_id = {r.change.id: r for r in report.results}
    assert by_id["price.create:b"].status == "failed"
    assert by_id["price.create:c"].status == "skipped"
    assert by_id["price.create:c"].message == "skipped: price.create:b did not succeed"
    assert {
        i: r.status for i, r in by_id.items() if i not in ("price.create:b", "price.create:c")
    } == {
        "product.create:p1": "done",
        "product.create:p2": "done",
        "price.create:a": "done",
    }
    assert "price.create:c" not in executor.started
    assert (report.count("done"), report.count("failed"), report.count("skipped")) == (3, 1, 1)


def test_progress_sees_each_start_and_each_result_once() -> None:
    events: list[tuple[str, str, int, int]] = []
    executor = _Recorder(fail=frozenset({"p1"}))
    executor.progress = lambda event, result, done, total: events.append(
        (event, result.change.key if result else "", done, total)
    )
    executor.run(_chain_plan())
    assert events == [
        ("start", "p1", 0, 5),
        ("failed", "p1", 1, 5),
        ("start", "p2", 1, 5),  # ready before p1's dependents, and first in plan order
        ("done", "p2", 2, 5),
        ("skipped", "a", 3, 5),
        ("skipped", "b", 4, 5),
        ("skipped", "c", 5, 5),  # two levels down
    ]


def test_an_error_escaping_a_worker_is_raised_by_run() -> None:
    class Broken(_Recorder):
        def _call(self, change: Change) -> Result:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        Broken().run(_chain_plan())


def test_many_independent_changes_all_run_once() -> None:
    plan = Plan.of([_create("product", f"p{i:04d}") for i in range(500)])
    executor = _Recorder(parallelism=8)
    report = executor.run(plan)
    assert report.ok and len(report.results) == 500
    assert sorted(executor.started) == sorted(c.id for c in plan.changes)
