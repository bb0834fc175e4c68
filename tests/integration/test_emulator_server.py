"""The `stripe-emulator serve` command's refusals, the in-process API, and list cost (a real `serve`
process with --state and signals: tests/e2e/test_emulator_serve.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import requests
import stripe
from stripe_emulator import server as server_module
from stripe_emulator import start_server
from stripe_emulator.cli import main as emulator_main

from billing_sync.remote.client import API_VERSION
from tests.helpers import EmulatorHandle

KEY = "sk_test_server_tests"


def _client(url: str) -> stripe.StripeClient:
    return stripe.StripeClient(KEY, base_addresses={"api": url}, max_network_retries=0)


class _MustNotListen:
    def __init__(self, *args: Any, **kw: Any) -> None:
        raise AssertionError("emulator serve started a server it should have refused")


def test_serve_rejects_non_loopback_and_bad_state(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # If a refusal regressed, `serve` would listen until interrupted: fail instead of hanging.
    monkeypatch.setattr(server_module, "EmulatorHTTPServer", _MustNotListen)
    bad = tmp_path / "state.json"
    bad.write_text("{not json")
    assert emulator_main(["serve", "--port", "0", "--state", str(bad)]) == 1
    err = capsys.readouterr().err
    assert "cannot load the state file" in err
    assert "Traceback" not in err
    assert emulator_main(["serve", "--host", "0.0.0.0", "--port", "0"]) != 0
    err = capsys.readouterr().err
    assert "loopback" in err
    assert "Traceback" not in err


def test_in_process_server_and_health() -> None:
    server, url = start_server("127.0.0.1", 0)
    try:
        assert url.startswith("http://127.0.0.1:")
        health = requests.get(url + "/_emulator/health", timeout=5).json()
        assert health["status"] == "ok"
        assert health["api_version"] == API_VERSION  # the version the client pins
        assert (
            _client(url)
            .v1.customers.create(params={"email": "x@example.test"})
            .id.startswith("cus_")
        )
        assert server.emulator.health()["objects"]["customers"] == 1
    finally:
        server.shutdown()
        server.server_close()


def test_pages_cost_o_page_on_10000_objects(emulator: EmulatorHandle) -> None:
    """Counted, not timed: a page looks at about `limit` objects wherever it starts."""
    out = emulator.seed(
        products=10_000, prices_per_product=1, customers=200, subscriptions_per_customer=1
    )
    c = emulator.client()
    oldest = out["products"][1]

    def examined(fn: Any) -> int:
        before: int = emulator.health()["list_objects_examined"]
        fn()
        after: int = emulator.health()["list_objects_examined"]
        return after - before

    first = examined(lambda: c.v1.products.list(params={"limit": 100}))
    deep = examined(lambda: c.v1.products.list(params={"limit": 100, "starting_after": oldest}))
    active = examined(
        lambda: c.v1.prices.list(params={"limit": 100, "starting_after": out["prices"][50]})
    )
    by_product = examined(lambda: c.v1.prices.list(params={"product": out["products"][5]}))
    subs = examined(lambda: c.v1.subscriptions.list(params={"limit": 100}))
    assert first == 101  # one page and one more to know has_more
    assert deep == 1  # the oldest but one: only the oldest is left
    assert active == 50  # starting after the 51st oldest price: 50 older ones remain
    assert by_product == 1
    assert subs == 201  # 101 subscriptions, and the one item embedded in each of the 100
