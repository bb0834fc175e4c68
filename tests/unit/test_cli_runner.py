"""The in-process CLI runner (`tests.helpers.run_cli`) behaves like the subprocess it replaces:
exit codes, captured streams, a non-terminal stdin, and the environment set only for the call."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import pytest

import billing_sync.cli
from tests.helpers import ROOT, EmulatorHandle, run_cli

FAKE = EmulatorHandle("http://127.0.0.1:9", api_key="sk_test_runner_checks_0000")


def fake_main(behaviour: Any) -> Any:
    def main(argv: list[str] | None = None) -> Any:
        return behaviour(argv)

    return main


@pytest.mark.parametrize(
    ("behaviour", "code", "err"),
    [
        (lambda argv: None, 0, ""),
        (lambda argv: 0, 0, ""),
        (lambda argv: sys.exit(2), 2, ""),
        (lambda argv: sys.exit(None), 0, ""),
        (lambda argv: sys.exit("fatal: message"), 1, "fatal: message\n"),
    ],
)
def test_exit_codes_follow_sys_exit_of_main(
    monkeypatch: pytest.MonkeyPatch, behaviour: Any, code: int, err: str
) -> None:
    monkeypatch.setattr(billing_sync.cli, "main", fake_main(behaviour))
    res = run_cli(None, "x")
    assert (res.returncode, res.stdout, res.stderr) == (code, "", err)


def test_an_unexpected_exception_is_a_traceback_and_exit_1(monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(argv: list[str] | None) -> None:
        raise KeyError("boom")

    monkeypatch.setattr(billing_sync.cli, "main", fake_main(boom))
    res = run_cli(None)
    assert res.returncode == 1
    assert res.stderr.startswith("Traceback (most recent call last):")
    assert res.stderr.endswith("KeyError: 'boom'\n")


def test_the_call_sees_its_env_cwd_and_streams_and_they_are_restored(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("STRIPE_API_VERSION", "leaks-from-the-shell")
    monkeypatch.setenv("BILLING_SYNC_CONFIG", "leaks.yaml")
    seen: dict[str, Any] = {}

    def spy(argv: list[str] | None) -> None:
        seen.update(
            argv=argv,
            env={k: v for k, v in os.environ.items() if k.startswith(("STRIPE_", "BILLING_"))},
            cwd=os.getcwd(),
            stdin_tty=sys.stdin.isatty(),
            stdin=sys.stdin.read(),
            stdout_tty=sys.stdout.isatty(),
        )
        print("to stdout")
        print("to stderr", file=sys.stderr)

    monkeypatch.setattr(billing_sync.cli, "main", fake_main(spy))
    env_before, cwd_before = dict(os.environ), os.getcwd()
    streams_before = sys.stdin, sys.stdout, sys.stderr
    res = run_cli(FAKE, "plan", "-c", "x.yaml", cwd=tmp_path, env={"EXTRA": "1"})
    assert seen == {
        "argv": ["plan", "-c", "x.yaml"],
        "env": {
            "STRIPE_API_KEY": FAKE.api_key,
            "STRIPE_API_BASE": FAKE.url,
            "BILLING_SYNC_RATE_LIMIT": "1000",
        },
        "cwd": str(tmp_path),
        "stdin_tty": False,
        "stdin": "",
        "stdout_tty": False,
    }
    assert (res.returncode, res.stdout, res.stderr) == (0, "to stdout\n", "to stderr\n")
    assert res.args == ["plan", "-c", "x.yaml"]
    assert dict(os.environ) == env_before and os.getcwd() == cwd_before
    assert (sys.stdin, sys.stdout, sys.stderr) == streams_before
    # Without a cwd, the repository root (where billing.yaml is), like the old subprocess runs.
    run_cli(None)
    assert seen["cwd"] == str(ROOT)
    assert seen["env"] == {}


def test_stripe_log_and_reentrant_calls_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ValueError, match="STRIPE_LOG"):
        run_cli(None, "plan", env={"STRIPE_LOG": "debug"})
    inner: list[BaseException] = []

    def reenter(argv: list[str] | None) -> None:
        try:
            run_cli(None)
        except RuntimeError as err:
            inner.append(err)

    monkeypatch.setattr(billing_sync.cli, "main", fake_main(reenter))
    assert run_cli(None).returncode == 0
    assert len(inner) == 1 and "not reentrant" in str(inner[0])
