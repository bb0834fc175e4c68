"""A saved plan read back for `show`: Plan.from_data re-renders the file to itself, or refuses it."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from billing_sync.errors import UsageError
from billing_sync.plan import provenance
from billing_sync.plan.plan import Plan
from billing_sync.plan.render import render
from tests.unit.test_plan_render import rich_plan, unsafe_plan


@pytest.mark.parametrize("make", [rich_plan, unsafe_plan])
def test_a_saved_plan_reads_back_to_the_same_plan(make: Any, tmp_path: Path) -> None:
    plan = make()
    path = tmp_path / "plan.json"
    provenance.save(plan, path)
    back = provenance.read(path)
    assert render(back, "json") == path.read_text(encoding="utf-8")
    for fmt in ("text", "markdown"):
        assert render(back, fmt) == render(plan, fmt)
    assert back.checksum == plan.checksum
    assert back.unsafe == plan.unsafe


def edited(doc: dict[str, Any], where: str, value: Any) -> dict[str, Any]:
    copy: dict[str, Any] = json.loads(json.dumps(doc))
    target = copy
    *path, last = where.split(".")
    for part in path:
        target = target[int(part)] if isinstance(target, list) else target[part]
    target[last] = value
    return copy


@pytest.mark.parametrize(
    ("where", "value", "reason"),
    [
        ("unsafe", [], "its unsafe do not match its operations"),
        ("unsafe_overrides.0.flag", "--allow-mass-update", "its unsafe_overrides do not match"),
        ("max_destroy_percent", 100, "its unsafe, unsafe_overrides do not match"),
        ("summary.archive", 0, "its summary do not match"),
        ("checksum", "0" * 64, "its checksum do not match"),
        ("operations.-1.destructive", False, "its checksum, unsafe, unsafe_overrides do not match"),
        ("operations.0.id", "product.create:x", "is not one billing-sync writes"),
        ("operations.0.action", "destroy", "not a change (KeyError: 'destroy')"),
        ("operations.0.request", "x", "not a change (TypeError"),
        ("operations.0.reason", "because", "'because' is not a valid Reason"),
        ("mrr", [], "AttributeError"),
    ],
)
def test_an_edited_saved_plan_is_refused_with_what_differs(
    where: str, value: Any, reason: str, tmp_path: Path
) -> None:
    plan = unsafe_plan()
    path = tmp_path / "plan.json"
    path.write_text(json.dumps(edited(plan.data, where, value)), encoding="utf-8")
    with pytest.raises(UsageError) as err:
        provenance.read(path)
    message = str(err.value)
    assert message.startswith(f"{path} is not a plan as billing-sync saved it (")
    assert reason in message, message
    assert message.endswith(
        "it was edited, or made by another billing-sync version; run plan again"
    )


def test_a_plan_saved_before_the_update_threshold_existed_still_shows(tmp_path: Path) -> None:
    old = rich_plan().data
    del old["max_update_percent"], old["min_objects_for_thresholds"]
    path = tmp_path / "old.json"
    path.write_text(json.dumps(old), encoding="utf-8")
    back = provenance.read(path)
    assert json.loads(render(back, "json")) == {
        **old,
        "max_update_percent": 100.0,
        "min_objects_for_thresholds": 0,
        "unsafe_overrides": [],
    }


def test_the_json_plan_names_the_flag_each_unsafe_reason_needs() -> None:
    doc = unsafe_plan().data
    # `unsafe` stays a list of reasons (readers of older plans); `unsafe_overrides` pairs each
    # reason with the flag that lets a reviewed plan through.
    assert doc["unsafe"] == [o["reason"] for o in doc["unsafe_overrides"]]
    assert doc["unsafe_overrides"] == [
        {
            "reason": "2 destructive operation(s) touch 25% of 8 managed objects "
            "(max_destroy_percent: 20)",
            "flag": "--allow-destroy",
        },
        {
            "reason": "1 update(s) and replace(s) change 12% of 8 managed objects "
            "(max_update_percent: 10)",
            "flag": "--allow-mass-update",
        },
        {
            "reason": "subscription acme/main is protected (protect: true)",
            "flag": "--allow-destroy",
        },
    ]
    assert rich_plan().data["unsafe_overrides"] == []


def test_a_plan_saved_before_unsafe_overrides_existed_still_shows_and_applies(
    tmp_path: Path,
) -> None:
    plan = unsafe_plan()
    old = plan.data
    del old["unsafe_overrides"]
    path = tmp_path / "old.json"
    path.write_text(json.dumps(old), encoding="utf-8")
    back = provenance.read(path)
    assert back.unsafe == plan.unsafe
    assert render(back, "text") == render(plan, "text")
    # The checksum covers the operations only: apply --plan of an older file still matches.
    assert provenance.load(path).checksum == plan.checksum


def test_from_data_refuses_what_is_not_a_plan() -> None:
    with pytest.raises(ValueError, match="KeyError"):
        Plan.from_data({"operations": []})


def test_a_plan_made_without_the_accounts_fingerprint_is_never_saved(tmp_path: Path) -> None:
    """`plan` without --out skips hashing the account (pin=False); such a plan cannot pin a
    saved file to the account it was made from, so saving it is refused, and nothing is written."""
    plan = rich_plan()
    assert len(plan.provenance.remote_fingerprint) == 64
    unpinned = replace(plan, provenance=replace(plan.provenance, remote_fingerprint=""))
    path = tmp_path / "plan.json"
    with pytest.raises(ValueError, match="fingerprint"):
        provenance.save(unpinned, path)
    assert not path.exists() and not list(tmp_path.iterdir())
