"""What people see while billing-sync works: the colour rules, a live progress line on a
terminal, one line per finished operation, retries as they happen, and Ctrl-C during apply."""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from types import FrameType
from typing import Any, TextIO

import click

from billing_sync.apply.execute import NOT_STARTED, Report, Result
from billing_sync.changes import Change

#: How often the live line is redrawn while nothing else happens (its elapsed time moves).
TICK_SECONDS = 0.5
#: Changes listed by name when an apply is interrupted; the rest are counted.
LEFT_LISTED = 20

STATUS_COLOURS = {"done": "green", "failed": "red", "skipped": "yellow", NOT_STARTED: "yellow"}


def colour_enabled(
    stream: TextIO, *, no_color: bool = False, env: Mapping[str, str] | None = None
) -> bool:
    """Whether to colour what goes to `stream`.

    In this order: `--no-color` and a non-empty `NO_COLOR` (https://no-color.org) turn colour
    off; a non-empty `FORCE_COLOR` turns it on even in a pipe (CI logs render it); `TERM=dumb`
    turns it off; otherwise colour only on a terminal. The order of CPython's own
    `_colorize.can_colorize` (3.13): NO_COLOR beats FORCE_COLOR beats TERM=dumb.
    """
    env = os.environ if env is None else env
    if no_color or env.get("NO_COLOR"):
        return False
    if env.get("FORCE_COLOR"):
        return True
    if env.get("TERM") == "dumb":
        return False
    return _isatty(stream)


def is_interactive(stream: TextIO, env: Mapping[str, str] | None = None) -> bool:
    """A live, redrawn progress line only on a terminal that can move the cursor back."""
    env = os.environ if env is None else env
    return _isatty(stream) and env.get("TERM") != "dumb"


def _isatty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # a closed or replaced stream
        return False


def elapsed_text(seconds: float) -> str:
    """`4.2s` under a minute, then `1m05s`."""
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, secs = divmod(int(seconds), 60)
    return f"{minutes}m{secs:02d}s"


class Console:
    """Progress output on stderr: permanent lines, and on a terminal one live line below them
    that is redrawn in place (and every TICK_SECONDS, so its elapsed time moves).

    Thread-safe: read and apply workers report through it.
    """

    def __init__(
        self,
        stream: TextIO | None = None,
        *,
        colour: bool = False,
        live: bool | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.colour = colour
        self.live = is_interactive(self.stream) if live is None else live
        self.clock = clock
        self._lock = threading.RLock()
        self._status: Callable[[], str] | None = None
        self._shown = False  # a live line is on the screen
        self._ticker: threading.Thread | None = None
        self._wake = threading.Event()

    def style(self, text: str, fg: str | None = None, bold: bool = False) -> str:
        return click.style(text, fg=fg, bold=bold or None) if self.colour and fg else text

    def line(self, text: str) -> None:
        """A permanent line (above the live line, which is drawn again under it)."""
        with self._lock:
            self._erase()
            self.stream.write(text + "\n")
            self._draw()
            self.stream.flush()

    def status(self, render: Callable[[], str]) -> None:
        """Show `render()` as the live line from now on (terminals only)."""
        if not self.live:
            return
        with self._lock:
            self._status = render
            self._erase()
            self._draw()
            self.stream.flush()
            if self._ticker is None:
                self._wake.clear()
                self._ticker = threading.Thread(target=self._tick, name="progress", daemon=True)
                self._ticker.start()

    def refresh(self) -> None:
        if not self.live:
            return
        with self._lock:
            self._erase()
            self._draw()
            self.stream.flush()

    def clear(self) -> None:
        """Remove the live line and stop redrawing it."""
        with self._lock:
            self._status = None
            self._erase()
            self.stream.flush()
            ticker, self._ticker = self._ticker, None
            self._wake.set()
        if ticker is not None and ticker is not threading.current_thread():
            ticker.join(timeout=2)

    def _tick(self) -> None:
        while not self._wake.wait(TICK_SECONDS):
            self.refresh()

    def _erase(self) -> None:
        if self._shown:
            self.stream.write("\r\033[K")
            self._shown = False

    def _draw(self) -> None:
        if self.live and self._status is not None:
            self.stream.write(self._status())
            self._shown = True


class ReadProgress:
    """The client's observer: "reading the account (N objects)" while planning, retries as they
    happen (on a terminal and in logs alike)."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self.objects = 0
        self.reading_since: float | None = None
        self._lock = threading.Lock()

    def objects_read(self, count: int) -> None:
        with self._lock:
            self.objects += count
        self.console.refresh()

    def retrying(self, what: str, attempt: int, attempts: int, delay: float, reason: str) -> None:
        text = f"retrying {what} in {delay:.1f}s (attempt {attempt + 1} of {attempts}): {reason}"
        self.console.line(self.console.style(text, "yellow"))

    @contextlib.contextmanager
    def reading(self) -> Iterator[None]:
        """The live line while the account is read and planned; gone once the plan is shown."""
        self.objects = 0
        start = self.console.clock()

        def render() -> str:
            n = self.objects
            took = elapsed_text(self.console.clock() - start)
            return f"Reading the account ({n:,} object{'s' if n != 1 else ''}) [{took}]"

        self.console.status(render)
        try:
            yield
        finally:
            self.console.clear()


def _describe(change: Change) -> str:
    return f"{change.symbol} {change.kind} {change.key}"


class ApplyProgress:
    """The executor's progress callback.

    On a terminal: one permanent line per finished operation, with its Stripe id and how long
    it took (as Terraform prints them), under a live line with the counts and the elapsed time.
    Elsewhere (CI logs): one line per finished operation, no redrawing.
    """

    def __init__(self, console: Console) -> None:
        self.console = console
        self.started: dict[str, float] = {}
        self.counts = {"done": 0, "failed": 0, "skipped": 0}
        self.running = 0
        self.total = 0
        self.finished = 0
        self.stopping = False
        self.begin = console.clock()
        self._lock = threading.Lock()

    def __call__(self, event: str, result: Result | None, done: int, total: int) -> None:
        if result is None:
            return
        change = result.change
        with self._lock:
            self.total = total
            self.finished = done
            if event == "start":
                self.running += 1
                self.started[change.id] = self.console.clock()
            else:
                if change.id in self.started:
                    self.running -= 1
                self.counts[event] = self.counts.get(event, 0) + 1
        if event == "start":
            self.console.status(self.render)
            return
        self.console.line(self.finished_line(event, result, done, total))

    def finished_line(self, event: str, result: Result, done: int, total: int) -> str:
        change = result.change
        if not self.console.live:
            extra = f"  {result.stripe_id}" if result.stripe_id else ""
            msg = f"  {result.message}" if result.message else ""
            line = f"[{done}/{total}] {event:8} {change.id}{extra}{msg}"
            return self.console.style(line, STATUS_COLOURS.get(event))  # FORCE_COLOR in CI
        began = self.started.get(change.id)
        took = f" after {elapsed_text(self.console.clock() - began)}" if began is not None else ""
        if event == "done":
            ident = f" [id={result.stripe_id}]" if result.stripe_id else ""
            text = f"{_describe(change)}: {change.action} complete{took}{ident}"
        else:
            text = f"{_describe(change)}: {change.action} {event}{took}: {result.message}"
        return self.console.style(text, STATUS_COLOURS.get(event))

    def render(self) -> str:
        with self._lock:
            c = self.counts
            parts = [f"{self.finished} of {self.total} finished", f"{self.running} in flight"]
            if c.get("failed"):
                parts.append(f"{c['failed']} failed")
            if c.get("skipped"):
                parts.append(f"{c['skipped']} skipped")
        head = "Stopping (waiting for the writes in flight)" if self.stopping else "Applying"
        took = elapsed_text(self.console.clock() - self.begin)
        return f"{head}: {', '.join(parts)} [{took}]"


def left_lines(report: Report, limit: int = LEFT_LISTED) -> list[str]:
    """What an interrupted apply did not send, by name up to `limit`, then counted."""
    left = [r.change for r in report.results if r.status == NOT_STARTED]
    lines = [f"  {_describe(c)} ({c.action})" for c in left[:limit]]
    if len(left) > limit:
        lines.append(f"  ... and {len(left) - limit} more (billing-sync plan lists them)")
    return lines


@contextlib.contextmanager
def first_interrupt_sets(stop: threading.Event, on_stop: Callable[[], None]) -> Iterator[None]:
    """While inside: the first Ctrl-C (SIGINT) sets `stop` and calls `on_stop` instead of raising;
    a second one raises KeyboardInterrupt at once. Outside the main thread nothing changes."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    # `on_stop` runs on a thread of its own, never inside the handler: the handler interrupts the
    # main thread anywhere, possibly half-way through writing a line under the console's lock
    # (re-entrant, so the message would land inside that line) or while it holds a plain lock
    # that `on_stop` needs (a deadlock). Its thread waits for those locks like any other writer.
    notices: list[threading.Thread] = []

    def handler(signum: int, frame: FrameType | None) -> None:
        if stop.is_set():
            signal.signal(signal.SIGINT, previous)
            raise KeyboardInterrupt
        stop.set()
        notice = threading.Thread(target=on_stop, name="interrupt-notice", daemon=True)
        notices.append(notice)
        notice.start()

    previous: Any = signal.signal(signal.SIGINT, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
        for notice in notices:  # said before whatever follows (the summary)
            notice.join(timeout=5)
