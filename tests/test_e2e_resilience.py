"""End to end: applies that crash, meet faults or race each other still converge without duplicates."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import ROOT, EmulatorHandle
from tests.e2e_helpers import EXAMPLE, duplicates, everything, run_cli

pytestmark = pytest.mark.e2e

# Writes the example billing.yaml needs on an empty account: 15 creates + 2 default prices.
EXAMPLE_WRITES = 17
# Reads before the first write on an empty account: products, prices x2, customers, subscriptions.
READS = 5


def converged(emulator: EmulatorHandle) -> None:
    res = run_cli(emulator, "plan", "-c", str(EXAMPLE), "--detailed-exitcode")
    assert res.returncode == 0, res.stdout + res.stderr
    assert duplicates(emulator) == {}
    objs = everything(emulator)
    assert len(objs["products"]) == 4
    assert len(objs["prices"]) == 7
    assert len(objs["customers"]) == 2
    assert len(objs["subscriptions"]) == 2


@pytest.mark.parametrize("kind", ["drop", "500_after"])
@pytest.mark.parametrize("k", range(EXAMPLE_WRITES))
def test_apply_cut_off_after_k_writes_then_rerun_converges(
    emulator: EmulatorHandle, k: int, kind: str
) -> None:
    """From the (k+1)-th write on, the account is unreachable: the first request is lost
    after it executed (500_after) or before (drop); every later one is dropped."""
    first = READS + k + 1
    faults = {str(first): kind, **{str(n): "drop" for n in range(first + 1, first + 200)}}
    emulator.configure(fail_nth=faults)
    res = run_cli(emulator, "apply", "-c", str(EXAMPLE), "--auto-approve", "--max-retries", "0")
    assert res.returncode == 1, res.stdout + res.stderr
    assert "Apply incomplete" in res.stdout
    assert "Traceback" not in res.stderr
    emulator.configure(fail_nth=None)
    assert duplicates(emulator) == {}
    res = run_cli(emulator, "apply", "-c", str(EXAMPLE), "--auto-approve")
    assert res.returncode == 0, res.stdout + res.stderr
    converged(emulator)


def test_killed_apply_then_rerun_converges(emulator: EmulatorHandle) -> None:
    emulator.configure(latency_ms=150)
    env = {k: v for k, v in os.environ.items() if not k.startswith("STRIPE_")}
    env.update(STRIPE_API_KEY=emulator.api_key, STRIPE_API_BASE=emulator.url)
    proc = subprocess.Popen(
        [sys.executable, "-m", "billing_sync", "apply", "-c", str(EXAMPLE), "--auto-approve"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while len(emulator.writes()) < 4 and time.monotonic() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    assert 4 <= len(emulator.writes()) < EXAMPLE_WRITES
    emulator.configure(latency_ms=0)
    res = run_cli(emulator, "apply", "-c", str(EXAMPLE), "--auto-approve")
    assert res.returncode == 0, res.stdout + res.stderr
    converged(emulator)


def test_apply_completes_through_random_faults(emulator: EmulatorHandle) -> None:
    emulator.configure(fault_rate=0.2, fault_kinds=["429", "500", "drop", "500_after"], seed=7)
    res = run_cli(emulator, "apply", "-c", str(EXAMPLE), "--auto-approve")
    assert res.returncode == 0, res.stdout + res.stderr
    statuses = [r["status"] for r in emulator.requests()]
    faults = sum(1 for s in statuses if s in (0, 429, 500))  # 0: dropped connection
    assert faults >= 3, statuses  # faults really happened, and apply went through them
    emulator.configure(fault_rate=0)
    converged(emulator)


def test_two_concurrent_applies_create_no_duplicates(emulator: EmulatorHandle) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("STRIPE_")}
    env.update(STRIPE_API_KEY=emulator.api_key, STRIPE_API_BASE=emulator.url)
    cmd = [sys.executable, "-m", "billing_sync", "apply", "-c", str(EXAMPLE), "--auto-approve"]
    procs = [
        subprocess.Popen(
            cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        for _ in range(2)
    ]
    outs = [p.communicate(timeout=120) for p in procs]
    assert all("Traceback" not in err for _, err in outs)
    # Both may succeed (one replaying the other's idempotent writes); a loser may also stop on a
    # conflict, but never may the account end up with two of anything.
    assert duplicates(emulator) == {}
    res = run_cli(emulator, "apply", "-c", str(EXAMPLE), "--auto-approve")
    assert res.returncode == 0, res.stdout + res.stderr
    converged(emulator)


def test_no_secret_in_outputs_plans_or_logs(emulator: EmulatorHandle, tmp_path: Path) -> None:
    saved = tmp_path / "plan.json"
    outputs = []
    for args in (
        ["validate", "-c", str(EXAMPLE)],
        ["plan", "-c", str(EXAMPLE), "--out", str(saved)],
        ["plan", "-c", str(EXAMPLE), "--format", "markdown"],
        ["apply", "--plan", str(saved), "--auto-approve"],
        ["drift", "-c", str(EXAMPLE)],
        ["--live", "plan", "-c", str(EXAMPLE)],
    ):
        res = run_cli(emulator, *args, env={"STRIPE_LOG": "debug"})
        outputs.append(res.stdout + res.stderr)
    outputs.append(saved.read_text())
    secret = emulator.api_key[len("sk_test_") :]
    for text in outputs:
        assert secret not in text
