"""Real processes: the API key and client secrets never reach output, saved plans or stripe's
debug log. stripe reads STRIPE_LOG when it is imported, so only a fresh process shows its log."""

from __future__ import annotations

from pathlib import Path

from tests.helpers import EXAMPLE, EmulatorHandle, run_cli_process


def test_no_secret_in_outputs_plans_or_logs(emulator: EmulatorHandle, tmp_path: Path) -> None:
    saved = tmp_path / "plan.json"
    outputs = []
    for args in (
        ["validate", "-c", str(EXAMPLE)],
        ["plan", "-c", str(EXAMPLE), "--out", str(saved)],
        ["plan", "-c", str(EXAMPLE), "--format", "markdown"],
        ["apply", "--plan", str(saved), "--auto-approve"],
        ["drift", "-c", str(EXAMPLE)],
        ["--live", "plan", "-c", str(EXAMPLE)],
    ):
        res = run_cli_process(emulator, *args, env={"STRIPE_LOG": "debug"})
        outputs.append(res.stdout + res.stderr)
    outputs.append(saved.read_text())
    secret = emulator.api_key[len("sk_test_") :]
    for text in outputs:
        assert secret not in text


def test_client_secret_never_reaches_logs(emulator: EmulatorHandle, tmp_path: Path) -> None:
    proc = run_cli_process(
        None,
        "--api-base",
        emulator.url,
        "--api-key",
        emulator.api_key,
        "payments",
        "create",
        "--amount",
        "1999",
        "--currency",
        "usd",
        cwd=tmp_path,
        env={"STRIPE_LOG": "debug"},
    )
    assert proc.returncode == 0, proc.stderr
    assert emulator.api_key not in proc.stdout + proc.stderr, "API key leaked"
    assert "Traceback" not in proc.stderr, proc.stderr
    secret = proc.stdout.split("client_secret:  ")[1].split()[0]
    assert "_secret_" in secret
    assert secret not in proc.stderr
    assert "Request to Stripe api" in proc.stderr  # info logs still flow
