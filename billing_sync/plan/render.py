"""Renders a Plan for people (text with Terraform-like symbols, Markdown for PRs) and machines (JSON)."""

from __future__ import annotations

import json
from typing import Any

import click

from billing_sync.money import format_amount
from billing_sync.plan.ops import ACTIONS, SYMBOLS, Operation, Plan

COLOURS = {"+": "green", "~": "yellow", "-/+": "magenta", "-": "red"}
STEP_WORDS = {"old": "archive the replaced price", "default_price": "move default price"}


def value(v: Any) -> str:
    if v is None:
        return "(none)"
    if isinstance(v, str):
        return json.dumps(v)
    return json.dumps(v, sort_keys=True, default=str)


def headline(op: Operation) -> str:
    symbol = SYMBOLS[op.action]
    label = op.action
    if op.step.startswith("stale."):
        label = "archive stale duplicate"
    elif op.step in STEP_WORDS:
        label = STEP_WORDS[op.step]
    where = f" {op.stripe_id}" if op.stripe_id and op.action not in ("create",) else ""
    text = f"{symbol} {op.resource} {op.key} ({label}{where})"
    if op.summary:
        text += f"  {op.summary}"
    return text


def summary_line(plan: Plan) -> str:
    counts = plan.counts()
    words = {
        "create": "to create",
        "update": "to update",
        "replace": "to replace",
        "reactivate": "to reactivate",
        "archive": "to archive",
        "cancel": "to cancel",
    }
    return "Plan: " + ", ".join(f"{counts[a]} {words[a]}" for a in ACTIONS) + "."


def mrr_lines(plan: Plan) -> list[str]:
    lines = []
    for cur, (before, after) in sorted(plan.mrr.items()):
        if before == after:
            lines.append(f"{format_amount(after, cur)}/month (unchanged)")
            continue
        delta = after - before
        sign = "+" if delta > 0 else "-"
        lines.append(
            f"{format_amount(before, cur)} -> {format_amount(after, cur)}/month "
            f"({sign}{format_amount(abs(delta), cur)}/month)"
        )
    return lines


def unmanaged_line(plan: Plan) -> str | None:
    parts = [f"{n} {kind}" for kind, n in sorted(plan.unmanaged.items()) if n]
    return ("Unmanaged (never changed): " + ", ".join(parts)) if parts else None


def render_text(plan: Plan, *, color: bool = False) -> str:
    def style(text: str, symbol: str, bold: bool = False) -> str:
        if not color:
            return text
        return click.style(text, fg=COLOURS.get(symbol), bold=bold)

    out: list[str] = []
    if not plan.operations:
        out.append(
            "No changes. The Stripe account matches " + (plan.config_file or "billing.yaml") + "."
        )
    for op in plan.operations:
        out.append(style("  " + headline(op), SYMBOLS[op.action], bold=True))
        for c in op.changes:
            out.append(f"        {c.path}: {value(c.old)} -> {value(c.new)}")
        for note in op.notes:
            if note != "protected":
                out.append(f"        note: {note}")
    if plan.conflicts:
        out.append("")
        out.append("Conflicts (the plan cannot be applied):")
        out += [style(f"  x {c}", "-") for c in plan.conflicts]
    if plan.warnings:
        out.append("")
        out.append("Warnings:")
        out += [f"  ! {w}" for w in plan.warnings]
    um = unmanaged_line(plan)
    if um:
        out.append("")
        out.append(um)
    out.append("")
    if plan.operations:
        out.append(summary_line(plan))
    mrr = mrr_lines(plan)
    if mrr:
        out.append("Monthly recurring revenue of declared subscriptions: " + "; ".join(mrr))
    for reason in plan.unsafe_reasons:
        out.append(
            style(f"UNSAFE: {reason}; apply refuses this plan without --allow-destroy.", "-")
        )
    return "\n".join(out).rstrip() + "\n"


def render_json(plan: Plan) -> str:
    return json.dumps(plan.data, indent=2) + "\n"


def _md_cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render_markdown(plan: Plan) -> str:
    out = ["### billing-sync plan", ""]
    if not plan.operations:
        out.append(
            "No changes. The Stripe account matches `" + (plan.config_file or "billing.yaml") + "`."
        )
    else:
        out.append(f"**{summary_line(plan)}**")
        out.append("")
        out.append("| | resource | key | action | details |")
        out.append("|---|---|---|---|---|")
        for op in plan.operations:
            details = [op.summary] if op.summary else []
            details += [f"`{c.path}`: {value(c.old)} → {value(c.new)}" for c in op.changes]
            details += [n for n in op.notes if n != "protected"]
            action = op.action + (f" ({STEP_WORDS.get(op.step, op.step)})" if op.step else "")
            out.append(
                f"| `{SYMBOLS[op.action]}` | {op.resource} | `{op.key}` | {_md_cell(action)} | "
                f"{_md_cell('<br>'.join(details))} |"
            )
    mrr = mrr_lines(plan)
    if mrr:
        out += ["", "**Monthly recurring revenue** of declared subscriptions: " + "; ".join(mrr)]
    if plan.conflicts:
        out += ["", "**Conflicts** (the plan cannot be applied):", ""]
        out += [f"- {_md_cell(c)}" for c in plan.conflicts]
    if plan.warnings:
        out += ["", "**Warnings**", ""]
        out += [f"- {_md_cell(w)}" for w in plan.warnings]
    um = unmanaged_line(plan)
    if um:
        out += ["", um]
    for reason in plan.unsafe_reasons:
        out += [
            "",
            f"> **Unsafe:** {_md_cell(reason)}; apply refuses this plan without `--allow-destroy`.",
        ]
    return "\n".join(out).rstrip() + "\n"


def render(plan: Plan, fmt: str, *, color: bool = False) -> str:
    if fmt == "json":
        return render_json(plan)
    if fmt == "markdown":
        return render_markdown(plan)
    return render_text(plan, color=color)
