"""The change vocabulary: every kind of change is a frozen value of its own class."""

from __future__ import annotations

import dataclasses

import pytest

from billing_sync.changes import CHANGE_TYPES, Change, FieldChange, Request, change_from_data


def made(cls: type[Change], key: str = "pro") -> Change:
    return cls(
        kind="product",
        key=key,
        request=Request("post", "/v1/products", {"name": "Pro"}),
        stripe_id="prod_1",
        fields=(FieldChange("name", "Old", "Pro"),),
    )


@pytest.mark.parametrize("cls", CHANGE_TYPES, ids=lambda c: c.__name__)
def test_each_change_type_is_a_frozen_value_of_its_own(cls: type[Change]) -> None:
    change = made(cls)
    assert dataclasses.is_dataclass(change)
    assert [f.name for f in dataclasses.fields(change)] == [
        f.name for f in dataclasses.fields(Change)
    ]
    assert repr(change).startswith(f"{cls.__name__}(kind='product', key='pro'")
    with pytest.raises(dataclasses.FrozenInstanceError):
        change.key = "other"  # type: ignore[misc]
    assert change == made(cls)
    assert change != made(cls, key="other")
    others = [made(other) for other in CHANGE_TYPES if other is not cls]
    assert all(change != other for other in others)  # the same fields, another action
    assert change.id == f"product.{cls.action}:pro"
    assert dataclasses.replace(change, key="x").key == "x"
    assert type(dataclasses.replace(change, key="x")) is cls
    assert change_from_data(change.data) == change
