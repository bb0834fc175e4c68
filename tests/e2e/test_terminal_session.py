"""Real process on a pseudo-terminal (python's `pty`): the colour rules, one line per finished
operation with its id under the live progress line, and Ctrl-C in the middle of an apply.

Nothing here is timed: the apply is slowed with the emulator's latency (emulator/BEHAVIOUR.md,
test controls) only so that Ctrl-C, typed once three operations have finished, lands while
most of the plan is still to do; the assertions read the output and the account.
"""

from __future__ import annotations

import os
import pty
import re
import select
import sys
from collections.abc import Callable
from pathlib import Path

from tests.helpers import (
    ROOT,
    EmulatorHandle,
    cli_env,
    duplicates,
    everything,
    run_cli,
    write_config,
)
from tests.integration.test_plan_apply import SMALL

ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
COLOUR = re.compile(r"\x1b\[[0-9;]*m")  # SGR: colour and bold (erasing a line is not colour)
ERASE = "\r\x1b[K"
# A guard against a hung child, not a speed assertion.
HANG_GUARD_SECONDS = 120


class AnyAfter(str):
    """Equal to any string that starts with it (the elapsed time in a line varies)."""

    def __eq__(self, other: object) -> bool:
        return isinstance(other, str) and other.startswith(str(self))

    __hash__ = str.__hash__


def run_on_terminal(
    args: list[str],
    env: dict[str, str],
    *,
    interrupt_when: Callable[[str], bool] | None = None,
) -> tuple[int, str]:
    """`python -m billing_sync ARGS` with a pseudo-terminal as its controlling terminal (stdin,
    stdout and stderr); types Ctrl-C once `interrupt_when(output so far)` holds. Returns the
    exit code and the raw output (the terminal's `\\r\\n` made `\\n`)."""
    pid, fd = pty.fork()
    if pid == 0:  # the child: become the CLI
        os.chdir(ROOT)
        os.execve(sys.executable, [sys.executable, "-m", "billing_sync", *args], env)
    chunks: list[bytes] = []
    interrupted = False
    try:
        while True:
            ready, _, _ = select.select([fd], [], [], HANG_GUARD_SECONDS)
            if not ready:
                os.kill(pid, 9)
                raise AssertionError("the CLI printed nothing for a long time: killed")
            try:
                chunk = os.read(fd, 65536)
            except OSError:  # EIO: the child closed the terminal
                break
            if not chunk:
                break
            chunks.append(chunk)
            if (
                interrupt_when
                and not interrupted
                and interrupt_when(b"".join(chunks).decode("utf-8", "replace"))
            ):
                os.write(fd, b"\x03")  # the terminal turns it into SIGINT
                interrupted = True
    finally:
        _, status = os.waitpid(pid, 0)
        os.close(fd)
    if interrupt_when:
        assert interrupted, "the run ended before it could be interrupted"
    text = b"".join(chunks).decode("utf-8", "replace").replace("\r\n", "\n")
    return os.waitstatus_to_exitcode(status), text


def screen_lines(raw: str) -> list[str]:
    """The lines left on the screen: each line as it reads after its last erase (the live
    progress line is erased before every permanent line and at the end), colour removed."""
    out = []
    for line in raw.split("\n"):
        kept = ANSI.sub("", line.rsplit(ERASE, 1)[-1])
        if kept:
            out.append(kept)
    return out


def terminal_env(emulator: EmulatorHandle, **extra: str) -> dict[str, str]:
    env = cli_env(emulator, env={"TERM": "xterm-256color"})
    for name in ("NO_COLOR", "FORCE_COLOR"):
        env.pop(name, None)
    env.update(extra)
    return env


def test_colour_rules_on_a_terminal(emulator: EmulatorHandle, tmp_path: Path) -> None:
    cfg = str(write_config(tmp_path, SMALL))
    code, coloured = run_on_terminal(["plan", "-c", cfg], terminal_env(emulator))
    assert code == 0, coloured
    assert "\x1b[32m" in coloured  # green `+` rows
    assert ERASE in coloured  # the live "Reading the account" line, erased before the plan
    assert "Plan: 5 to create" in ANSI.sub("", coloured)
    for args, env in (
        (["--no-color", "plan", "-c", cfg], terminal_env(emulator)),
        (["plan", "-c", cfg], terminal_env(emulator, NO_COLOR="1")),
        (["plan", "-c", cfg], terminal_env(emulator, NO_COLOR="1", FORCE_COLOR="1")),
        (["plan", "-c", cfg], terminal_env(emulator, TERM="dumb")),
    ):
        code, plain = run_on_terminal(args, env)
        assert code == 0, plain
        assert not COLOUR.search(plain), (args, env.get("NO_COLOR"), env.get("TERM"))
        assert screen_lines(plain) == screen_lines(coloured)
    # Not a terminal: plain, unless FORCE_COLOR asks (CI logs render colour).
    piped = run_cli(emulator, "plan", "-c", cfg)
    assert "\x1b[" not in piped.stdout + piped.stderr
    forced = run_cli(emulator, "plan", "-c", cfg, env={"FORCE_COLOR": "1"})
    assert "\x1b[32m" in forced.stdout
    assert ANSI.sub("", forced.stdout) == piped.stdout
    assert emulator.writes() == []


def test_apply_keeps_a_line_per_operation_with_its_id(
    emulator: EmulatorHandle, tmp_path: Path
) -> None:
    cfg = str(write_config(tmp_path, SMALL))
    code, raw = run_on_terminal(["apply", "-c", cfg, "--auto-approve"], terminal_env(emulator))
    assert code == 0, raw
    assert ERASE in raw  # a live line was drawn and erased
    lines = screen_lines(raw)
    objs = everything(emulator)
    price_ids = {p["lookup_key"]: p["id"] for p in objs["prices"]}
    sub_id = objs["subscriptions"][0]["id"]
    cus_id = objs["customers"][0]["id"]
    for expected in (
        "+ product pro: create complete after ",
        "+ price pro-monthly: create complete after ",
        "+ price pro-yearly: create complete after ",
        "+ customer acme: create complete after ",
        "+ subscription acme/main: create complete after ",
    ):
        assert sum(line.startswith(expected) for line in lines) == 1, (expected, lines)
    for stripe_id in (price_ids["pro-monthly"], price_ids["pro-yearly"], cus_id, sub_id):
        assert sum(line.endswith(f"[id={stripe_id}]") for line in lines) == 1, (stripe_id, lines)
    # The product: created, then its default price set once the price exists.
    assert [line for line in lines if line.endswith("[id=pro]")] == [
        AnyAfter("+ product pro: create complete after "),
        AnyAfter("~ product pro: update complete after "),
    ], lines
    assert lines[-1].startswith("Apply complete: 6 done, 0 failed, 0 skipped")
    # No live line is left behind: nothing after the summary but the summary itself.
    assert not any(line.startswith("Applying:") for line in lines)
    # TERM=dumb: no cursor movement at all, the same per-operation lines as in a log.
    emulator.reset()
    code, dumb = run_on_terminal(
        ["apply", "-c", cfg, "--auto-approve"], terminal_env(emulator, TERM="dumb")
    )
    assert code == 0, dumb
    assert "\x1b[" not in dumb and "\r" not in dumb
    assert re.search(r"^\[\d/6\] done     product\.create:pro  pro$", dumb, re.M), dumb


CATALOG_SIZE = 30


def many_products() -> str:
    lines = ["version: 1", "products:"]
    for n in range(1, CATALOG_SIZE + 1):
        lines += [
            f"  p{n:02d}:",
            f"    name: Product {n}",
            "    prices:",
            f"      p{n:02d}-monthly: {{unit_amount: {100 * n}, currency: usd, "
            "recurring: {interval: month}}",
        ]
    return "\n".join(lines) + "\n"


def test_ctrl_c_mid_apply_stops_reports_and_a_rerun_converges(
    emulator: EmulatorHandle, tmp_path: Path
) -> None:
    cfg = str(write_config(tmp_path, many_products()))
    total = 2 * CATALOG_SIZE
    emulator.configure(latency_ms=200)  # slow enough that most of the plan is left at Ctrl-C

    def three_finished(out: str) -> bool:
        return len(re.findall(r"create complete after", out)) >= 3

    code, raw = run_on_terminal(
        ["apply", "-c", cfg, "--auto-approve", "--parallelism", "2"],
        terminal_env(emulator),
        interrupt_when=three_finished,
    )
    assert code == 130, raw
    assert "Traceback" not in raw
    lines = screen_lines(raw)
    assert any(line.startswith("Interrupted: sending nothing more") for line in lines), lines
    summary = [line for line in lines if line.startswith("Apply interrupted: ")]
    assert len(summary) == 1, lines
    m = re.match(
        r"Apply interrupted: (\d+) done, 0 failed, 0 skipped, (\d+) not started", summary[0]
    )
    assert m, summary
    done, left = int(m.group(1)), int(m.group(2))
    assert done >= 3 and left > 0 and done + left == total, summary
    # What was done: one line per finished operation; what was left: listed by name.
    assert len([line for line in lines if " complete after " in line]) == done
    at = lines.index("Not started:")
    listed = [line for line in lines[at + 1 :] if line.startswith("  + ")]
    assert len(listed) == min(left, 20)
    if left > 20:
        assert f"  ... and {left - 20} more (billing-sync plan lists them)" in lines
    # The account holds exactly what was reported done (the writes in flight were waited for).
    objs = everything(emulator)
    made = len([p for p in objs["products"] if p["id"].startswith("p")]) + len(objs["prices"])
    assert made == done
    assert duplicates(emulator) == {}
    # The lock was released: a re-run applies the rest and converges.
    emulator.configure(latency_ms=0)
    again = run_cli(emulator, "apply", "-c", cfg, "--auto-approve")
    assert again.returncode == 0, again.stdout + again.stderr
    assert f"Apply complete: {left} done, 0 failed, 0 skipped" in again.stdout
    plan = run_cli(emulator, "plan", "-c", cfg, "--detailed-exitcode")
    assert plan.returncode == 0, plan.stdout + plan.stderr
    assert duplicates(emulator) == {}
    objs = everything(emulator)
    assert len(objs["prices"]) == CATALOG_SIZE
