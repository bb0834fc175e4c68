"""PaymentIntents: create (optionally confirming), retrieve, update, confirm, cancel, list.

Card payments only, captured automatically. Confirming with a test payment method
(`pm_card_visa`, `pm_card_chargeDeclined`, ... or a stored `pm_` id) creates a charge; a
decline answers 402 `card_error` with `decline_code`, leaves the intent in
`requires_payment_method` with `last_payment_error`, and points `latest_charge` at the failed
charge, as Stripe does.
"""

from __future__ import annotations

from typing import Any

import stripe

from stripe_emulator.currencies import MAX_AMOUNT, MINIMUM_CHARGE
from stripe_emulator.errors import ApiError
from stripe_emulator.framework import (
    TYPES,
    Obj,
    ObjectType,
    Request,
    apply_metadata,
    random_token,
    register_type,
    render,
    route,
    unset,
)
from stripe_emulator.resources.charges import (
    AUTHENTICATION_REQUIRED,
    card_error_fields,
    card_for,
    new_charge,
    stripe_money,
)
from stripe_emulator.resources.common import check_currency, created_filter

register_type(
    ObjectType(
        name="payment_intent",
        collection="payment_intents",
        id_prefix="pi",
        expandable={
            "customer": "customer",
            "latest_charge": "charge",
            "payment_method": "payment_method",
        },
        index_on=("customer",),
        stripe_class=stripe.PaymentIntent,
    )
)

CONFIRMABLE = ("requires_payment_method", "requires_confirmation", "requires_action")
CANCELABLE = (
    "requires_payment_method",
    "requires_capture",
    "requires_confirmation",
    "requires_action",
    "processing",
)
CANCELLATION_REASONS = ("duplicate", "fraudulent", "requested_by_customer", "abandoned")
UPDATABLE = ("requires_payment_method", "requires_confirmation", "requires_action")

_RETURN_URL_MESSAGE = (
    "This PaymentIntent is configured to accept payment methods enabled in your Dashboard. "
    "Because some of these payment methods might redirect your customer off of your page, you "
    "must provide a `return_url`. If you don't want to accept redirect-based payment methods, "
    "set `automatic_payment_methods[enabled]` to `true` and "
    "`automatic_payment_methods[allow_redirects]` to `never` when creating Setup Intents and "
    "Payment Intents."
)


def _currency(value: Any) -> str:
    return check_currency(value, "currency")


def _amount(value: int, currency: str) -> int:
    if value < 1:
        raise ApiError.invalid("This value must be greater than or equal to 1.", param="amount")
    minimum = MINIMUM_CHARGE.get(currency)
    if minimum is not None and value < minimum:
        raise ApiError.invalid(
            f"Amount must be at least {stripe_money(minimum, currency)} {currency}",
            param="amount",
            code="amount_too_small",
        )
    if value > MAX_AMOUNT:
        raise ApiError.invalid(
            f"Amount must be no more than {stripe_money(MAX_AMOUNT, currency)} {currency}",
            param="amount",
            code="amount_too_large",
        )
    return value


def _customer(req: Request, cus_id: str) -> str:
    cus = req.store.get("customer", cus_id) if "customer" in TYPES else None
    if cus is None or cus.get("deleted"):
        raise ApiError(
            400,
            "invalid_request_error",
            f"No such customer: '{cus_id}'",
            code="resource_missing",
            param="customer",
            validation=True,
        )
    return cus_id


def _payment_method(req: Request, pm_id: str) -> str:
    if card_for(req.store, pm_id) is None:
        raise ApiError(
            400,
            "invalid_request_error",
            f"No such PaymentMethod: '{pm_id}'",
            code="resource_missing",
            param="payment_method",
            validation=True,
        )
    return pm_id


def _materialize(req: Request, pm_id: str) -> str:
    """A test token becomes a new stored payment method (its own pm_ id), as in Stripe; runs
    after every validation so that a refused request stores nothing."""
    try:
        from stripe_emulator.resources.payment_methods import resolve
    except ImportError:  # payment methods not served: keep the token as the id
        return pm_id
    return str(resolve(req.store, pm_id, req.now, param="payment_method")["id"])


def _email(value: str) -> str:
    if "@" not in value or value.startswith("@") or value.endswith("@"):
        raise ApiError.invalid(f"Invalid email address: {value}", param="receipt_email")
    return value


def _needs_authentication(req: Request, pm_id: str) -> bool:
    if pm_id in AUTHENTICATION_REQUIRED:
        return True
    stored = req.store.get("payment_method", pm_id) if "payment_method" in TYPES else None
    return stored is not None and stored.get("_token") in AUTHENTICATION_REQUIRED


def _authentication_action(pi: Obj, return_url: str | None) -> dict[str, Any]:
    """`next_action` of an intent waiting for 3D Secure: a redirect when the confirmation gave
    a `return_url`, else `use_stripe_sdk`, whose contents are private to Stripe.js
    (https://docs.stripe.com/api/payment_intents/object#payment_intent_object-next_action)."""
    if return_url:
        url = f"https://hooks.stripe.com/3d_secure_2/hosted?payment_intent={pi['id']}"
        return {
            "type": "redirect_to_url",
            "redirect_to_url": {"return_url": return_url, "url": url},
        }
    return {
        "type": "use_stripe_sdk",
        "use_stripe_sdk": {"type": "three_d_secure_redirect", "payment_intent": pi["id"]},
    }


def _confirm(req: Request, pi: Obj, return_url: str | None) -> None:
    """Attempt the payment with the intent's payment method (raises 402 on a decline)."""
    pm_id = pi.get("payment_method")
    if not pm_id:
        raise ApiError.conflict(
            "You cannot confirm this PaymentIntent because it's missing a payment method. To "
            "confirm the PaymentIntent with "
            f"{pi['id']}, specify a payment method attached to this customer along with the "
            "customer ID.",
            code="payment_intent_unexpected_state",
        )
    apm = pi.get("automatic_payment_methods") or {}
    if apm.get("enabled") and apm.get("allow_redirects") != "never" and not return_url:
        raise ApiError.invalid(_RETURN_URL_MESSAGE, param="return_url")
    card = card_for(req.store, pm_id)
    assert card is not None
    brand, last4, decline = card
    if _needs_authentication(req, pm_id):
        # 3D Secure on every payment (https://docs.stripe.com/testing#authentication-and-setup):
        # no charge yet, the intent waits for the customer in requires_action.
        pi.update(
            status="requires_action",
            last_payment_error=None,
            next_action=_authentication_action(pi, return_url),
        )
        return
    charge = new_charge(req.store, pi, pm_id, brand, last4, decline, req.now)
    pi["latest_charge"] = charge["id"]
    if decline is None:
        pi.update(
            status="succeeded",
            amount_received=pi["amount"],
            last_payment_error=None,
            next_action=None,
        )
        return
    code, _decline_code, message = decline
    fields = card_error_fields(decline)
    error: dict[str, Any] = {
        "type": "card_error",
        "code": code,
        **fields,
        "message": message,
        "charge": charge["id"],
        "doc_url": f"https://stripe.com/docs/error-codes/{code.replace('_', '-')}",
        "payment_method": {"id": pm_id, "object": "payment_method", "type": "card"},
    }
    stored = req.store.get("payment_method", pm_id) if "payment_method" in TYPES else None
    if stored is not None:
        error["payment_method"] = render(req.store, "payment_method", stored)
    pi.update(
        status="requires_payment_method",
        payment_method=None,
        last_payment_error=error,
        next_action=None,
    )
    raise ApiError(
        402,
        "card_error",
        message,
        code=code,
        extra={
            **fields,
            "charge": charge["id"],
            "payment_intent": render(req.store, "payment_intent", pi),
        },
    )


@route(
    "POST",
    "/v1/payment_intents",
    stripe.params.PaymentIntentCreateParams,
    implemented={
        "amount",
        "currency",
        "customer",
        "description",
        "receipt_email",
        "metadata",
        "payment_method",
        "confirm",
        "automatic_payment_methods",
        "capture_method",
        "return_url",
    },
    returns="payment_intent",
)
def create_payment_intent(req: Request) -> Obj:
    p = req.params
    currency = _currency(p["currency"])
    amount = _amount(p["amount"], currency)
    customer = _customer(req, p["customer"]) if unset(p.get("customer")) else None
    capture = p.get("capture_method") or "automatic_async"
    if capture not in ("automatic", "automatic_async"):
        raise ApiError.invalid(
            f"capture_method={capture} is not supported by the billing-sync emulator "
            "(only automatic and automatic_async)",
            param="capture_method",
            code="parameter_unsupported",
        )
    pm_id = _payment_method(req, p["payment_method"]) if unset(p.get("payment_method")) else None
    email = _email(p["receipt_email"]) if unset(p.get("receipt_email")) else None
    confirm = bool(p.get("confirm"))
    return_url = unset(p.get("return_url"))
    if return_url and not confirm:
        raise ApiError.invalid(
            "You can only provide `return_url` when `confirm` is true.", param="return_url"
        )
    if confirm and not pm_id:
        raise ApiError.invalid(
            "You cannot confirm this PaymentIntent because it's missing a payment method. "
            "Provide a payment_method when confirm=true.",
            param="payment_method",
        )
    apm_in = p.get("automatic_payment_methods")
    apm = (
        {"enabled": True, "allow_redirects": "always"}
        if apm_in is None
        else {
            "enabled": bool(apm_in.get("enabled")),
            "allow_redirects": apm_in.get("allow_redirects") or "always",
        }
    )
    if not apm["enabled"]:
        raise ApiError.invalid(
            "automatic_payment_methods[enabled]=false is not supported by the billing-sync "
            "emulator (card payments through automatic payment methods only)",
            param="automatic_payment_methods[enabled]",
            code="parameter_unsupported",
        )
    if pm_id is not None:
        pm_id = _materialize(req, pm_id)
    pi_id = req.store.new_id("payment_intent")
    pi: Obj = {
        "id": pi_id,
        "object": "payment_intent",
        "allowed_payment_method_types": None,
        "amount": amount,
        "amount_capturable": 0,
        "amount_details": {"tip": {}},
        "amount_received": 0,
        "application": None,
        "application_fee_amount": None,
        "automatic_payment_methods": apm,
        "canceled_at": None,
        "cancellation_reason": None,
        "capture_method": capture,
        "client_secret": f"{pi_id}_secret_{random_token(25)}",
        "confirmation_method": "automatic",
        "created": req.now,
        "currency": currency,
        "customer": customer,
        "customer_account": None,
        "description": unset(p.get("description")),
        "excluded_payment_method_types": None,
        "hooks": None,
        "last_payment_error": None,
        "latest_charge": None,
        "livemode": False,
        "managed_payments": None,
        "metadata": apply_metadata({}, p.get("metadata")),
        "next_action": None,
        "on_behalf_of": None,
        "payment_details": None,
        "payment_method": pm_id,
        "payment_method_configuration_details": None,
        "payment_method_options": {
            "card": {
                "installments": None,
                "mandate_options": None,
                "network": None,
                "request_three_d_secure": "automatic",
            }
        },
        "payment_method_types": ["card"],
        "payment_record": None,
        "presentment_details": None,
        "processing": None,
        "receipt_email": email,
        "review": None,
        "setup_future_usage": None,
        "shipping": None,
        "source": None,
        "statement_descriptor": None,
        "statement_descriptor_suffix": None,
        "status": "requires_confirmation" if pm_id else "requires_payment_method",
        "transfer_data": None,
        "transfer_group": None,
    }
    req.store.insert("payment_intent", pi)
    if confirm:
        _confirm(req, pi, return_url)
    return req.render("payment_intent", pi)


@route(
    "GET",
    "/v1/payment_intents/{intent}",
    stripe.params.PaymentIntentRetrieveParams,
    implemented={"client_secret"},
    returns="payment_intent",
)
def retrieve_payment_intent(req: Request) -> Obj:
    pi = req.store.get_or_404("payment_intent", req.path_args["intent"], kind="payment_intent")
    secret = unset(req.params.get("client_secret"))
    if secret is not None and secret != pi["client_secret"]:
        raise ApiError.invalid(
            "The client_secret provided does not match the client_secret associated with the "
            "PaymentIntent.",
            param="client_secret",
        )
    return req.render("payment_intent", pi)


@route(
    "POST",
    "/v1/payment_intents/{intent}",
    stripe.params.PaymentIntentUpdateParams,
    implemented={
        "amount",
        "currency",
        "description",
        "receipt_email",
        "metadata",
        "payment_method",
    },
    returns="payment_intent",
)
def update_payment_intent(req: Request) -> Obj:
    pi = req.store.get_or_404("payment_intent", req.path_args["intent"], kind="payment_intent")
    p = req.params
    money_fields = [k for k in ("amount", "currency", "payment_method") if k in p]
    if money_fields and pi["status"] not in UPDATABLE:
        raise ApiError.conflict(
            f"You cannot update this PaymentIntent's {money_fields[0]} because it has a status "
            f"of {pi['status']}.",
            param=money_fields[0],
            code="payment_intent_unexpected_state",
        )
    currency = _currency(p["currency"]) if "currency" in p else pi["currency"]
    amount = p["amount"] if "amount" in p else pi["amount"]
    if "currency" in p or "amount" in p:
        _amount(amount, currency)
    pm_id = pi.get("payment_method")
    if "payment_method" in p:
        pm_id = _payment_method(req, p["payment_method"]) if unset(p["payment_method"]) else None
    email = pi.get("receipt_email")
    if "receipt_email" in p:
        email = _email(p["receipt_email"]) if unset(p["receipt_email"]) else None
    metadata = apply_metadata(pi.get("metadata"), p.get("metadata"))
    pi.update(amount=amount, currency=currency, receipt_email=email, metadata=metadata)
    if "description" in p:
        pi["description"] = unset(p["description"])
    if "payment_method" in p:
        pi["payment_method"] = _materialize(req, pm_id) if pm_id else None
        pi["status"] = "requires_confirmation" if pm_id else "requires_payment_method"
    return req.render("payment_intent", pi)


@route(
    "POST",
    "/v1/payment_intents/{intent}/confirm",
    stripe.params.PaymentIntentConfirmParams,
    implemented={"payment_method", "return_url", "receipt_email"},
    returns="payment_intent",
)
def confirm_payment_intent(req: Request) -> Obj:
    pi = req.store.get_or_404("payment_intent", req.path_args["intent"], kind="payment_intent")
    p = req.params
    if pi["status"] not in CONFIRMABLE:
        raise ApiError.conflict(
            f"You cannot confirm this PaymentIntent because it has a status of {pi['status']}. "
            "Only a PaymentIntent with one of the following statuses may be confirmed: "
            "requires_confirmation, requires_payment_method, requires_action.",
            code="payment_intent_unexpected_state",
        )
    pm_id = _payment_method(req, p["payment_method"]) if unset(p.get("payment_method")) else None
    email = _email(p["receipt_email"]) if unset(p.get("receipt_email")) else None
    if pm_id is not None:
        pi["payment_method"] = _materialize(req, pm_id)
    if email is not None:
        pi["receipt_email"] = email
    _confirm(req, pi, unset(p.get("return_url")))
    return req.render("payment_intent", pi)


@route(
    "POST",
    "/v1/payment_intents/{intent}/cancel",
    stripe.params.PaymentIntentCancelParams,
    implemented={"cancellation_reason"},
    returns="payment_intent",
)
def cancel_payment_intent(req: Request) -> Obj:
    pi = req.store.get_or_404("payment_intent", req.path_args["intent"], kind="payment_intent")
    if pi["status"] not in CANCELABLE:
        raise ApiError.conflict(
            f"You cannot cancel this PaymentIntent because it has a status of {pi['status']}. "
            "Only a PaymentIntent with one of the following statuses may be canceled: "
            + ", ".join(CANCELABLE)
            + ".",
            code="payment_intent_unexpected_state",
        )
    reason = unset(req.params.get("cancellation_reason"))
    if reason is not None and reason not in CANCELLATION_REASONS:
        raise ApiError.invalid(
            "Invalid cancellation_reason: must be one of " + ", ".join(CANCELLATION_REASONS),
            param="cancellation_reason",
        )
    pi.update(status="canceled", canceled_at=req.now, cancellation_reason=reason)
    return req.render("payment_intent", pi)


@route(
    "GET",
    "/v1/payment_intents",
    stripe.params.PaymentIntentListParams,
    implemented={"customer", "created"},
    returns="list:payment_intent",
)
def list_payment_intents(req: Request) -> Obj:
    cus = unset(req.params.get("customer"))
    when = created_filter(req.params.get("created"))
    where = (lambda o: when(o["created"])) if when else None
    index = ("customer", cus) if cus else None
    return req.list_response("payment_intent", url="/v1/payment_intents", where=where, index=index)
