"""Renders a Plan for people (text with Terraform-like symbols, Markdown for PRs) and machines (JSON).

Everything a line says comes from the change's type and reason: no switches on free text.
"""

from __future__ import annotations

import json
from typing import Any

import click

from billing_sync.changes import ACTIONS, Change, Create, Reason
from billing_sync.money import format_amount
from billing_sync.plan.plan import Plan

COLOURS = {"+": "green", "~": "yellow", "-/+": "magenta", "-": "red"}
SUMMARY_WORDS = {a: f"to {a}" for a in ACTIONS}


def reason_words(change: Change) -> str:
    """The parenthesised label of a change: its action, or what its reason makes of it."""
    if change.reason is Reason.STALE:
        return f"{change.action} stale duplicate"
    if change.reason is Reason.REPLACED:
        return f"{change.action} the replaced {change.kind}"
    if change.reason is Reason.DEFAULT_PRICE:
        return "move default price"
    if change.reason is Reason.UNMANAGED:
        return "stop managing"
    if change.reason is Reason.PAYMENT_METHOD:
        return "attach test card"
    return change.action


def value(v: Any) -> str:
    if v is None:
        return "(none)"
    if isinstance(v, str):
        return json.dumps(v)
    return json.dumps(v, sort_keys=True, default=str)


def headline(change: Change) -> str:
    where = f" {change.stripe_id}" if change.stripe_id and not isinstance(change, Create) else ""
    text = f"{change.symbol} {change.kind} {change.key} ({reason_words(change)}{where})"
    if change.summary:
        text += f"  {change.summary}"
    return text


def summary_line(plan: Plan) -> str:
    counts = plan.counts()
    return "Plan: " + ", ".join(f"{counts[a]} {SUMMARY_WORDS[a]}" for a in ACTIONS) + "."


def mrr_lines(plan: Plan) -> list[str]:
    """Monthly revenue before and after, per currency; nothing when the plan changes nothing."""
    if not plan.changes and all(b == a for b, a in plan.mrr.values()):
        return []
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


def no_changes_line(plan: Plan) -> str:
    return "No changes. The Stripe account matches " + (
        plan.provenance.config_file or "billing.yaml"
    )


def render_text(plan: Plan, *, color: bool = False) -> str:
    def style(text: str, symbol: str, bold: bool = False) -> str:
        if not color:
            return text
        return click.style(text, fg=COLOURS.get(symbol), bold=bold)

    out: list[str] = []
    if plan.in_sync:
        out.append(no_changes_line(plan) + ".")
    elif not plan.changes:
        out.append("No changes that apply can make; the account still differs (see below).")
    for change in plan.changes:
        out.append(style("  " + headline(change), change.symbol, bold=True))
        for c in change.fields:
            out.append(f"        {c.path}: {value(c.old)} -> {value(c.new)}")
        for note in change.notes:
            out.append(f"        note: {note}")
    if plan.conflicts:
        out.append("")
        out.append("Conflicts (the plan cannot be applied):")
        out += [style(f"  x {c}", "-") for c in plan.conflicts]
    if plan.unreachable:
        out.append("")
        out.append("Differences apply cannot make (Stripe does not allow the change):")
        out += [f"  ! {u}" for u in plan.unreachable]
    if plan.warnings:
        out.append("")
        out.append("Warnings:")
        out += [f"  ! {w}" for w in plan.warnings]
    um = unmanaged_line(plan)
    if um:
        out.append("")
        out.append(um)
    out.append("")
    if plan.changes:
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
    if not plan.changes:
        out.append(
            "No changes. The Stripe account matches `"
            + (plan.provenance.config_file or "billing.yaml")
            + "`."
        )
    else:
        out.append(f"**{summary_line(plan)}**")
        out.append("")
        out.append("| | resource | key | action | details |")
        out.append("|---|---|---|---|---|")
        for change in plan.changes:
            details = [change.summary] if change.summary else []
            details += [f"`{c.path}`: {value(c.old)} -> {value(c.new)}" for c in change.fields]
            details += list(change.notes)
            label = reason_words(change)
            action = change.action if label == change.action else f"{change.action} ({label})"
            out.append(
                f"| `{change.symbol}` | {change.kind} | `{change.key}` | {_md_cell(action)} | "
                f"{_md_cell('<br>'.join(details))} |"
            )
    mrr = mrr_lines(plan)
    if mrr:
        out += ["", "**Monthly recurring revenue** of declared subscriptions: " + "; ".join(mrr)]
    if plan.conflicts:
        out += ["", "**Conflicts** (the plan cannot be applied):", ""]
        out += [f"- {_md_cell(c)}" for c in plan.conflicts]
    if plan.unreachable:
        out += ["", "**Differences apply cannot make** (Stripe does not allow the change)", ""]
        out += [f"- {_md_cell(u)}" for u in plan.unreachable]
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


RENDERERS = {"json": render_json, "markdown": render_markdown}


def render(plan: Plan, fmt: str, *, color: bool = False) -> str:
    if fmt == "text":
        return render_text(plan, color=color)
    return RENDERERS[fmt](plan)
