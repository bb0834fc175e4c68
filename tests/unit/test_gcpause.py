"""The collector pause used by loading, reading and planning: paused inside, restored after."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator

import pytest

from billing_sync.gcpause import command_heap, no_gc


@pytest.fixture(autouse=True)
def restore_gc() -> Iterator[None]:
    was = gc.isenabled()
    yield
    if was:
        gc.enable()
    else:
        gc.disable()


def test_paused_inside_and_resumed_after() -> None:
    gc.enable()
    with no_gc():
        assert not gc.isenabled()
    assert gc.isenabled()


def test_nested_pauses_resume_only_at_the_outermost() -> None:
    gc.enable()
    with no_gc():
        with no_gc():
            assert not gc.isenabled()
        assert not gc.isenabled()
    assert gc.isenabled()


def test_resumed_after_an_error() -> None:
    gc.enable()
    with pytest.raises(ValueError), no_gc():
        raise ValueError("boom")
    assert gc.isenabled()


def test_a_collector_disabled_by_the_caller_stays_disabled() -> None:
    gc.disable()
    with no_gc():
        pass
    assert not gc.isenabled()


def test_cycles_made_while_paused_are_collected_afterwards() -> None:
    gc.enable()

    class Node:
        other: object = None

    with no_gc():
        a, b = Node(), Node()
        a.other, b.other = b, a
        gone = weakref.ref(a)
        del a, b
        assert gone() is not None  # reference counting alone cannot free a cycle
    gc.collect()
    assert gone() is None


def test_inside_a_command_what_survives_a_pause_is_frozen_until_the_command_ends() -> None:
    gc.enable()
    gc.unfreeze()
    with command_heap():
        with no_gc():
            survivors = [[i] for i in range(1000)]
        frozen = gc.get_freeze_count()
        assert frozen >= len(survivors)  # out of the collector's generations
        assert gc.isenabled()
        with command_heap():  # a nested command changes nothing
            pass
        assert gc.get_freeze_count() == frozen
    assert gc.get_freeze_count() == 0  # handed back when the command ends
    del survivors


def test_outside_a_command_nothing_is_frozen() -> None:
    gc.enable()
    gc.unfreeze()
    with no_gc():
        survivors = [[i] for i in range(1000)]
    assert gc.get_freeze_count() == 0
    del survivors


def test_a_cycle_made_inside_a_command_is_collected_after_it() -> None:
    class Node:
        pass

    gc.enable()
    with command_heap():
        with no_gc():
            a, b = Node(), Node()
            a.other, b.other = b, a  # type: ignore[attr-defined]
            ref = weakref.ref(a)
        del a, b
        gc.collect()
        assert ref() is not None  # frozen: waits for the end of the command
    gc.collect()
    assert ref() is None


@pytest.mark.parametrize("entry", ["process", "in-process"])
def test_only_the_process_entry_point_leaves_the_heap_frozen_for_exit(
    entry: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from billing_sync.cli import main

    gc.unfreeze()
    monkeypatch.setattr("sys.argv", ["billing-sync", "--version"])
    try:
        main() if entry == "process" else main(["--version"])
        assert "billing-sync" in capsys.readouterr().out
        if entry == "process":
            assert gc.get_freeze_count() > 0  # the shutdown's collections will skip them
        else:
            assert gc.get_freeze_count() == 0  # the next command (or test) starts as usual
    finally:
        gc.unfreeze()
