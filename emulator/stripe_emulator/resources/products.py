"""Products: create (custom id), retrieve, update (default_price), list (active, ids), delete."""

from __future__ import annotations

import stripe.params as sp

from stripe_emulator.errors import ApiError
from stripe_emulator.framework import (
    Obj,
    Request,
    apply_metadata,
    route,
    unset,
)
from stripe_emulator.resources.common import created_filter
from stripe_emulator.resources.prices import build_price
from stripe_emulator.resources.product_model import build_product, check_common

COMMON = {
    "name",
    "active",
    "description",
    "metadata",
    "images",
    "marketing_features",
    "statement_descriptor",
    "unit_label",
    "url",
    "shippable",
    "tax_code",
}


@route(
    "POST",
    "/v1/products",
    sp.ProductCreateParams,
    implemented={
        *COMMON,
        "id",
        "default_price_data.currency",
        "default_price_data.unit_amount",
        "default_price_data.unit_amount_decimal",
        "default_price_data.recurring",
        "default_price_data.tax_behavior",
        "default_price_data.metadata",
    },
    returns="product",
)
def create_product(req: Request) -> Obj:
    p = req.params
    dpd = unset(p.get("default_price_data"))
    if dpd is not None and "currency" not in dpd:
        raise ApiError.invalid(
            "Missing required param: default_price_data[currency].",
            param="default_price_data[currency]",
            code="parameter_missing",
        )
    obj = build_product(req.store, p, req.now)
    if dpd is not None:
        price = build_price(
            req.store, {**dpd, "product": obj["id"]}, req.now, prefix="default_price_data"
        )
        obj["default_price"] = price["id"]
    return req.render("product", obj)


@route("GET", "/v1/products/{id}", sp.ProductRetrieveParams, implemented=set(), returns="product")
def retrieve_product(req: Request) -> Obj:
    obj = req.store.get_or_404("product", req.path_args["id"])
    return req.render("product", obj)


@route(
    "POST",
    "/v1/products/{id}",
    sp.ProductUpdateParams,
    implemented={*COMMON, "default_price"},
    returns="product",
)
def update_product(req: Request) -> Obj:
    obj = req.store.get_or_404("product", req.path_args["id"])
    p = req.params
    check_common(p)
    if "default_price" in p:
        dp = unset(p["default_price"])
        if dp is not None:
            price = req.store.get("price", dp)
            if price is None:
                raise ApiError.missing_param("price", dp, param="default_price")
            if price["product"] != obj["id"]:
                raise ApiError.conflict(
                    f"The price `{dp}` does not belong to this product, so it cannot be "
                    "set as its default price.",
                    param="default_price",
                )
            if not price["active"]:
                raise ApiError.conflict(
                    f"The price `{dp}` is archived and cannot be set as the default price.",
                    param="default_price",
                )
        obj["default_price"] = dp
    for key in (
        "description",
        "statement_descriptor",
        "unit_label",
        "url",
        "tax_code",
        "shippable",
    ):
        if key in p:
            obj[key] = unset(p[key])
    if "name" in p:
        obj["name"] = p["name"]
    if "active" in p:
        obj["active"] = bool(unset(p["active"]) if p["active"] != "" else True)
    if "images" in p:
        obj["images"] = unset(p["images"]) or []
    if "marketing_features" in p:
        obj["marketing_features"] = [
            {"name": f["name"]} for f in unset(p["marketing_features"]) or []
        ]
    if "metadata" in p:
        obj["metadata"] = apply_metadata(obj["metadata"], p["metadata"])
    obj["updated"] = req.now
    return req.render("product", obj)


@route(
    "GET",
    "/v1/products",
    sp.ProductListParams,
    implemented={"active", "ids", "shippable", "created"},
    returns="list:product",
)
def list_products(req: Request) -> Obj:
    p = req.params
    active = unset(p.get("active"))
    shippable = unset(p.get("shippable"))
    created = created_filter(p.get("created"))
    ids = unset(p.get("ids"))
    if ids is not None and (p.get("starting_after") or p.get("ending_before")):
        raise ApiError.invalid(
            "You cannot use `ids` together with `starting_after` or `ending_before`.",
            param="ids",
        )

    def where(o: Obj) -> bool:
        return (
            (active is None or o["active"] == active)
            and (shippable is None or o["shippable"] == shippable)
            and (ids is None or o["id"] in ids)
            and (created is None or created(o["created"]))
        )

    if ids is not None:
        wanted = set(ids)
        coll = req.store.coll("product")
        found = sorted((coll.pos[i] for i in wanted if i in coll.pos), reverse=True)
        objs = [coll.objs[coll.order[i] or ""] for i in found]
        objs = [o for o in objs if where(o)]
        limit = p.get("limit") or 10
        page = {
            "object": "list",
            "data": objs[:limit],
            "has_more": len(objs) > limit,
            "url": "/v1/products",
        }
        from stripe_emulator.framework import render

        return render(req.store, "list:product", page, req.expand)
    trivial = active is None and shippable is None and created is None
    return req.list_response("product", url="/v1/products", where=None if trivial else where)


@route("DELETE", "/v1/products/{id}", sp.ProductDeleteParams, implemented=set(), returns="raw")
def delete_product(req: Request) -> Obj:
    obj = req.store.get_or_404("product", req.path_args["id"])
    prices = req.store.coll("price").indexes["product"].get(obj["id"], [])
    if prices:
        raise ApiError.conflict(
            "This product cannot be deleted because it has one or more user-created prices.",
            param="id",
        )
    req.store.coll("product").remove(obj["id"])
    return {"id": obj["id"], "object": "product", "deleted": True}
