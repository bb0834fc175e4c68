"""Keeping the cyclic garbage collector off the many long-lived objects of large accounts."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def no_gc() -> Iterator[None]:
    """Pause the cyclic garbage collector while building large, mostly acyclic structures.

    Loading billing.yaml, decoding list pages and planning allocate hundreds of thousands of
    dicts, tuples and dataclasses that all stay alive; each automatic collection walks every
    one of them again, so collections cost more the larger the account (about half of the
    read's CPU at 100,000 objects). Reference counting still frees everything that is dropped;
    the collector resumes afterwards (nested pauses resume only at the outermost) and handles
    the rare cycle then.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            if _freeze_survivors:
                gc.freeze()
            gc.enable()


# Set inside `command_heap`: what survives a pause is frozen when the collector resumes.
_freeze_survivors = False


@contextmanager
def command_heap() -> Iterator[None]:
    """For one command of the CLI: the objects alive when a pause (`no_gc`) ends are frozen
    (moved out of the collector's generations, in constant time) before the collector resumes.

    When a pause ends, every object made during it is in the youngest generation, and the very
    next allocation starts a collection that walks them all (and later ones walk them again,
    as they age), though nearly all of them (the config, the states, the plan) live until the
    command ends: at 10,000 objects that was a tenth of a no-op plan's CPU, and the collection
    at interpreter exit walked them once more. Frozen objects are still freed by reference
    counting; only a cycle among them waits, until the command ends and everything frozen is
    handed back to the collector (so running commands in one process, as the tests do, leaves
    no cycle behind).
    """
    global _freeze_survivors
    outermost = not _freeze_survivors
    _freeze_survivors = True
    try:
        yield
    finally:
        if outermost:
            _freeze_survivors = False
            gc.unfreeze()


def before_exit() -> None:
    """The process is about to end: exempt every object from the collector (`gc.freeze`).

    Interpreter shutdown runs full collections that walk every object still alive (the
    modules, and whatever a command left behind) before freeing them by reference counting:
    about 0.07 s of CPU after a 10,000-object plan, for cycles that the end of the process
    frees anyway. Only the process's own entry point calls this; open files are closed and
    flushed by the commands themselves (`with`), and `atexit` hooks still run.
    """
    gc.freeze()


@contextmanager
def frozen_heap() -> Iterator[None]:
    """Exempt every object alive now from automatic collections, for a long phase that keeps
    the collector running (an apply: requests, retries and their exceptions make cycles).

    The plan's changes and everything loaded before are alive throughout; without this, each
    full collection during the phase walks all of them again. Objects created inside are
    collected as usual; the exempted ones return to the collector afterwards.
    """
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()
