"""A saved plan read back for `show`: Plan.from_data re-renders the file to itself, or refuses it."""

from __future__ import annotations

import json
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
        ("max_destroy_percent", 100, "its unsafe do not match"),
        ("summary.archive", 0, "its summary do not match"),
        ("checksum", "0" * 64, "its checksum do not match"),
        ("operations.-1.destructive", False, "its checksum, unsafe do not match"),
        ("operations.0.id", "product.create:x", "is not one billing-sync writes"),
        ("operations.0.action", "delete", "not a change (KeyError: 'delete')"),
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
    }


def test_from_data_refuses_what_is_not_a_plan() -> None:
    with pytest.raises(ValueError, match="KeyError"):
        Plan.from_data({"operations": []})
