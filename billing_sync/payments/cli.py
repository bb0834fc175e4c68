"""`billing-sync payments ...`: one-off charges and refunds."""

from __future__ import annotations

import click

from billing_sync.errors import NotImplementedFeatureError


@click.group()
def payments() -> None:
    """One-off PaymentIntents and refunds."""


@payments.command()
def create() -> None:
    """Create a PaymentIntent."""
    raise NotImplementedFeatureError("payments are not built yet")
