"""`billing-sync meters report`: send one usage event to a meter (testing metered prices)."""

from __future__ import annotations

import json

import click

from billing_sync.cli.payments import _customer, _load_config, _remote, format_option
from billing_sync.config.models import BillingConfig
from billing_sync.errors import UsageError
from billing_sync.payments import usage


@click.group()
def meters() -> None:
    """Usage for metered prices: report meter events."""


@meters.command()
@click.argument("meter", metavar="METER")
@click.option("--customer", required=True, metavar="KEY|cus_...", help="Customer key or Stripe id.")
@click.option("--value", required=True, metavar="N", help="The usage, e.g. 1500 (tokens).")
@click.option(
    "--identifier",
    metavar="ID",
    help="The event's unique id; reuse it to retry safely (default: a new UUID, printed).",
)
@click.option("--timestamp", type=int, metavar="UNIX", help="When the usage happened.")
@format_option
@click.option("-c", "--config", "config_file", metavar="FILE", help="billing.yaml (optional).")
@click.pass_context
def report(
    ctx: click.Context,
    meter: str,
    customer: str,
    value: str,
    identifier: str | None,
    timestamp: int | None,
    fmt: str,
    config_file: str | None,
) -> None:
    """Record VALUE units of usage on METER (a meter key: its event name) for a customer.

    A write: refused with a live key unless --live is given. Stripe keeps one event per
    identifier for at least 24 hours, so re-running with the same --identifier never counts
    the usage twice.
    """
    amount = usage.check_value(value)
    ident = usage.check_identifier(identifier)
    loaded = _load_config(ctx, config_file)
    cfg: BillingConfig | None = loaded[1] if loaded else None
    if cfg is not None and meter not in cfg.meters:
        known = ", ".join(sorted(cfg.meters)) or "none"
        raise UsageError(f"unknown meter {meter!r} (billing.yaml declares: {known})")
    remote = _remote(ctx)
    found = usage.find_meter(remote, meter)
    who = _customer(remote, customer, cfg)
    done = usage.report_usage(remote, found, who.id, amount, ident, timestamp)
    if fmt == "json":
        click.echo(json.dumps(done.data(), indent=2, sort_keys=True))
        return
    verb = "already recorded" if done.already_recorded else "recorded"
    click.echo(
        f"{verb}: {amount} on meter {meter} ({found.id}) for customer {customer} ({who.id}), "
        f"identifier {ident}"
    )
