"""Where options may go on the command line: global options after the command too, and a hint
for Terraform's single-dash long options (`-detailed-exitcode`, `-out=plan.json`)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import fields
from typing import Any

import click

from billing_sync.cli.context import AppContext

# A single dash and a word of two letters or more: Terraform's spelling of a long option.
_SINGLE_DASH = re.compile(r"-([A-Za-z][A-Za-z0-9-]+)(=.*)?", re.DOTALL)


def _set_on_app(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
    """A global option given after the command overrides the one before it (and the env)."""
    if value is not None and value is not False and param.name:
        app = ctx.find_object(AppContext)
        if app is not None:
            setattr(app, param.name, value)
    return value


def _commands(group: click.Group) -> Iterator[click.Command]:
    for command in group.commands.values():
        yield command
        if isinstance(command, click.Group):
            yield from _commands(command)


def _global_options(root: click.Group) -> list[click.Option]:
    """The root's options that set an AppContext field (-c aside: commands have their own)."""
    names = {f.name for f in fields(AppContext)} - {"config_file"}
    return [p for p in root.params if isinstance(p, click.Option) and p.name in names]


def share_global_options(root: click.Group) -> None:
    """Give every command the root's global options (`plan --api-key KEY` as well as
    `--api-key KEY plan`), except where a command has an option of that name already."""
    shared = _global_options(root)
    for command in _commands(root):
        taken = {opt for p in command.params for opt in p.opts}
        for source in shared:
            name = source.name
            assert name is not None
            if taken & set(source.opts):
                continue
            command.params.append(
                click.Option(
                    [*source.opts, name],
                    is_flag=source.is_flag,
                    default=False if source.is_flag else None,
                    metavar=source.metavar,
                    expose_value=False,
                    callback=_set_on_app,
                    help=f"{source.help} Global: also accepted before the command.",
                )
            )


def _long_options(root: click.Group) -> set[str]:
    found = {opt for p in root.params for opt in p.opts if opt.startswith("--")}
    for command in _commands(root):
        found |= {opt for p in command.params for opt in p.opts if opt.startswith("--")}
    return found


def _value_options(command: click.Command) -> dict[str, int]:
    """Option spelling -> how many values follow it, for the options of `command` taking any."""
    return {
        opt: p.nargs
        for p in command.params
        if isinstance(p, click.Option) and not p.is_flag and not p.count
        for opt in (*p.opts, *p.secondary_opts)
    }


def _words(argv: list[str], root: click.Group) -> Iterator[tuple[str, bool]]:
    """The words of argv before `--`, each with whether it is in an option position, as click
    reads them: an option's value (`--reference -live`) is skipped, and a word naming a
    subcommand brings that command's options."""
    command: click.Command = root
    values = _value_options(command)
    skip = 0
    for token in argv:
        if skip:
            skip -= 1
            continue
        if token == "--":
            return
        if token.startswith("-") and token != "-":
            yield token, True
            # `--name=value` and `-cVALUE` carry their value; `--name value`, `-c value` do not.
            skip = values.get(token, 0)
            continue
        yield token, False
        if isinstance(command, click.Group) and token in command.commands:
            command = command.commands[token]
            values = _value_options(command)


def option_tokens(argv: list[str], root: click.Group) -> Iterator[str]:
    """The words of argv in option positions, as click will read them: an option's value
    (`--reference -live`) is not one, nor is anything after `--`."""
    return (token for token, is_option in _words(argv, root) if is_option)


def command_word(argv: list[str], root: click.Group) -> str | None:
    """The word of argv that names the command (`plan` in `--api-key KEY plan -c x.yaml`), or
    None when there is none: the first word outside an option and its value."""
    return next((token for token, is_option in _words(argv, root) if not is_option), None)


def single_dash_hint(argv: list[str], root: click.Group) -> str | None:
    """The correction for the first Terraform-style `-name[=value]` in argv, if there is one."""
    known = _long_options(root)
    for token in option_tokens(argv, root):
        m = _SINGLE_DASH.fullmatch(token)
        if not m:
            continue
        name, value = m.group(1), m.group(2) or ""
        if f"--{name}" in known:
            return (
                f"No such option '-{name}'. billing-sync's long options take two dashes "
                f"(Terraform's take one): did you mean --{name}{value}?"
            )
    return None


def refuse_single_dash(argv: list[str], root: click.Group) -> None:
    """Refuse `-detailed-exitcode` or `-config=x` before click reads `-d` or `-c onfig=x`."""
    hint = single_dash_hint(argv, root)
    if hint:
        raise click.UsageError(hint)


def explain_no_such_option(
    err: click.NoSuchOption, argv: list[str], root: click.Group
) -> click.NoSuchOption:
    """click's "No such option '-v'", with the two-dash rule when `-v` came from a single-dash
    word such as `-var-file=x`."""
    for token in option_tokens(argv, root):
        m = _SINGLE_DASH.fullmatch(token)
        if m and err.option_name == token[:2]:
            return click.NoSuchOption(
                err.option_name,
                f"{err.format_message()} It comes from '-{m.group(1)}': billing-sync's long "
                f"options take two dashes (Terraform's take one), and --{m.group(1)} is not one "
                "of them; see --help.",
                ctx=err.ctx,
            )
    return err
