"""Real process: `stripe-emulator serve --state FILE` keeps its state across a restart
and exits 0 on SIGTERM and SIGINT."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import stripe

from tests.helpers import ROOT

KEY = "sk_test_server_tests"


def _serve(*args: str) -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "stripe_emulator", "serve", "--port", "0", *args],
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


def test_state_survives_restart(tmp_path: Path) -> None:
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
