"""Promotion codes: create, retrieve, update (active, metadata), list. Never deleted, as in Stripe.

Rules from Stripe's API reference (docs.stripe.com/api/promotion_codes) and the pinned
`stripe.params` types: a code points at a coupon (`promotion[type]=coupon`,
`promotion[coupon]`), its `code` is letters and digits, at most 500 characters, generated when
absent, and "must be unique across all active promotion codes" whatever its case;
`expires_at` cannot be after the coupon's `redeem_by`; a minimum amount needs its currency; the
update changes only `active`, `metadata` and `restrictions.currency_options`.
"""

from __future__ import annotations

import re
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
    random_token,
    register_type,
    route,
    unset,
)
from stripe_emulator.resources.common import check_currency, created_filter, positive

register_type(
    ObjectType(
        name="promotion_code",
        collection="promotion_codes",
        id_prefix="promo",
        expandable={"promotion.coupon": "coupon", "customer": "customer"},
        index_on=("_coupon",),
        stripe_class=stripe.PromotionCode,
    )
)

CODE_RE = re.compile(r"^[A-Za-z0-9]{1,500}$")
ACTIVE_CODES = "promotion_codes_active"  # store table: CODE (upper case) -> promotion code id


def _claim_code(store: Store, code: str, promo_id: str) -> None:
    table = store.table(ACTIVE_CODES)
    holder = table.get(code.upper())
    if holder is not None and holder != promo_id:
        held = store.get("promotion_code", holder)
        if held is not None and held["active"]:
            raise ApiError.conflict(
                f"An active promotion code with `code: {code}` already exists.",
                param="code",
            )
    table[code.upper()] = promo_id


def _release_code(store: Store, promo: Obj) -> None:
    table = store.table(ACTIVE_CODES)
    if table.get(promo["code"].upper()) == promo["id"]:
        del table[promo["code"].upper()]


@route(
    "POST",
    "/v1/promotion_codes",
    sp.PromotionCodeCreateParams,
    implemented={
        "promotion.type",
        "promotion.coupon",
        "code",
        "active",
        "max_redemptions",
        "expires_at",
        "restrictions.first_time_transaction",
        "restrictions.minimum_amount",
        "restrictions.minimum_amount_currency",
        "metadata",
    },
    returns="promotion_code",
)
def create_promotion_code(req: Request) -> Obj:
    p = req.params
    store = req.store
    promotion = unset(p.get("promotion")) or {}
    if unset(promotion.get("type")) != "coupon":
        raise ApiError.invalid(
            "Missing required param: promotion[type].",
            param="promotion[type]",
            code="parameter_missing",
        )
    coupon_id = unset(promotion.get("coupon"))
    if coupon_id is None:
        raise ApiError.invalid(
            "Missing required param: promotion[coupon].",
            param="promotion[coupon]",
            code="parameter_missing",
        )
    coupon = store.get_named("coupon", coupon_id, param="promotion[coupon]")
    from stripe_emulator.resources.coupons import coupon_valid

    if not coupon_valid(store, coupon, req.now):
        raise ApiError.invalid(
            f"Coupon {coupon_id} is no longer valid and cannot back a new promotion code.",
            param="promotion[coupon]",
            validation=False,
        )
    code = unset(p.get("code"))
    if code is None:
        code = random_token(8).upper()
    elif not CODE_RE.match(code):
        raise ApiError.invalid(
            "Invalid code: only letters (a-z, A-Z) and digits (0-9), at most 500 characters.",
            param="code",
        )
    expires_at = unset(p.get("expires_at"))
    if expires_at is not None:
        if expires_at <= req.now:
            raise ApiError.invalid("expires_at must be in the future.", param="expires_at")
        if coupon["redeem_by"] is not None and expires_at > coupon["redeem_by"]:
            raise ApiError.invalid(
                "expires_at cannot be after the coupon's redeem_by.", param="expires_at"
            )
    max_redemptions = unset(p.get("max_redemptions"))
    if max_redemptions is not None:
        positive(max_redemptions, "max_redemptions")
    r = unset(p.get("restrictions")) or {}
    minimum = unset(r.get("minimum_amount"))
    minimum_currency = unset(r.get("minimum_amount_currency"))
    if (minimum is None) != (minimum_currency is None):
        raise ApiError.invalid(
            "restrictions[minimum_amount] and restrictions[minimum_amount_currency] must be "
            "passed together.",
            param="restrictions[minimum_amount_currency]",
        )
    if minimum is not None:
        positive(minimum, "restrictions[minimum_amount]")
        minimum_currency = check_currency(minimum_currency, "restrictions[minimum_amount_currency]")
    active = unset(p.get("active"))
    active = True if active is None else bool(active)
    promo_id = store.new_id("promotion_code")
    if active:
        _claim_code(store, code, promo_id)
    obj: Obj = {
        "id": promo_id,
        "object": "promotion_code",
        "active": active,
        "code": code,
        "created": req.now,
        "customer": None,
        "customer_account": None,
        "expires_at": expires_at,
        "livemode": False,
        "max_redemptions": max_redemptions,
        "metadata": apply_metadata({}, p.get("metadata")),
        "promotion": {"coupon": coupon_id, "type": "coupon"},
        "restrictions": {
            # An empty hash, not null: stripe-python's PromotionCode cannot read a null here.
            "currency_options": {},
            "first_time_transaction": bool(unset(r.get("first_time_transaction"))),
            "minimum_amount": minimum,
            "minimum_amount_currency": minimum_currency,
        },
        "times_redeemed": 0,
        "_coupon": coupon_id,
    }
    store.insert("promotion_code", obj)
    return req.render("promotion_code", obj)


@route(
    "GET",
    "/v1/promotion_codes/{id}",
    sp.PromotionCodeRetrieveParams,
    implemented=set(),
    returns="promotion_code",
)
def retrieve_promotion_code(req: Request) -> Obj:
    obj = req.store.get_or_404("promotion_code", req.path_args["id"])
    return req.render("promotion_code", obj)


@route(
    "POST",
    "/v1/promotion_codes/{id}",
    sp.PromotionCodeUpdateParams,
    implemented={"active", "metadata"},
    returns="promotion_code",
)
def update_promotion_code(req: Request) -> Obj:
    store = req.store
    obj = store.get_or_404("promotion_code", req.path_args["id"])
    p = req.params
    if "active" in p and unset(p["active"]) is not None:
        active = bool(p["active"])
        if active and not obj["active"]:
            coupon = store.get("coupon", obj["promotion"]["coupon"])
            if coupon is None or coupon.get("deleted"):
                raise ApiError.invalid(
                    "This promotion code's coupon was deleted: it cannot be reactivated.",
                    param="active",
                    validation=False,
                )
            _claim_code(store, obj["code"], obj["id"])
        elif not active and obj["active"]:
            _release_code(store, obj)
        obj["active"] = active
    if "metadata" in p:
        obj["metadata"] = apply_metadata(obj["metadata"], p["metadata"])
    return req.render("promotion_code", obj)


@route(
    "GET",
    "/v1/promotion_codes",
    sp.PromotionCodeListParams,
    implemented={"active", "code", "coupon", "created"},
    returns="list:promotion_code",
)
def list_promotion_codes(req: Request) -> Obj:
    p = req.params
    active = unset(p.get("active"))
    code = unset(p.get("code"))
    coupon = unset(p.get("coupon"))
    created = created_filter(p.get("created"))

    def where(o: Obj) -> bool:
        return (
            (active is None or o["active"] == active)
            and (code is None or o["code"].upper() == str(code).upper())
            and (created is None or created(o["created"]))
        )

    trivial = active is None and code is None and created is None
    return req.list_response(
        "promotion_code",
        url="/v1/promotion_codes",
        where=None if trivial else where,
        index=("_coupon", coupon) if coupon is not None else None,
    )


def promotion_code_for_discount(store: Store, promo_id: Any, param: str, now: int) -> Obj:
    """A promotion code a subscription redeems: it must exist and be active and unexpired."""
    promo = store.get_named("promotion_code", promo_id, param=param)
    expired = promo["expires_at"] is not None and promo["expires_at"] < now
    used_up = (
        promo["max_redemptions"] is not None and promo["times_redeemed"] >= promo["max_redemptions"]
    )
    if not promo["active"] or expired or used_up:
        raise ApiError.invalid(
            f"This promotion code cannot be redeemed: {promo['code']} is not active.",
            param=param,
            validation=False,
        )
    return promo
