"""Against an account that enforces a rate limit, apply finishes with no failure at any configured
rate; the concurrent reader reads what the sequential one does. No timed assertions (speed lives
in `make bench`)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from billing_sync.apply.execute import Executor
from billing_sync.errors import StripeApiError
from billing_sync.plan.planner import build_plan
from billing_sync.remote.client import connect
from billing_sync.resources.read import read_account
from tests.helpers import EmulatorHandle, duplicates, write_config


def catalog(products: int) -> str:
    lines = ["version: 1", "products:"]
    for i in range(products):
        lines += [
            f"  p{i}:",
            f"    name: Product {i}",
            "    prices:",
            f"      p{i}-monthly: {{unit_amount: {100 + i}, currency: usd, recurring: {{interval: month}}}}",
        ]
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("rate", [100.0, float("inf")])
def test_apply_over_an_enforced_limit_finishes_with_no_failure(
    emulator: EmulatorHandle, tmp_path: Path, rate: float
) -> None:
    config = write_config(tmp_path, catalog(25))
    remote = connect(emulator.api_key, emulator.url)
    plan = build_plan(remote, str(config))
    assert len(plan.changes) == 50
    emulator.configure(rate_limit=25)
    report = Executor(remote, parallelism=8, rate_limit=rate).run(plan)
    assert report.ok, [r.message for r in report.results if r.status != "done"]
    statuses = [r["status"] for r in emulator.requests()]
    assert 429 in statuses  # the account's limit was met, and apply slowed down through it
    emulator.configure(rate_limit=0)
    assert duplicates(emulator) == {}
    again = build_plan(connect(emulator.api_key, emulator.url), str(config))
    assert again.changes == ()


def test_concurrent_read_equals_sequential_read(emulator: EmulatorHandle) -> None:
    emulator.seed(
        products=120,
        prices_per_product=2,
        customers=110,
        subscriptions_per_customer=1,
        items_per_subscription=2,
    )
    remote = connect(emulator.api_key, emulator.url)
    one = read_account(remote, concurrency=1)
    four = read_account(remote, concurrency=4)
    assert four == one
    assert four.fingerprint() == one.fingerprint()


def test_a_failing_stream_fails_the_read(
    emulator: EmulatorHandle, monkeypatch: pytest.MonkeyPatch
) -> None:
    import billing_sync.resources.read as read_module
    from billing_sync.remote.pages import list_pages as real

    def pages(remote: Any, path: str, params: Any, limiter: Any = None) -> Iterator[Any]:
        if path == "/v1/customers":
            raise StripeApiError("customers: refused")
        return real(remote, path, params, limiter)

    monkeypatch.setattr(read_module, "list_pages", pages)
    emulator.seed(products=250, prices_per_product=1)
    with pytest.raises(StripeApiError, match="customers: refused"):
        read_account(connect(emulator.api_key, emulator.url))
