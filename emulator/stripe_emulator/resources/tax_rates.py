"""Tax rates: create, retrieve, update (never percentage or inclusive), list. Never deleted.

Rules from Stripe's API reference (docs.stripe.com/api/tax_rates) and the pinned
`stripe.params` types: `display_name`, `percentage` and `inclusive` are required on create;
the update takes `active`, `country`, `description`, `display_name`, `jurisdiction`,
`metadata`, `state` and `tax_type` only (percentage and inclusive are fixed); an inactive
rate "cannot be used with new applications or Checkout Sessions, but will still work for
subscriptions and invoices that already have it set"; there is no delete endpoint.
"""

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
    register_type,
    route,
    unset,
)
from stripe_emulator.resources.common import created_filter

register_type(
    ObjectType(
        name="tax_rate",
        collection="tax_rates",
        id_prefix="txr",
        stripe_class=stripe.TaxRate,
    )
)

DISPLAY_NAME_MAX = 50  # "Max length: 50" (the API reference, display_name)
TEXT = ("country", "description", "jurisdiction", "state", "tax_type")


def _check(p: dict[str, Any]) -> None:
    name = p.get("display_name")
    if name is not None and not 1 <= len(str(unset(name) or "")) <= DISPLAY_NAME_MAX:
        raise ApiError.invalid(
            f"display_name must be 1 to {DISPLAY_NAME_MAX} characters.", param="display_name"
        )
    country = unset(p.get("country"))
    if country is not None and (len(country) != 2 or not country.isalpha()):
        raise ApiError.invalid(
            f"Invalid country: {country}; use a two-letter ISO 3166-1 code.", param="country"
        )


def _percent(value: Any) -> float:
    number = float(value)
    if not 0 <= number <= 100:
        raise ApiError.invalid("Invalid percentage: must be between 0 and 100.", param="percentage")
    return number


@route(
    "POST",
    "/v1/tax_rates",
    sp.TaxRateCreateParams,
    implemented={"display_name", "percentage", "inclusive", "active", *TEXT, "metadata"},
    returns="tax_rate",
)
def create_tax_rate(req: Request) -> Obj:
    p = req.params
    _check(p)
    percentage = _percent(p["percentage"])
    active = unset(p.get("active"))
    obj: Obj = {
        "id": req.store.new_id("tax_rate"),
        "object": "tax_rate",
        "active": True if active is None else bool(active),
        "country": unset(p.get("country")),
        "created": req.now,
        "description": unset(p.get("description")),
        "display_name": p["display_name"],
        "effective_percentage": percentage,
        "flat_amount": None,
        "inclusive": bool(p["inclusive"]),
        "jurisdiction": unset(p.get("jurisdiction")),
        "jurisdiction_level": None,
        "livemode": False,
        "metadata": apply_metadata({}, p.get("metadata")),
        "percentage": percentage,
        "rate_type": "percentage",
        "state": unset(p.get("state")),
        "tax_type": unset(p.get("tax_type")),
    }
    req.store.insert("tax_rate", obj)
    return req.render("tax_rate", obj)


@route("GET", "/v1/tax_rates/{id}", sp.TaxRateRetrieveParams, implemented=set(), returns="tax_rate")
def retrieve_tax_rate(req: Request) -> Obj:
    return req.render("tax_rate", req.store.get_or_404("tax_rate", req.path_args["id"]))


@route(
    "POST",
    "/v1/tax_rates/{id}",
    sp.TaxRateUpdateParams,
    implemented={"display_name", "active", *TEXT, "metadata"},
    returns="tax_rate",
)
def update_tax_rate(req: Request) -> Obj:
    obj = req.store.get_or_404("tax_rate", req.path_args["id"])
    p = req.params
    _check(p)
    if "display_name" in p:
        obj["display_name"] = p["display_name"]
    if "active" in p and unset(p["active"]) is not None:
        obj["active"] = bool(p["active"])
    for name in TEXT:
        if name in p:
            obj[name] = unset(p[name])
    if "metadata" in p:
        obj["metadata"] = apply_metadata(obj["metadata"], p["metadata"])
    return req.render("tax_rate", obj)


@route(
    "GET",
    "/v1/tax_rates",
    sp.TaxRateListParams,
    implemented={"active", "inclusive", "created"},
    returns="list:tax_rate",
)
def list_tax_rates(req: Request) -> Obj:
    p = req.params
    active = unset(p.get("active"))
    inclusive = unset(p.get("inclusive"))
    created = created_filter(p.get("created"))

    def where(o: Obj) -> bool:
        return (
            (active is None or o["active"] == active)
            and (inclusive is None or o["inclusive"] == inclusive)
            and (created is None or created(o["created"]))
        )

    trivial = active is None and inclusive is None and created is None
    return req.list_response("tax_rate", url="/v1/tax_rates", where=None if trivial else where)


def usable_tax_rate(store: Store, rate_id: Any, param: str, *, current: list[str]) -> str:
    """A tax rate a subscription sets: it must exist, and be active unless already set."""
    rate = store.get_named("tax_rate", rate_id, param=param)
    if not rate["active"] and rate["id"] not in current:
        raise ApiError.invalid(
            f"Tax rate {rate['id']} is inactive and cannot be applied.",
            param=param,
            validation=False,
        )
    return str(rate["id"])
