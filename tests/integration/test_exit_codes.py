"""Exit codes CI can tell apart: no changes, changes, refused as it stands (unsafe, conflicts), error."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers import EmulatorHandle, run_cli, write_config
from tests.integration.test_plan_apply import SMALL, apply_ok

# SMALL has 5 managed objects: below the default minimum of 10 the percentages do not apply.
STRICT = "policies:\n  max_destroy_percent: 10\n  min_objects_for_thresholds: 0\n"
WITHOUT_SUBSCRIPTION = SMALL.split("    subscriptions:")[0]


def codes(emulator: EmulatorHandle, cfg: Path) -> tuple[int, int]:
    """plan's exit code without and with --detailed-exitcode."""
    plain = run_cli(emulator, "plan", "-c", str(cfg))
    detailed = run_cli(emulator, "plan", "-c", str(cfg), "--detailed-exitcode")
    assert "Traceback" not in plain.stderr + detailed.stderr
    return plain.returncode, detailed.returncode


def test_plan_exit_codes(emulator: EmulatorHandle, tmp_path: Path) -> None:
    cfg = write_config(tmp_path, SMALL)
    assert codes(emulator, cfg) == (0, 2)  # changes
    apply_ok(emulator, cfg)
    assert codes(emulator, cfg) == (0, 0)  # no changes
    # Unsafe: 3 with or without --detailed-exitcode, after the plan is shown.
    cfg.write_text(WITHOUT_SUBSCRIPTION + STRICT)
    res = run_cli(emulator, "plan", "-c", str(cfg))
    assert res.returncode == 3
    assert "- subscription acme/main (cancel" in res.stdout
    assert res.stderr == (
        "error: apply would refuse this plan: 1 destructive operation(s) touch 20% of 5 managed "
        "objects (max_destroy_percent: 10). Review it, then pass --allow-destroy\n"
    )
    assert codes(emulator, cfg) == (3, 3)
    # The same removal under the default minimum catalog size is an ordinary change.
    cfg.write_text(WITHOUT_SUBSCRIPTION)
    assert codes(emulator, cfg) == (0, 2)
    # Error: a config that does not validate.
    cfg.write_text(SMALL.replace("currency: usd", "currency: usdd"))
    assert codes(emulator, cfg) == (1, 1)


def test_conflicts_are_refused_as_they_stand_by_plan_apply_and_drift(
    emulator: EmulatorHandle, tmp_path: Path
) -> None:
    # A price of another amount holds a declared lookup key: adoption cannot take it over.
    client = emulator.client()
    other = client.v1.products.create({"name": "Someone else's"})
    client.v1.prices.create(
        {
            "product": other.id,
            "unit_amount": 100,
            "currency": "usd",
            "recurring": {"interval": "year"},
            "lookup_key": "pro-yearly",
        }
    )
    cfg = write_config(tmp_path, SMALL)
    assert codes(emulator, cfg) == (3, 3)
    res = run_cli(emulator, "plan", "-c", str(cfg))
    assert "conflict(s) with objects billing-sync does not manage" in res.stderr
    writes = len(emulator.writes())
    assert run_cli(emulator, "apply", "-c", str(cfg), "--auto-approve").returncode == 3
    assert run_cli(emulator, "drift", "-c", str(cfg)).returncode == 3
    assert len(emulator.writes()) == writes


def test_apply_tells_refused_from_failed(emulator: EmulatorHandle, tmp_path: Path) -> None:
    cfg = write_config(tmp_path, SMALL)
    apply_ok(emulator, cfg)
    cfg.write_text(WITHOUT_SUBSCRIPTION + STRICT)
    writes = len(emulator.writes())
    assert run_cli(emulator, "apply", "-c", str(cfg), "--auto-approve").returncode == 3
    assert len(emulator.writes()) == writes
    # An update threshold is overridden by its own flag, not by --allow-destroy.
    cfg.write_text(
        SMALL.replace("name: Pro", "name: Pro 2").replace("name: Acme", "name: Acme 2")
        + "  max_update_percent: 20\n  min_objects_for_thresholds: 0\n"
    )
    res = run_cli(emulator, "apply", "-c", str(cfg), "--auto-approve", "--allow-destroy")
    assert res.returncode == 3 and "pass --allow-mass-update" in res.stderr, res.stderr
    assert len(emulator.writes()) == writes
    apply_ok(emulator, cfg, "--allow-mass-update")


def test_ctrl_c_while_planning_exits_130_not_an_error(
    emulator: EmulatorHandle, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # click turns a KeyboardInterrupt inside a command into Abort (after ending the ^C line on
    # stderr); it must still read as an interruption. A Ctrl-C cannot be timed into an
    # in-process read, so the read raises it.
    import billing_sync.cli.commands as commands

    def interrupted(*_: object, **__: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(commands, "build_plan", interrupted)
    cfg = write_config(tmp_path, SMALL)
    for command in ("plan", "drift"):
        res = run_cli(emulator, command, "-c", str(cfg))
        assert (res.returncode, res.stdout, res.stderr) == (130, "", "\ninterrupted\n")
    assert emulator.writes() == []
