"""`billing-sync payments ...`: one-off PaymentIntents, refunds and Checkout Sessions.

Thin: parse, validate locally (before any request), call payments.service, print. Every
foreseeable failure is a BillingSyncError, which the CLI prints as one line with exit 1.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
from pathlib import Path
from typing import Any

import click
import stripe

from billing_sync.cli.context import AppContext
from billing_sync.config.loader import config_path
from billing_sync.config.models import BillingConfig
from billing_sync.errors import UsageError
from billing_sync.money import format_amount
from billing_sync.payments import service
from billing_sync.payments.validation import (
    REFUND_REASONS,
    check_charge_amount,
    check_max_amount,
    check_payment_method,
    check_reference,
    check_url,
    normalize_currency,
    parse_amount,
    parse_metadata,
    parse_minor_amount,
    redact_secrets,
    resolve_max_amount,
)
from billing_sync.remote.client import Remote

format_option = click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="Output for people (text) or scripts (json).",
)


class _RedactSecrets(logging.Filter):
    """Client secrets must never reach a log: redact them from stripe's log records."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = redact_secrets(record.getMessage())
        record.args = None
        return True


def _guard_stripe_logs() -> None:
    """stripe-python prints whole response bodies (client secrets included) at debug level
    (STRIPE_LOG=debug); payments commands cap its console output at info and redact its
    `logging` records."""
    if stripe.log == "debug" or (stripe.log is None and os.environ.get("STRIPE_LOG") == "debug"):
        stripe.log = "info"
    logger = logging.getLogger("stripe")
    if not any(isinstance(f, _RedactSecrets) for f in logger.filters):
        logger.addFilter(_RedactSecrets())


def _app(ctx: click.Context) -> AppContext:
    """The global options (api key, api base, --live) of the root command."""
    app = ctx.find_object(AppContext)
    if app is None:  # only when the group is invoked without the root command
        app = AppContext(api_key=None, api_base=None, live=False)
    return app


def _remote(ctx: click.Context) -> Remote:
    _guard_stripe_logs()
    return _app(ctx).remote()


def _load_config(ctx: click.Context, config_file: str | None) -> tuple[str, BillingConfig] | None:
    """-c FILE (or $BILLING_SYNC_CONFIG) must exist; ./billing.yaml is used only when present."""
    config_file = config_file or _app(ctx).config_file  # -c before the command
    explicit = config_file or os.environ.get("BILLING_SYNC_CONFIG")
    if not explicit and not Path(config_path(None)).exists():
        return None
    return _app(ctx).config(config_file)


def _customer(remote: Remote, ref: str, cfg: BillingConfig | None) -> service.CustomerRef:
    """A customer key (checked against billing.yaml when there is one) or cus_ id."""
    if cfg is None or ref.startswith("cus_"):
        return service.resolve_customer(remote, ref)
    declared = cfg.customers.get(ref)
    return service.resolve_customer(
        remote, ref, set(cfg.customers), declared.email if declared else None
    )


def _echo_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, sort_keys=False))


def _when(ts: int) -> str:
    return dt.datetime.fromtimestamp(ts, dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _payment_lines(p: service.PaymentView, *, with_secret: bool = False) -> list[str]:
    lines = [
        f"  status:         {p.status}",
        f"  amount:         {format_amount(p.amount, p.currency)} ({p.amount} {p.currency})",
    ]
    if p.customer:
        lines.append(f"  customer:       {p.customer}")
    if p.reference:
        lines.append(f"  reference:      {p.reference}")
    if p.description:
        lines.append(f"  description:    {p.description}")
    if p.receipt_email:
        lines.append(f"  receipt_email:  {p.receipt_email}")
    if p.latest_charge:
        lines.append(f"  latest_charge:  {p.latest_charge}")
    if p.last_payment_error:
        lines.append(f"  last error:     {p.last_payment_error}")
    lines.append(f"  created:        {_when(p.created)}")
    if with_secret and p.client_secret:
        lines.append(f"  client_secret:  {p.client_secret}")
    return lines


@click.group()
def payments() -> None:
    """One-off PaymentIntents, refunds and Checkout links (amounts in minor units: 1999 = 19.99 USD)."""


# --------------------------------------------------------------------------- create


@payments.command()
@click.option("--amount", metavar="N", help="Amount in minor units (1999 = 19.99 USD).")
@click.option("--amount-decimal", metavar="D", help="Amount in major units (19.99).")
@click.option("--currency", required=True, metavar="C", help="ISO code, e.g. usd, eur, jpy.")
@click.option("--customer", metavar="KEY|cus_...", help="Customer key from billing.yaml or id.")
@click.option("--description", metavar="TEXT")
@click.option("--receipt-email", metavar="EMAIL")
@click.option("--metadata", "metadata", multiple=True, metavar="K=V", help="Repeatable.")
@click.option(
    "--reference",
    metavar="REF",
    help="Your order id: stored in metadata, and makes the command safe to run twice.",
)
@click.option("--confirm-with", metavar="pm_...", help="Confirm now with this payment method.")
@click.option(
    "--allow-redirects",
    is_flag=True,
    help="Let the front end offer redirect-based payment methods (confirming then needs a return URL).",
)
@click.option("--max-amount", metavar="N", help="Refuse amounts above N minor units.")
@format_option
@click.option("-c", "--config", "config_file", metavar="FILE", help="billing.yaml (optional).")
@click.pass_context
def create(
    ctx: click.Context,
    amount: str | None,
    amount_decimal: str | None,
    currency: str,
    customer: str | None,
    description: str | None,
    receipt_email: str | None,
    metadata: tuple[str, ...],
    reference: str | None,
    confirm_with: str | None,
    allow_redirects: bool,
    max_amount: str | None,
    fmt: str,
    config_file: str | None,
) -> None:
    """Create a PaymentIntent; prints its id, status, amount and client_secret.

    With --reference, running the same command again prints the same PaymentIntent instead
    of creating a second one.
    """
    cur = normalize_currency(currency)
    minor = parse_amount(amount, amount_decimal, cur)
    check_charge_amount(minor, cur)
    loaded = _load_config(ctx, config_file)
    cfg_file, cfg = loaded if loaded else (None, None)
    limit = resolve_max_amount(
        max_amount,
        cur,
        cfg.payments.max_amount if cfg else None,
        cfg.payments.max_amount_currency if cfg else None,
        cfg_file,
    )
    check_max_amount(minor, cur, limit)
    md = parse_metadata(metadata)
    ref = check_reference(reference) if reference is not None else None
    pm = check_payment_method(confirm_with, "--confirm-with") if confirm_with else None
    if receipt_email is not None and "@" not in receipt_email:
        raise UsageError(f"--receipt-email {receipt_email!r} is not an email address")

    remote = _remote(ctx)
    cus = _customer(remote, customer, cfg) if customer else None
    spec = service.CreateSpec(
        amount=minor,
        currency=cur,
        customer=cus.id if cus else None,
        description=description,
        receipt_email=receipt_email,
        metadata=md,
        reference=ref,
        confirm_with=pm,
        allow_redirects=allow_redirects,
    )
    result = service.create_payment(remote, spec)
    p = result.payment
    if fmt == "json":
        data = p.data(with_secret=True)
        data["created_now"] = result.created
        _echo_json(data)
    else:
        head = (
            f"created PaymentIntent {p.id}"
            if result.created
            else f"PaymentIntent {p.id} already exists for reference {ref} (nothing created)"
        )
        click.echo("\n".join([head, *_payment_lines(p, with_secret=True)]))
    if pm and p.status not in ("succeeded", "processing", "requires_capture"):
        reason = f": {p.last_payment_error}" if p.last_payment_error else ""
        raise UsageError(
            f"PaymentIntent {p.id} is {p.status}, not paid{reason}; retry with "
            f"`billing-sync payments confirm {p.id} --payment-method pm_...`"
        )


# --------------------------------------------------------------------------- confirm


@payments.command()
@click.argument("payment_intent", metavar="PI")
@click.option("--payment-method", required=True, metavar="pm_...", help="e.g. pm_card_visa.")
@click.option("--return-url", metavar="URL", help="Needed only for redirect-capable intents.")
@format_option
@click.pass_context
def confirm(
    ctx: click.Context,
    payment_intent: str,
    payment_method: str,
    return_url: str | None,
    fmt: str,
) -> None:
    """Confirm a PaymentIntent with a payment method (test and support flows)."""
    pm = check_payment_method(payment_method, "--payment-method")
    if not payment_intent.startswith("pi_"):
        raise UsageError(f"{payment_intent!r} is not a PaymentIntent id (pi_...)")
    p = service.confirm_payment(_remote(ctx), payment_intent, pm, return_url)
    if fmt == "json":
        _echo_json(p.data())
    else:
        click.echo("\n".join([f"confirmed PaymentIntent {p.id}", *_payment_lines(p)]))


# --------------------------------------------------------------------------- show / list


@payments.command()
@click.argument("payment_intent", metavar="PI", required=False)
@click.option("--reference", metavar="REF", help="Find the PaymentIntent by its reference.")
@format_option
@click.pass_context
def show(ctx: click.Context, payment_intent: str | None, reference: str | None, fmt: str) -> None:
    """Show a PaymentIntent, its charge and refunds, and how much is left to refund."""
    if (payment_intent is None) == (reference is None):
        raise UsageError("give either a PaymentIntent id or --reference REF")
    remote = _remote(ctx)
    if reference is not None:
        pi = service.payment_for_reference(remote, check_reference(reference))
    else:
        assert payment_intent is not None
        pi = service.get_payment(remote, payment_intent)
    d = service.payment_details(remote, pi)
    if fmt == "json":
        data = d.payment.data()
        data["charge"] = d.charge.data() if d.charge else None
        data["refunds"] = [r.data() for r in d.refunds]
        _echo_json(data)
        return
    lines = [f"PaymentIntent {d.payment.id}", *_payment_lines(d.payment)]
    if d.charge and d.charge.status == "succeeded":
        c = d.charge
        lines.append(
            f"  refunded:       {format_amount(c.amount_refunded, c.currency)} of "
            f"{format_amount(c.amount, c.currency)}; left to refund: "
            f"{format_amount(c.remaining, c.currency)}"
        )
        for r in d.refunds:
            lines.append(
                f"    {r.id}  {format_amount(r.amount, r.currency)}  {r.status or '-'}  "
                f"{r.reason or '-'}  {_when(r.created)}"
            )
    click.echo("\n".join(lines))


@payments.command(name="list")
@click.option("--customer", metavar="KEY|cus_...", help="Only this customer's payments.")
@click.option("--limit", default=10, show_default=True, type=click.IntRange(1, 1000))
@format_option
@click.option("-c", "--config", "config_file", metavar="FILE", help="billing.yaml (optional).")
@click.pass_context
def list_cmd(
    ctx: click.Context, customer: str | None, limit: int, fmt: str, config_file: str | None
) -> None:
    """List PaymentIntents, newest first."""
    remote = _remote(ctx)
    cus_id = None
    if customer:
        loaded = _load_config(ctx, config_file) if not customer.startswith("cus_") else None
        cus_id = _customer(remote, customer, loaded[1] if loaded else None).id
    items = service.list_payments(remote, cus_id, limit)
    if fmt == "json":
        _echo_json({"object": "list", "data": [p.data() for p in items]})
        return
    if not items:
        click.echo("no PaymentIntents")
        return
    for p in items:
        click.echo(
            f"{p.id}  {p.status:<24} {format_amount(p.amount, p.currency):>16}  "
            f"{p.customer or '-':<20} {p.reference or '-':<16} {_when(p.created)}"
        )


# --------------------------------------------------------------------------- refund


@payments.command()
@click.argument("target", metavar="PI_OR_CHARGE", required=False)
@click.option("--reference", metavar="REF", help="Refund the payment with this reference.")
@click.option("--amount", metavar="N", help="Minor units; default: everything left.")
@click.option("--amount-decimal", metavar="D", help="Major units, e.g. 5.00.")
@click.option("--reason", type=click.Choice(REFUND_REASONS), help="Stripe's refund reason.")
@click.option("--metadata", "metadata", multiple=True, metavar="K=V", help="Repeatable.")
@format_option
@click.pass_context
def refund(
    ctx: click.Context,
    target: str | None,
    reference: str | None,
    amount: str | None,
    amount_decimal: str | None,
    reason: str | None,
    metadata: tuple[str, ...],
    fmt: str,
) -> None:
    """Refund a payment fully (the default) or partly.

    What is left to refund is computed first; a larger amount is refused before any write.
    """
    if (target is None) == (reference is None):
        raise UsageError("give either a PaymentIntent or charge id, or --reference REF")
    if amount is not None and amount_decimal is not None:
        raise UsageError("give either --amount (minor units) or --amount-decimal, not both")
    md = parse_metadata(metadata)
    requested = parse_minor_amount(amount) if amount is not None else None
    remote = _remote(ctx)
    if reference is not None:
        target = service.payment_for_reference(remote, check_reference(reference)).id
    assert target is not None
    result = service.refund_payment(remote, target, requested, reason, md, amount_decimal)
    r, before = result.refund, result.charge_before
    if fmt == "json":
        data = r.data()
        data["left_to_refund"] = result.left_after
        _echo_json(data)
        return
    click.echo(
        f"refunded {format_amount(r.amount, r.currency)} of {before.id}"
        + (f" ({before.payment_intent})" if before.payment_intent else "")
        + f": {r.id} {r.status or ''}".rstrip()
    )
    click.echo(
        f"  left to refund: {format_amount(result.left_after, r.currency)} "
        f"of {format_amount(before.amount, r.currency)}"
    )


# --------------------------------------------------------------------------- checkout


@payments.command()
@click.option("--price", required=True, metavar="KEY|price_...", help="Price key or id.")
@click.option(
    "--quantity",
    default=None,
    type=click.IntRange(min=1),
    help="Units (default 1); none for a metered price, 1 for a customer-chosen amount.",
)
@click.option("--customer", metavar="KEY|cus_...", help="Customer key from billing.yaml or id.")
@click.option(
    "--mode",
    type=click.Choice(["subscription", "payment"]),
    default=None,
    help="Must match the price (recurring: subscription, one-time: payment); default: the price's.",
)
@click.option(
    "--trial-days",
    type=click.IntRange(min=1, max=730),
    default=None,
    metavar="N",
    help="Subscription mode: days of free trial before the first payment (1-730).",
)
@click.option("--success-url", required=True, metavar="URL", help="Where a paying customer lands.")
@click.option("--cancel-url", required=True, metavar="URL", help="Where the back button leads.")
@click.option(
    "--reference",
    metavar="REF",
    help="Your order id: stored in metadata, and makes the command safe to run twice.",
)
@format_option
@click.option("-c", "--config", "config_file", metavar="FILE", help="billing.yaml (optional).")
@click.pass_context
def checkout(
    ctx: click.Context,
    price: str,
    quantity: int | None,
    customer: str | None,
    mode: str | None,
    trial_days: int | None,
    success_url: str,
    cancel_url: str,
    reference: str | None,
    fmt: str,
    config_file: str | None,
) -> None:
    """Create a Checkout Session for a price; prints its id and url to send to the customer.

    The mode must match the price (checked before any write). With --reference, running the
    same command again prints the same session instead of creating a second one.
    """
    success = check_url(success_url, "--success-url")
    cancel = check_url(cancel_url, "--cancel-url")
    ref = check_reference(reference) if reference is not None else None
    loaded = _load_config(ctx, config_file)
    cfg = loaded[1] if loaded else None
    lookup_key = None
    if cfg is not None and not price.startswith("price_"):
        declared = {k: p for prod in cfg.products.values() for k, p in prod.prices.items()}
        if price not in declared:
            known = ", ".join(sorted(declared)) or "none"
            raise UsageError(f"unknown price key {price!r} (billing.yaml declares: {known})")
        lookup_key = declared[price].lookup_key
    remote = _remote(ctx)
    found = service.resolve_price(remote, price, lookup_key)
    session_mode = service.check_checkout_price(found, mode)
    line_quantity = service.check_checkout_quantity(found, quantity)
    service.check_trial(found, session_mode, trial_days)
    cus = _customer(remote, customer, cfg) if customer else None
    spec = service.CheckoutSpec(
        price=found,
        quantity=line_quantity,
        mode=session_mode,
        success_url=success,
        cancel_url=cancel,
        customer=cus.id if cus else None,
        reference=ref,
        trial_days=trial_days,
    )
    warnings = []
    if cus is not None and session_mode == "subscription":
        already = service.live_subscriptions(remote, cus.id, found.id)
        if already:
            warnings.append(
                f"customer {customer} already has a subscription to "
                f"{found.key or found.id} ({', '.join(already)}); paying this checkout adds another"
            )
    result = service.create_checkout(remote, spec)
    cs = result.session
    for warning in warnings:
        click.echo(f"warning: {warning}", err=True)
    if fmt == "json":
        data = cs.data()
        data["warnings"] = warnings
        # The request, which a replayed session was checked to match.
        data.update(price=found.id, price_key=found.key, quantity=line_quantity)
        data.update(pricing=found.words(), metered=found.metered, custom_amount=found.custom)
        data["trial_days"] = trial_days
        data["created_now"] = result.created
        _echo_json(data)
        return
    units = "" if line_quantity is None else f" x{line_quantity}"
    head = (
        f"created Checkout Session {cs.id}"
        if result.created
        else f"Checkout Session {cs.id} already exists for reference {ref} (nothing created)"
    )
    lines = [
        head,
        f"  url:            {cs.url or '-'}",
        f"  mode:           {cs.mode}",
        f"  status:         {cs.status} ({cs.payment_status})",
        f"  price:          {found.name}{units} ({found.words()})",
    ]
    if trial_days is not None:
        lines.append(f"  trial:          {trial_days} days (nothing is charged before it ends)")
    lines += _amount_lines(cs, found)
    if cs.customer:
        lines.append(f"  customer:       {cs.customer}")
    if cs.reference:
        lines.append(f"  reference:      {cs.reference}")
    if cs.subscription:
        lines.append(f"  subscription:   {cs.subscription}")
    if cs.payment_intent:
        lines.append(f"  payment_intent: {cs.payment_intent}")
    if cs.status == "open":
        lines.append(f"  expires:        {_when(cs.expires_at)}")
    click.echo("\n".join(lines))


def _amount_lines(cs: service.CheckoutView, price: service.PriceRef) -> list[str]:
    """What the customer pays now, in money terms, and why it may be nothing or unknown yet."""
    if cs.amount_total is None or not cs.currency:
        return []
    amount = format_amount(cs.amount_total, cs.currency)
    if price.custom and cs.status != "complete":
        bounds = price.custom_bounds() or "any amount"
        return [f"  amount due now: chosen by the customer ({bounds})"]
    if price.metered:
        return [f"  amount due now: {amount} (metered: usage is billed at the end of each period)"]
    return [f"  amount due now: {amount}"]
