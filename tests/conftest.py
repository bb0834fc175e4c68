"""Shared fixtures: the Stripe emulator as a real subprocess on 127.0.0.1 (one per xdist worker).

- `emulator_server` (session): starts `python -m billing_sync emulator serve --port 0`, reads
  the URL from its first stdout line, stops it at the end of the session.
- `emulator` (function): resets the emulator and returns an `EmulatorHandle` with `.url`,
  `.api_key`, `.requests()`, `.writes()`, `.configure(**kw)`, `.seed(**kw)`, `.client()`.
"""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import stripe

from billing_sync.demo import running_emulator
from billing_sync.remote.client import API_VERSION

ROOT = Path(__file__).resolve().parent.parent
EMULATOR_API_KEY = "sk_test_emulator_0000000000000000"


def _control(url: str, method: str, name: str, body: dict[str, Any] | None = None) -> Any:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(
        f"{url}/_emulator/{name}",
        data=data if method == "POST" else None,
        method=method,
        headers={"Content-Type": "application/json"},
    )
    if method == "POST" and data is None:
        req.data = b"{}"
    with urllib.request.urlopen(req, timeout=30) as resp:
        return json.loads(resp.read())


@dataclass
class EmulatorHandle:
    url: str
    api_key: str = EMULATOR_API_KEY

    def reset(self) -> None:
        _control(self.url, "POST", "reset", {})

    def requests(self) -> list[dict[str, Any]]:
        """Every Stripe request since the last reset: method, path, params, status, key."""
        result: list[dict[str, Any]] = _control(self.url, "GET", "requests")
        return result

    def writes(self) -> list[dict[str, Any]]:
        return [r for r in self.requests() if r["method"] in ("POST", "DELETE")]

    def configure(self, **kw: Any) -> dict[str, Any]:
        """latency_ms, fault_rate, fault_kinds, fail_nth (int, list or {n: kind}), fail_kind, seed."""
        result: dict[str, Any] = _control(self.url, "POST", "config", kw)
        return result

    def seed(self, **kw: Any) -> dict[str, Any]:
        result: dict[str, Any] = _control(self.url, "POST", "seed", kw)
        return result

    def health(self) -> dict[str, Any]:
        result: dict[str, Any] = _control(self.url, "GET", "health")
        return result

    def client(self, api_key: str | None = None, **kw: Any) -> stripe.StripeClient:
        return stripe.StripeClient(
            api_key or self.api_key,
            stripe_version=API_VERSION,
            base_addresses={"api": self.url},
            max_network_retries=kw.pop("max_network_retries", 0),
            **kw,
        )


@pytest.fixture(scope="session")
def emulator_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The URL of an emulator subprocess for this session (or xdist worker)."""
    with (
        (tmp_path_factory.mktemp("emulator") / "stderr.log").open("w") as log,
        running_emulator(log=log) as url,
    ):
        yield url


@pytest.fixture
def emulator(emulator_server: str) -> EmulatorHandle:
    """A freshly reset emulator (state, request log, idempotency keys, faults)."""
    handle = EmulatorHandle(emulator_server)
    handle.reset()
    return handle
