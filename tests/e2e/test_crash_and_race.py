"""Real processes: an apply killed with SIGKILL mid-way, and two applies racing each other, leave
an account that one more apply converges, never a duplicate. (Killing the CLI needs it in its own
process; the emulator stays in the test process and keeps serving.)"""

from __future__ import annotations

import signal
import subprocess
import sys
import time

from tests.helpers import (
    EXAMPLE,
    EXAMPLE_WRITES,
    ROOT,
    EmulatorHandle,
    cli_env,
    converged,
    duplicates,
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
    assert 4 <= len(emulator.writes()) < EXAMPLE_WRITES
    emulator.configure(latency_ms=0)
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
