"""The `emulator serve` command (port 0, --state, signals), the in-process API, and list cost."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import requests
import stripe

from billing_sync.emulator import start_server
from billing_sync.remote.client import API_VERSION

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parent.parent
KEY = "sk_test_server_tests"


def _serve(*args: str) -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "billing_sync", "emulator", "serve", "--port", "0", *args],
        cwd=ROOT,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline().strip()
    assert line.startswith("emulator listening on http://127.0.0.1:"), line
    return proc, line.rsplit(" ", 1)[1]


def _stop(proc: subprocess.Popen[str], sig: int = signal.SIGTERM) -> int:
    proc.send_signal(sig)
    try:
        return proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()


def _client(url: str) -> stripe.StripeClient:
    return stripe.StripeClient(KEY, base_addresses={"api": url}, max_network_retries=0)


def test_state_survives_restart(tmp_path):
    state = tmp_path / "state" / "emulator.json"
    proc, url = _serve("--state", str(state))
    try:
        c = _client(url)
        prod = c.v1.products.create(params={"id": "pro", "name": "Pro"})
        price = c.v1.prices.create(
            params={
                "product": prod.id,
                "currency": "usd",
                "unit_amount": 100,
                "lookup_key": "pro-m",
            }
        )
        gone = c.v1.products.create(params={"name": "Gone"})
        c.v1.products.delete(gone.id)
        assert state.exists()  # saved after each write
    finally:
        assert _stop(proc) == 0
    proc2, url2 = _serve("--state", str(state))
    try:
        c2 = _client(url2)
        assert c2.v1.prices.retrieve(price.id).lookup_key == "pro-m"
        assert [p.id for p in c2.v1.products.list().data] == ["pro"]
        with pytest.raises(stripe.InvalidRequestError):  # the lookup-key index persisted too
            c2.v1.prices.create(
                params={
                    "product": "pro",
                    "currency": "usd",
                    "unit_amount": 1,
                    "lookup_key": "pro-m",
                }
            )
        newer = c2.v1.products.create(params={"name": "Newer"})
        assert c2.v1.products.list().data[0].id == newer.id
    finally:
        assert _stop(proc2, signal.SIGINT) == 0
    assert not list(state.parent.glob(".emulator-state-*"))  # atomic writes leave no temp files


def test_serve_rejects_non_loopback_and_bad_state(tmp_path):
    bad = tmp_path / "state.json"
    bad.write_text("{not json")
    broken = subprocess.run(
        [
            sys.executable,
            "-m",
            "billing_sync",
            "emulator",
            "serve",
            "--port",
            "0",
            "--state",
            str(bad),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert broken.returncode == 1
    assert "cannot load the state file" in broken.stderr
    assert "Traceback" not in broken.stderr
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "billing_sync",
            "emulator",
            "serve",
            "--host",
            "0.0.0.0",
            "--port",
            "0",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert out.returncode != 0
    assert "loopback" in out.stderr


def test_in_process_server_and_health():
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


def test_pages_cost_o_page_on_10000_objects(emulator):
    """Counted, not timed: a page looks at about `limit` objects wherever it starts."""
    out = emulator.seed(
        products=10_000, prices_per_product=1, customers=200, subscriptions_per_customer=1
    )
    c = emulator.client()
    oldest = out["products"][1]

    def examined(fn: Any) -> int:
        before = emulator.health()["list_objects_examined"]
        fn()
        return emulator.health()["list_objects_examined"] - before

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
