"""Every kind renders its state back to billing.yaml: desired -> YAML -> desired is the identity."""

from __future__ import annotations

from typing import Any

import yaml

from billing_sync.config.loader import load_text
from billing_sync.resources import KINDS
from billing_sync.resources.read import desired_state
from tests.helpers import EXAMPLE
from tests.unit.test_resources_fields import FULL


def rendered(text: str) -> dict[str, Any]:
    desired = desired_state(load_text(text))
    doc: dict[str, Any] = {"version": 1}
    for kind in KINDS:
        for state in desired.of(kind).values():
            path, body = kind.render(state)
            node = doc
            for part in path[:-1]:
                node = node.setdefault(part, {})
            if isinstance(body, list):  # list items (a product's features) join one list
                node.setdefault(path[-1], []).extend(body)
            else:
                node.setdefault(path[-1], {}).update(body)
    return doc


def test_full_document_round_trips() -> None:
    for text in (FULL, EXAMPLE.read_text(encoding="utf-8")):
        again = load_text(yaml.safe_dump(rendered(text), sort_keys=False))
        first = desired_state(load_text(text))
        second = desired_state(again)
        for kind in KINDS:
            assert second.of(kind) == first.of(kind), kind.name


def test_rendering_is_deterministic_and_omits_defaults() -> None:
    doc = rendered(FULL)
    assert doc == rendered(FULL)
    assert "active" not in doc["products"]["pro"]
    assert doc["products"]["pro"]["prices"]["pro-monthly"]["lookup_key"] == "pro-monthly-v1"
    assert "lookup_key" not in doc["products"]["pro"]["prices"]["pro-yearly"]


def test_a_products_features_render_as_one_list() -> None:
    doc = rendered(EXAMPLE.read_text(encoding="utf-8"))
    assert sorted(doc["products"]["pro"]["features"]) == ["api-access", "audit-log", "sso"]
    assert doc["features"]["audit-log"] == {"name": "Audit log", "lookup_key": "audit_log"}
    assert doc["features"]["sso"] == {
        "name": "Single sign-on",
        "metadata": {"category": "security"},
    }
