"""The Plan's safety decision: destroy and update thresholds, the minimum catalog size, protection."""

from __future__ import annotations

import pytest

from billing_sync.errors import UnsafePlanError
from billing_sync.plan.plan import Plan
from tests.unit.plan_helpers import BASE, applied, config, plan_for


def catalog(
    n: int, *, renamed: int = 0, removed: int = 0, repriced: int = 0, policies: str = ""
) -> str:
    """n products with one monthly price each (2n managed objects); the first `renamed` products
    get a new name, the last `removed` are dropped, the first `repriced` prices change amount."""
    lines = ["version: 1", "products:"]
    for i in range(n - removed):
        name = f"Product {i} renamed" if i < renamed else f"Product {i}"
        amount = 1500 if i < repriced else 1000
        lines += [
            f"  p{i}:",
            f"    name: {name}",
            "    prices:",
            f"      p{i}-monthly: {{unit_amount: {amount}, currency: usd, recurring: {{interval: month}}}}",
        ]
    if n == removed:
        lines[-1] = "products: {}"
    if policies:
        lines += ["policies:", *(f"  {p}" for p in policies.split(";"))]
    return "\n".join(lines) + "\n"


def plan_of(n: int, **kw: object) -> Plan:
    policies = str(kw.pop("policies", ""))
    before = config(catalog(n, policies=policies))
    after = config(catalog(n, policies=policies, **kw))  # type: ignore[arg-type]
    return plan_for(after, applied(before))


def test_destroy_threshold_applies_only_from_the_minimum_catalog_size() -> None:
    # 4 products + 4 prices = 8 managed objects, 1 product removed: 2 archives, 25% < 30%.
    assert plan_of(4, removed=1).unsafe_reasons == []
    # 2 of 4 removed: 50%, but 8 objects is below the default minimum of 10: not refused.
    small = plan_of(4, removed=2)
    assert small.managed_count == 8 and len(small.destructive_changes) == 4
    assert small.unsafe_reasons == []
    # The same plan with the minimum lowered to 8 objects is refused.
    assert plan_of(4, removed=2, policies="min_objects_for_thresholds: 8").unsafe_reasons == [
        "4 destructive operation(s) touch 50% of 8 managed objects (max_destroy_percent: 30)"
    ]
    # At exactly the default minimum (5 products = 10 objects) the threshold applies.
    assert plan_of(5, removed=2).unsafe_reasons == [
        "4 destructive operation(s) touch 40% of 10 managed objects (max_destroy_percent: 30)"
    ]


def test_below_the_minimum_a_plan_that_destroys_everything_is_still_refused() -> None:
    # 3 products + 3 prices = 6 managed objects, below the minimum of 10: the percentages are
    # quiet, but removing all of them (an emptied billing.yaml) is refused.
    everything = plan_of(3, removed=3)
    assert everything.managed_count == 6 and len(everything.destructive_changes) == 6
    assert [(u.reason, u.flag) for u in everything.unsafe] == [
        (
            "6 destructive operation(s) touch every one of the 6 managed objects "
            "(an emptied billing.yaml?)",
            "--allow-destroy",
        )
    ]
    assert plan_of(3, removed=2).unsafe_reasons == []  # one product kept: not everything
    assert plan_of(3, removed=3, policies="max_destroy_percent: 100").unsafe_reasons == []
    # Above the minimum the percentage speaks instead (no second reason for the same thing).
    assert plan_of(5, removed=5, policies="max_destroy_percent: 100").unsafe_reasons == []


def test_update_threshold_counts_each_changed_object_once_and_is_strict() -> None:
    # 10 products, 20 objects: 6 renames are exactly 30%, allowed (the limit is "more than").
    assert plan_of(10, renamed=6).unsafe_reasons == []
    over = plan_of(10, renamed=7)
    assert [(u.reason, u.flag) for u in over.unsafe] == [
        (
            "7 update(s) and replace(s) change 35% of 20 managed objects (max_update_percent: 30)",
            "--allow-mass-update",
        )
    ]
    # A replaced price is one changed object, though the plan also archives its predecessor.
    repriced = plan_of(10, repriced=7)
    assert {c.action for c in repriced.changes} == {"replace", "archive"}
    assert repriced.updated_objects == 7 and not repriced.destructive_changes
    assert repriced.unsafe_reasons[0].startswith("7 update(s) and replace(s) change 35%")
    assert plan_of(10, renamed=7, policies="max_update_percent: 40").unsafe_reasons == []


def test_a_default_price_that_follows_its_replaced_price_is_not_counted_again() -> None:
    text = catalog(10)
    for i in range(10):
        text = text.replace(f"  p{i}:\n", f"  p{i}:\n    default_price: p{i}-monthly\n")
    after = text
    for i in range(6):
        after = after.replace(
            f"p{i}-monthly: {{unit_amount: 1000", f"p{i}-monthly: {{unit_amount: 1500"
        )
    plan = plan_for(config(after), applied(config(text)))
    assert sum(c.reason.value == "default_price" for c in plan.changes) == 6
    # 6 replacements of 20 objects: 30%, not 60% with the 6 default prices moving with them.
    assert plan.updated_objects == 6 and plan.unsafe_reasons == []


def test_each_flag_lets_through_only_its_own_reasons() -> None:
    both = plan_of(10, renamed=4, removed=4)  # 4 renames + 8 archives of 20 objects
    assert [u.flag for u in both.unsafe] == ["--allow-destroy"]
    p = plan_of(10, renamed=5, removed=4)  # 5 updates of 20 objects: 25%; 8 archives: 40%
    assert [u.flag for u in p.unsafe] == ["--allow-destroy"]
    p = plan_of(12, renamed=8, removed=4, policies="max_update_percent: 20")
    assert [u.flag for u in p.unsafe] == ["--allow-destroy", "--allow-mass-update"]
    with pytest.raises(UnsafePlanError, match="then pass --allow-destroy and --allow-mass-update"):
        p.raise_if_unsafe(allow_destroy=False)
    with pytest.raises(UnsafePlanError) as err:
        p.raise_if_unsafe(allow_destroy=True)
    assert "max_update_percent" in str(err.value) and "max_destroy_percent" not in str(err.value)
    assert err.value.exit_code == 3
    p.raise_if_unsafe(allow_destroy=True, allow_mass_update=True)


def test_protection_applies_below_the_minimum_catalog_size() -> None:
    protected = config(
        BASE.replace("days_until_due: 30\n", "days_until_due: 30\n        protect: true\n")
    )
    after = config(BASE.split("customers:")[0] + "customers:\n  acme:\n    email: a@b.example\n")
    plan = plan_for(after, applied(protected))
    assert plan.managed_count < plan.min_objects_for_thresholds
    assert plan.unsafe_reasons == ["subscription acme/main is protected (protect: true)"]


def test_thresholds_and_minimum_are_in_the_json_document() -> None:
    doc = plan_of(
        5, removed=2, policies="max_update_percent: 12.5;min_objects_for_thresholds: 3"
    ).data
    assert doc["max_destroy_percent"] == 30
    assert doc["max_update_percent"] == 12.5
    assert doc["min_objects_for_thresholds"] == 3
    assert doc["unsafe"] == [
        "4 destructive operation(s) touch 40% of 10 managed objects (max_destroy_percent: 30)"
    ]
