"""`show PLAN` renders a saved plan without the API; `apply --plan PLAN` is the approval."""

from __future__ import annotations

import json
from pathlib import Path

from tests.helpers import EXAMPLE, EmulatorHandle, run_cli, write_config
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


def test_the_markdown_of_a_2000_operation_plan_fits_a_comment_risk_first(
    emulator: EmulatorHandle, tmp_path: Path
) -> None:
    # 600 managed products with 2 prices each and 250 customers with a subscription, none of
    # them in the example billing.yaml: about 2,000 archives and cancellations, plus its creates.
    emulator.seed(
        products=600,
        prices_per_product=2,
        customers=250,
        subscriptions_per_customer=1,
        items_per_subscription=1,
    )
    out = tmp_path / "big.json"
    res = run_cli(emulator, "plan", "-c", str(EXAMPLE), "--format", "markdown", "--out", str(out))
    assert res.returncode == 3, res.stderr  # unsafe: shown, saved, refused
    md = res.stdout
    operations = len(json.loads(out.read_text())["operations"])
    assert operations >= 2_000
    assert len(md) <= 60_000
    unbounded = run_cli(None, "show", str(out), "--format", "markdown", "--markdown-max-chars", "0")
    assert len(unbounded.stdout) > 200_000
    # The risk first: the refusal, then the destructive rows, before anything else.
    assert md.index("> [!CAUTION]\n> **Unsafe") < md.index("#### 🛑 Destructive")
    rows = [r for r in md.splitlines() if r.startswith("| ") and not r.startswith("| |")]
    assert rows and all(r.startswith("| 🛑 |") for r in rows)
    assert f"This comment lists {len(rows)} of {operations} changes" in md
    assert emulator.writes() == []
