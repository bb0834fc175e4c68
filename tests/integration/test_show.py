"""`show PLAN` renders a saved plan without the API; `apply --plan PLAN` is the approval."""

from __future__ import annotations

import json
from pathlib import Path

from tests.helpers import EmulatorHandle, run_cli, write_config
from tests.integration.test_plan_apply import SMALL, apply_ok, assert_no_changes


def save(emulator: EmulatorHandle, cfg: Path, out: Path, *fmt: str) -> str:
    res = run_cli(emulator, "plan", "-c", str(cfg), "--out", str(out), *fmt)
    assert res.returncode in (0, 3), res.stderr
    return res.stdout


def test_show_renders_a_saved_plan_as_plan_did_without_the_api(
    emulator: EmulatorHandle, tmp_path: Path
) -> None:
    cfg = write_config(tmp_path, SMALL)
    out = tmp_path / "plans" / "pr-1.json"
    outputs = {fmt: save(emulator, cfg, out, "--format", fmt) for fmt in ("text", "markdown")}
    requests = len(emulator.requests())
    for fmt, expected in outputs.items():
        # No key, no API base: show never builds a client.
        res = run_cli(None, "show", str(out), "--format", fmt)
        assert (res.returncode, res.stdout) == (0, expected), res.stderr
        assert res.stderr.startswith(f"Saved plan {out} of {cfg} (operations checksum ")
        assert res.stderr.endswith(f"apply it with: billing-sync apply --plan {out}\n")
    res = run_cli(None, "show", str(out), "--format", "json")
    assert res.stdout == out.read_text(encoding="utf-8")
    assert len(emulator.requests()) == requests


def test_show_refuses_an_edited_or_missing_plan_in_one_line(tmp_path: Path) -> None:
    res = run_cli(None, "show", str(tmp_path / "nope.json"))
    assert res.returncode == 1
    assert (
        res.stderr
        == f"error: cannot read plan {tmp_path / 'nope.json'}: No such file or directory\n"
    )


def test_show_refuses_a_plan_edited_to_look_safe(emulator: EmulatorHandle, tmp_path: Path) -> None:
    cfg = write_config(tmp_path, SMALL)
    apply_ok(emulator, cfg)
    cfg.write_text(
        SMALL.split("    subscriptions:")[0]
        + "policies:\n  max_destroy_percent: 10\n  min_objects_for_thresholds: 0\n"
    )
    out = tmp_path / "destroy.json"
    save(emulator, cfg, out)
    doc = json.loads(out.read_text())
    assert doc["unsafe"]
    doc["unsafe"] = []
    out.write_text(json.dumps(doc, indent=2) + "\n")
    res = run_cli(None, "show", str(out))
    assert res.returncode == 1 and res.stdout == ""
    assert res.stderr.startswith(f"error: {out} is not a plan as billing-sync saved it (its unsafe")
    assert len(res.stderr.splitlines()) == 1


def test_apply_of_a_saved_plan_needs_no_confirmation(
    emulator: EmulatorHandle, tmp_path: Path
) -> None:
    cfg = write_config(tmp_path, SMALL)
    out = tmp_path / "plans" / "reviewed.json"
    save(emulator, cfg, out)
    # No terminal and no --auto-approve: `apply -c` refuses, `apply --plan` applies.
    refused = run_cli(emulator, "apply", "-c", str(cfg))
    assert refused.returncode == 1 and "pass --auto-approve" in refused.stderr
    res = run_cli(emulator, "apply", "--plan", str(out))
    assert res.returncode == 0, res.stderr
    assert "Apply complete: 6 done" in res.stdout
    assert "yes" not in res.stdout + res.stderr
    assert_no_changes(emulator, cfg)


def test_a_saved_plan_is_not_an_override_of_the_safety_rules(
    emulator: EmulatorHandle, tmp_path: Path
) -> None:
    cfg = write_config(tmp_path, SMALL)
    apply_ok(emulator, cfg)
    cfg.write_text(
        SMALL.split("    subscriptions:")[0]
        + "policies:\n  max_destroy_percent: 10\n  min_objects_for_thresholds: 0\n"
    )
    out = tmp_path / "destroy.json"
    save(emulator, cfg, out)
    writes = len(emulator.writes())
    res = run_cli(emulator, "apply", "--plan", str(out))
    assert res.returncode == 3 and "pass --allow-destroy" in res.stderr
    assert len(emulator.writes()) == writes
    res = run_cli(emulator, "apply", "--plan", str(out), "--allow-destroy")
    assert res.returncode == 0, res.stderr
    assert_no_changes(emulator, cfg)


def test_markdown_budget_option_and_environment(emulator: EmulatorHandle, tmp_path: Path) -> None:
    cfg = write_config(tmp_path, SMALL)
    out = tmp_path / "p.json"
    full = save(emulator, cfg, out, "--format", "markdown")
    small = run_cli(None, "show", str(out), "--format", "markdown", "--markdown-max-chars", "700")
    assert len(full) > 700 >= len(small.stdout)
    assert "This comment lists 0 of 6 changes" in small.stdout
    assert "the full plan is in the job artifact" in small.stdout
    env = {"BILLING_SYNC_MARKDOWN_MAX_CHARS": "700"}
    via_env = run_cli(emulator, "plan", "-c", str(cfg), "--format", "markdown", env=env)
    assert via_env.stdout == small.stdout
