"""`billing-sync emulator serve`: run the Stripe API emulator on a loopback port."""

from __future__ import annotations

import click

from billing_sync.errors import NotImplementedFeatureError


@click.group()
def emulator() -> None:
    """The local Stripe API emulator (for demos and tests)."""


@emulator.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=12111, show_default=True, type=int)
def serve(host: str, port: int) -> None:
    """Serve the emulator until interrupted."""
    raise NotImplementedFeatureError("the emulator is not built yet")
