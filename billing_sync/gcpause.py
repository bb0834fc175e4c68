"""Pausing the cyclic garbage collector while a phase builds many long-lived objects."""

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
