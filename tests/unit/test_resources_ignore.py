"""`ignore:` through the registry: every kind declared in a top-level section of billing.yaml
has its rules (per kind and per object), and Kind.ignored merges both without naming a kind."""

from __future__ import annotations

import pytest

from billing_sync.config.models import BillingConfig, IgnoreRules
from billing_sync.resources import BY_NAME, KINDS
from billing_sync.resources.base import Ignore
from billing_sync.resources.read import desired_state
from tests.unit.plan_helpers import config

SECTIONS = [k for k in KINDS if k.plural in BillingConfig.model_fields]


def test_every_kind_with_a_section_has_ignore_rules_per_kind_and_per_object() -> None:
    assert {k.name for k in SECTIONS} >= {
        "product",
        "meter",
        "coupon",
        "promotion_code",
        "tax_rate",
        "customer",
        "feature",
    }
    for kind in SECTIONS:
        assert kind.plural in IgnoreRules.model_fields, kind.plural
        model = BillingConfig.model_fields[kind.plural].annotation
        (obj,) = [a for a in getattr(model, "__args__", ()) if hasattr(a, "model_fields")]
        assert "ignore" in obj.model_fields, kind.name


TEXT = """
version: 1
meters:
  calls: {display_name: Calls, default_aggregation: {formula: count}, ignore: {fields: [display_name]}}
coupons:
  launch: {percent_off: 20, ignore: {metadata: [own]}}
promotion_codes:
  code: {coupon: launch, code: LAUNCH, ignore: {metadata: [own]}}
tax_rates:
  vat: {display_name: VAT, percentage: 19, inclusive: false, ignore: {fields: [description]}}
features:
  sso: {name: SSO}
ignore:
  coupons: {fields: [name], metadata: [crm]}
  tax_rates: {fields: [display_name]}
  features: {fields: [name], metadata: [crm]}
"""


@pytest.mark.parametrize(
    ("kind", "key", "rule"),
    [
        ("meter", "calls", Ignore(fields=frozenset({"display_name"}))),
        ("coupon", "launch", Ignore(frozenset({"crm", "own"}), frozenset({"name"}))),
        ("promotion_code", "code", Ignore(frozenset({"own"}))),
        ("tax_rate", "vat", Ignore(fields=frozenset({"display_name", "description"}))),
        ("feature", "sso", Ignore(frozenset({"crm"}), frozenset({"name"}))),
    ],
)
def test_kind_rules_and_object_rules_are_merged(kind: str, key: str, rule: Ignore) -> None:
    desired = desired_state(config(TEXT))
    assert desired.ignore(BY_NAME[kind], key) == rule


def test_objects_without_rules_have_none() -> None:
    desired = desired_state(config(TEXT.split("ignore:\n  coupons")[0]))
    assert desired.ignore(BY_NAME["feature"], "sso") == Ignore()
    assert desired.ignores.get("product_feature") is None
