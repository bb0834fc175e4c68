"""Tests for billing_sync.cli.terminal (colour rules, the live line, per-operation lines) and the
retry hook of billing_sync.remote.client.with_retries. The real terminal is in
tests/e2e/test_terminal_session.py."""

from __future__ import annotations

import io
import os
import signal
import threading

import pytest
import stripe

from billing_sync.apply.execute import NOT_STARTED, Report, Result
from billing_sync.changes import Create, Request, Update
from billing_sync.cli.terminal import (
    ApplyProgress,
    Console,
    ReadProgress,
    colour_enabled,
    elapsed_text,
    first_interrupt_sets,
    left_lines,
)
from billing_sync.remote.client import with_retries


class Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


class Pipe(io.StringIO):
    def isatty(self) -> bool:
        return False


@pytest.mark.parametrize(
    ("tty", "flag", "env", "expected"),
    [
        (True, False, {}, True),
        (False, False, {}, False),
        (True, True, {}, False),  # --no-color
        (True, False, {"NO_COLOR": "1"}, False),
        (True, False, {"NO_COLOR": ""}, True),  # no-color.org: only a non-empty value counts
        (True, False, {"TERM": "dumb"}, False),
        (False, False, {"FORCE_COLOR": "1"}, True),  # CI logs
        (True, False, {"FORCE_COLOR": "1", "TERM": "dumb"}, True),
        (False, False, {"FORCE_COLOR": "1", "NO_COLOR": "1"}, False),  # NO_COLOR wins
        (False, True, {"FORCE_COLOR": "1"}, False),  # so does --no-color
    ],
)
def test_colour_rules(tty: bool, flag: bool, env: dict[str, str], expected: bool) -> None:
    stream = Tty() if tty else Pipe()
    assert colour_enabled(stream, no_color=flag, env=env) is expected


def test_elapsed_text() -> None:
    assert [elapsed_text(s) for s in (0, 4.25, 59.94, 65, 3600)] == [
        "0.0s",
        "4.2s",
        "59.9s",
        "1m05s",
        "60m00s",
    ]


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_live_line_is_erased_before_each_permanent_line_and_at_the_end() -> None:
    out, clock = Tty(), Clock()
    console = Console(out, live=True, clock=clock)
    console.status(lambda: f"working [{elapsed_text(clock() - 100)}]")
    clock.now = 101.5
    console.line("one")
    console.clear()
    assert out.getvalue() == "working [0.0s]\r\x1b[Kone\nworking [1.5s]\r\x1b[K"


def test_not_live_there_is_no_status_line_only_lines() -> None:
    out = Pipe()
    console = Console(out, live=False)
    console.status(lambda: "working")
    console.line("one")
    console.clear()
    assert out.getvalue() == "one\n"


def change(key: str) -> Create:
    return Create(kind="price", key=key, request=Request("post", "/v1/prices", {}))


def test_apply_progress_on_a_terminal_and_in_a_log() -> None:
    for live, expected in (
        (
            True,
            [
                "+ price a: create complete after 0.5s [id=price_1]",
                "+ price b: create failed after 0.5s: boom",
                "+ price c: create skipped: skipped: b did not succeed",
            ],
        ),
        (
            False,
            [
                "[1/3] done     price.create:a  price_1",
                "[2/3] failed   price.create:b  boom",
                "[3/3] skipped  price.create:c  skipped: b did not succeed",
            ],
        ),
    ):
        out, clock = (Tty() if live else Pipe()), Clock()
        progress = ApplyProgress(Console(out, live=live, clock=clock))
        a, b, c = change("a"), change("b"), change("c")
        progress("start", Result(a, "running"), 0, 3)
        progress("start", Result(b, "running"), 0, 3)
        assert progress.render() == "Applying: 0 of 3 finished, 2 in flight [0.0s]"
        clock.now += 0.5
        progress("done", Result(a, "done", stripe_id="price_1"), 1, 3)
        progress("failed", Result(b, "failed", "boom"), 2, 3)
        progress("skipped", Result(c, "skipped", "skipped: b did not succeed"), 3, 3)
        assert progress.render() == (
            "Applying: 3 of 3 finished, 0 in flight, 1 failed, 1 skipped [0.5s]"
        )
        progress.console.clear()
        lines = [line.rsplit("\r\x1b[K", 1)[-1] for line in out.getvalue().split("\n")]
        assert [line for line in lines if line] == expected


def test_left_lines_name_twenty_then_count() -> None:
    results = [Result(change(f"p{n}"), NOT_STARTED) for n in range(25)]
    results.insert(
        0, Result(Update(kind="product", key="x", request=Request("post", "/", {})), "done")
    )
    lines = left_lines(Report(results, interrupted=True))
    assert lines[0] == "  + price p0 (create)"
    assert len(lines) == 21
    assert lines[-1] == "  ... and 5 more (billing-sync plan lists them)"


def test_retries_are_reported_before_each_wait() -> None:
    seen: list[tuple[int, int, float, int | None]] = []
    waits: list[float] = []
    calls = iter(
        [
            stripe.RateLimitError("slow down", http_status=429),
            stripe.APIError("oops", http_status=500),
        ]
    )

    def flaky() -> str:
        err = next(calls, None)
        if err is not None:
            raise err
        return "ok"

    result = with_retries(
        flaky,
        attempts=4,
        sleep=waits.append,
        on_retry=lambda n, of, delay, err: seen.append((n, of, delay, err.http_status)),
    )
    assert result == "ok"
    assert [(n, of, status) for n, of, _, status in seen] == [(1, 4, 429), (2, 4, 500)]
    assert [delay for *_, delay, _ in seen] == waits  # told the very wait it then sleeps


def test_read_progress_reports_retries_as_lines_and_counts_objects() -> None:
    out = Pipe()
    progress = ReadProgress(Console(out, live=False))
    progress.objects_read(100)
    progress.objects_read(7)
    progress.retrying("GET /v1/prices", 1, 6, 0.25, "HTTP 429: slow down")
    assert progress.objects == 107
    assert (
        out.getvalue() == "retrying GET /v1/prices in 0.2s (attempt 2 of 6): HTTP 429: slow down\n"
    )


def test_log_lines_are_coloured_only_when_asked() -> None:
    for colour in (False, True):
        out = Pipe()
        progress = ApplyProgress(Console(out, colour=colour, live=False))
        progress("done", Result(change("a"), "done", stripe_id="price_1"), 1, 1)
        assert ("\x1b[32m" in out.getvalue()) is colour  # FORCE_COLOR=1 in a CI log
        assert "[1/1] done     price.create:a  price_1" in out.getvalue()


def test_the_first_ctrl_c_notice_waits_for_what_the_main_thread_is_writing() -> None:
    """The handler interrupts the main thread anywhere, here while it holds a lock the notice
    needs (as a line being written holds the console's): the notice must wait for it on its
    own thread (called in the handler, it would deadlock or land inside that line), and be
    done when the block ends."""
    held = threading.Lock()
    said: list[str] = []

    def on_stop() -> None:
        if not held.acquire(timeout=5):  # inside the handler: the main thread never lets go
            said.append("deadlocked")
            return
        said.append(f"notice on {threading.current_thread().name}")
        held.release()

    stop = threading.Event()
    with first_interrupt_sets(stop, on_stop), held:
        os.kill(os.getpid(), signal.SIGINT)
        for _ in range(1000):  # the handler runs between these bytecodes
            if stop.is_set():
                break
        said.append("main wrote its line")
    assert stop.is_set()
    assert said == ["main wrote its line", "notice on interrupt-notice"]
