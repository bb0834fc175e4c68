"""The root command and what every command shares: the global options (AppContext), the
lazily built config and client, and the -c/--config option."""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from functools import cached_property
from typing import TextIO

import click

from billing_sync import __version__
from billing_sync.cli.terminal import Console, ReadProgress, colour_enabled
from billing_sync.config.loader import config_path, load_config
from billing_sync.config.models import BillingConfig
from billing_sync.remote.client import Remote, connect


@dataclass
class AppContext:
    """Global options; config and client are built lazily so `--help` never reads files."""

    api_key: str | None
    api_base: str | None
    live: bool
    no_color: bool = field(default=False)
    config_file: str | None = None  # -c before the command

    def remote(self, *, live: bool = False) -> Remote:
        remote = connect(self.api_key, self.api_base, live=self.live or live)
        remote.observer = self.progress
        return remote

    def colour(self, stream: TextIO | None = None) -> bool:
        """Whether to colour `stream` (default stdout): see terminal.colour_enabled."""
        return colour_enabled(stream if stream is not None else sys.stdout, no_color=self.no_color)

    @cached_property
    def console(self) -> Console:
        """Progress on stderr: a live line on a terminal, plain lines otherwise."""
        return Console(sys.stderr, colour=self.colour(sys.stderr))

    @cached_property
    def progress(self) -> ReadProgress:
        return ReadProgress(self.console)

    def config(self, path: str | None) -> tuple[str, BillingConfig]:
        p = config_path(path)
        return str(p), load_config(p)


pass_app = click.make_pass_decorator(AppContext)


def _config_from_root(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """A command's -c wins; without it, the one given before the command."""
    if value is None:
        app = ctx.find_object(AppContext)
        return app.config_file if app is not None else None
    return value


config_option = click.option(
    "-c",
    "--config",
    "config_file",
    metavar="FILE",
    default=None,
    callback=_config_from_root,
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
@click.option(
    "--no-color",
    "no_color",
    is_flag=True,
    default=False,
    help="No colour (also NO_COLOR=1 or TERM=dumb; FORCE_COLOR=1 colours a pipe).",
)
@click.option(
    "-c",
    "--config",
    "config_file",
    metavar="FILE",
    default=None,
    help="billing.yaml for the commands that read it (a command's own -c wins).",
)
@click.pass_context
def cli(
    ctx: click.Context,
    api_key: str | None,
    api_base: str | None,
    live: bool,
    no_color: bool,
    config_file: str | None,
) -> None:
    """billing-sync: plan/apply for Stripe billing.

    Global options (--api-key, --api-base, --live, --no-color) go before or after the command."""
    ctx.obj = AppContext(
        api_key=api_key,
        api_base=api_base,
        live=live,
        no_color=no_color,
        config_file=config_file,
    )
