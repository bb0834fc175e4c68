"""The entry point: registers the command groups and turns foreseeable errors into one line
and an exit code."""

from __future__ import annotations

import sys
from typing import Any

import click

import billing_sync.cli.commands  # noqa: F401  (registers the core commands on `cli`)
from billing_sync.cli.argv import (
    command_word,
    explain_no_such_option,
    refuse_single_dash,
    share_global_options,
)
from billing_sync.cli.context import cli
from billing_sync.errors import BillingSyncError, ConfigError
from billing_sync.gcpause import before_exit, command_heap


def _register_subgroups(args: list[str]) -> None:
    """Add the `payments` and `meters` groups unless the command line names a core command.

    A core command (plan, apply, validate, ...) never needs them, and importing them costs
    about 12 ms of every run (payments' dozen frozen dataclasses); anything else (one of these
    groups, a misspelt command that click suggests a name for, `--help`) gets them all."""
    word = command_word(args, cli)
    if word is None or word not in cli.commands:
        from billing_sync.cli.meters import meters
        from billing_sync.cli.payments import payments

        cli.add_command(payments)
        cli.add_command(meters)
    share_global_options(cli)


def main(argv: list[str] | None = None) -> Any:
    """Run the CLI: foreseeable errors become one line on stderr and exit 1, never a traceback.

    Without `argv` this is the process's entry point (`billing-sync`, `python -m billing_sync`),
    and the process ends with it (see `gcpause.before_exit`); with `argv` (the tests), it is
    one command among others."""
    if argv is not None:
        return _run(list(argv))
    try:
        return _run(sys.argv[1:])
    finally:
        before_exit()


def _run(args: list[str]) -> Any:
    try:
        _register_subgroups(args)
        refuse_single_dash(args, cli)
        with command_heap():
            return cli.main(args=args, prog_name="billing-sync", standalone_mode=False)
    except click.exceptions.Abort as err:
        # click turns a Ctrl-C anywhere in a command (or at a prompt) into Abort: it is still
        # an interruption (130, as in a shell), not an error; EOF at a prompt is an error.
        if isinstance(err.__cause__ or err.__context__, KeyboardInterrupt):
            click.echo("interrupted", err=True)
            sys.exit(130)
        click.echo("aborted", err=True)
        sys.exit(1)
    except click.ClickException as err:
        if isinstance(err, click.NoSuchOption):
            err = explain_no_such_option(err, args, cli)
        err.show()
        # A usage error is an error (1), as in Terraform: click's 2 would read as "changes
        # pending" to a CI job running `plan --detailed-exitcode`.
        sys.exit(1 if isinstance(err, click.UsageError) else err.exit_code)
    except ConfigError as err:
        for issue in err.issues:
            click.echo(str(issue), err=True)
        sys.exit(1)
    except BillingSyncError as err:
        click.echo(f"error: {err}", err=True)
        sys.exit(err.exit_code)
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        sys.exit(130)
