"""The product object: its type and the builder that creates one from validated params.

Shared by the products routes (create) and the prices routes (`product_data`), which is why it
is a module of its own: products -> prices -> product_model, without an import cycle.
"""

from __future__ import annotations

import re
from typing import Any

import stripe

from stripe_emulator.errors import ApiError
from stripe_emulator.framework import (
    Obj,
    ObjectType,
    Store,
    apply_metadata,
    register_type,
    unset,
)

register_type(
    ObjectType(
        name="product",
        collection="products",
        id_prefix="prod",
        id_length=14,
        expandable={"default_price": "price"},
        stripe_class=stripe.Product,
    )
)

_BAD_DESCRIPTOR = re.compile(r"[<>\\\"']")
_CUSTOM_ID = re.compile(r"^[A-Za-z0-9_\-]{1,255}$")


def _n(prefix: str, name: str) -> str:
    return f"{prefix}[{name}]" if prefix else name


def check_common(p: dict[str, Any], prefix: str = "") -> None:
    sd = unset(p.get("statement_descriptor"))
    if sd is not None:
        if len(sd) > 22:
            raise ApiError.invalid(
                "The statement descriptor must be at most 22 characters.",
                param=_n(prefix, "statement_descriptor"),
            )
        if _BAD_DESCRIPTOR.search(sd):
            raise ApiError.invalid(
                "The statement descriptor cannot contain any of the characters < > \\ \" '.",
                param=_n(prefix, "statement_descriptor"),
            )
    if "name" in p and p["name"] == "":
        raise ApiError.invalid("You must provide a non-empty name.", param=_n(prefix, "name"))
    images = unset(p.get("images"))
    if images is not None and len(images) > 8:
        raise ApiError.invalid("You can have at most 8 images.", param=_n(prefix, "images"))
    features = unset(p.get("marketing_features"))
    if features is not None and len(features) > 15:
        raise ApiError.invalid(
            "You can have at most 15 marketing features.", param=_n(prefix, "marketing_features")
        )


def build_product(store: Store, p: dict[str, Any], now: int, *, prefix: str = "") -> Obj:
    """Create and insert a product from validated create params (also used by seeding)."""
    check_common(p, prefix)
    pid = unset(p.get("id"))
    if pid is not None:
        if not _CUSTOM_ID.match(pid):
            raise ApiError.invalid("Invalid product id.", param=_n(prefix, "id"))
        existing = store.get("product", pid)
        if existing is not None:
            raise ApiError.conflict(
                "Product already exists.", param=_n(prefix, "id"), code="resource_already_exists"
            )
    else:
        pid = store.new_id("product")
    obj: Obj = {
        "id": pid,
        "object": "product",
        "active": p.get("active", True) if p.get("active") != "" else True,
        "created": now,
        "default_price": None,
        "description": unset(p.get("description")),
        "images": unset(p.get("images")) or [],
        "livemode": False,
        "marketing_features": [
            {"name": f["name"]} for f in unset(p.get("marketing_features")) or []
        ],
        "metadata": apply_metadata({}, p.get("metadata")),
        "name": p["name"],
        "package_dimensions": None,
        "shippable": unset(p.get("shippable")),
        "statement_descriptor": unset(p.get("statement_descriptor")),
        "tax_code": unset(p.get("tax_code")),
        "tax_details": None,
        "type": "service",
        "unit_label": unset(p.get("unit_label")),
        "updated": now,
        "url": unset(p.get("url")),
    }
    return store.insert("product", obj)
