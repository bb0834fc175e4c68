"""Customers: create, retrieve, update, list (email), delete (cancels their subscriptions)."""

from __future__ import annotations

from typing import Any

import stripe
import stripe.params as sp

from stripe_emulator.errors import ApiError
from stripe_emulator.framework import (
    Obj,
    ObjectType,
    Request,
    Store,
    apply_metadata,
    list_page,
    random_token,
    register_type,
    route,
    unset,
)
from stripe_emulator.resources.common import created_filter


def _compute(store: Store, obj: Obj) -> Obj:
    """Includable lists (`expand[]=subscriptions` etc.), computed at render time."""
    if obj.get("deleted"):
        return {}
    subs = list_page(
        store,
        "subscription",
        url=f"/v1/customers/{obj['id']}/subscriptions",
        limit=10,
        index=("customer", obj["id"]),
        where=lambda s: s["status"] not in ("canceled", "incomplete_expired"),
    )
    empty = {"object": "list", "data": [], "has_more": False}
    return {
        "subscriptions": subs,
        "sources": {**empty, "url": f"/v1/customers/{obj['id']}/sources"},
        "tax_ids": {**empty, "url": f"/v1/customers/{obj['id']}/tax_ids"},
        "tax": {
            "automatic_tax": "unrecognized_location",
            "ip_address": None,
            "location": None,
            "provider": "stripe",
        },
        "cash_balance": None,
        "invoice_credit_balance": {},
    }


register_type(
    ObjectType(
        name="customer",
        collection="customers",
        id_prefix="cus",
        id_length=14,
        expandable={"invoice_settings.default_payment_method": "payment_method"},
        includable=(
            "subscriptions",
            "sources",
            "tax_ids",
            "tax",
            "cash_balance",
            "invoice_credit_balance",
        ),
        nested={"subscriptions": "list:subscription"},
        stripe_class=stripe.Customer,
        compute=_compute,
    )
)

FIELDS = ("email", "name", "description", "phone")


def _default_pm(store: Store, cus_id: str, pm_id: Any, param: str) -> str | None:
    pm_id = unset(pm_id)
    if pm_id is None:
        return None
    pm = store.get("payment_method", pm_id)
    if pm is None:
        raise ApiError.missing_param("PaymentMethod", pm_id, param=param)
    if pm.get("customer") != cus_id:
        raise ApiError.conflict(
            f"The customer does not have a payment method with the ID {pm_id}. The payment "
            "method must be attached to the customer.",
            param=param,
            code="resource_missing",
        )
    return str(pm_id)


def build_customer(store: Store, p: dict[str, Any], now: int) -> Obj:
    """Create and insert a customer from validated create params (also used by seeding)."""
    pm = unset(p.get("payment_method"))
    if pm is not None:
        # A declining test card refuses the whole request before the customer exists.
        from stripe_emulator.resources.payment_methods import check_attachable

        check_attachable(store, pm, param="payment_method", in_path=False)
    cid = store.new_id("customer")
    obj: Obj = {
        "id": cid,
        "object": "customer",
        "address": None,
        "balance": 0,
        "business_name": None,
        "created": now,
        "currency": None,
        "customer_account": None,
        "default_source": None,
        "delinquent": False,
        "description": unset(p.get("description")),
        "discount": None,
        "email": unset(p.get("email")),
        "individual_name": None,
        "invoice_prefix": random_token(8).upper(),
        "invoice_settings": {
            "custom_fields": None,
            "default_payment_method": None,
            "footer": None,
            "rendering_options": None,
        },
        "livemode": False,
        "metadata": apply_metadata({}, p.get("metadata")),
        "name": unset(p.get("name")),
        "next_invoice_sequence": 1,
        "phone": unset(p.get("phone")),
        "preferred_locales": unset(p.get("preferred_locales")) or [],
        "shipping": None,
        "tax_exempt": "none",
        "test_clock": None,
    }
    store.insert("customer", obj)
    if pm is not None:
        from stripe_emulator.resources.payment_methods import attach

        attach(store, pm, cid, now, param="payment_method", in_path=False)
    settings = unset(p.get("invoice_settings")) or {}
    if "default_payment_method" in settings:
        obj["invoice_settings"]["default_payment_method"] = _default_pm(
            store,
            cid,
            settings["default_payment_method"],
            "invoice_settings[default_payment_method]",
        )
    return obj


IMPLEMENTED = {*FIELDS, "metadata", "invoice_settings.default_payment_method", "preferred_locales"}


@route(
    "POST",
    "/v1/customers",
    sp.CustomerCreateParams,
    implemented={*IMPLEMENTED, "payment_method"},
    returns="customer",
)
def create_customer(req: Request) -> Obj:
    p = req.params
    email = unset(p.get("email"))
    if email is not None and len(email) > 512:
        raise ApiError.invalid("Invalid email address: too long", param="email")
    return req.render("customer", build_customer(req.store, p, req.now))


@route(
    "GET", "/v1/customers/{id}", sp.CustomerRetrieveParams, implemented=set(), returns="customer"
)
def retrieve_customer(req: Request) -> Obj:
    obj = req.store.get("customer", req.path_args["id"])
    if obj is None:
        raise ApiError.missing("customer", req.path_args["id"])
    if obj.get("deleted"):
        return dict(obj)
    return req.render("customer", obj)


@route(
    "POST",
    "/v1/customers/{id}",
    sp.CustomerUpdateParams,
    implemented=IMPLEMENTED,
    returns="customer",
)
def update_customer(req: Request) -> Obj:
    obj = req.store.get_or_404("customer", req.path_args["id"])
    p = req.params
    settings = unset(p.get("invoice_settings"))
    default_pm = obj["invoice_settings"]["default_payment_method"]
    if settings is not None and "default_payment_method" in settings:
        default_pm = _default_pm(
            req.store,
            obj["id"],
            settings["default_payment_method"],
            "invoice_settings[default_payment_method]",
        )
    metadata = apply_metadata(obj["metadata"], p["metadata"]) if "metadata" in p else None
    for key in FIELDS:
        if key in p:
            obj[key] = unset(p[key])
    if "preferred_locales" in p:
        obj["preferred_locales"] = unset(p["preferred_locales"]) or []
    if metadata is not None:
        obj["metadata"] = metadata
    obj["invoice_settings"]["default_payment_method"] = default_pm
    return req.render("customer", obj)


@route(
    "GET",
    "/v1/customers",
    sp.CustomerListParams,
    implemented={"email", "created"},
    returns="list:customer",
)
def list_customers(req: Request) -> Obj:
    email = unset(req.params.get("email"))
    created = created_filter(req.params.get("created"))
    if email is None and created is None:
        return req.list_response("customer", url="/v1/customers")

    def where(o: Obj) -> bool:
        return (email is None or o["email"] == email) and (created is None or created(o["created"]))

    return req.list_response("customer", url="/v1/customers", where=where)


@route("DELETE", "/v1/customers/{id}", sp.CustomerDeleteParams, implemented=set(), returns="raw")
def delete_customer(req: Request) -> Obj:
    store = req.store
    obj = store.get_or_404("customer", req.path_args["id"])
    if "subscription" in _types():
        from stripe_emulator.resources.subscriptions import cancel_now

        subs = store.coll("subscription")
        for pos in list(subs.positions(("customer", obj["id"]))):
            sid = subs.order[pos]
            if sid is not None and subs.objs[sid]["status"] != "canceled":
                cancel_now(store, subs.objs[sid], req.now)
    for pm in list(store.coll("payment_method").objs.values()):
        if pm.get("customer") == obj["id"]:
            pm["customer"] = None
    stub = {"id": obj["id"], "object": "customer", "deleted": True}
    store.coll("customer").remove(obj["id"], keep=stub)
    return dict(stub)


def _types() -> set[str]:
    from stripe_emulator.framework import TYPES

    return set(TYPES)
