"""Renders a Plan for people (text with Terraform-like symbols, Markdown for PRs) and machines (JSON).

Everything a line says comes from the change's type and reason: no switches on free text.
"""

from __future__ import annotations

import json
import re
from typing import Any

import click

from billing_sync.changes import ACTIONS, Change, Create, Reason, Replace
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


def refusal_line(plan: Plan) -> str | None:
    """One line repeating, at the end of a text plan, why apply refuses it (its top lists why)."""
    parts = []
    if plan.unsafe:
        flags = " and ".join(sorted({u.flag for u in plan.unsafe}))
        parts.append(f"UNSAFE without {flags}")
    if plan.conflicts:
        parts.append(f"{len(plan.conflicts)} conflict" + ("" if len(plan.conflicts) == 1 else "s"))
    if not parts:
        return None
    return "Apply refuses this plan as it stands: " + "; ".join(parts) + " (see the top)."


def render_text(plan: Plan, *, color: bool = False) -> str:
    def style(text: str, symbol: str, bold: bool = False) -> str:
        if not color:
            return text
        return click.style(text, fg=COLOURS.get(symbol), bold=bold)

    out: list[str] = []
    # The risk first: a reviewer reading a CI log from the top sees why apply refuses before
    # the rows; the last line repeats it in one line for whoever reads from the bottom.
    for unsafe in plan.unsafe:
        out.append(
            style(f"UNSAFE: {unsafe.reason}; apply refuses this plan without {unsafe.flag}.", "-")
        )
    if plan.conflicts:
        out.append(
            f"Conflicts: {len(plan.conflicts)} with objects billing-sync does not manage "
            "(the plan cannot be applied until they are resolved):"
        )
        out += [style(f"  x {c}", "-") for c in plan.conflicts]
    if out:
        out.append("")
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
    reminder = refusal_line(plan)
    if reminder:
        out.append(style(reminder, "-"))
    return "\n".join(out).rstrip() + "\n"


def render_json(plan: Plan) -> str:
    return json.dumps(plan.data, indent=2) + "\n"


# GitHub refuses comments over 65,536 characters; the default leaves room for a header.
MARKDOWN_MAX_CHARS = 60_000
ALERT_ITEMS = 20  # items listed in one alert block before "and N more"
CELL_CHARS = 1_500  # a row's details beyond this are cut (the JSON plan has all of them)
ARTIFACT = (
    "the full plan is in the job artifact (the JSON plan `plan --out FILE` saves; "
    "`billing-sync show FILE` renders it)"
)


def _md(text: str) -> str:
    """Text safe inside a GitHub table cell or list item: no HTML, no Markdown emphasis, one line."""
    text = text.replace("&", "&amp;").replace("<", "&lt;")
    text = re.sub(r"([\\`*_\[\]|~])", r"\\\1", text)
    return " ".join(text.splitlines())


def _code(text: str) -> str:
    """An inline code span that survives a table cell (pipes escaped, backticks fenced)."""
    text = " ".join(text.splitlines()).replace("|", "\\|")
    return f"`` {text} ``" if "`" in text else f"`{text}`"


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _risk(change: Change) -> int:
    """Which rows a reviewer must see first (and which a size budget keeps): 0 is the most."""
    if change.destructive and change.protected:
        return 0
    if change.destructive:
        return 1
    if change.protected or isinstance(change, Replace):
        return 2
    return 3


def _md_row(change: Change, *, with_kind: bool) -> str:
    details = [_md(change.summary)] if change.summary else []
    details += [
        f"{_code(c.path)}: {_md(value(c.old))} -> {_md(value(c.new))}" for c in change.fields
    ]
    details += [_md(n) for n in change.notes]
    cell = "<br>".join(details)
    if len(cell) > CELL_CHARS:
        cell = cell[:CELL_CHARS].rsplit("<br>", 1)[0] + "<br>… (cut: see the JSON plan)"
    label = reason_words(change)
    action = change.action if label == change.action else f"{change.action} ({_md(label)})"
    if change.destructive:
        # Destructive rows are unmistakable: a stop sign and the action in capitals.
        symbol, action = "🛑", f"**{change.action.upper()}**" + action[len(change.action) :]
    else:
        symbol = _code(change.symbol)
    if change.protected:
        action += " · 🔒 protected"
    kind = f" {change.kind} |" if with_kind else ""
    return f"| {symbol} |{kind} {_code(change.key)} | {action} | {cell} |"


def _alert(kind: str, lead: str, items: list[str], cap: int) -> list[str]:
    """A GitHub alert block (`> [!CAUTION]`): a bold lead and at most `cap` listed items."""
    out = ["", f"> [!{kind}]", f"> {lead}"]
    out += [f"> - {_cut(_md(i), 500)}" for i in items[:cap]]
    if len(items) > cap:
        out.append(f"> - … and {len(items) - cap} more: {ARTIFACT}")
    return out


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" + ("" if n == 1 else "s")


def markdown_summary(plan: Plan, *, cap: int = ALERT_ITEMS, shown: int | None = None) -> str:
    """The block a reviewer reads first: what apply refuses, conflicts, destructive operations,
    warnings, then the counts and the money. `shown`: rows the comment lists, when not all."""
    out = ["### billing-sync plan"]
    if plan.unsafe:
        flags = " and ".join(f"`{f}`" for f in sorted({u.flag for u in plan.unsafe}))
        out += _alert(
            "CAUTION",
            f"**Unsafe: apply refuses this plan as it stands.** Review it; applying it needs {flags}.",
            [f"{u.reason}: needs {u.flag}" for u in plan.unsafe],
            cap,
        )
    if plan.conflicts:
        out += _alert(
            "CAUTION",
            f"**{_plural(len(plan.conflicts), 'conflict')}** with objects billing-sync does not "
            "manage: nothing can be applied until they are resolved.",
            list(plan.conflicts),
            cap,
        )
    destructive = plan.destructive_changes
    if destructive:
        by_action: dict[str, int] = {}
        for c in destructive:
            by_action[c.action] = by_action.get(c.action, 0) + 1
        protected = sum(c.protected for c in destructive)
        lead = (
            f"**{_plural(len(destructive), 'destructive operation')}** ("
            + ", ".join(f"{n} {a}" for a, n in by_action.items())
            + (f", {protected} of them protected" if protected else "")
            + ") of "
            + _plural(plan.managed_count, "managed object")
            + ": listed first below, marked 🛑."
        )
        out += _alert("WARNING", lead, [], cap)
    if plan.warnings:
        out += _alert("WARNING", "**Warnings**", list(plan.warnings), cap)
    if plan.unreachable:
        out += _alert(
            "WARNING",
            "**Differences apply cannot make** (Stripe does not allow the change):",
            list(plan.unreachable),
            cap,
        )
    out.append("")
    if plan.in_sync:
        out.append(
            f"No changes. The Stripe account matches {_code(plan.provenance.config_file or 'billing.yaml')}."
        )
    elif not plan.changes:
        out.append("No changes that apply can make; the account still differs (see above).")
    else:
        out.append(f"**{summary_line(plan)}**")
    mrr = mrr_lines(plan)
    if mrr:
        out += ["", "**Monthly recurring revenue** of declared subscriptions: " + "; ".join(mrr)]
    if plan.grandfathered:
        stay = sum(plan.grandfathered.values())
        out += [
            "",
            f"**{_plural(stay, 'subscription')}** billing.yaml does not declare stay on "
            "replaced prices: "
            + ", ".join(f"{_code(k)} ({n})" for k, n in sorted(plan.grandfathered.items())),
        ]
    um = unmanaged_line(plan)
    if um:
        out += ["", um]
    if shown is not None and shown < len(plan.changes):
        out += _alert(
            "NOTE",
            f"This comment lists {shown} of {len(plan.changes)} changes (the riskiest first) to "
            f"stay under its size limit; {ARTIFACT}.",
            [],
            cap,
        )
    return "\n".join(out) + "\n"


def _markdown(plan: Plan, shown: set[int] | None, cap: int) -> str:
    """The whole document, listing the changes whose index is in `shown` (None: all)."""
    changes = plan.changes
    visible = set(range(len(changes))) if shown is None else shown
    out = [
        markdown_summary(plan, cap=cap, shown=None if shown is None else len(shown)).rstrip("\n")
    ]

    def table(indices: list[int], with_kind: bool) -> list[str]:
        rows = [_md_row(changes[i], with_kind=with_kind) for i in indices if i in visible]
        head = ["| | resource | key | action | details |", "|---|---|---|---|---|"]
        if not with_kind:
            head = ["| | key | action | details |", "|---|---|---|---|"]
        out_rows = ["", *head, *rows] if rows else []
        hidden = len(indices) - len(rows)
        if hidden:
            out_rows += [
                "",
                f"_… and {hidden} more not listed here: full plan in the job artifact._",
            ]
        return out_rows

    destructive = [i for i, c in enumerate(changes) if c.destructive]
    replaced = [i for i, c in enumerate(changes) if not c.destructive and _risk(c) == 2]
    if destructive:
        out += ["", f"#### 🛑 Destructive ({len(destructive)})", *table(destructive, True)]
    if replaced:
        out += [
            "",
            f"#### Replacements and protected ({len(replaced)})",
            *table(replaced, True),
        ]
    rest: dict[str, list[int]] = {}
    for i, c in enumerate(changes):
        if _risk(c) == 3:
            rest.setdefault(c.kind, []).append(i)
    if rest and (destructive or replaced):
        out += ["", "#### Other changes"]
    for kind, indices in rest.items():
        counts: dict[str, int] = {}
        for i in indices:
            counts[changes[i].action] = counts.get(changes[i].action, 0) + 1
        listed = sum(i in visible for i in indices)
        what = ", ".join(f"{n} to {a}" for a, n in counts.items())
        if listed < len(indices):
            what += f"; {listed} listed"
        out += ["", f"<details><summary><b>{kind}</b>: {what}</summary>"]
        out += table(indices, False)
        out += ["", "</details>"]
    return "\n".join(out).rstrip() + "\n"


def render_markdown(plan: Plan, *, max_chars: int = MARKDOWN_MAX_CHARS) -> str:
    """Markdown for a pull request: the summary block first, then the rows (destructive first,
    then replacements, then the rest folded per resource kind). Over `max_chars` (0: no limit),
    the summary and the riskiest rows are kept and the rest are counted."""
    full = _markdown(plan, None, ALERT_ITEMS)
    if max_chars <= 0 or len(full) <= max_chars:
        return full
    cap = ALERT_ITEMS
    base = _markdown(plan, set(), cap)
    while len(base) > max_chars and cap > 0:
        cap = cap // 4
        base = _markdown(plan, set(), cap)
    if len(base) > max_chars:
        # Not even the section headings fit: the summary alone (it is never cut).
        return markdown_summary(plan, cap=cap, shown=0)
    order = sorted(range(len(plan.changes)), key=lambda i: (_risk(plan.changes[i]), i))
    # Each listed row costs its line; a table that appears costs its header lines.
    room = max_chars - len(base) - 100 * (len({c.kind for c in plan.changes}) + 2)
    shown: list[int] = []
    for i in order:
        cost = len(_md_row(plan.changes[i], with_kind=True)) + 1
        if cost > room:
            break
        room -= cost
        shown.append(i)
    text = _markdown(plan, set(shown), cap)
    while len(text) > max_chars and shown:
        over = len(text) - max_chars
        while over > 0 and shown:
            over -= len(_md_row(plan.changes[shown.pop()], with_kind=True)) + 1
        text = _markdown(plan, set(shown), cap)
    return text


def render(
    plan: Plan, fmt: str, *, color: bool = False, max_chars: int = MARKDOWN_MAX_CHARS
) -> str:
    """The plan as `text`, `json` or `markdown` (`max_chars` bounds the Markdown only)."""
    if fmt == "text":
        return render_text(plan, color=color)
    if fmt == "markdown":
        return render_markdown(plan, max_chars=max_chars)
    return render_json(plan)
