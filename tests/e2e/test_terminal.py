"""Real process: on a terminal, apply asks and accepts only `yes` (stdin is a pseudo-terminal)."""

from __future__ import annotations

import os
import pty
import subprocess
import sys
from pathlib import Path

from tests.helpers import EmulatorHandle, cli_env, write_config
from tests.integration.test_plan_apply import SMALL, assert_no_changes


def _apply_on_a_terminal(emulator: EmulatorHandle, config: Path, answer: str) -> tuple[int, str]:
    """Run apply with a pseudo-terminal as stdin and type `answer` at its prompt."""
    master, slave = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "billing_sync", "apply", "-c", str(config)],
        stdin=slave,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env=cli_env(emulator),
        text=True,
    )
    os.close(slave)
    os.write(master, (answer + "\n").encode())
    out, _ = proc.communicate(timeout=60)
    os.close(master)
    return proc.returncode, out


def test_apply_asks_for_yes_on_a_terminal(emulator: EmulatorHandle, tmp_path: Path) -> None:
    cfg = write_config(tmp_path, SMALL)
    code, out = _apply_on_a_terminal(emulator, cfg, "y")
    assert code == 1 and "apply cancelled; nothing was changed" in out
    assert "Only 'yes' is accepted" in out
    assert emulator.writes() == []
    code, out = _apply_on_a_terminal(emulator, cfg, "yes")
    assert code == 0, out
    assert "Apply complete" in out
    assert_no_changes(emulator, cfg)
