"""Real processes: the exit codes of `python -m billing_sync` and of the installed `billing-sync`
script (`sys.exit(main())`), and a usage error that is one message, never a traceback."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import (
    BAD_CONFIGS,
    EXAMPLE,
    EXAMPLE_CREATES,
    ROOT,
    EmulatorHandle,
    cli_env,
    run_cli_process,
    write_config,
)
from tests.integration.test_plan_apply import SMALL

ENTRY_POINTS = {
    "module": [sys.executable, "-m", "billing_sync"],
    "script": [str(Path(sys.executable).parent / "billing-sync")],
}


@pytest.mark.parametrize("entry", sorted(ENTRY_POINTS))
def test_exit_codes(entry: str, emulator: EmulatorHandle) -> None:
    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*ENTRY_POINTS[entry], *args],
            cwd=ROOT,
            env=cli_env(emulator),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    ok = run("validate", "-c", str(EXAMPLE))
    assert (ok.returncode, ok.stderr) == (0, "")
    assert ok.stdout.startswith(f"{EXAMPLE}: valid (")
    bad = run("validate", "-c", str(BAD_CONFIGS / "bad_currency.yaml"))
    assert bad.returncode == 1 and bad.stdout == ""
    assert bad.stderr.endswith("bad_currency.yaml: 1 error\n")
    changes = run("plan", "-c", str(EXAMPLE), "--detailed-exitcode")
    assert changes.returncode == 2, changes.stderr
    assert f"Plan: {EXAMPLE_CREATES} to create" in changes.stdout
    usage = run("plan", "--no-such-option", "--detailed-exitcode")
    assert usage.returncode == 1  # an error, never "changes pending" (2)
    assert "Error: No such option '--no-such-option'" in usage.stderr
    # `status --fail-on`: 3 when a row matches (nothing is applied: every row is missing),
    # 1 for a word that is not a status (a usage error, as every other one).
    alert = run("status", "-c", str(EXAMPLE), "--fail-on", "missing")
    assert alert.returncode == 3 and "acme/main (missing)" in alert.stderr
    typo = run("status", "-c", str(EXAMPLE), "--fail-on", "pastdue")
    assert typo.returncode == 1 and "'pastdue' is not a subscription status" in typo.stderr
    for proc in (ok, bad, changes, usage, alert, typo):
        assert "Traceback" not in proc.stderr
    assert emulator.writes() == []


def test_a_core_command_runs_without_importing_the_payments_and_meters_groups(
    tmp_path: Path,
) -> None:
    cfg = write_config(tmp_path, SMALL)
    script = (
        "import sys\n"
        "from billing_sync.cli.app import _run\n"
        "try:\n"
        "    _run(sys.argv[1:])\n"
        "except SystemExit:\n"
        "    pass\n"
        "loaded = sorted(m for m in sys.modules if m.startswith(('billing_sync.cli.payments',"
        " 'billing_sync.cli.meters')))\n"
        "print('loaded:', loaded)\n"
    )

    def loaded_after(*args: str) -> str:
        proc = subprocess.run(
            [sys.executable, "-c", script, *args],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert "Traceback" not in proc.stderr, proc.stderr
        return proc.stdout.splitlines()[-1]

    assert loaded_after("validate", "-c", str(cfg)) == "loaded: []"
    everything = "loaded: ['billing_sync.cli.meters', 'billing_sync.cli.payments']"
    assert loaded_after("payments", "--help") == everything
    assert loaded_after("--help") == everything
    assert loaded_after("paymnts") == everything  # so that click can suggest the name


def test_the_groups_are_there_when_named_in_a_process_of_their_own(
    emulator: EmulatorHandle,
) -> None:
    res = run_cli_process(emulator, "meters", "--help")
    assert res.returncode == 0, res.stderr
    assert "Usage: billing-sync meters" in res.stdout
    res = run_cli_process(emulator, "paymnts")
    assert res.returncode == 1 and "Did you mean 'payments'?" in res.stderr
