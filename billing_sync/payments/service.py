"""One-off PaymentIntents and refunds: functions taking a Remote, returning plain views.

Reads go through `with_retries`; every write carries an explicit idempotency key that stays
the same across retries (deterministic for `create --reference`). Every check that can be
made before a write is made before it: a refused command leaves the account untouched.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection, Iterator, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, TypeVar, cast

import stripe

from billing_sync.errors import StripeApiError, UsageError
from billing_sync.metadata import KEY_META
from billing_sync.money import format_amount, format_decimal_amount
from billing_sync.payments.validation import (
    REFERENCE_METADATA_KEY,
    check_refund_amount,
    create_idempotency_key,
    parse_amount,
    random_idempotency_key,
    redact_secrets,
)
from billing_sync.remote.client import Remote, describe_stripe_error, with_retries
from billing_sync.remote.pages import PAGE, id_of, list_all

T = TypeVar("T")

# How far back `create --reference` looks for an earlier PaymentIntent with the same reference
# (beyond Stripe's 24-hour idempotency window). Bounded so that creating a payment on a large
# account does not page through its whole history.
REFERENCE_LOOKBACK_DAYS = 90


# --------------------------------------------------------------------------- views


@dataclass(frozen=True)
class PaymentView:
    """What the CLI shows of a PaymentIntent (client_secret only where it is asked for)."""

    id: str
    status: str
    amount: int
    currency: str
    customer: str | None
    description: str | None
    receipt_email: str | None
    reference: str | None
    latest_charge: str | None
    created: int
    metadata: dict[str, str]
    last_payment_error: str | None
    client_secret: str | None = field(default=None, repr=False)

    def data(self, *, with_secret: bool = False) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id,
            "object": "payment_intent",
            "status": self.status,
            "amount": self.amount,
            "currency": self.currency,
            "amount_display": format_amount(self.amount, self.currency),
            "customer": self.customer,
            "description": self.description,
            "receipt_email": self.receipt_email,
            "reference": self.reference,
            "latest_charge": self.latest_charge,
            "created": self.created,
            "metadata": self.metadata,
            "last_payment_error": self.last_payment_error,
        }
        if with_secret:
            out["client_secret"] = self.client_secret
        return out


@dataclass(frozen=True)
class ChargeView:
    id: str
    amount: int
    amount_refunded: int
    currency: str
    refunded: bool
    status: str
    payment_intent: str | None

    @property
    def remaining(self) -> int:
        return max(0, self.amount - self.amount_refunded)

    def data(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "object": "charge",
            "amount": self.amount,
            "amount_refunded": self.amount_refunded,
            "remaining_refundable": self.remaining,
            "currency": self.currency,
            "refunded": self.refunded,
            "status": self.status,
            "payment_intent": self.payment_intent,
        }


@dataclass(frozen=True)
class RefundView:
    id: str
    amount: int
    currency: str
    status: str | None
    reason: str | None
    charge: str | None
    payment_intent: str | None
    created: int

    def data(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "object": "refund",
            "amount": self.amount,
            "amount_display": format_amount(self.amount, self.currency),
            "currency": self.currency,
            "status": self.status,
            "reason": self.reason,
            "charge": self.charge,
            "payment_intent": self.payment_intent,
            "created": self.created,
        }


@dataclass(frozen=True)
class CustomerRef:
    id: str
    key: str | None


@dataclass(frozen=True)
class CreateResult:
    payment: PaymentView
    created: bool  # False: an existing PaymentIntent with the same reference was found
    idempotency_key: str


@dataclass(frozen=True)
class PaymentDetails:
    payment: PaymentView
    charge: ChargeView | None
    refunds: list[RefundView]


@dataclass(frozen=True)
class RefundResult:
    refund: RefundView
    charge_before: ChargeView
    left_after: int


# --------------------------------------------------------------------------- helpers


def _metadata(obj: Any) -> dict[str, str]:
    md = getattr(obj, "metadata", None)
    if md is None:
        return {}
    return {str(k): str(v) for k, v in md.to_dict().items()}


def _error_line(err: stripe.StripeError) -> str:
    return redact_secrets(describe_stripe_error(err))


def _read(fn: Callable[[], T]) -> T:
    try:
        return with_retries(fn)
    except stripe.StripeError as err:
        raise StripeApiError(_error_line(err)) from err


def _write(fn: Callable[[], T], *, what: str) -> T:
    """Run a write (fn must send a fixed idempotency key) with retries; one clear line on error."""
    try:
        return with_retries(fn)
    except stripe.CardError as err:
        raise StripeApiError(f"{what}: card declined: {_card_error_line(err)}") from err
    except stripe.StripeError as err:
        raise StripeApiError(f"{what}: {_error_line(err)}") from err


def _card_error_line(err: stripe.CardError) -> str:
    line = _error_line(err)
    body = err.json_body if isinstance(err.json_body, dict) else {}
    error = body.get("error") or {}
    decline = error.get("decline_code")
    if decline and "decline_code=" not in line:
        # describe_stripe_error reads decline_code from the exception, where stripe 16 does
        # not put it (it is in the error body).
        line = (
            f"{line[:-1]}, decline_code={decline})"
            if line.endswith(")")
            else f"{line} (decline_code={decline})"
        )
    pi = error.get("payment_intent") or {}
    if isinstance(pi, dict) and pi.get("id"):
        line += f"; PaymentIntent {pi['id']} is {pi.get('status', 'unknown')}"
    return line


def _list(remote: Remote, path: str, params: Mapping[str, Any]) -> Iterator[Any]:
    """Every object of a list endpoint as a typed StripeObject, paged by remote.pages.list_all.

    A failed page keeps the payments wording: one line, no api base, client secrets redacted.
    """
    try:
        for obj in list_all(remote, path, params):
            yield remote.client.deserialize(obj, api_mode="V1")
    except StripeApiError as err:
        cause = err.__cause__
        if isinstance(cause, stripe.StripeError):
            raise StripeApiError(_error_line(cause)) from cause
        raise


def payment_view(pi: stripe.PaymentIntent) -> PaymentView:
    md = _metadata(pi)
    err = pi.last_payment_error
    last_error = None
    if err is not None:
        parts = [err.message or "payment failed"]
        if err.code:
            parts.append(f"code={err.code}")
        decline = getattr(err, "decline_code", None)
        if decline:
            parts.append(f"decline_code={decline}")
        last_error = parts[0] + (f" ({', '.join(parts[1:])})" if len(parts) > 1 else "")
    return PaymentView(
        id=pi.id,
        status=str(pi.status),
        amount=pi.amount,
        currency=pi.currency,
        customer=id_of(pi.customer),
        description=pi.description,
        receipt_email=pi.receipt_email,
        reference=md.get(REFERENCE_METADATA_KEY),
        latest_charge=id_of(pi.latest_charge),
        created=pi.created,
        metadata=md,
        last_payment_error=last_error,
        client_secret=pi.client_secret,
    )


def charge_view(ch: stripe.Charge) -> ChargeView:
    return ChargeView(
        id=ch.id,
        amount=ch.amount,
        amount_refunded=ch.amount_refunded,
        currency=ch.currency,
        refunded=ch.refunded,
        status=str(ch.status),
        payment_intent=id_of(ch.payment_intent),
    )


def refund_view(rf: stripe.Refund) -> RefundView:
    return RefundView(
        id=rf.id,
        amount=rf.amount,
        currency=rf.currency,
        status=rf.status,
        reason=str(rf.reason) if rf.reason else None,
        charge=id_of(rf.charge),
        payment_intent=id_of(rf.payment_intent),
        created=rf.created,
    )


# --------------------------------------------------------------------------- customers


def resolve_customer(
    remote: Remote,
    ref: str,
    declared_keys: Collection[str] | None = None,
    email_hint: str | None = None,
) -> CustomerRef:
    """`cus_...` (must exist) or a customer KEY (metadata billing_sync_key, found by listing).

    With the key's email from billing.yaml the list is narrowed by `email` first (one request
    on any account size); the full listing is the fallback (an email edited by hand).
    """
    v1 = remote.client.v1
    if ref.startswith("cus_"):
        try:
            cus = with_retries(lambda: v1.customers.retrieve(ref))
        except stripe.InvalidRequestError as err:
            if err.http_status == 404:
                raise UsageError(f"no such customer: {ref!r}") from None
            raise StripeApiError(_error_line(err)) from err
        except stripe.StripeError as err:
            raise StripeApiError(_error_line(err)) from err
        if getattr(cus, "deleted", False):
            raise UsageError(f"customer {ref} is deleted")
        return CustomerRef(cus.id, _metadata(cus).get(KEY_META))
    if declared_keys is not None and ref not in declared_keys:
        known = ", ".join(sorted(declared_keys)) or "none"
        raise UsageError(f"unknown customer key {ref!r} (billing.yaml declares: {known})")

    def matching(params: dict[str, Any]) -> list[str]:
        return [
            c.id
            for c in _list(remote, "/v1/customers", params)
            if _metadata(c).get(KEY_META) == ref
        ]

    matches = matching({"email": email_hint}) if email_hint else []
    if not matches:
        matches = matching({})
    if not matches:
        hint = (
            "it is declared in billing.yaml but not created yet: run `billing-sync apply`"
            if declared_keys is not None
            else f"no customer carries metadata {KEY_META}={ref}"
        )
        raise UsageError(f"unknown customer key {ref!r}: {hint} (or pass a cus_... id)")
    if len(matches) > 1:
        raise UsageError(
            f"customer key {ref!r} matches {len(matches)} customers ({', '.join(matches)}); "
            "pass the cus_... id"
        )
    return CustomerRef(matches[0], ref)


# --------------------------------------------------------------------------- payment intents


@dataclass(frozen=True)
class CreateSpec:
    """A validated `payments create`: amounts in minor units, customer already resolved."""

    amount: int
    currency: str
    customer: str | None = None
    description: str | None = None
    receipt_email: str | None = None
    metadata: dict[str, str] = field(default_factory=dict)
    reference: str | None = None
    confirm_with: str | None = None
    allow_redirects: bool = False

    def params(self) -> dict[str, Any]:
        """The exact parameters of POST /v1/payment_intents."""
        p: dict[str, Any] = {"amount": self.amount, "currency": self.currency}
        if self.customer:
            p["customer"] = self.customer
        if self.description:
            p["description"] = self.description
        if self.receipt_email:
            p["receipt_email"] = self.receipt_email
        md = dict(self.metadata)
        if self.reference:
            md[REFERENCE_METADATA_KEY] = self.reference
        if md:
            p["metadata"] = md
        # Server-side confirmation has no page to return to, so redirect-based methods are
        # off unless asked for (Stripe then requires a return_url to confirm).
        p["automatic_payment_methods"] = {
            "enabled": True,
            "allow_redirects": "always" if self.allow_redirects else "never",
        }
        if self.confirm_with:
            p["payment_method"] = self.confirm_with
            p["confirm"] = True
        return p


def find_by_reference(
    remote: Remote, reference: str, *, since: int | None = None, customer: str | None = None
) -> Any | None:
    """The newest PaymentIntent whose metadata carries this reference, or None.

    Lists newest first (never the Search API, which lags writes) and stops at the first match;
    `since` (a timestamp) bounds the scan when nothing matches, `customer` narrows it.
    """
    params: dict[str, Any] = {}
    if since is not None:
        params["created"] = {"gte": since}
    if customer:
        params["customer"] = customer
    pages = _list(remote, "/v1/payment_intents", params)
    return next(
        (pi for pi in pages if _metadata(pi).get(REFERENCE_METADATA_KEY) == reference), None
    )


def payment_for_reference(
    remote: Remote, reference: str, customer: str | None = None
) -> stripe.PaymentIntent:
    found = find_by_reference(remote, reference, customer=customer)
    if found is None:
        raise UsageError(f"no PaymentIntent has reference {reference!r}")
    return cast(stripe.PaymentIntent, found)


def create_payment(remote: Remote, spec: CreateSpec) -> CreateResult:
    """Create (and optionally confirm) a PaymentIntent, at most once per reference."""
    params = spec.params()
    if spec.reference:
        key = create_idempotency_key(remote.account_fingerprint, spec.reference, params)
        since = int(time.time()) - REFERENCE_LOOKBACK_DAYS * 86400
        pi = find_by_reference(remote, spec.reference, since=since)
        if pi is not None:
            same = (
                pi.amount == spec.amount
                and pi.currency == spec.currency
                and id_of(pi.customer) == spec.customer
            )
            if not same:
                raise UsageError(
                    f"reference {spec.reference!r} is already used by {pi.id} "
                    f"({format_amount(pi.amount, pi.currency)}, status {pi.status}, "
                    f"customer {id_of(pi.customer) or 'none'}); use another reference"
                )
            return CreateResult(payment_view(pi), created=False, idempotency_key=key)
    else:
        key = random_idempotency_key("pi")
    v1 = remote.client.v1
    pi = _write(
        lambda: v1.payment_intents.create(
            params=cast(Any, params), options={"idempotency_key": key}
        ),
        what="create PaymentIntent",
    )
    return CreateResult(payment_view(pi), created=True, idempotency_key=key)


def get_payment(remote: Remote, payment_id: str) -> stripe.PaymentIntent:
    if not payment_id.startswith("pi_"):
        raise UsageError(f"{payment_id!r} is not a PaymentIntent id (pi_...)")
    v1 = remote.client.v1
    return _read(lambda: v1.payment_intents.retrieve(payment_id))


def confirm_payment(
    remote: Remote, payment_id: str, payment_method: str, return_url: str | None = None
) -> PaymentView:
    pi = get_payment(remote, payment_id)
    if pi.status not in ("requires_payment_method", "requires_confirmation", "requires_action"):
        raise UsageError(f"PaymentIntent {pi.id} is {pi.status}: there is nothing to confirm")
    params: dict[str, Any] = {"payment_method": payment_method}
    if return_url:
        params["return_url"] = return_url
    key = random_idempotency_key("confirm")
    v1 = remote.client.v1
    confirmed = _write(
        lambda: v1.payment_intents.confirm(
            payment_id, params=cast(Any, params), options={"idempotency_key": key}
        ),
        what=f"confirm {payment_id}",
    )
    return payment_view(confirmed)


def list_refunds(remote: Remote, payment_id: str) -> list[RefundView]:
    return [refund_view(r) for r in _list(remote, "/v1/refunds", {"payment_intent": payment_id})]


def get_charge(remote: Remote, charge_id: str) -> ChargeView:
    v1 = remote.client.v1
    return charge_view(_read(lambda: v1.charges.retrieve(charge_id)))


def payment_details(remote: Remote, pi: stripe.PaymentIntent) -> PaymentDetails:
    view = payment_view(pi)
    charge = get_charge(remote, view.latest_charge) if view.latest_charge else None
    refunds = list_refunds(remote, view.id) if charge and charge.amount_refunded else []
    return PaymentDetails(view, charge, refunds)


def list_payments(remote: Remote, customer: str | None, limit: int) -> list[PaymentView]:
    params: dict[str, Any] = {"limit": min(limit, PAGE)}
    if customer:
        params["customer"] = customer
    out: list[PaymentView] = []
    for pi in _list(remote, "/v1/payment_intents", params):
        out.append(payment_view(pi))
        if len(out) >= limit:
            break
    return out


# --------------------------------------------------------------------------- refunds


def refundable_charge(remote: Remote, target: str) -> ChargeView:
    """The charge behind a PaymentIntent or charge id, checked to be refundable."""
    if target.startswith("pi_"):
        pi = get_payment(remote, target)
        charge_id = id_of(pi.latest_charge)
        if pi.status != "succeeded" or charge_id is None:
            raise UsageError(
                f"PaymentIntent {pi.id} is {pi.status}: it has no successful charge to refund"
            )
        charge = get_charge(remote, charge_id)
    elif target.startswith(("ch_", "py_")):
        charge = get_charge(remote, target)
    else:
        raise UsageError(f"{target!r} is neither a PaymentIntent (pi_...) nor a charge (ch_...)")
    if charge.status != "succeeded":
        raise UsageError(f"charge {charge.id} is {charge.status}: there is nothing to refund")
    return charge


def refund_payment(
    remote: Remote,
    target: str,
    amount: int | None,
    reason: str | None = None,
    metadata: Mapping[str, str] | None = None,
    amount_decimal: str | None = None,
) -> RefundResult:
    """Refund `amount` (minor units) or `amount_decimal` (major units of the charge's
    currency); default: everything left of a PaymentIntent's or charge's payment.

    What is left is computed first; an amount above it is refused before any write.
    """
    charge = refundable_charge(remote, target)
    if amount_decimal is not None:
        amount = parse_amount(None, amount_decimal, charge.currency)
    to_refund = check_refund_amount(
        amount, charge.amount, charge.amount_refunded, charge.currency, charge.id
    )
    params: dict[str, Any] = {"charge": charge.id, "amount": to_refund}
    if reason:
        params["reason"] = reason
    if metadata:
        params["metadata"] = dict(metadata)
    key = random_idempotency_key("refund")
    v1 = remote.client.v1
    refund = _write(
        lambda: v1.refunds.create(params=cast(Any, params), options={"idempotency_key": key}),
        what=f"refund {charge.id}",
    )
    return RefundResult(
        refund=refund_view(refund),
        charge_before=charge,
        left_after=charge.remaining - refund.amount,
    )


# --------------------------------------------------------------------------- checkout

# A Checkout Session lives at most 24 hours (Stripe's `expires_at` bound); `--reference` looks
# back as far as `create --reference` does, so a session completed days ago is found too.
CHECKOUT_MODES = {"recurring": "subscription", "one_time": "payment"}
TRIAL_METADATA_KEY = "billing_sync_trial_days"


@dataclass(frozen=True)
class PriceRef:
    id: str
    key: str | None  # its lookup key, when it has one
    type: str  # "recurring" or "one_time"
    active: bool
    currency: str
    unit_amount: int | None
    recurring: dict[str, Any] | None
    unit_amount_decimal: str | None = None
    tiers_mode: str | None = None  # "graduated" or "volume" for a tiered price
    tiers: tuple[dict[str, Any], ...] = ()
    transform_quantity: dict[str, Any] | None = None
    custom_unit_amount: dict[str, Any] | None = None

    @property
    def mode(self) -> str:
        return CHECKOUT_MODES.get(self.type, self.type)

    @property
    def name(self) -> str:
        return self.key or self.id

    @property
    def metered(self) -> bool:
        """Billed from a meter's usage at the end of each period: no quantity, nothing now."""
        return (self.recurring or {}).get("usage_type") == "metered"

    @property
    def custom(self) -> bool:
        """The paying customer chooses the amount (Stripe's custom_unit_amount)."""
        return self.custom_unit_amount is not None

    def _money(self, minor: Any, decimal: Any = None) -> str:
        if decimal is not None and Decimal(str(decimal)) != Decimal(int(minor or 0)):
            return format_decimal_amount(str(decimal), self.currency)
        return format_amount(int(minor or 0), self.currency)

    def custom_bounds(self) -> str:
        """`minimum 5.00 USD, maximum 100.00 USD, preset 15.00 USD` (those the price sets)."""
        custom = self.custom_unit_amount or {}
        return ", ".join(
            f"{name} {format_amount(int(custom[name]), self.currency)}"
            for name in ("minimum", "maximum", "preset")
            if custom.get(name) is not None
        )

    def amount_words(self) -> str:
        """The amount in money terms: per unit, by tier, per package, or the customer's choice."""
        if self.custom_unit_amount is not None:
            bounds = self.custom_bounds()
            return "amount chosen by the customer" + (f" ({bounds})" if bounds else "")
        if self.tiers_mode:
            parts, lower = [], 0
            for tier in self.tiers:
                upper = tier.get("up_to")
                span = f"{lower + 1}+" if upper is None else f"{lower + 1}-{upper}"
                part = f"{span} at {self._money(tier.get('unit_amount'), tier.get('unit_amount_decimal'))}"
                if tier.get("flat_amount") or Decimal(str(tier.get("flat_amount_decimal") or 0)):
                    flat = self._money(tier.get("flat_amount"), tier.get("flat_amount_decimal"))
                    part += f" + {flat} flat"
                parts.append(part)
                lower = int(upper or 0)
            return f"{self.tiers_mode} tiers: {', '.join(parts)}"
        unit = self._money(self.unit_amount, self.unit_amount_decimal)
        if self.transform_quantity:
            by = self.transform_quantity.get("divide_by")
            return f"{unit} per {by} units, rounded {self.transform_quantity.get('round')}"
        return unit

    def words(self) -> str:
        amount = self.amount_words()
        if self.metered:
            amount = f"metered usage, {amount} a unit"
        if not self.recurring:
            plain = not (self.custom or self.transform_quantity)
            return f"{amount} one-time" if plain else f"{amount}, one-time"
        count = int(self.recurring.get("interval_count") or 1)
        interval = self.recurring.get("interval")
        every = interval if count == 1 else f"{count} {interval}s"
        plain = not (self.metered or self.tiers_mode or self.transform_quantity)
        return f"{amount}/{every}" if plain else f"{amount}; every {every}"


@dataclass(frozen=True)
class CheckoutSpec:
    """A validated `payments checkout`: price and customer resolved, mode and quantity checked."""

    price: PriceRef
    quantity: int | None  # None for a metered price (Stripe refuses a quantity)
    mode: str
    success_url: str
    cancel_url: str
    customer: str | None = None
    reference: str | None = None
    trial_days: int | None = None

    def params(self) -> dict[str, Any]:
        """The exact parameters of POST /v1/checkout/sessions."""
        item: dict[str, Any] = {"price": self.price.id}
        if self.quantity is not None:
            item["quantity"] = self.quantity
        p: dict[str, Any] = {
            "mode": self.mode,
            "line_items": [item],
            "success_url": self.success_url,
            "cancel_url": self.cancel_url,
        }
        if self.customer:
            p["customer"] = self.customer
        data = "subscription_data" if self.mode == "subscription" else "payment_intent_data"
        if self.reference:
            # On the session, and on what completing it creates, so that `payments show
            # --reference` finds the payment and the subscription carries its order.
            ref = {REFERENCE_METADATA_KEY: self.reference}
            p["metadata"] = dict(ref)
            p[data] = {"metadata": dict(ref)}
            if self.trial_days is not None:
                # A session does not show its subscription_data: the trial is kept in its
                # metadata too, so that a replayed --reference can be checked against it.
                p["metadata"][TRIAL_METADATA_KEY] = str(self.trial_days)
        if self.trial_days is not None:
            p.setdefault(data, {})["trial_period_days"] = self.trial_days
        return p


@dataclass(frozen=True)
class CheckoutView:
    id: str
    url: str | None
    mode: str
    status: str
    payment_status: str
    amount_total: int | None
    currency: str | None
    customer: str | None
    subscription: str | None
    payment_intent: str | None
    expires_at: int
    reference: str | None

    def data(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "object": "checkout.session",
            "url": self.url,
            "mode": self.mode,
            "status": self.status,
            "payment_status": self.payment_status,
            "amount_total": self.amount_total,
            "currency": self.currency,
            "amount_display": (
                format_amount(self.amount_total, self.currency) if self.currency else None
            ),
            "customer": self.customer,
            "subscription": self.subscription,
            "payment_intent": self.payment_intent,
            "expires_at": self.expires_at,
            "reference": self.reference,
        }


@dataclass(frozen=True)
class CheckoutResult:
    session: CheckoutView
    created: bool  # False: a session with the same reference and request already exists


def checkout_view(cs: Any) -> CheckoutView:
    return CheckoutView(
        id=cs.id,
        url=cs.url,
        mode=str(cs.mode),
        status=str(cs.status),
        payment_status=str(cs.payment_status),
        amount_total=cs.amount_total,
        currency=cs.currency,
        customer=id_of(cs.customer),
        subscription=id_of(cs.subscription),
        payment_intent=id_of(cs.payment_intent),
        expires_at=cs.expires_at,
        reference=_metadata(cs).get(REFERENCE_METADATA_KEY),
    )


def resolve_price(remote: Remote, ref: str, lookup_key: str | None = None) -> PriceRef:
    """`price_...` (must exist) or a price KEY: its lookup key (billing.yaml's `lookup_key:`
    when it declares one, else the key itself), found with one list request."""
    v1 = remote.client.v1
    if ref.startswith("price_"):
        try:
            # `tiers` are returned only when expanded.
            price = with_retries(lambda: v1.prices.retrieve(ref, {"expand": ["tiers"]}))
        except stripe.InvalidRequestError as err:
            if err.http_status == 404:
                raise UsageError(f"no such price: {ref!r}") from None
            raise StripeApiError(_error_line(err)) from err
        except stripe.StripeError as err:
            raise StripeApiError(_error_line(err)) from err
    else:
        key = lookup_key or ref
        query = {"lookup_keys": [key], "limit": 10, "expand": ["data.tiers"]}
        found = list(_list(remote, "/v1/prices", query))
        if not found:
            raise UsageError(
                f"unknown price key {ref!r}: no active price has lookup key {key!r} "
                "(declared but not applied yet? run `billing-sync apply`; or pass a price_... id)"
            )
        price = found[0]
    recurring = price.recurring.to_dict() if price.recurring is not None else None
    return PriceRef(
        id=price.id,
        key=price.lookup_key,
        type=str(price.type),
        active=bool(price.active),
        currency=price.currency,
        unit_amount=price.unit_amount,
        recurring=recurring,
        unit_amount_decimal=_text(price.unit_amount_decimal),
        tiers_mode=price.tiers_mode,
        tiers=tuple(_plain(t) or {} for t in getattr(price, "tiers", None) or ()),
        transform_quantity=_plain(price.transform_quantity),
        custom_unit_amount=_plain(price.custom_unit_amount),
    )


def _plain(obj: Any) -> dict[str, Any] | None:
    """A nested StripeObject as a plain dict (decimal fields as strings)."""
    if obj is None:
        return None
    data = obj.to_dict() if hasattr(obj, "to_dict") else dict(obj)
    return {k: (_text(v) if isinstance(v, Decimal) else v) for k, v in data.items()}


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def check_checkout_price(price: PriceRef, mode: str | None) -> str:
    """The session's mode: the price's own; a --mode that does not match it is refused."""
    name = price.key or price.id
    if not price.active:
        raise UsageError(f"price {name} ({price.id}) is archived: Checkout takes active prices")
    if price.type not in CHECKOUT_MODES:
        raise UsageError(f"price {name} ({price.id}) has type {price.type!r}: not for Checkout")
    if mode is not None and mode != price.mode:
        kind = "recurring" if price.type == "recurring" else "one-time"
        raise UsageError(
            f"--mode {mode} does not match price {name} ({price.id}): it is {kind} "
            f"({price.words()}), sold in {price.mode} mode; use --mode {price.mode} or omit --mode"
        )
    return price.mode


def check_checkout_quantity(price: PriceRef, quantity: int | None) -> int | None:
    """The line item's quantity (`--quantity`, default 1): none for a metered price, which
    Stripe bills from its meter's usage and refuses a quantity for; exactly 1 for a price whose
    customer chooses the amount."""
    if price.metered:
        if quantity is not None:
            raise UsageError(
                f"price {price.name} ({price.id}) is metered: Stripe bills its meter's usage at "
                "the end of each period and takes no quantity; omit --quantity"
            )
        return None
    if price.custom and quantity not in (None, 1):
        raise UsageError(
            f"price {price.name} ({price.id}) lets the customer choose the amount: "
            f"--quantity must be 1 (got {quantity})"
        )
    return 1 if quantity is None else quantity


def check_trial(price: PriceRef, mode: str, trial_days: int | None) -> None:
    """A trial delays a subscription's first payment: payment mode has none."""
    if trial_days is not None and mode != "subscription":
        raise UsageError(
            f"--trial-days applies to subscription mode; price {price.name} ({price.id}) is "
            f"one-time ({price.words()}), sold in payment mode"
        )


def live_subscriptions(remote: Remote, customer: str, price: str) -> list[str]:
    """Ids of the customer's subscriptions on this price that are not canceled (one list
    request): a subscription-mode checkout for them would add another."""
    found = _list(remote, "/v1/subscriptions", {"customer": customer, "price": price})
    return [s.id for s in found if s.status not in ("canceled", "incomplete_expired")]


def find_checkout_by_reference(remote: Remote, reference: str, since: int) -> list[Any]:
    """Checkout Sessions since `since` whose metadata carries this reference, newest first."""
    return [
        cs
        for cs in _list(remote, "/v1/checkout/sessions", {"created": {"gte": since}})
        if _metadata(cs).get(REFERENCE_METADATA_KEY) == reference
    ]


def _same_request(cs: Any, spec: CheckoutSpec, remote: Remote) -> bool:
    items = [
        (id_of(li.price), li.quantity)
        for li in _list(remote, f"/v1/checkout/sessions/{cs.id}/line_items", {})
    ]
    customer_ok = spec.customer is None or id_of(cs.customer) == spec.customer
    trial = _metadata(cs).get(TRIAL_METADATA_KEY)
    trial_ok = trial == (None if spec.trial_days is None else str(spec.trial_days))
    same_items = items == [(spec.price.id, spec.quantity)]
    return cs.mode == spec.mode and same_items and customer_ok and trial_ok


def create_checkout(remote: Remote, spec: CheckoutSpec) -> CheckoutResult:
    """Create a Checkout Session, at most once per reference (an expired one is replaced)."""
    params = spec.params()
    if spec.reference:
        since = int(time.time()) - REFERENCE_LOOKBACK_DAYS * 86400
        earlier = find_checkout_by_reference(remote, spec.reference, since)
        for cs in earlier:
            if not _same_request(cs, spec, remote):
                raise UsageError(
                    f"reference {spec.reference!r} is already used by Checkout Session {cs.id} "
                    f"({cs.mode} mode, status {cs.status}) for another price, quantity, "
                    "customer or trial; use another reference"
                )
        live = [cs for cs in earlier if cs.status in ("open", "complete")]
        if live:
            return CheckoutResult(checkout_view(live[0]), created=False)
        # Every earlier session of this reference expired: a new one, under a key that names
        # them, so two concurrent runs still create only one.
        material = {**params, "replaces": sorted(cs.id for cs in earlier)}
        key = create_idempotency_key(remote.account_fingerprint, spec.reference, material, "cs")
    else:
        key = random_idempotency_key("cs")
    v1 = remote.client.v1
    cs = _write(
        lambda: v1.checkout.sessions.create(
            params=cast(Any, params), options={"idempotency_key": key}
        ),
        what="create Checkout Session",
    )
    return CheckoutResult(checkout_view(cs), created=True)
