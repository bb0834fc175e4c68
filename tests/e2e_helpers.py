"""Runs the real billing-sync CLI as a subprocess against the emulator, and inspects the account."""

from __future__ import annotations

import os
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

from tests.conftest import ROOT, EmulatorHandle

EXAMPLE = ROOT / "billing.yaml"


def run_cli(
    emulator: EmulatorHandle | None,
    *args: str,
    cwd: Path | None = None,
    api_key: str | None = None,
    api_base: str | None = None,
    timeout: float = 120,
    env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """`python -m billing_sync ARGS` with the emulator's key and base in the environment."""
    full_env = {
        k: v for k, v in os.environ.items() if not k.startswith(("STRIPE_", "BILLING_SYNC_"))
    }
    if emulator is not None:
        full_env["STRIPE_API_KEY"] = api_key or emulator.api_key
        full_env["STRIPE_API_BASE"] = api_base or emulator.url
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "billing_sync", *args],
        cwd=cwd or ROOT,
        env=full_env,
        text=True,
        capture_output=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
        check=False,
    )


def write_config(tmp_path: Path, text: str, name: str = "billing.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def everything(emulator: EmulatorHandle) -> dict[str, list[dict[str, Any]]]:
    """Every product, price (active or not), customer and subscription (any status)."""
    client = emulator.client()

    def all_of(path: str, **params: Any) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        cursor = None
        while True:
            p = dict(params, limit=100)
            if cursor:
                p["starting_after"] = cursor
            page = client.raw_request("get", path, **p).data
            out += page["data"]
            if not page["has_more"]:
                return out
            cursor = page["data"][-1]["id"]

    return {
        "products": all_of("/v1/products"),
        "prices": all_of("/v1/prices", active="true") + all_of("/v1/prices", active="false"),
        "customers": all_of("/v1/customers"),
        "subscriptions": all_of("/v1/subscriptions", status="all"),
    }


def duplicates(emulator: EmulatorHandle) -> dict[str, list[str]]:
    """Managed keys that more than one live object claims (must always be empty)."""
    found: dict[str, list[str]] = {}
    objs = everything(emulator)
    for kind, items in objs.items():
        live = [
            o
            for o in items
            if o.get("active", True) and o.get("status") not in ("canceled", "incomplete_expired")
        ]
        keys = Counter((o.get("metadata") or {}).get("billing_sync_key") for o in live)
        dup = [k for k, n in keys.items() if k and n > 1]
        if dup:
            found[kind] = dup
    return found
