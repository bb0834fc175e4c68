"""README.md against the CLI itself: its command table lists every command click has (and no
other), with options the command really takes, and its exit-code tables name every command
that can exit 2 or 3."""

from __future__ import annotations

import re
from collections.abc import Iterator

import click
import pytest

from billing_sync.cli import cli
from billing_sync.cli.app import _register_subgroups
from tests.helpers import ROOT

README = (ROOT / "README.md").read_text(encoding="utf-8")
CODE = re.compile(r"(?<!`)`([^`]+)`(?!`)")
EXIT_CODE = re.compile(r"(?<![\w.])(\d+)(?![\w.])")


def section(title: str) -> str:
    """The README text under a heading, up to the next heading of the same or a higher level."""
    m = re.search(rf"^(#+) {re.escape(title)}\n", README, flags=re.M)
    assert m, title
    level = len(m.group(1))
    end = re.compile(rf"^#{{1,{level}}} ", flags=re.M).search(README, m.end())
    return README[m.end() : end.start() if end else len(README)]


def tables(text: str) -> list[list[list[str]]]:
    """Every Markdown table in text, as rows of cells, header row included (`\\|` is a pipe
    inside a cell)."""
    found: list[list[list[str]]] = []
    previous = ""
    for line in text.splitlines():
        if line.startswith("|"):
            if not previous.startswith("|"):
                found.append([])
            if not line.startswith("|---"):
                cells = re.split(r"(?<!\\)\|", line.strip())[1:-1]
                found[-1].append([c.strip().replace("\\|", "|") for c in cells])
        previous = line
    return found


def leaf_commands(group: click.Group, prefix: tuple[str, ...] = ()) -> Iterator[str]:
    for name, command in group.commands.items():
        if command.hidden:
            continue
        if isinstance(command, click.Group):
            yield from leaf_commands(command, (*prefix, name))
        else:
            yield " ".join((*prefix, name))


def resolve(usage: str) -> list[tuple[str, click.Command]]:
    """The commands a usage cell names (`payments create|show ...` is two), each with its path."""
    found: list[tuple[tuple[str, ...], click.Command]] = [((), cli)]
    for word in usage.split():
        if not any(isinstance(c, click.Group) for _, c in found):
            break
        expanded = []
        for path, command in found:
            assert isinstance(command, click.Group), usage
            for name in word.split("|"):
                assert name in command.commands, f"{usage!r}: {name!r} is not a command"
                expanded.append(((*path, name), command.commands[name]))
        found = expanded
    return [(" ".join(path), command) for path, command in found]


def command_table() -> list[tuple[str, click.Command, str, str]]:
    """(command path, click command, usage cell, exit codes cell) per row of ## Commands."""
    _register_subgroups([])  # no command named: every group
    table = []
    for cells in tables(section("Commands"))[0]:
        if cells[0] == "command":
            continue
        usage = CODE.fullmatch(cells[0])
        assert usage, cells[0]
        for path, command in resolve(usage.group(1)):
            table.append((path, command, usage.group(1), cells[2]))
    return table


def test_the_command_table_lists_every_command_once() -> None:
    _register_subgroups([])  # no command named: every group
    listed = [path for path, *_ in command_table()]
    assert len(listed) == len(set(listed)), listed
    assert sorted(listed) == sorted(leaf_commands(cli))


@pytest.mark.parametrize("row", command_table(), ids=lambda row: row[0])
def test_the_options_in_the_command_table_are_real(
    row: tuple[str, click.Command, str, str],
) -> None:
    path, command, usage, _ = row
    opts = {o for p in command.params for o in (*p.opts, *p.secondary_opts)}
    for option in re.findall(r"(?<![\w-])--?[a-z][\w-]*", usage):
        assert option in opts, f"README: `{path}` has no option {option}"
    # A [--format a|b] names exactly the command's choices.
    for choices in re.findall(r"--format ([\w|]+)", usage):
        fmt = next(p for p in command.params if "--format" in getattr(p, "opts", ()))
        assert isinstance(fmt.type, click.Choice)
        assert choices.split("|") == list(fmt.type.choices), path


def test_the_exit_code_tables_name_every_command_that_exits_2_or_3() -> None:
    ci, commands = tables(section("Exit codes"))
    ci_table = {cells[0]: cells for cells in ci}
    by_command = {cells[0]: cells[1] for cells in commands}
    assert set(by_command) == {"code", "2", "3"}, by_command
    # Every code a command lists is explained in the exit-code section.
    for path, _, _, codes in command_table():
        for code in EXIT_CODE.findall(codes):
            assert code in ci_table, f"README: `{path}` exits {code}, not in ### Exit codes"
    # 2 and 3 belong to a few commands: the command table and the exit-code table agree on them.
    for code in ("2", "3"):
        named = {
            " ".join(w for w in span.split() if not w.startswith("-"))
            for span in CODE.findall(by_command[code])
        }
        listing = {
            path for path, _, _, codes in command_table() if code in EXIT_CODE.findall(codes)
        }
        assert named == listing, (code, named, listing)
