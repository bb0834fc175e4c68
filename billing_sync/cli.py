"""The click command line: parse options, call a layer, print, choose the exit code."""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from typing import Any

import click

from billing_sync import __version__
from billing_sync.config.loader import config_path, load_config
from billing_sync.config.models import BillingConfig
from billing_sync.errors import BillingSyncError, ConfigError
from billing_sync.remote.client import Remote, connect


@dataclass
class AppContext:
    """Global options; config and client are built lazily so `--help` never reads files."""

    api_key: str | None
    api_base: str | None
    live: bool

    def remote(self, *, live: bool = False) -> Remote:
        return connect(self.api_key, self.api_base, live=self.live or live)

    def config(self, path: str | None) -> tuple[str, BillingConfig]:
        p = config_path(path)
        return str(p), load_config(p)


pass_app = click.make_pass_decorator(AppContext)

config_option = click.option(
    "-c",
    "--config",
    "config_file",
    metavar="FILE",
    default=None,
    help="billing.yaml to use (default: $BILLING_SYNC_CONFIG or ./billing.yaml).",
)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="billing-sync")
@click.option(
    "--api-key",
    envvar="STRIPE_API_KEY",
    metavar="KEY",
    default=None,
    help="Stripe secret key (env STRIPE_API_KEY). Never printed.",
)
@click.option(
    "--api-base",
    envvar="STRIPE_API_BASE",
    metavar="URL",
    default=None,
    help="Stripe API base URL (env STRIPE_API_BASE), e.g. the emulator.",
)
@click.option(
    "--live",
    is_flag=True,
    default=False,
    help="Allow a live-mode key (sk_live_/rk_live_). Refused without it.",
)
@click.pass_context
def cli(ctx: click.Context, api_key: str | None, api_base: str | None, live: bool) -> None:
    """billing-sync: plan/apply for Stripe billing."""
    ctx.obj = AppContext(api_key=api_key, api_base=api_base, live=live)


@cli.command()
@config_option
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text")
@pass_app
def validate(app: AppContext, config_file: str | None, fmt: str) -> None:
    """Check billing.yaml; exit 0 when valid, 1 with every error otherwise."""
    path = str(config_path(config_file))
    try:
        cfg = load_config(path)
    except ConfigError as err:
        if fmt == "json":
            click.echo(
                json.dumps(
                    {
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
                    },
                    indent=2,
                )
            )
        else:
            for issue in err.issues:
                click.echo(str(issue), err=True)
            click.echo(f"{path}: {len(err.issues)} error(s)", err=True)
        sys.exit(1)
    n_prices = sum(len(p.prices) for p in cfg.products.values())
    n_subs = sum(len(c.subscriptions) for c in cfg.customers.values())
    if fmt == "json":
        click.echo(json.dumps({"valid": True, "file": path, "errors": []}, indent=2))
    else:
        click.echo(
            f"{path}: valid ({len(cfg.products)} products, {n_prices} prices, "
            f"{len(cfg.customers)} customers, {n_subs} subscriptions)"
        )


@cli.command()
def schema() -> None:
    """Print the JSON Schema of billing.yaml (for editors)."""
    click.echo(json.dumps(BillingConfig.model_json_schema(), indent=2))


def _register_subgroups() -> None:
    from billing_sync.emulator.cli import emulator
    from billing_sync.payments.cli import payments

    cli.add_command(emulator)
    cli.add_command(payments)


def main(argv: list[str] | None = None) -> Any:
    """Run the CLI: foreseeable errors become one line on stderr and exit 1, never a traceback."""
    try:
        _register_subgroups()
        return cli.main(args=argv, prog_name="billing-sync", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(1)
    except click.ClickException as err:
        err.show()
        sys.exit(err.exit_code)
    except ConfigError as err:
        for issue in err.issues:
            click.echo(str(issue), err=True)
        sys.exit(1)
    except BillingSyncError as err:
        click.echo(f"error: {err}", err=True)
        sys.exit(err.exit_code)
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        sys.exit(130)
