"""Real process: shell completion as the README sets it up (click's `_BILLING_SYNC_COMPLETE`,
which click answers with bytes on the process's stdout)."""

from __future__ import annotations

from tests.helpers import run_cli_process


def test_completion_scripts_and_completions() -> None:
    for shell, marker in (
        ("bash", "_billing_sync_completion"),
        ("zsh", "#compdef billing-sync"),
        ("fish", "complete --no-files --command billing-sync"),
    ):
        res = run_cli_process(None, env={"_BILLING_SYNC_COMPLETE": f"{shell}_source"})
        assert res.returncode == 0, res.stderr
        assert marker in res.stdout, (shell, res.stdout[:200])

    def complete(words: str) -> list[str]:
        res = run_cli_process(
            None,
            env={
                "_BILLING_SYNC_COMPLETE": "bash_complete",
                "COMP_WORDS": words,
                "COMP_CWORD": str(len(words.split()) - (0 if words.endswith(" ") else 1)),
            },
        )
        assert res.returncode == 0, res.stderr
        return [line.split(",", 1)[1] for line in res.stdout.splitlines()]

    assert complete("billing-sync pl") == ["plan"]
    assert complete("billing-sync plan --format ") == ["text", "json", "markdown"]
    assert "--auto-approve" in complete("billing-sync apply --a")
