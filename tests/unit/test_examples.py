"""The ready-to-copy examples (examples/github-actions/*.yml, .pre-commit-hooks.yaml): each is
YAML, and every billing-sync command line in them parses against the real click CLI (commands,
options, choices, arguments), without running it."""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click
import pytest
import yaml

from billing_sync.cli import cli
from billing_sync.cli.app import _register_subgroups
from tests.helpers import ROOT

WORKFLOWS = sorted((ROOT / "examples" / "github-actions").glob("*.yml"))
HOOKS = ROOT / ".pre-commit-hooks.yaml"
#: `${{ ... }}` is GitHub's, replaced before the shell text is split.
EXPRESSION = re.compile(r"\$\{\{.*?\}\}")
#: Where one command ends in a shell line.
SEPARATORS = {"|", "||", "&&", ";", "&"}
REDIRECTION = re.compile(r"(?<=\s)\d*(?:>>|>|<)&?\s*[^\s|;&]+")


def load(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def triggers(workflow: dict[Any, Any]) -> dict[str, Any]:
    """`on:` (PyYAML reads the bare key `on` as the boolean True, YAML 1.1)."""
    on = workflow.get("on", workflow.get(True))
    assert isinstance(on, dict), on
    return on


def steps(workflow: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for job in workflow["jobs"].values():
        yield from job["steps"]


def invocations(script: str) -> Iterator[list[str]]:
    """Every `billing-sync ...` command in a shell script, as its argument list (redirections
    such as `> plan.md` or `2>/dev/null` dropped; a pipe, `;`, `&&` or `||` ends a command)."""
    text = EXPRESSION.sub("EXPR", script.replace("\\\n", " "))
    for line in text.splitlines():
        if line.strip().startswith("#"):
            continue
        line = REDIRECTION.sub(" ", line)
        lexer = shlex.shlex(line, posix=True, punctuation_chars=True)
        lexer.whitespace_split = True
        words = list(lexer)
        for start, word in enumerate(words):
            if word == "billing-sync":
                args: list[str] = []
                for w in words[start + 1 :]:
                    if w in SEPARATORS:
                        break
                    args.append(w)
                yield args


def parse(args: list[str]) -> click.Context:
    """Parse `billing-sync ARGS` the way click would before running it: the root group's
    options, the subcommand (and any nested one), its options, choices and arguments. Raises
    click's UsageError for anything the CLI does not have."""
    _register_subgroups([])  # no command named: every group
    ctx = cli.make_context("billing-sync", list(args))
    command: click.Command = cli
    while isinstance(command, click.Group):
        rest = [*ctx._protected_args, *ctx.args]
        name, sub, remaining = command.resolve_command(ctx, rest)
        assert sub is not None and name is not None, rest
        ctx = sub.make_context(name, remaining, parent=ctx)
        command = sub
    return ctx


def commands_in(path: Path) -> list[list[str]]:
    if path == HOOKS:
        return [shlex.split(hook["entry"])[1:] + list(hook.get("args", [])) for hook in load(path)]
    found = []
    for step in steps(load(path)):
        found += list(invocations(step.get("run", "")))
    return found


@pytest.mark.parametrize("path", [*WORKFLOWS, HOOKS], ids=lambda p: p.name)
def test_every_billing_sync_command_in_the_examples_parses(path: Path) -> None:
    found = commands_in(path)
    assert found, f"{path.name} runs no billing-sync command"
    for args in found:
        ctx = parse(args)
        assert ctx.parent is not None, args  # a subcommand was named


def test_the_checker_catches_what_the_cli_does_not_have() -> None:
    for bad in (
        ["plan", "--no-such-flag"],
        ["plan", "--format", "html"],
        ["aply", "--auto-approve"],
        ["apply", "--plan"],
        ["--no-colour", "plan"],
    ):
        with pytest.raises(click.UsageError):
            parse(bad)
    assert parse(["--live", "plan", "--format", "markdown"]).params["fmt"] == "markdown"


def test_the_shell_splitter_finds_commands_between_pipes_and_redirects() -> None:
    script = (
        "set +e\n"
        "billing-sync --live plan -c billing.yaml --format markdown \\\n"
        "  --out plans/${{ github.run_id }}.json > plans/plan.md\n"
        "# billing-sync commented --out\n"
        "echo x && billing-sync drift 2>/dev/null | tee drift.md\n"
    )
    assert list(invocations(script)) == [
        [
            "--live",
            "plan",
            "-c",
            "billing.yaml",
            "--format",
            "markdown",
            "--out",
            "plans/EXPR.json",
        ],
        ["drift"],
    ]


def path_of(name: str) -> Path:
    (path,) = [p for p in WORKFLOWS if p.name == name]
    return path


def workflow(name: str) -> dict[str, Any]:
    found: dict[str, Any] = load(path_of(name))
    return found


def uses(wf: dict[str, Any]) -> list[str]:
    return [step["uses"].split("@")[0] for step in steps(wf) if "uses" in step]


def test_plan_workflow_comments_once_and_uploads_the_json_plan() -> None:
    wf = workflow("billing-sync-plan.yml")
    assert "pull_request" in triggers(wf)
    assert wf["permissions"]["pull-requests"] == "write"
    assert "actions/upload-artifact" in uses(wf)
    (plan,) = [args for args in commands_in(path_of("billing-sync-plan.yml")) if "plan" in args]
    ctx = parse(plan)
    assert ctx.params["fmt"] == "markdown" and ctx.params["out"]
    # The same file is uploaded, and the comment is found again by its marker (one comment).
    upload = next(s for s in steps(wf) if s.get("uses", "").startswith("actions/upload-artifact"))
    assert ctx.params["out"] in upload["with"]["path"]
    script = next(s for s in steps(wf) if s.get("uses", "").startswith("actions/github-script"))
    assert "updateComment" in script["with"]["script"]
    assert "<!-- billing-sync-plan -->" in script["with"]["script"]


def test_apply_workflow_applies_the_reviewed_plan_after_the_merge() -> None:
    wf = workflow("billing-sync-apply.yml")
    on = triggers(wf)
    assert on["pull_request"]["types"] == ["closed"]
    assert wf["jobs"]["apply"]["if"] == "github.event.pull_request.merged == true"
    assert "actions/download-artifact" in uses(wf)
    download = next(s for s in steps(wf) if s.get("uses", "").startswith("actions/download-"))
    plan_wf = workflow("billing-sync-plan.yml")
    upload = next(s for s in steps(plan_wf) if s.get("uses", "").startswith("actions/upload-"))
    assert download["with"]["name"] == upload["with"]["name"]
    (apply,) = commands_in(path_of("billing-sync-apply.yml"))
    ctx = parse(apply)
    assert ctx.info_name == "apply"
    plan_ctx = parse(next(a for a in commands_in(path_of("billing-sync-plan.yml")) if "plan" in a))
    # The file apply reads is the one the plan saved, downloaded to the same place.
    assert ctx.params["plan_file"] == plan_ctx.params["out"]
    assert ctx.params["auto_approve"] is True
    assert wf["concurrency"]["cancel-in-progress"] is False


def test_drift_workflow_is_scheduled_and_keeps_one_issue() -> None:
    wf = workflow("billing-sync-drift.yml")
    on = triggers(wf)
    assert on["schedule"] and "workflow_dispatch" in on
    assert wf["permissions"]["issues"] == "write"
    (drift,) = commands_in(path_of("billing-sync-drift.yml"))
    assert parse(drift).info_name == "drift"
    script = next(s for s in steps(wf) if s.get("uses", "").startswith("actions/github-script"))
    text = script["with"]["script"]
    assert "issues.create" in text and "issues.update" in text and "labels: label" in text


def test_pre_commit_hook_runs_validate() -> None:
    (hook,) = load(HOOKS)
    assert hook["id"] == "billing-sync-validate"
    assert hook["language"] == "python"
    assert parse(commands_in(HOOKS)[0]).info_name == "validate"
    assert re.search(hook["files"], "billing.yaml") and re.search(hook["files"], "ops/billing.yaml")
    assert not re.search(hook["files"], "billing.yaml.bak")
