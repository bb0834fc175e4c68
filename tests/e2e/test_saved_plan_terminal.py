"""Real process on a pseudo-terminal: `apply --plan FILE` applies without asking (the reviewed
plan is the approval, as in Terraform), while `apply -c` still asks."""

from __future__ import annotations

import os
import pty
import subprocess
import sys
from pathlib import Path

from tests.helpers import EmulatorHandle, cli_env, run_cli, write_config
from tests.integration.test_plan_apply import SMALL, assert_no_changes


def test_apply_of_a_saved_plan_on_a_terminal_does_not_ask(
    emulator: EmulatorHandle, tmp_path: Path
) -> None:
    cfg = write_config(tmp_path, SMALL)
    saved = tmp_path / "plans" / "reviewed.json"
    assert run_cli(emulator, "plan", "-c", str(cfg), "--out", str(saved)).returncode == 0
    master, slave = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "billing_sync", "apply", "--plan", str(saved)],
        stdin=slave,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env=cli_env(emulator),
        text=True,
    )
    os.close(slave)
    # Nothing is typed: a prompt would wait until the timeout and fail the test.
    try:
        out, _ = proc.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, _ = proc.communicate()
        raise AssertionError(f"apply --plan waited for an answer:\n{out}") from None
    finally:
        os.close(master)
    assert proc.returncode == 0, out
    assert "Apply these changes?" not in out
    assert "Apply complete: 6 done" in out
    assert_no_changes(emulator, cfg)
