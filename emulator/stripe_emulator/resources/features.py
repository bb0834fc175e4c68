"""Entitlement features (`/v1/entitlements/features`) and their attachments to products
(`/v1/products/{product}/features`), with Stripe's rules for each (sources in BEHAVIOUR.md)."""

from __future__ import annotations

import stripe
import stripe.params as sp
import stripe.params.entitlements as spe

from stripe_emulator.errors import ApiError
from stripe_emulator.framework import (
    Obj,
    ObjectType,
    Request,
    Store,
    apply_metadata,
    register_type,
    render,
    route,
    unset,
)


def _compute_product_feature(store: Store, obj: Obj) -> Obj:
    # Stripe embeds the whole feature in the attachment (stripe.ProductFeature annotates
    # `entitlement_feature: Feature`, not an expandable id).
    feature = store.get("entitlements.feature", obj["_feature"])
    return {"entitlement_feature": render(store, "entitlements.feature", feature or {})}


register_type(
    ObjectType(
        name="entitlements.feature",
        collection="entitlements_features",
        # "feat_test_61QGU1MWyFMSP9YBZ41ClCIKljWvsTgu" in the API reference's example object.
        id_prefix="feat_test",
        id_length=32,
        stripe_class=stripe.entitlements.Feature,
    )
)
register_type(
    ObjectType(
        name="product_feature",
        collection="product_features",
        # Stripe does not document the prefix (unconfirmed).
        id_prefix="prodft",
        index_on=("_product",),
        compute=_compute_product_feature,
        stripe_class=stripe.ProductFeature,
    )
)

# lookup_key -> id of the active feature holding it. "Because the Lookup Key is unique to each
# feature, you can't reuse it across different features unless you archive the feature
# associated with the Lookup Key" (https://docs.stripe.com/billing/entitlements).
LOOKUP_KEYS = "feature_lookup_keys"
MAX_TEXT = 80  # name and lookup_key: "up to 80 characters" (the Feature object reference)


def _text(p: Obj, name: str) -> str | None:
    if name not in p:
        return None
    value = p[name]
    if value == "":
        raise ApiError.invalid(
            f"You passed an empty string for '{name}'. We assume empty values are an attempt to "
            f"unset a parameter; however '{name}' cannot be unset. You should remove '{name}' "
            "from your request or supply a non-empty value.",
            param=name,
            code="parameter_invalid_empty",
        )
    if len(value) > MAX_TEXT:
        raise ApiError.invalid(f"Invalid {name}: must be at most {MAX_TEXT} characters", param=name)
    return str(value)


@route(
    "POST",
    "/v1/entitlements/features",
    spe.FeatureCreateParams,
    implemented={"lookup_key", "name", "metadata"},
    returns="entitlements.feature",
)
def create_feature(req: Request) -> Obj:
    p = req.params
    name = _text(p, "name")
    lookup_key = _text(p, "lookup_key")
    assert name is not None and lookup_key is not None  # required by the params type
    metadata = apply_metadata({}, p.get("metadata"))
    holders = req.store.table(LOOKUP_KEYS)
    if lookup_key in holders:
        # The message is the emulator's own (Stripe's wording is not public).
        raise ApiError.conflict(
            f"A feature (`{holders[lookup_key]}`) already uses that lookup key; archive it "
            "first to reuse the key.",
            param="lookup_key",
            code="resource_already_exists",
        )
    obj: Obj = {
        "id": req.store.new_id("entitlements.feature"),
        "object": "entitlements.feature",
        "active": True,
        "livemode": False,
        "lookup_key": lookup_key,
        "metadata": metadata,
        "name": name,
    }
    req.store.insert("entitlements.feature", obj)
    holders[lookup_key] = obj["id"]
    return req.render("entitlements.feature", obj)


@route(
    "GET",
    "/v1/entitlements/features/{id}",
    spe.FeatureRetrieveParams,
    implemented=set(),
    returns="entitlements.feature",
)
def retrieve_feature(req: Request) -> Obj:
    obj = req.store.get_or_404("entitlements.feature", req.path_args["id"], kind="feature")
    return req.render("entitlements.feature", obj)


@route(
    "POST",
    "/v1/entitlements/features/{id}",
    spe.FeatureUpdateParams,
    implemented={"name", "metadata", "active"},
    returns="entitlements.feature",
)
def update_feature(req: Request) -> Obj:
    obj = req.store.get_or_404("entitlements.feature", req.path_args["id"], kind="feature")
    p = req.params
    name = _text(p, "name")
    active = unset(p.get("active"))
    if active is True and not obj["active"]:
        # "Update a feature's metadata or permanently deactivate it" (the update endpoint's
        # description in Stripe's OpenAPI spec): deactivation is final. The message is the
        # emulator's own.
        raise ApiError.conflict(
            "This feature is archived; archiving a feature is permanent.", param="active"
        )
    metadata = apply_metadata(obj["metadata"], p["metadata"]) if "metadata" in p else None
    if name is not None:
        obj["name"] = name
    if metadata is not None:
        obj["metadata"] = metadata
    if active is False and obj["active"]:
        obj["active"] = False
        holders = req.store.table(LOOKUP_KEYS)
        if holders.get(obj["lookup_key"]) == obj["id"]:
            del holders[obj["lookup_key"]]
    return req.render("entitlements.feature", obj)


@route(
    "GET",
    "/v1/entitlements/features",
    spe.FeatureListParams,
    implemented={"archived", "lookup_key"},
    returns="list:entitlements.feature",
)
def list_features(req: Request) -> Obj:
    # "Inactive features ... will not be returned from the features list endpoint" unless
    # asked for: `archived` filters on the archive status (stripe.params FeatureListParams).
    archived = bool(unset(req.params.get("archived")))
    lookup_key = unset(req.params.get("lookup_key"))

    def where(o: Obj) -> bool:
        return o["active"] is not archived and (lookup_key is None or o["lookup_key"] == lookup_key)

    return req.list_response("entitlements.feature", url="/v1/entitlements/features", where=where)


# -- attachments ---------------------------------------------------------------------------------


def _product(req: Request) -> Obj:
    return req.store.get_or_404("product", req.path_args["product"], param="product")


@route(
    "POST",
    "/v1/products/{product}/features",
    sp.ProductFeatureCreateParams,
    implemented={"entitlement_feature"},
    returns="product_feature",
)
def attach_feature(req: Request) -> Obj:
    product = _product(req)
    feature = req.store.get_named(
        "entitlements.feature",
        req.params["entitlement_feature"],
        param="entitlement_feature",
        kind="feature",
    )
    if not feature["active"]:
        # "Inactive features cannot be attached to new products" (Feature.active).
        raise ApiError.conflict(
            f"The feature `{feature['id']}` is archived and cannot be attached to a product.",
            param="entitlement_feature",
        )
    coll = req.store.coll("product_feature")
    for pos in coll.positions(("_product", product["id"])):
        oid = coll.order[pos]
        if oid is not None and coll.objs[oid]["_feature"] == feature["id"]:
            # One attachment per product and feature (unconfirmed: the emulator's own rule).
            raise ApiError.conflict(
                f"The feature `{feature['id']}` is already attached to this product.",
                param="entitlement_feature",
                code="resource_already_exists",
            )
    obj: Obj = {
        "id": req.store.new_id("product_feature"),
        "object": "product_feature",
        "livemode": False,
        "_product": product["id"],
        "_feature": feature["id"],
    }
    req.store.insert("product_feature", obj)
    return req.render("product_feature", obj)


def _attachment(req: Request) -> Obj:
    product = _product(req)
    obj = req.store.get("product_feature", req.path_args["id"])
    if obj is None or obj["_product"] != product["id"]:
        raise ApiError.missing("product feature", req.path_args["id"], param="id")
    return obj


@route(
    "GET",
    "/v1/products/{product}/features/{id}",
    sp.ProductFeatureRetrieveParams,
    implemented=set(),
    returns="product_feature",
)
def retrieve_attachment(req: Request) -> Obj:
    return req.render("product_feature", _attachment(req))


@route(
    "DELETE",
    "/v1/products/{product}/features/{id}",
    sp.ProductFeatureDeleteParams,
    implemented=set(),
    returns="raw",
)
def detach_feature(req: Request) -> Obj:
    obj = _attachment(req)
    req.store.coll("product_feature").remove(obj["id"])
    return {"id": obj["id"], "object": "product_feature", "deleted": True}


@route(
    "GET",
    "/v1/products/{product}/features",
    sp.ProductFeatureListParams,
    implemented=set(),
    returns="list:product_feature",
)
def list_attachments(req: Request) -> Obj:
    product = _product(req)
    return req.list_response(
        "product_feature",
        url=f"/v1/products/{product['id']}/features",
        index=("_product", product["id"]),
    )
