"""`POST /_emulator/seed`: create a large account quickly, without HTTP per object."""

from __future__ import annotations

import time
from typing import Any

from stripe_emulator.errors import ApiError
from stripe_emulator.framework import Store

SEED_KEYS = {
    "products",
    "prices_per_product",
    "currency",
    "interval",
    "unit_amount",
    "metadata",
    "key_prefix",
    "lookup_keys",
    "customers",
    "subscriptions_per_customer",
    "items_per_subscription",
    "collection_method",
}


def _int(body: dict[str, Any], key: str, default: int, maximum: int = 100_000) -> int:
    try:
        value = int(body.get(key, default))
    except (TypeError, ValueError):
        raise ApiError.invalid(f"seed: {key} must be an integer") from None
    if not 0 <= value <= maximum:
        raise ApiError.invalid(f"seed: {key} must be between 0 and {maximum}")
    return value


def seed(store: Store, body: dict[str, Any]) -> dict[str, Any]:
    """Create `products` products with `prices_per_product` prices each, then customers and
    subscriptions. Managed-looking objects carry `metadata` plus `<key_prefix>key` set to a
    stable key (`product-3`, `product-3-price-1`, `customer-7`, `customer-7-sub-0`).

    Body (JSON): products, prices_per_product (1), currency ("usd"), interval ("month"; "" for
    one-time), unit_amount (1000, + index), metadata ({}), key_prefix ("billing_sync_"),
    lookup_keys (true: price lookup_key = its key), customers (0),
    subscriptions_per_customer (0), items_per_subscription (1),
    collection_method ("send_invoice"). Returns the created ids.
    """
    from stripe_emulator.resources.prices import build_price
    from stripe_emulator.resources.product_model import build_product

    unknown = set(body) - SEED_KEYS
    if unknown:
        raise ApiError.invalid(f"seed: unknown keys {sorted(unknown)}")
    n_products = _int(body, "products", 0)
    n_prices = _int(body, "prices_per_product", 1, 100)
    n_customers = _int(body, "customers", 0)
    n_subs = _int(body, "subscriptions_per_customer", 0, 100)
    n_items = _int(body, "items_per_subscription", 1, 20)
    from stripe_emulator.resources.common import check_currency

    # Everything is checked before anything is created: a refused seed stores nothing.
    currency = check_currency(body.get("currency", "usd"), "currency")
    interval = str(body.get("interval", "month"))
    if interval not in ("", "day", "week", "month", "year"):
        raise ApiError.invalid("seed: interval must be day, week, month, year or empty")
    if body.get("collection_method", "send_invoice") not in (
        "send_invoice",
        "charge_automatically",
    ):
        raise ApiError.invalid(
            "seed: collection_method must be send_invoice or charge_automatically"
        )
    if not isinstance(body.get("metadata") or {}, dict):
        raise ApiError.invalid("seed: metadata must be an object")
    if n_subs and not interval:
        raise ApiError.invalid("seed: subscriptions need recurring prices (interval)")
    base_amount = _int(body, "unit_amount", 1000, 10**10)
    extra_meta = {str(k): str(v) for k, v in (body.get("metadata") or {}).items()}
    key_field = f"{body.get('key_prefix', 'billing_sync_')}key"
    use_lookup = bool(body.get("lookup_keys", True))
    now = int(time.time())
    product_ids: list[str] = []
    price_ids: list[str] = []
    for i in range(n_products):
        pkey = f"product-{i}"
        prod = build_product(
            store,
            {"name": f"Product {i}", "metadata": {**extra_meta, key_field: pkey}},
            now,
        )
        product_ids.append(prod["id"])
        for j in range(n_prices):
            key = f"{pkey}-price-{j}"
            params: dict[str, Any] = {
                "product": prod["id"],
                "currency": currency,
                "unit_amount": base_amount + j,
                "metadata": {**extra_meta, key_field: key},
            }
            if interval:
                params["recurring"] = {"interval": interval}
            if use_lookup:
                params["lookup_key"] = key
            price = build_price(store, params, now)
            price_ids.append(price["id"])
            if j == 0:
                prod["default_price"] = price["id"]
    customer_ids: list[str] = []
    subscription_ids: list[str] = []
    if n_customers:
        from stripe_emulator.resources.customers import build_customer

        for c in range(n_customers):
            ckey = f"customer-{c}"
            cus = build_customer(
                store,
                {
                    "email": f"{ckey}@example.test",
                    "name": f"Customer {c}",
                    "metadata": {**extra_meta, key_field: ckey},
                },
                now,
            )
            customer_ids.append(cus["id"])
            if n_subs and not price_ids:
                raise ApiError.invalid("seed: subscriptions need products with recurring prices")
            if n_subs and not interval:
                raise ApiError.invalid("seed: subscriptions need recurring prices (interval)")
            for s in range(n_subs):
                from stripe_emulator.resources.subscriptions import build_subscription

                items: list[dict[str, Any]] = []
                for k in range(n_items):
                    pid = price_ids[(c * n_subs + s + k * n_prices) % len(price_ids)]
                    if any(it["price"] == pid for it in items):
                        continue
                    items.append({"price": pid, "quantity": 1 + (c % 5)})
                sub = build_subscription(
                    store,
                    {
                        "customer": cus["id"],
                        "items": items,
                        "collection_method": body.get("collection_method", "send_invoice"),
                        "days_until_due": 30,
                        "metadata": {**extra_meta, key_field: f"{ckey}-sub-{s}"},
                    },
                    now,
                )
                subscription_ids.append(sub["id"])
    return {
        "products": product_ids,
        "prices": price_ids,
        "customers": customer_ids,
        "subscriptions": subscription_ids,
    }
