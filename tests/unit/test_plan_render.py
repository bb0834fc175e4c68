"""Golden tests for billing_sync.plan.render: text, JSON and Markdown of one rich plan, the
Markdown summary block of a risky one, and the Markdown size budget on a 2,000-operation plan.

Regenerate after an intended change with BILLING_SYNC_UPDATE_GOLDEN=1 and review the diff.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest

from billing_sync.plan.plan import Plan, operations_checksum
from billing_sync.plan.render import markdown_summary, render
from billing_sync.resources import CUSTOMER, PRICE, PRODUCT
from tests.unit.plan_helpers import BASE, applied, config, plan_for, with_snapshot

GOLDEN = Path(__file__).parent / "golden"
UPDATE = os.environ.get("BILLING_SYNC_UPDATE_GOLDEN") == "1"


def rich_plan() -> Plan:
    """A price replace, a quantity change, a new product and price, a removed price,
    a customer metadata change and an undeclared subscription that stays."""
    before = config(BASE.replace("name: Acme\n", "name: Acme\n    metadata: {crm: A-1}\n"))
    existing = applied(before, unmanaged_subscriptions={"pro-monthly": 12})
    product = existing.of(PRODUCT).managed["pro"]
    price = existing.of(PRICE).managed["pro-yearly"]
    existing = with_snapshot(
        existing,
        PRODUCT,
        unmanaged=tuple(replace(product, key=f"prod_{n}", id=f"prod_{n}") for n in range(2)),
    )
    existing = with_snapshot(
        existing,
        PRICE,
        unmanaged=tuple(
            replace(price, key=f"price_u{n}", id=f"price_u{n}", lookup_key=None) for n in range(5)
        ),
    )
    after = config(
        BASE.replace("pro-monthly: {unit_amount: 2900,", "pro-monthly: {unit_amount: 3500,")
        .replace(
            "      pro-yearly: {unit_amount: 29000, currency: usd, recurring: {interval: year}}\n",
            "",
        )
        .replace("quantity: 12}", "quantity: 15}")
        .replace(
            "products:\n",
            "products:\n  addon:\n    name: Add-on\n    prices:\n"
            '      addon-jpy: {amount: "500", currency: jpy, recurring: {interval: month, interval_count: 3}}\n',
        )
    )
    return plan_for(after, existing)


@pytest.mark.parametrize(
    ("fmt", "name"), [("text", "plan.txt"), ("json", "plan.json"), ("markdown", "plan.md")]
)
def test_render_matches_golden(fmt: str, name: str) -> None:
    out = render(rich_plan(), fmt)
    path = GOLDEN / name
    if UPDATE:
        path.write_text(out, encoding="utf-8")
    assert out == path.read_text(encoding="utf-8")


def test_json_carries_the_checksum_of_its_operations() -> None:
    plan = rich_plan()
    doc = json.loads(render(plan, "json"))
    assert doc["checksum"] == plan.checksum == operations_checksum(doc["operations"])
    # Any edit of what apply would send changes it: an amount, a flag, a dependency token.
    edits: list[tuple[int, str, object]] = [
        (1, "request", {"method": "post", "path": "/v1/prices", "params": {"unit_amount": 1}}),
        (-1, "destructive", False),
        (0, "provides", []),
    ]
    for index, name, value in edits:
        edited = json.loads(render(plan, "json"))["operations"]
        assert edited[index][name] != value
        edited[index][name] = value
        assert operations_checksum(edited) != plan.checksum


def test_colour_only_when_asked() -> None:
    plan = rich_plan()
    assert "\x1b[" not in render(plan, "text")
    assert "\x1b[" in render(plan, "text", color=True)


def unsafe_plan() -> Plan:
    """Everything a reviewer must see first: both thresholds crossed, a protected subscription
    cancelled, a conflict, a warning and a difference Stripe cannot make."""
    before = config(
        BASE.replace("days_until_due: 30\n", "days_until_due: 30\n        protect: true\n")
        + "  initech:\n    email: ap@initech.example\n"
    )
    existing = applied(before)
    one = replace(
        existing.of(CUSTOMER).managed["acme"], id="cus_1", key="cus_1", email="ap@globex.example"
    )
    existing = with_snapshot(existing, CUSTOMER, unmanaged=(one, replace(one, id="cus_2")))
    after = config(
        BASE.split("customers:")[0].replace(
            "      pro-yearly: {unit_amount: 29000, currency: usd, recurring: {interval: year}}\n",
            "",
        )
        + "customers:\n  acme:\n    name: Acme Inc\n  globex:\n    email: ap@globex.example\n"
        + "policies:\n  min_objects_for_thresholds: 0\n  max_update_percent: 10\n"
        + "  max_destroy_percent: 20\n"
    )
    return plan_for(after, existing)


@pytest.mark.parametrize(
    ("plan", "name"), [(rich_plan, "summary-rich.md"), (unsafe_plan, "summary-unsafe.md")]
)
def test_markdown_summary_block_matches_golden(plan: Callable[[], Plan], name: str) -> None:
    p = plan()
    out = markdown_summary(p)
    path = GOLDEN / name
    if UPDATE:
        path.write_text(out, encoding="utf-8")
    assert out == path.read_text(encoding="utf-8")
    # The summary block is the start of the comment, before any row.
    assert render(p, "markdown").startswith(out.rstrip("\n"))


def test_text_of_a_risky_plan_matches_golden_with_the_risk_first() -> None:
    plan = unsafe_plan()
    out = render(plan, "text")
    path = GOLDEN / "plan-unsafe.txt"
    if UPDATE:
        path.write_text(out, encoding="utf-8")
    assert out == path.read_text(encoding="utf-8")
    # A reviewer reading a CI log from the top meets every refusal before the first row...
    lines = out.splitlines()
    first_row = next(
        i for i, line in enumerate(lines) if line.startswith("  ~ ") or line.startswith("  - ")
    )
    unsafe = [i for i, line in enumerate(lines) if line.startswith("UNSAFE: ")]
    conflicts = [i for i, line in enumerate(lines) if line.startswith("  x ")]
    assert len(unsafe) == len(plan.unsafe) == 3 and len(conflicts) == len(plan.conflicts) == 1
    assert max(unsafe + conflicts) < first_row
    # ... and one reading from the bottom, one line naming both.
    assert lines[-1] == (
        "Apply refuses this plan as it stands: UNSAFE without --allow-destroy and "
        "--allow-mass-update; 1 conflict (see the top)."
    )


def test_text_of_a_safe_plan_has_no_refusal_lines() -> None:
    out = render(rich_plan(), "text")
    assert "UNSAFE" not in out and "refuses" not in out and "Conflicts" not in out


def test_markdown_alerts_come_in_order_of_risk() -> None:
    md = render(unsafe_plan(), "markdown")
    marks = [
        "> [!CAUTION]\n> **Unsafe",
        "> [!CAUTION]\n> **1 conflict**",
        "> [!WARNING]\n> **2 destructive operations** (1 archive, 1 cancel, 1 of them protected)",
        "> [!WARNING]\n> **Warnings**",
        "> [!WARNING]\n> **Differences apply cannot make**",
        "**Plan: ",
        "**Monthly recurring revenue**",
        "#### 🛑 Destructive (2)",
    ]
    positions = [md.index(m) for m in marks]
    assert positions == sorted(positions)
    assert "| 🛑 | subscription | `acme/main` | **CANCEL** · 🔒 protected |" in md


def test_markdown_cells_cannot_break_the_table_or_inject_html() -> None:
    before = config()
    after = config(BASE.replace("name: Pro\n", "name: 'Pro | <b>x</b></details> *y*'\n"))
    md = render(plan_for(after, applied(before)), "markdown")
    row = next(line for line in md.splitlines() if line.startswith("| `~` | `pro` |"))
    assert "Pro \\| &lt;b>x&lt;/b>&lt;/details> \\*y\\*" in row
    assert row.count(" | ") == 3  # four cells, whatever the name holds
    assert md.count("</details>") == md.count("<details>")


def big_catalog(
    n: int, *, drop: range = range(0), reprice: range = range(0), extra: int = 0
) -> str:
    lines = ["version: 1", "products:"]
    for i in range(n + extra):
        if i in drop:
            continue
        amount = 1500 if i in reprice else 1000
        lines += [
            f"  p{i:04}:",
            f"    name: Product {i} with a name long enough to look real",
            "    prices:",
            f"      p{i:04}-monthly: {{unit_amount: {amount}, currency: usd, "
            "recurring: {interval: month}}",
        ]
    return "\n".join(lines) + "\n"


def two_thousand_operation_plan() -> Plan:
    """600 products: 200 dropped (400 destructive archives: 33%, unsafe), 350 repriced (a replace
    and an archive each), 650 added (a product and a price each)."""
    before = config(big_catalog(600))
    after = config(big_catalog(600, drop=range(400, 600), reprice=range(350), extra=650))
    return plan_for(after, applied(before))


def listed_rows(md: str) -> list[str]:
    return [line for line in md.splitlines() if line.startswith("| ") and "---" not in line]


def test_a_2000_operation_plan_fits_the_budget_with_the_risk_first() -> None:
    plan = two_thousand_operation_plan()
    assert len(plan.changes) >= 2_000
    full = render(plan, "markdown", max_chars=0)
    assert len(full) > 200_000  # what the comment would be without a budget
    md = render(plan, "markdown")
    assert len(md) <= 60_000
    # The summary block comes first, whole, and says the list is partial.
    rows = [r for r in listed_rows(md) if not r.startswith("| |")]
    assert md.startswith(markdown_summary(plan, shown=len(rows)).rstrip("\n"))
    assert f"lists {len(rows)} of {len(plan.changes)} changes" in md
    assert md.index("> [!CAUTION]") < md.index("#### 🛑 Destructive (400)") < md.index(rows[0])
    # The riskiest rows are kept first: every destructive row, then replacements, then the rest.
    destructive = [r for r in rows if r.startswith("| 🛑 |")]
    replaced = [r for r in rows if r.startswith("| `-/+` |")]
    assert len(destructive) == 400
    assert 0 < len(replaced) < 350 and len(rows) == 400 + len(replaced)
    # What is not listed is counted, with where to find it.
    assert (
        f"_… and {350 - len(replaced)} more not listed here: full plan in the job artifact._" in md
    )
    assert "<b>product</b>: 650 to create; 0 listed" in md
    assert md.count("</details>") == md.count("<details>")


@pytest.mark.parametrize("budget", [4_000, 20_000, 150_000])
def test_markdown_budget_is_configurable_and_keeps_the_summary(budget: int) -> None:
    plan = two_thousand_operation_plan()
    md = render(plan, "markdown", max_chars=budget)
    assert len(md) <= budget
    assert "> [!CAUTION]\n> **Unsafe: apply refuses this plan as it stands.**" in md
    assert "**Plan: 1300 to create" in md
    rows = [r for r in listed_rows(md) if not r.startswith("| |")]
    kinds = [r.split(" | ")[0] for r in rows]
    # Never a less risky row before a riskier one is dropped.
    order = {"| 🛑": 0, "| `-/+`": 1}
    ranks = [order.get(k, 2) for k in kinds]
    assert ranks == sorted(ranks)
    if budget == 150_000:  # every destructive row and replacement, then some of the rest
        assert ranks.count(0) == 400 and ranks.count(1) == 350 and ranks.count(2) > 100


def test_a_small_plan_is_never_cut() -> None:
    plan = rich_plan()
    assert render(plan, "markdown", max_chars=60_000) == render(plan, "markdown", max_chars=0)
    assert "job artifact" not in render(plan, "markdown")


def test_markdown_of_an_account_in_sync_is_one_line() -> None:
    cfg = config()
    md = render(plan_for(cfg, applied(cfg)), "markdown")
    assert md == "### billing-sync plan\n\nNo changes. The Stripe account matches `billing.yaml`.\n"
