"""Global options before or after the command, and Terraform's single-dash long options."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers import EmulatorHandle, run_cli, write_config
from tests.integration.test_plan_apply import SMALL


def test_global_options_after_the_command(emulator: EmulatorHandle, tmp_path: Path) -> None:
    cfg = write_config(tmp_path, SMALL)
    key, base = emulator.api_key, emulator.url
    # No STRIPE_* in the environment: the options are the only source.
    for args in (
        ["--api-key", key, "--api-base", base, "plan", "-c", str(cfg)],
        ["plan", "-c", str(cfg), "--api-key", key, "--api-base", base],
        ["--api-base", base, "plan", "--api-key", key, "-c", str(cfg)],
        ["-c", str(cfg), "plan", "--api-key", key, "--api-base", base],
    ):
        res = run_cli(None, *args, "--detailed-exitcode")
        assert res.returncode == 2, (args, res.stderr)
        assert "Plan: 5 to create" in res.stdout
    res = run_cli(None, "payments", "list", "--api-key", key, "--api-base", base)
    assert res.returncode == 0, res.stderr
    assert emulator.writes() == []


def test_after_the_command_wins_and_the_live_guard_sees_it(
    emulator: EmulatorHandle, tmp_path: Path
) -> None:
    cfg = write_config(tmp_path, SMALL)
    live = "sk_live_" + "y" * 24
    # The environment holds the emulator's key; a live key after the command replaces it.
    res = run_cli(emulator, "plan", "-c", str(cfg), "--api-key", live)
    assert res.returncode == 1
    assert res.stderr.startswith("error: refusing to use live key sk_live_...yyyy without --live")
    res = run_cli(
        emulator, "--api-key", live, "plan", "-c", str(cfg), "--api-key", emulator.api_key
    )
    assert res.returncode == 0, res.stderr
    assert emulator.requests() and all(r["status"] == 200 for r in emulator.requests())


def test_config_before_the_command_and_the_command_s_own_wins(
    emulator: EmulatorHandle, tmp_path: Path
) -> None:
    cfg = write_config(tmp_path, SMALL)
    other = write_config(tmp_path, SMALL.replace("name: Pro", "name: Pro Max"), "other.yaml")
    res = run_cli(emulator, "-c", str(cfg), "validate")
    assert res.stdout.startswith(f"{cfg}: valid")
    res = run_cli(emulator, "-c", str(cfg), "validate", "-c", str(other))
    assert res.stdout.startswith(f"{other}: valid")
    # A short option with its value attached is still a short option.
    res = run_cli(emulator, "validate", f"-c{other}")
    assert res.stdout.startswith(f"{other}: valid")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["plan", "-detailed-exitcode"],
            "Error: No such option '-detailed-exitcode'. billing-sync's long options take two "
            "dashes (Terraform's take one): did you mean --detailed-exitcode?\n",
        ),
        (
            ["plan", "-out=plans/pr.json"],
            "Error: No such option '-out'. billing-sync's long options take two dashes "
            "(Terraform's take one): did you mean --out=plans/pr.json?\n",
        ),
        (
            ["apply", "-auto-approve"],
            "Error: No such option '-auto-approve'. billing-sync's long options take two dashes "
            "(Terraform's take one): did you mean --auto-approve?\n",
        ),
        (
            ["plan", "-config=billing.yaml"],  # not `-c onfig=billing.yaml`
            "Error: No such option '-config'. billing-sync's long options take two dashes "
            "(Terraform's take one): did you mean --config=billing.yaml?\n",
        ),
    ],
)
def test_terraform_style_single_dash_options_get_a_hint(
    emulator: EmulatorHandle, args: list[str], message: str
) -> None:
    res = run_cli(emulator, *args)
    assert (res.returncode, res.stdout, res.stderr) == (1, "", message)
    assert emulator.requests() == []


def test_an_unknown_single_dash_word_is_explained(emulator: EmulatorHandle) -> None:
    res = run_cli(emulator, "plan", "-var-file=prod.tfvars", "--detailed-exitcode")
    assert res.returncode == 1
    assert res.stderr.endswith(
        "Error: No such option '-v'. It comes from '-var-file': billing-sync's long options take "
        "two dashes (Terraform's take one), and --var-file is not one of them; see --help.\n"
    )
    # After `--` nothing is an option: no hint is made up.
    res = run_cli(emulator, "plan", "-x", "--", "-detailed-exitcode")
    assert res.returncode == 1 and "It comes from" not in res.stderr
    assert emulator.requests() == []


def test_an_option_value_that_looks_like_a_single_dash_option_is_a_value(
    emulator: EmulatorHandle, tmp_path: Path
) -> None:
    # `-live` and `-out=x` are spellings the hint corrects, but here they are option values
    # (click reads the word after `--reference` as its value whatever it looks like).
    created = run_cli(
        emulator,
        "payments",
        "create",
        "--amount",
        "1200",
        "--currency",
        "usd",
        "--reference",
        "-live",
        "--description",
        "-out=x",
        "--format",
        "json",
    )
    assert created.returncode == 0, created.stderr
    shown = run_cli(emulator, "payments", "show", "--reference", "-live", "--format", "json")
    assert shown.returncode == 0, shown.stderr
    assert '"reference": "-live"' in shown.stdout and '"description": "-out=x"' in shown.stdout
    # A global option's value too, before and after the command: `-c -detailed-exitcode` is a
    # file name (a missing one), not Terraform's flag.
    for args in (["-c", "-detailed-exitcode", "plan"], ["plan", "-c", "-detailed-exitcode"]):
        res = run_cli(emulator, *args)
        assert res.returncode == 1
        assert "two dashes" not in res.stderr and "-detailed-exitcode" in res.stderr, res.stderr
    # The same word in an option position still gets the hint.
    res = run_cli(emulator, "payments", "show", "-live")
    assert res.returncode == 1 and "did you mean --live?" in res.stderr


def test_no_color_after_the_command(emulator: EmulatorHandle, tmp_path: Path) -> None:
    cfg = write_config(tmp_path, SMALL)
    coloured = run_cli(emulator, "plan", "-c", str(cfg), env={"FORCE_COLOR": "1"})
    assert "\x1b[" in coloured.stdout
    for args in (["--no-color", "plan"], ["plan", "--no-color"]):
        res = run_cli(emulator, *args, "-c", str(cfg), env={"FORCE_COLOR": "1"})
        assert res.returncode == 0 and "\x1b[" not in res.stdout, args


@pytest.mark.parametrize(
    ("argv", "word"),
    [
        (["plan", "-c", "x.yaml"], "plan"),
        (["--api-key", "sk_test_x", "--api-base", "http://h", "apply"], "apply"),
        (["-c", "payments", "validate"], "validate"),  # a value, even one that names a group
        (["--api-key=sk_test_x", "payments", "list"], "payments"),
        (["--live", "meters"], "meters"),  # a flag takes no value
        (["--help"], None),
        ([], None),
        (["--", "plan"], None),
    ],
)
def test_the_command_word_is_the_first_word_outside_an_option(
    argv: list[str], word: str | None
) -> None:
    from billing_sync.cli.argv import command_word
    from billing_sync.cli.context import cli

    assert command_word(argv, cli) == word
