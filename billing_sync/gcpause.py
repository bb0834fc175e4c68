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
            gc.enable()


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
