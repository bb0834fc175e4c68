"""Applies cut off mid-way or meeting random faults still converge without duplicates (the CLI
in-process; crashes of a real process and concurrent processes are in tests/e2e)."""

from __future__ import annotations

import pytest

from tests.helpers import (
    EXAMPLE,
    EXAMPLE_WRITES,
    READS_BEFORE_FIRST_WRITE,
    EmulatorHandle,
    converged,
    duplicates,
    run_cli,
)


@pytest.mark.parametrize("kind", ["drop", "500_after"])
@pytest.mark.parametrize("k", range(EXAMPLE_WRITES))
def test_apply_cut_off_after_k_writes_then_rerun_converges(
    emulator: EmulatorHandle, k: int, kind: str
) -> None:
    """From the (k+1)-th write on, the account is unreachable: the first request is lost
    after it executed (500_after) or before (drop); every later one is dropped."""
    first = READS_BEFORE_FIRST_WRITE + k + 1
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


def test_apply_completes_through_random_faults(emulator: EmulatorHandle) -> None:
    emulator.configure(fault_rate=0.2, fault_kinds=["429", "500", "drop", "500_after"], seed=7)
    res = run_cli(emulator, "apply", "-c", str(EXAMPLE), "--auto-approve")
    assert res.returncode == 0, res.stdout + res.stderr
    statuses = [r["status"] for r in emulator.requests()]
    faults = sum(1 for s in statuses if s in (0, 429, 500))  # 0: dropped connection
    assert faults >= 3, statuses  # faults really happened, and apply went through them
    emulator.configure(fault_rate=0)
    converged(emulator)
