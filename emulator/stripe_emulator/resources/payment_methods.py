"""Payment methods: test tokens (`pm_card_visa`, ...), attach, detach, retrieve, list.

Attaching a test token creates a real `pm_...` object; `_token` keeps the token so the
payments resources (charges.card_for) know how the card behaves (declines).
"""

from __future__ import annotations

import hashlib
import typing
from typing import Any

import stripe
import stripe.params as sp

from stripe_emulator.errors import ApiError
from stripe_emulator.framework import (
    Obj,
    ObjectType,
    Request,
    Store,
    register_type,
    route,
    unset,
)
from stripe_emulator.resources.charges import TEST_CARDS, attach_refusal
from stripe_emulator.resources.common import empty_billing_details

register_type(
    ObjectType(
        name="payment_method",
        collection="payment_methods",
        id_prefix="pm",
        id_length=24,
        expandable={"customer": "customer"},
        stripe_class=stripe.PaymentMethod,
    )
)

# token -> (brand, last4, funding), from the payments resource's table of Stripe's test cards.
CARD_TOKENS: dict[str, tuple[str, str, str]] = {
    name: (brand, last4, "debit" if "_debit" in name else "credit")
    for name, (brand, last4, _decline) in TEST_CARDS.items()
}

# The hash of each payment method type (`card`, `sepa_debit`, ...): Stripe returns only the
# one of the object's own `type` and omits the others ("If this is a `card` PaymentMethod, this
# hash contains the user's card details", https://docs.stripe.com/api/payment_methods/object).
TYPE_HASHES = frozenset(
    a
    for opt in typing.get_args(stripe.PaymentMethod.__annotations__["type"])
    for a in typing.get_args(opt)
    if a in stripe.PaymentMethod.__annotations__
)


def from_token(store: Store, token: str, now: int) -> Obj:
    """A new stored payment method for a test token (unattached)."""
    brand, last4, funding = CARD_TOKENS[token]
    pid = store.new_id("payment_method")
    obj: Obj = {
        "id": pid,
        "object": "payment_method",
        "allow_redisplay": "unspecified",
        "billing_details": empty_billing_details(),
        "card": {
            "brand": brand,
            "checks": {
                "address_line1_check": None,
                "address_postal_code_check": None,
                "cvc_check": "unchecked",
            },
            "country": "US",
            "display_brand": brand,
            "exp_month": 12,
            "exp_year": 2034,
            "fingerprint": hashlib.sha256(token.encode()).hexdigest()[:16],
            "funding": funding,
            "generated_from": None,
            "last4": last4,
            "networks": {"available": [brand], "preferred": None},
            "regulated_status": "unregulated",
            "three_d_secure_usage": {"supported": True},
            "wallet": None,
        },
        "created": now,
        "customer": None,
        "customer_account": None,
        "livemode": False,
        "metadata": {},
        "radar_options": None,
        "type": "card",
        "_token": token,
    }
    return store.insert("payment_method", obj)


def resolve(store: Store, pm_id: Any, now: int, *, param: str) -> Obj:
    """A stored payment method, or a new one for a test token; 404 otherwise."""
    if isinstance(pm_id, str) and pm_id in CARD_TOKENS:
        return from_token(store, pm_id, now)
    pm = store.get("payment_method", pm_id) if isinstance(pm_id, str) else None
    if pm is None:
        raise ApiError.missing("PaymentMethod", str(pm_id), param=param)
    return pm


def check_attachable(store: Store, pm_id: Any, *, param: str, in_path: bool) -> None:
    """Raise what Stripe answers when `pm_id` cannot be attached: 404 for an unknown id, 402
    `card_error` for a declining test card ("The cards in the previous table can't be attached
    to a Customer object", https://docs.stripe.com/testing#declined-payments). Runs before
    anything is stored, so a refused request creates nothing."""
    if isinstance(pm_id, str) and pm_id in CARD_TOKENS:
        token: Any = pm_id
    else:
        pm = store.get("payment_method", pm_id) if isinstance(pm_id, str) else None
        if pm is None:
            if in_path:
                raise ApiError.missing("PaymentMethod", str(pm_id), param=param)
            raise ApiError.missing_param("PaymentMethod", str(pm_id), param=param)
        token = pm.get("_token")
    refusal = attach_refusal(token) if isinstance(token, str) else None
    if refusal is not None:
        raise refusal


def attach(
    store: Store, pm_id: Any, customer_id: str, now: int, *, param: str, in_path: bool
) -> Obj:
    """Attach (a test token creates a new payment method) to a customer."""
    customer = store.get_named("customer", customer_id, param="customer")
    check_attachable(store, pm_id, param=param, in_path=in_path)
    pm = resolve(store, pm_id, now, param=param)
    owner = pm.get("customer")
    if owner is not None and owner != customer["id"]:
        raise ApiError.conflict(
            "The payment method you provided has already been attached to a customer.",
            param=param,
        )
    if pm.get("_detached"):
        raise ApiError.conflict(
            "This PaymentMethod was previously used without being attached to a Customer or "
            "was detached from a Customer, and may not be used again.",
            param=param,
        )
    pm["customer"] = customer["id"]
    return pm


@route(
    "POST",
    "/v1/payment_methods/{id}/attach",
    sp.PaymentMethodAttachParams,
    implemented={"customer"},
    returns="payment_method",
)
def attach_payment_method(req: Request) -> Obj:
    customer = unset(req.params.get("customer"))
    if customer is None:
        raise ApiError.invalid(
            "Missing required param: customer.", param="customer", code="parameter_missing"
        )
    pm = attach(
        req.store, req.path_args["id"], customer, req.now, param="payment_method", in_path=True
    )
    return req.render("payment_method", pm)


@route(
    "POST",
    "/v1/payment_methods/{id}/detach",
    sp.PaymentMethodDetachParams,
    implemented=set(),
    returns="payment_method",
)
def detach_payment_method(req: Request) -> Obj:
    pm = req.store.get_or_404("payment_method", req.path_args["id"], kind="PaymentMethod")
    owner = pm.get("customer")
    if owner is None:
        raise ApiError.conflict(
            "The payment method you provided is not attached to a customer so detachment is "
            "impossible.",
            param="payment_method",
        )
    customer = req.store.get("customer", owner)
    if customer is not None and not customer.get("deleted"):
        settings = customer["invoice_settings"]
        if settings.get("default_payment_method") == pm["id"]:
            settings["default_payment_method"] = None
    pm["customer"] = None
    pm["_detached"] = True
    return req.render("payment_method", pm)


@route(
    "GET",
    "/v1/payment_methods/{id}",
    sp.PaymentMethodRetrieveParams,
    implemented=set(),
    returns="payment_method",
)
def retrieve_payment_method(req: Request) -> Obj:
    pm = resolve(req.store, req.path_args["id"], req.now, param="payment_method")
    return req.render("payment_method", pm)


def _list(req: Request, customer: Any, ptype: Any, url: str, *, in_path: bool = False) -> Obj:
    if customer is not None and in_path:
        req.store.get_or_404("customer", customer, param="customer")
    elif customer is not None:
        req.store.get_named("customer", customer, param="customer")

    def where(o: Obj) -> bool:
        return (customer is None or o.get("customer") == customer) and (
            ptype is None or o["type"] == ptype
        )

    return req.list_response("payment_method", url=url, where=where)


@route(
    "GET",
    "/v1/payment_methods",
    sp.PaymentMethodListParams,
    implemented={"customer", "type"},
    returns="list:payment_method",
)
def list_payment_methods(req: Request) -> Obj:
    p = req.params
    return _list(req, unset(p.get("customer")), unset(p.get("type")), "/v1/payment_methods")


@route(
    "GET",
    "/v1/customers/{customer}/payment_methods",
    sp.CustomerPaymentMethodListParams,
    implemented={"type"},
    returns="list:payment_method",
)
def list_customer_payment_methods(req: Request) -> Obj:
    cid = req.path_args["customer"]
    url = f"/v1/customers/{cid}/payment_methods"
    return _list(req, cid, unset(req.params.get("type")), url, in_path=True)
