"""The core commands: validate, schema, plan, drift, show, apply, ids, status, import.

Each parses its options, calls a layer, prints and chooses the exit code."""

from __future__ import annotations

import json
import os
import re
import sys
import threading
from typing import Any

import click

from billing_sync.apply.execute import DEFAULT_PARALLELISM, NOT_STARTED, Executor, Report
from billing_sync.apply.lock import AccountLock, force_unlock
from billing_sync.cli.context import AppContext, cli, config_option, pass_app
from billing_sync.cli.terminal import (
    ApplyProgress,
    colour_enabled,
    first_interrupt_sets,
    left_lines,
)
from billing_sync.config.cards import refuse_test_cards
from billing_sync.config.loader import config_path, load_config
from billing_sync.config.schema import json_schema
from billing_sync.config.starter import STARTER
from billing_sync.errors import (
    BillingSyncError,
    ConfigError,
    StalePlanError,
    UsageError,
)
from billing_sync.plan import provenance
from billing_sync.plan.plan import Plan
from billing_sync.plan.planner import Source, build_plan, plan_account
from billing_sync.plan.render import MARKDOWN_MAX_CHARS, render
from billing_sync.remote.client import Remote, is_live_key
from billing_sync.resources import KINDS
from billing_sync.resources.importer import import_account, refuse_existing, write_file
from billing_sync.resources.read import read_account
from billing_sync.resources.status import STATUSES, align, build_report, parse_statuses, text_rows


@cli.command()
@config_option
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text")
@pass_app
def validate(app: AppContext, config_file: str | None, fmt: str) -> None:
    """Check billing.yaml; exit 0 when valid, 1 with every error otherwise (with a live key,
    test card tokens are errors too)."""
    path = str(config_path(config_file))
    try:
        cfg = load_config(path)
        if app.api_key and is_live_key(app.api_key.strip()):
            refuse_test_cards(cfg, path)
    except ConfigError as err:
        if fmt == "json":
            doc: dict[str, Any] = {
                "format_version": 1,
                "valid": False,
                "file": path,
                "errors": [
                    {
                        "file": i.file,
                        "line": i.line,
                        "column": i.column,
                        "path": i.path,
                        "message": i.message,
                    }
                    for i in err.issues
                ],
            }
            click.echo(json.dumps(doc, indent=2))
        else:
            for issue in err.issues:
                click.echo(str(issue), err=True)
            n = len(err.issues)
            click.echo(f"{path}: {n} error{'s' if n != 1 else ''}", err=True)
        sys.exit(1)
    counts = {kind.plural: len(kind.desired(cfg)) for kind in KINDS}
    if fmt == "json":
        doc = {"format_version": 1, "valid": True, "file": path, "errors": [], "counts": counts}
        click.echo(json.dumps(doc, indent=2))
    else:
        summary = ", ".join(
            f"{n} {(kind.name if n == 1 else kind.plural).replace('_', ' ')}"
            for kind in KINDS
            if (n := counts[kind.plural]) is not None
        )
        click.echo(f"{path}: valid ({summary})")


@cli.command()
def schema() -> None:
    """Print the JSON Schema of billing.yaml (for editors)."""
    click.echo(json.dumps(json_schema(), indent=2))


@cli.command()
@config_option
@click.option("--force", is_flag=True, help="Replace the file if it exists.")
def init(config_file: str | None, force: bool) -> None:
    """Write a commented starter billing.yaml (./billing.yaml unless -c FILE says otherwise)."""
    path = config_path(config_file)
    if not force and os.path.lexists(path):
        raise UsageError(f"{path} already exists: add --force to replace it, or -c another file")
    write_file(path, STARTER, force=force)
    click.echo(f"Wrote {path}. Next: billing-sync validate -c {path}, then billing-sync plan.")


def _show(plan: Plan, fmt: str = "text", max_chars: int = MARKDOWN_MAX_CHARS) -> None:
    app = click.get_current_context().find_object(AppContext)
    color = fmt == "text" and (app.colour() if app else colour_enabled(sys.stdout))
    click.echo(render(plan, fmt, color=color, max_chars=max_chars), nl=False, color=color)


markdown_max_chars_option = click.option(
    "--markdown-max-chars",
    "max_chars",
    type=click.IntRange(min=0),
    default=MARKDOWN_MAX_CHARS,
    show_default=True,
    envvar="BILLING_SYNC_MARKDOWN_MAX_CHARS",
    metavar="N",
    help="Size budget of --format markdown (GitHub refuses comments over 65,536): the summary "
    "and the riskiest rows are kept, the rest counted. 0: no limit.",
)


@cli.command()
@config_option
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json", "markdown"]),
    default="text",
    help="Output format (json is the same document --out writes).",
)
@click.option(
    "--out",
    metavar="FILE",
    default=None,
    help="Save the plan as JSON for `apply --plan FILE` (conventionally plans/NAME.json).",
)
@click.option(
    "--detailed-exitcode",
    is_flag=True,
    help="Exit 2 when there are changes, 0 when there are none (3 and 1 as without it).",
)
@markdown_max_chars_option
@pass_app
def plan(
    app: AppContext,
    config_file: str | None,
    fmt: str,
    out: str | None,
    detailed_exitcode: bool,
    max_chars: int,
) -> None:
    """Show what apply would change. Read-only: never writes to Stripe.

    Exit 0: no changes (or changes, without --detailed-exitcode); 2: changes (with
    --detailed-exitcode); 3: apply would refuse the plan as it stands (unsafe or conflicts);
    1: error."""
    path = str(config_path(config_file))
    remote = app.remote()
    with app.progress.reading():
        # Only a saved or JSON plan shows the account's fingerprint: others skip hashing it.
        p = build_plan(remote, path, pin=bool(out) or fmt == "json")
    _show(p, fmt, max_chars)
    if out:
        provenance.save(p, out)
        click.echo(f"Saved plan to {out}", err=True)
    p.raise_if_conflicts()
    refusal = p.unsafe_error(
        allow_destroy=False, allow_mass_update=False, lead="apply would refuse this plan"
    )
    if refusal is not None:
        raise refusal
    if detailed_exitcode and p.has_changes:
        sys.exit(2)


@cli.command()
@config_option
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json", "markdown"]),
    default="text",
    help="Output format (json: every change with its fields' existing and desired values).",
)
@markdown_max_chars_option
@pass_app
def drift(app: AppContext, config_file: str | None, fmt: str, max_chars: int) -> None:
    """Exit 0 when the account matches billing.yaml, 2 when it drifted (plan shows how), 3 on
    conflicts."""
    path = str(config_path(config_file))
    with app.progress.reading():
        p = build_plan(app.remote(), path, pin=fmt == "json")
    _show(p, fmt, max_chars)
    p.raise_if_conflicts()
    if not p.in_sync:
        click.echo("Drift: the Stripe account does not match billing.yaml.", err=True)
        sys.exit(2)


@cli.command()
@click.argument("plan_file", metavar="PLAN")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json", "markdown"]),
    default="text",
    help="Output format (json: the saved document itself).",
)
@markdown_max_chars_option
def show(plan_file: str, fmt: str, max_chars: int) -> None:
    """Show a saved plan (`plan --out FILE`) without contacting Stripe.

    The file must be exactly as plan saved it. `apply --plan PLAN` applies it after checking
    that billing.yaml and the account still give these operations."""
    p = provenance.read(plan_file)
    _show(p, fmt, max_chars)
    click.echo(
        f"Saved plan {plan_file} of {p.provenance.config_file or 'billing.yaml'} "
        f"(operations checksum {p.checksum[:12]}); apply it with: "
        f"billing-sync apply --plan {plan_file}",
        err=True,
    )


def _saved_plan(remote: Remote, plan_file: str, config_file: str | None) -> tuple[Source, Plan]:
    """Plan again from the saved plan's config and the live account; the file only pins it."""
    saved = provenance.load(plan_file)
    source = Source.read(config_file or saved.provenance.config_file)
    fresh = plan_account(remote, source)
    provenance.check_fresh(saved, fresh, remote.account_fingerprint)
    return source, fresh


@cli.command()
@config_option
@click.option(
    "--plan",
    "plan_file",
    metavar="FILE",
    default=None,
    help="Apply exactly this saved plan, without asking (the reviewed plan is the approval); "
    "refused if billing.yaml or the account changed.",
)
@click.option("--auto-approve", is_flag=True, help="Do not ask for confirmation (CI).")
@click.option(
    "--allow-destroy",
    is_flag=True,
    help="Allow a plan that archives/cancels beyond max_destroy_percent or touches "
    "protected subscriptions.",
)
@click.option(
    "--allow-mass-update",
    is_flag=True,
    help="Allow a plan that updates or replaces more than max_update_percent of the managed "
    "objects.",
)
@click.option("--live", is_flag=True, help="Allow a live-mode key.")
@click.option(
    "--parallelism",
    type=click.IntRange(1, 32),
    default=DEFAULT_PARALLELISM,
    show_default=True,
    help="Operations in flight at once.",
)
@click.option(
    "--max-retries",
    type=click.IntRange(0, 20),
    default=5,
    show_default=True,
    help="Retries per request on 429, 409, 5xx and connection errors (same idempotency key).",
)
@click.option(
    "--rate-limit",
    type=click.FloatRange(min=0.1),
    default=None,
    help="Requests per second (default 20 in test mode, 80 in live mode).",
)
@click.option(
    "--lock-timeout",
    type=click.FloatRange(min=0, max=3600),
    default=0,
    show_default=True,
    help="Seconds to wait while another apply holds the account's lock (0: fail at once).",
)
@pass_app
def apply(
    app: AppContext,
    config_file: str | None,
    plan_file: str | None,
    auto_approve: bool,
    allow_destroy: bool,
    allow_mass_update: bool,
    live: bool,
    parallelism: int,
    rate_limit: float | None,
    max_retries: int,
    lock_timeout: float,
) -> None:
    """Apply billing.yaml (or a saved plan) to the Stripe account.

    The plan shown (or saved) is what is applied: after confirmation, apply takes the account's
    lock, plans again under it and goes on only if the operations are identical."""
    remote = app.remote(live=live)
    with app.progress.reading():
        if plan_file:
            source, p = _saved_plan(remote, plan_file, config_file)
        else:
            source = Source.read(str(config_path(config_file)))
            # Pinned by its operations checksum (below), not by the account's fingerprint.
            p = plan_account(remote, source, pin=False)
    _show(p)
    p.raise_if_conflicts()
    if not p.has_changes:
        click.echo("Nothing to apply.")
        return
    p.raise_if_unsafe(allow_destroy=allow_destroy, allow_mass_update=allow_mass_update)
    # A saved plan is the approval (as in Terraform): it was reviewed when it was made, and it
    # is applied only if billing.yaml and the account still give exactly its operations.
    if not auto_approve and not plan_file:
        if not sys.stdin.isatty():
            raise UsageError(
                "refusing to apply without confirmation: no terminal to ask; pass --auto-approve"
            )
        answer = click.prompt(
            "Apply these changes? Only 'yes' is accepted", default="", show_default=False
        )
        if answer.strip() != "yes":
            raise BillingSyncError("apply cancelled; nothing was changed")
    progress = ApplyProgress(app.console)
    executor = Executor(
        remote,
        parallelism=parallelism,
        rate_limit=rate_limit,
        progress=progress,
        retry_attempts=max_retries + 1,
    )
    stop = threading.Event()

    def stopping() -> None:
        progress.stopping = True
        app.console.line(
            "Interrupted: sending nothing more; waiting for the writes in flight "
            "(Ctrl-C again to quit at once)."
        )

    with first_interrupt_sets(stop, stopping):
        with AccountLock(remote).hold(timeout=lock_timeout):
            with app.progress.reading():
                locked = plan_account(remote, source, pin=False)
            if locked.checksum != p.checksum:
                raise StalePlanError(
                    "the Stripe account changed after this plan was made (another apply, or an "
                    "edit in the Dashboard); nothing was applied: run plan again and review it"
                )
            report = executor.run(locked, stop=stop)
        app.console.clear()
    _report(app, report, remote.http.total)


def _report(app: AppContext, report: Report, requests: int) -> None:
    """The end of an apply: what failed, the counts, and after Ctrl-C what was left (exit 130)."""
    for r in report.results:
        if r.status not in ("done", NOT_STARTED):
            click.echo(f"{r.status}: {r.change.id}: {r.message}", err=True)
    counts = (
        f"{report.count('done')} done, {report.count('failed')} failed, "
        f"{report.count('skipped')} skipped"
    )
    if report.interrupted:
        click.echo(
            f"Apply interrupted: {counts}, {report.count(NOT_STARTED)} not started "
            f"({requests} requests).",
        )
        click.echo("Not started:", err=True)
        for line in left_lines(report):
            click.echo(line, err=True)
        click.echo(
            "billing.yaml is partly applied: run plan to see what is left; apply is safe to "
            "re-run.",
            err=True,
        )
        sys.exit(130)
    click.echo(
        f"Apply {'complete' if report.ok else 'incomplete'}: {counts} ({requests} requests)."
    )
    if not report.ok:
        click.echo("Run plan again to see what is left; apply is safe to re-run.", err=True)
        sys.exit(1)


def _env_name(kind: str, key: str) -> str:
    return "BILLING_SYNC_" + re.sub(r"[^A-Z0-9]+", "_", f"{kind}_{key}".upper()).strip("_")


@cli.command()
@click.option(
    "--format", "fmt", type=click.Choice(["json", "env"]), default="json", show_default=True
)
@pass_app
def ids(app: AppContext, fmt: str) -> None:
    """Print key -> Stripe id of every live managed object (for apps and deploy scripts)."""
    existing = read_account(app.remote())
    table: dict[str, dict[str, str | None]] = {
        kind.plural: {
            key: kind.stripe_id(state)
            for key, state in sorted(existing.of(kind).managed.items())
            if kind.is_live(state)
        }
        for kind in KINDS
    }
    if fmt == "json":
        click.echo(json.dumps(table, indent=2))
        return
    lines: dict[str, tuple[str, str, str | None]] = {}  # variable -> (kind, key, id)
    for kind in KINDS:
        for key, stripe_id in table[kind.plural].items():
            name = _env_name(kind.name, key)
            if name in lines:
                other_kind, other, _ = lines[name]
                raise UsageError(
                    f"{kind.name} keys {other!r} and {key!r} both map to {name}; "
                    "use --format json, or rename one of them"
                    if other_kind == kind.name
                    else f"{other_kind} key {other!r} and {kind.name} key {key!r} both map to "
                    f"{name}; use --format json, or rename one of them"
                )
            lines[name] = (kind.name, key, stripe_id)
    for name, (_, _, stripe_id) in lines.items():
        click.echo(f"{name}={stripe_id}")


# `status --fail-on`: a row in one of the given statuses. Distinct from 1 (an error: the
# account could not be read) and 2 (click's usage errors, a bad --fail-on included), so a
# scheduled alert can tell "a subscription needs attention" from "the check did not run".
EXIT_STATUS_MATCH = 3


def _fail_on(ctx: click.Context, param: click.Parameter, value: str) -> tuple[str, ...]:
    try:
        return parse_statuses(value)
    except ValueError as err:
        raise click.BadParameter(str(err), ctx=ctx, param=param) from None


@cli.command()
@config_option
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text")
@click.option("--customer", metavar="KEY", default=None, help="Only this customer's subscriptions.")
@click.option(
    "--fail-on",
    metavar="STATUSES",
    default="",
    callback=_fail_on,
    help=(
        f"Comma-separated statuses ({', '.join(STATUSES)}); exit {EXIT_STATUS_MATCH} when a "
        "declared subscription is in one of them."
    ),
)
@pass_app
def status(
    app: AppContext,
    config_file: str | None,
    fmt: str,
    customer: str | None,
    fail_on: tuple[str, ...],
) -> None:
    """Declared subscriptions and their status in Stripe (read-only, list reads only)."""
    _, cfg = app.config(config_file)
    if customer is not None and customer not in cfg.customers:
        known = ", ".join(sorted(cfg.customers)) or "none"
        raise click.BadParameter(
            f"{customer!r} is not a customer key of billing.yaml ({known})",
            param_hint="'--customer'",
        )
    report = build_report(cfg, read_account(app.remote()), customer)
    failing = report.failing(fail_on)
    if fmt == "json":
        click.echo(json.dumps(report.data(fail_on), indent=2))
    else:
        if report.rows:
            click.echo("\n".join(align(text_rows(report))))
        else:
            click.echo("No declared subscriptions.")
        click.echo("")
        click.echo(f"Missing in Stripe: {', '.join(report.missing) or 'none'}")
        click.echo(
            f"Undeclared subscriptions on managed prices: {len(report.undeclared)}"
            + (" (`--format json` lists their ids)" if report.undeclared else "")
        )
    if failing:
        click.echo(
            f"{len(failing)} subscription(s) in a --fail-on status: "
            + ", ".join(f"{r.key} ({r.status})" for r in failing),
            err=True,
        )
        sys.exit(EXIT_STATUS_MATCH)


@cli.command(name="force-unlock")
@click.argument("run")
@pass_app
def force_unlock_cmd(app: AppContext, run: str) -> None:
    """Release the account's apply lock held by RUN (an apply that died on another machine)."""
    holder = force_unlock(app.remote(), run)
    click.echo(f"Released the apply lock of {holder.describe()}.")


@cli.command(name="import")
@click.option(
    "--out", metavar="FILE", default=None, help="Write billing.yaml to FILE (default: stdout)."
)
@click.option("--force", is_flag=True, help="With --out: replace FILE if it exists.")
@click.option(
    "--include-customers", is_flag=True, help="Also customers and their live subscriptions."
)
@click.option(
    "--include-archived", is_flag=True, help="Also archived products and prices (active: false)."
)
@pass_app
def import_(
    app: AppContext,
    out: str | None,
    force: bool,
    include_customers: bool,
    include_archived: bool,
) -> None:
    """Write billing.yaml from the existing account. Read-only: never writes to Stripe."""
    if force and out is None:
        raise UsageError("--force only applies with --out FILE")
    if out is not None and not force:
        refuse_existing(out)
    result = import_account(
        read_account(app.remote()),
        groups=frozenset({"customers"} if include_customers else ()),
        include_archived=include_archived,
    )
    for warning in result.warnings:
        click.echo(f"warning: {warning}", err=True)
    if out is None:
        click.echo(result.text, nl=False)
        click.echo(result.summary(), err=True)
        return
    write_file(out, result.text, force=force)
    click.echo(f"Wrote {out}: {result.summary()}.")
