"""Reads the account with list endpoints (limit 100, pagination, expand) and normalises it to State."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import Any

from billing_sync.remote.client import Remote, with_retries, wrap_errors
from billing_sync.state import (
    KEY_META,
    OWN_META,
    PROTECT_META,
    CustomerState,
    Existing,
    ItemState,
    PriceState,
    ProductState,
    SubscriptionState,
    normalise_tiers,
)

PAGE = 100
ENDED = frozenset({"canceled", "incomplete_expired"})
PRICE_EXPAND = ["data.tiers", "data.currency_options"]


def request(remote: Remote, method: str, path: str, **params: Any) -> dict[str, Any]:
    """One API call through the official SDK; returns the decoded JSON body."""
    resp = remote.client.raw_request(method, path, **params)
    data: dict[str, Any] = resp.data
    return data


def list_all(remote: Remote, path: str, params: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Every object of a list endpoint, 100 per request, each page retried on 429/5xx."""
    cursor: str | None = None
    while True:
        page_params = dict(params, limit=PAGE)
        if cursor:
            page_params["starting_after"] = cursor
        page = wrap_errors(
            lambda p=page_params: with_retries(lambda: request(remote, "get", path, **p)),  # type: ignore[misc]
            remote.api_base,
        )
        data = page.get("data") or []
        yield from data
        if not page.get("has_more") or not data:
            return
        cursor = data[-1]["id"]


def user_metadata(obj: dict[str, Any]) -> dict[str, str]:
    """The object's metadata without the keys billing-sync owns."""
    return {k: v for k, v in (obj.get("metadata") or {}).items() if k not in OWN_META}


def managed_key(obj: dict[str, Any]) -> str | None:
    key = (obj.get("metadata") or {}).get(KEY_META)
    return key or None


def normalise_price(obj: dict[str, Any], product_key: str) -> PriceState:
    currency = obj["currency"]
    options: dict[str, Any] = {}
    for cur, opt in sorted((obj.get("currency_options") or {}).items()):
        if cur == currency:  # Stripe echoes the main currency inside currency_options
            continue
        opt_tiers = normalise_tiers(opt.get("tiers"))
        options[cur] = {
            "unit_amount": None if opt_tiers else opt.get("unit_amount"),
            "tiers": opt_tiers,
        }
    tiers = normalise_tiers(obj.get("tiers"))
    recurring = obj.get("recurring")
    transform = obj.get("transform_quantity")
    tiered = obj.get("billing_scheme") == "tiered"
    return PriceState(
        key=managed_key(obj) or obj["id"],
        product=product_key,
        active=bool(obj.get("active")),
        lookup_key=obj.get("lookup_key"),
        mutable={
            "nickname": obj.get("nickname"),
            "metadata": user_metadata(obj),
            "currency_options": options,
            "lookup_key": obj.get("lookup_key"),
            "tax_behavior": obj.get("tax_behavior") or "unspecified",
        },
        immutable={
            "currency": currency,
            "unit_amount": None if tiered else obj.get("unit_amount"),
            "billing_scheme": obj.get("billing_scheme") or "per_unit",
            "tiers_mode": obj.get("tiers_mode") if tiered else None,
            "tiers": tiers if tiered else None,
            "recurring": (
                {"interval": recurring["interval"], "interval_count": recurring["interval_count"]}
                if recurring
                else None
            ),
            "transform_quantity": (
                {"divide_by": transform["divide_by"], "round": transform["round"]}
                if transform
                else None
            ),
        },
        id=obj["id"],
        product_id=obj["product"] if isinstance(obj["product"], str) else obj["product"]["id"],
    )


def _price_rank(p: PriceState, created: dict[str, int]) -> tuple[int, int, int]:
    """Which of several prices sharing a key is the current one: active, holding a lookup key, newest."""
    return (int(p.active), int(p.lookup_key is not None), created.get(p.id or "", 0))


def read_account(remote: Remote) -> Existing:
    """Read products, prices, customers and subscriptions: about N/100 requests per type."""
    ex = Existing()
    unmanaged: Counter[str] = Counter()

    product_keys: dict[str, str] = {}  # product id -> key
    for obj in list_all(remote, "/v1/products", {}):
        key = managed_key(obj)
        if key is None:
            unmanaged["products"] += 1
            ex.unmanaged_product_ids.add(obj["id"])
            continue
        product_keys[obj["id"]] = key
        default = obj.get("default_price")
        ex.products[key] = ProductState(
            key=key,
            id=obj["id"],
            fields={
                "name": obj.get("name"),
                "description": obj.get("description"),
                "active": bool(obj.get("active")),
                "tax_code": _id_of(obj.get("tax_code")),
                "statement_descriptor": obj.get("statement_descriptor"),
                "unit_label": obj.get("unit_label"),
                "url": obj.get("url"),
                "images": list(obj.get("images") or []),
                "marketing_features": [
                    f.get("name") for f in obj.get("marketing_features") or [] if f.get("name")
                ],
                "metadata": user_metadata(obj),
            },
            default_price=_id_of(default),
        )

    created: dict[str, int] = {}
    for active in ("true", "false"):
        for obj in list_all(remote, "/v1/prices", {"active": active, "expand": PRICE_EXPAND}):
            if managed_key(obj) is None:
                unmanaged["prices"] += 1
                if obj.get("lookup_key"):
                    ex.unmanaged_lookup_keys[obj["lookup_key"]] = obj["id"]
                continue
            product_id = _id_of(obj["product"]) or ""
            price = normalise_price(obj, product_keys.get(product_id, product_id))
            created[obj["id"]] = int(obj.get("created") or 0)
            ex.all_prices.append(price)
            ex.price_keys[obj["id"]] = price.key
    for price in ex.all_prices:
        current = ex.prices.get(price.key)
        if current is None or _price_rank(price, created) > _price_rank(current, created):
            ex.prices[price.key] = price

    customer_keys: dict[str, str] = {}
    for obj in list_all(remote, "/v1/customers", {}):
        key = managed_key(obj)
        if key is None:
            unmanaged["customers"] += 1
            continue
        customer_keys[obj["id"]] = key
        ex.customers[key] = CustomerState(
            key=key,
            id=obj["id"],
            fields={
                "email": obj.get("email"),
                "name": obj.get("name"),
                "description": obj.get("description"),
                "phone": obj.get("phone"),
                "metadata": user_metadata(obj),
            },
        )

    per_price: Counter[str] = Counter()
    for obj in list_all(remote, "/v1/subscriptions", {"status": "all"}):
        items = _subscription_items(remote, obj)
        status = obj.get("status")
        if status not in ENDED:
            for item_price in {_id_of(i["price"]) for i in items}:
                per_price[item_price or ""] += 1
        key = managed_key(obj)
        if key is None:
            if status not in ENDED:
                unmanaged["subscriptions"] += 1
            continue
        sub = _normalise_subscription(obj, key, items, ex.price_keys, customer_keys)
        if status in ENDED:
            ex.ended_subscriptions.setdefault(key, sub)
        elif key not in ex.subscriptions:
            ex.subscriptions[key] = sub
        else:  # two live subscriptions claim one key: keep one, report the other as unmanaged
            unmanaged["subscriptions"] += 1
    ex.subscriptions_per_price = dict(per_price)
    ex.unmanaged = dict(unmanaged)
    return ex


def _id_of(value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, dict):
        return value.get("id")
    return None


def _subscription_items(remote: Remote, sub: dict[str, Any]) -> list[dict[str, Any]]:
    """The embedded items, paged through /v1/subscription_items when Stripe truncated them."""
    embedded = sub.get("items") or {}
    items: list[dict[str, Any]] = list(embedded.get("data") or [])
    if embedded.get("has_more"):
        seen = {i["id"] for i in items}
        for item in list_all(remote, "/v1/subscription_items", {"subscription": sub["id"]}):
            if item["id"] not in seen:
                items.append(item)
    return items


def _normalise_subscription(
    obj: dict[str, Any],
    key: str,
    items: list[dict[str, Any]],
    price_keys: dict[str, str],
    customer_keys: dict[str, str],
) -> SubscriptionState:
    customer_id = _id_of(obj.get("customer")) or ""
    currency = obj.get("currency")
    states = []
    for item in items:
        price_id = _id_of(item["price"]) or ""
        states.append(
            ItemState(
                price=price_keys.get(price_id, price_id),
                quantity=int(item.get("quantity") or 0),
                metadata=dict(item.get("metadata") or {}),
                id=item["id"],
                price_id=price_id,
            )
        )
    meta = obj.get("metadata") or {}
    return SubscriptionState(
        key=key,
        customer=customer_keys.get(customer_id, key.split("/", 1)[0]),
        items=states,
        fields={
            "collection_method": obj.get("collection_method"),
            "days_until_due": obj.get("days_until_due"),
            "cancel_at_period_end": bool(obj.get("cancel_at_period_end")),
            "default_payment_method": _id_of(obj.get("default_payment_method")),
            "metadata": user_metadata(obj),
        },
        id=obj["id"],
        status=obj.get("status"),
        protect=meta.get(PROTECT_META) == "true",
        currency=currency,
    )
