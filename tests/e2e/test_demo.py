"""Real processes: `python -m billing_sync.demo` (what `make demo` runs) goes through validate,
plan, apply, an empty re-plan, status, a payment and a refund against its own emulator process."""

from __future__ import annotations

import subprocess
import sys

from billing_sync.demo import DEMO_KEY
from tests.helpers import EXAMPLE_CREATES, EXAMPLE_WRITES, ROOT, cli_env


def test_demo_runs_to_completion() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "billing_sync.demo"],
        cwd=ROOT,
        env=cli_env(None),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out = proc.stdout
    assert "Traceback" not in out + proc.stderr
    assert f"Plan: {EXAMPLE_CREATES} to create" in out
    assert f"Apply complete: {EXAMPLE_WRITES} done, 0 failed, 0 skipped" in out
    assert "No changes" in out
    assert "Missing in Stripe: none" in out  # status, after the apply
    assert "refunded 15.00 USD" in out
    assert out.rstrip().endswith(
        "Demo complete: validated, planned, applied, re-planned with no "
        "changes, charged and refunded."
    )
    assert DEMO_KEY[len("sk_test_") :] not in out + proc.stderr
