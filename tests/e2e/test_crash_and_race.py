"""Real processes: an apply killed with SIGKILL mid-way, and two applies racing each other, leave
an account that one more apply converges, never a duplicate. (Killing the CLI needs it in its own
process; the emulator stays in the test process and keeps serving.)"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.helpers import (
    EXAMPLE,
    EXAMPLE_WRITES,
    ROOT,
    EmulatorHandle,
    cli_env,
    converged,
    duplicates,
    everything,
    run_cli,
)

APPLY = [sys.executable, "-m", "billing_sync", "apply", "-c", str(EXAMPLE), "--auto-approve"]


def test_killed_apply_then_rerun_converges(private_emulator: EmulatorHandle) -> None:
    # Its own emulator: requests the killed process left in flight (sleeping in the latency) may
    # execute after this test ends; on the shared emulator they would land after the next test's
    # reset and store their answers under the next apply's idempotency keys.
    emulator = private_emulator
    emulator.configure(latency_ms=150)
    proc = subprocess.Popen(
        APPLY,
        cwd=ROOT,
        env=cli_env(emulator),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while len(emulator.writes()) < 4 and time.monotonic() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    # Requests the killed process left in flight land within the latency: let them, or they
    # change the account between the re-run's plan and its check that nothing changed since.
    time.sleep(0.5)
    assert 4 <= len(emulator.writes()) < EXAMPLE_WRITES
    emulator.configure(latency_ms=0)
    res = run_cli(emulator, "apply", "-c", str(EXAMPLE), "--auto-approve")
    if res.returncode != 0:
        # Requests the killed process had in flight may land after the re-run's plan: the
        # re-run then refuses (the account changed after its plan) and the next one finishes.
        assert "the Stripe account changed after this plan was made" in res.stderr, res.stderr
        res = run_cli(emulator, "apply", "-c", str(EXAMPLE), "--auto-approve")
    assert res.returncode == 0, res.stdout + res.stderr
    converged(emulator)


def test_two_concurrent_applies_create_no_duplicates(emulator: EmulatorHandle) -> None:
    procs = [
        subprocess.Popen(
            APPLY,
            cwd=ROOT,
            env=cli_env(emulator),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
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


RACE = """\
version: 1
products:
  pro:
    name: Pro
    prices:
      pro-monthly: {{unit_amount: 2900, currency: usd, recurring: {{interval: month}}}}
customers:
  acme:
    email: billing@acme.example
    name: {name}
    subscriptions:
      main:
        collection_method: send_invoice
        days_until_due: 30
        items: [{{price: pro-monthly, quantity: {quantity}}}]
"""


def test_three_applies_of_three_configs_leave_one_of_each(
    emulator: EmulatorHandle, tmp_path: Path
) -> None:
    """Ten trials of three processes applying three versions of billing.yaml at once: exactly
    one live subscription and one customer per key, whoever wins; every loser says why."""
    configs = []
    for n in range(3):
        path = tmp_path / f"billing-{n}.yaml"
        path.write_text(RACE.format(name=f"Acme {n}", quantity=n + 1), encoding="utf-8")
        configs.append(path)
    reasons = ("another apply holds the lock", "the Stripe account changed after this plan")
    for trial in range(10):
        emulator.reset()
        procs = [
            subprocess.Popen(
                [sys.executable, "-m", "billing_sync", "apply", "-c", str(c), "--auto-approve"],
                cwd=ROOT,
                env=cli_env(emulator),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for c in configs
        ]
        outs = [(p.communicate(timeout=120), p.returncode) for p in procs]
        winners = [code for (_, _), code in outs if code == 0]
        assert winners, outs
        for (_, err), code in outs:
            assert "Traceback" not in err
            if code != 0:
                assert any(r in err for r in reasons), (trial, err)
        objs = everything(emulator)
        live = [s for s in objs["subscriptions"] if s["status"] not in ("canceled",)]
        assert len(live) == 1, (trial, outs)
        assert len(objs["customers"]) == 1, (trial, outs)
        assert duplicates(emulator) == {}
