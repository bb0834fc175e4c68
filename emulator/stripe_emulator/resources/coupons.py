"""Coupons: create (custom id), retrieve, update (name, metadata, currency_options), list, delete.

Rules from Stripe's API reference (docs.stripe.com/api/coupons): a coupon has either
`percent_off` (0 < p <= 100) or `amount_off` with `currency`; `duration` defaults to `once`,
`repeating` needs `duration_in_months`; `currency_options` only with `amount_off`;
`applies_to` and `currency_options` are returned only when expanded; update changes only
`name`, `metadata` and `currency_options` ("Other coupon details ... are, by design, not
editable"); delete answers a stub and a deleted coupon is gone from lists and retrieval, while
discounts already made from it keep working ("deleting a coupon does not affect any customers
who have already applied the coupon").
"""

from __future__ import annotations

import time
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
        name="coupon",
        collection="coupons",
        id_prefix="",
        id_length=8,
        includable=("applies_to", "currency_options"),
        stripe_class=stripe.Coupon,
        compute=lambda store, obj: {"valid": coupon_valid(store, obj, int(time.time()))},
    )
)

# "cannot be set to more than 5 years in the future" (stripe.params.CouponCreateParams.redeem_by)
REDEEM_BY_MAX_SECONDS = 5 * 366 * 86_400
NAME_MAX = 40  # "Max length: 40." (the API reference, coupon `name`)


def coupon_valid(store: Store, coupon: Obj, now: int) -> bool:
    """Whether the coupon can still be redeemed: not deleted, not past redeem_by, not used up."""
    if coupon.get("deleted"):
        return False
    if coupon["redeem_by"] is not None and coupon["redeem_by"] < now:
        return False
    limit = coupon["max_redemptions"]
    return limit is None or coupon["times_redeemed"] < limit


def _options(raw: Any, param: str) -> dict[str, Obj]:
    out: dict[str, Obj] = {}
    for cur, opt in (unset(raw) or {}).items():
        name = f"{param}[{cur}]"
        check_currency(cur, name)
        if not isinstance(opt, dict) or unset(opt.get("amount_off")) is None:
            raise ApiError.invalid(
                f"Missing required param: {name}[amount_off].",
                param=f"{name}[amount_off]",
                code="parameter_missing",
            )
        out[cur.lower()] = {"amount_off": positive(opt["amount_off"], f"{name}[amount_off]")}
    return out


def _check_name(p: dict[str, Any]) -> None:
    name = unset(p.get("name"))
    if name is not None and len(name) > NAME_MAX:
        raise ApiError.invalid(
            f"Invalid string: {name[:10]}...; must be at most {NAME_MAX} characters",
            param="name",
        )


@route(
    "POST",
    "/v1/coupons",
    sp.CouponCreateParams,
    implemented={
        "id",
        "name",
        "percent_off",
        "amount_off",
        "currency",
        "currency_options",
        "duration",
        "duration_in_months",
        "max_redemptions",
        "redeem_by",
        "applies_to.products",
        "metadata",
    },
    returns="coupon",
)
def create_coupon(req: Request) -> Obj:
    p = req.params
    store = req.store
    percent = unset(p.get("percent_off"))
    amount = unset(p.get("amount_off"))
    if (percent is None) == (amount is None):
        raise ApiError.invalid(
            "You must pass either `percent_off` or `amount_off`, but not both.",
            param="percent_off" if percent is not None else "amount_off",
        )
    if percent is not None and not 0 < float(percent) <= 100:
        raise ApiError.invalid(
            "Invalid percent_off: must be greater than 0 and at most 100.", param="percent_off"
        )
    currency = unset(p.get("currency"))
    if amount is not None:
        positive(amount, "amount_off")
        if currency is None:
            raise ApiError.invalid(
                "You must pass `currency` when passing `amount_off`.",
                param="currency",
                code="parameter_missing",
            )
        currency = check_currency(currency, "currency")
    options = _options(p.get("currency_options"), "currency_options")
    if options and amount is None:
        raise ApiError.invalid(
            "currency_options can only be used with amount_off coupons.",
            param="currency_options",
        )
    duration = unset(p.get("duration")) or "once"
    months = unset(p.get("duration_in_months"))
    if duration == "repeating":
        if months is None:
            raise ApiError.invalid(
                "Missing required param: duration_in_months.",
                param="duration_in_months",
                code="parameter_missing",
            )
        positive(months, "duration_in_months")
    elif months is not None:
        raise ApiError.invalid(
            "duration_in_months is only allowed when duration is `repeating`.",
            param="duration_in_months",
        )
    max_redemptions = unset(p.get("max_redemptions"))
    if max_redemptions is not None:
        positive(max_redemptions, "max_redemptions")
    redeem_by = unset(p.get("redeem_by"))
    if redeem_by is not None and not req.now < redeem_by <= req.now + REDEEM_BY_MAX_SECONDS:
        raise ApiError.invalid(
            "Invalid redeem_by: must be in the future and at most 5 years away.",
            param="redeem_by",
        )
    _check_name(p)
    products = []
    applies = unset(p.get("applies_to")) or {}
    for i, pid in enumerate(unset(applies.get("products")) or []):
        store.get_named("product", pid, param=f"applies_to[products][{i}]")
        products.append(pid)
    cid = unset(p.get("id"))
    if cid is None:
        cid = random_token(8)
    existing = store.get("coupon", cid)
    if existing is not None and not existing.get("deleted"):
        raise ApiError.conflict(
            "Coupon already exists.", param="id", code="resource_already_exists"
        )
    if existing is not None:  # a deleted coupon's id may be used again (its stub goes)
        store.coll("coupon").objs.pop(cid, None)
    obj: Obj = {
        "id": cid,
        "object": "coupon",
        "amount_off": amount,
        "applies_to": {"products": products} if products else None,
        "created": req.now,
        "currency": currency,
        "currency_options": ({currency: {"amount_off": amount}} | options) if amount else None,
        "duration": duration,
        "duration_in_months": months,
        "livemode": False,
        "max_redemptions": max_redemptions,
        "metadata": apply_metadata({}, p.get("metadata")),
        "name": unset(p.get("name")),
        "percent_off": float(percent) if percent is not None else None,
        "redeem_by": redeem_by,
        "times_redeemed": 0,
        "valid": True,
    }
    store.insert("coupon", obj)
    return req.render("coupon", obj)


@route("GET", "/v1/coupons/{id}", sp.CouponRetrieveParams, implemented=set(), returns="coupon")
def retrieve_coupon(req: Request) -> Obj:
    obj = req.store.get_or_404("coupon", req.path_args["id"])
    return req.render("coupon", obj)


@route(
    "POST",
    "/v1/coupons/{id}",
    sp.CouponUpdateParams,
    implemented={"name", "metadata", "currency_options"},
    returns="coupon",
)
def update_coupon(req: Request) -> Obj:
    obj = req.store.get_or_404("coupon", req.path_args["id"])
    p = req.params
    _check_name(p)
    options = _options(p.get("currency_options"), "currency_options")
    if options and obj["amount_off"] is None:
        raise ApiError.invalid(
            "currency_options can only be used with amount_off coupons.",
            param="currency_options",
        )
    if options.get(obj["currency"] or ""):
        raise ApiError.invalid(
            f"Cannot update the coupon's own currency ({obj['currency']}) in currency_options.",
            param=f"currency_options[{obj['currency']}]",
        )
    if "name" in p:
        obj["name"] = unset(p["name"])
    if "metadata" in p:
        obj["metadata"] = apply_metadata(obj["metadata"], p["metadata"])
    if options:
        obj["currency_options"] = {**(obj["currency_options"] or {}), **options}
    return req.render("coupon", obj)


@route(
    "GET",
    "/v1/coupons",
    sp.CouponListParams,
    implemented={"created"},
    returns="list:coupon",
)
def list_coupons(req: Request) -> Obj:
    created = created_filter(req.params.get("created"))
    return req.list_response(
        "coupon",
        url="/v1/coupons",
        where=None if created is None else (lambda o: created(o["created"])),
    )


@route("DELETE", "/v1/coupons/{id}", sp.CouponDeleteParams, implemented=set(), returns="raw")
def delete_coupon(req: Request) -> Obj:
    obj = req.store.get_or_404("coupon", req.path_args["id"])
    # Out of lists and retrieval; kept (marked deleted) so discounts made from it still render.
    req.store.coll("coupon").remove(obj["id"], keep={**obj, "deleted": True, "valid": False})
    return {"id": obj["id"], "object": "coupon", "deleted": True}
