"""The canonical state shape both sides of a diff share: desired (from billing.yaml) and existing (from Stripe)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field, is_dataclass
from typing import Any

from billing_sync.config.models import BillingConfig, Price, Tier

# Metadata keys billing-sync owns on the objects it manages.
KEY_META = "billing_sync_key"
PROTECT_META = "billing_sync_protect"
OWN_META = frozenset({KEY_META, PROTECT_META})

# Product fields compared and sent as they are (None means "unset").
PRODUCT_FIELDS = (
    "name",
    "description",
    "active",
    "tax_code",
    "statement_descriptor",
    "unit_label",
    "url",
    "images",
    "marketing_features",
    "metadata",
)
# Price fields Stripe lets us change in place; every other difference is a replace.
PRICE_MUTABLE = ("nickname", "metadata", "currency_options", "lookup_key", "tax_behavior")
PRICE_IMMUTABLE = (
    "currency",
    "unit_amount",
    "billing_scheme",
    "tiers_mode",
    "tiers",
    "recurring",
    "transform_quantity",
)
CUSTOMER_FIELDS = ("email", "name", "description", "phone", "metadata")
SUBSCRIPTION_FIELDS = (
    "collection_method",
    "days_until_due",
    "cancel_at_period_end",
    "default_payment_method",
    "metadata",
)


@dataclass
class ProductState:
    key: str
    id: str
    fields: dict[str, Any]
    default_price: str | None = None  # price key (desired) or Stripe price id (existing)
    managed: bool = True


@dataclass
class PriceState:
    key: str
    product: str  # product key
    active: bool
    lookup_key: str | None
    mutable: dict[str, Any]
    immutable: dict[str, Any]
    id: str | None = None
    product_id: str | None = None

    @property
    def recurring(self) -> bool:
        return self.immutable.get("recurring") is not None


@dataclass
class CustomerState:
    key: str
    fields: dict[str, Any]
    id: str | None = None


@dataclass
class ItemState:
    price: str  # price key (desired); for existing items the key of the item's price, or its id
    quantity: int
    metadata: dict[str, str] = field(default_factory=dict)
    id: str | None = None
    price_id: str | None = None


@dataclass
class SubscriptionState:
    key: str  # "<customer key>/<subscription key>"
    customer: str  # customer key
    items: list[ItemState]
    fields: dict[str, Any]
    id: str | None = None
    status: str | None = None
    protect: bool = False
    trial_period_days: int | None = None
    proration_behavior: str | None = None
    currency: str | None = None


def _plain(obj: Any) -> Any:
    """JSON encoding of the state's dataclasses and sets (without asdict's deep copies)."""
    if is_dataclass(obj) and not isinstance(obj, type):
        return vars(obj)
    if isinstance(obj, (set, frozenset)):
        return sorted(obj)
    return str(obj)


def sub_key(customer_key: str, subscription_key: str) -> str:
    return f"{customer_key}/{subscription_key}"


def normalise_tiers(tiers: list[dict[str, Any]] | None) -> list[dict[str, Any]] | None:
    """Stripe returns `up_to: null` for the last tier and nulls for absent amounts."""
    if not tiers:
        return None
    out = []
    for t in tiers:
        up_to = t.get("up_to")
        out.append(
            {
                "up_to": "inf" if up_to in (None, "inf") else int(up_to),
                "unit_amount": int(t.get("unit_amount") or 0),
                "flat_amount": int(t.get("flat_amount") or 0),
            }
        )
    return out


def _desired_tiers(tiers: list[Tier] | None) -> list[dict[str, Any]] | None:
    return normalise_tiers([t.model_dump() for t in tiers] if tiers else None)


def desired_price(key: str, product_key: str, price: Price) -> PriceState:
    options: dict[str, Any] = {}
    for cur, opt in sorted(price.currency_options.items()):
        options[cur.lower()] = {
            "unit_amount": opt.minor_amount(cur) if not opt.tiers else None,
            "tiers": _desired_tiers(opt.tiers),
        }
    tiers = _desired_tiers(price.tiers)
    return PriceState(
        key=key,
        product=product_key,
        active=price.active,
        lookup_key=price.lookup_key or key,
        mutable={
            "nickname": price.nickname,
            "metadata": dict(price.metadata),
            "currency_options": options,
            "lookup_key": price.lookup_key or key,
            "tax_behavior": price.tax_behavior or "unspecified",
        },
        immutable={
            "currency": price.currency.lower(),
            "unit_amount": None if tiers else price.minor_amount(),
            "billing_scheme": "tiered" if tiers else "per_unit",
            "tiers_mode": price.tiers_mode if tiers else None,
            "tiers": tiers,
            "recurring": price.recurring.model_dump() if price.recurring else None,
            "transform_quantity": (
                price.transform_quantity.model_dump() if price.transform_quantity else None
            ),
        },
    )


@dataclass
class State:
    """Everything one side of the diff knows, keyed by billing-sync keys."""

    products: dict[str, ProductState] = field(default_factory=dict)
    prices: dict[str, PriceState] = field(default_factory=dict)
    customers: dict[str, CustomerState] = field(default_factory=dict)
    subscriptions: dict[str, SubscriptionState] = field(default_factory=dict)

    def fingerprint(self) -> str:
        """A stable hash of the state, used to pin a saved plan to what it was made from."""
        blob = json.dumps(self, sort_keys=True, default=_plain)
        return hashlib.sha256(blob.encode()).hexdigest()


def desired_state(cfg: BillingConfig) -> State:
    """billing.yaml -> State (amounts in minor units, defaults filled in, keys resolved)."""
    state = State()
    for pkey, prod in cfg.products.items():
        state.products[pkey] = ProductState(
            key=pkey,
            id=prod.id or pkey,
            fields={
                "name": prod.name,
                "description": prod.description,
                "active": prod.active,
                "tax_code": prod.tax_code,
                "statement_descriptor": prod.statement_descriptor,
                "unit_label": prod.unit_label,
                "url": prod.url,
                "images": list(prod.images),
                "marketing_features": list(prod.marketing_features),
                "metadata": dict(prod.metadata),
            },
            default_price=prod.default_price,
        )
        for price_key, price in prod.prices.items():
            state.prices[price_key] = desired_price(price_key, pkey, price)
    for ckey, cust in cfg.customers.items():
        state.customers[ckey] = CustomerState(
            key=ckey,
            fields={
                "email": cust.email,
                "name": cust.name,
                "description": cust.description,
                "phone": cust.phone,
                "metadata": dict(cust.metadata),
            },
        )
        for skey, sub in cust.subscriptions.items():
            key = sub_key(ckey, skey)
            currency = None
            items = []
            for item in sub.items:
                items.append(ItemState(item.price, item.quantity, dict(item.metadata)))
                if item.price in state.prices:
                    currency = state.prices[item.price].immutable["currency"]
            state.subscriptions[key] = SubscriptionState(
                key=key,
                customer=ckey,
                items=items,
                fields={
                    "collection_method": sub.collection_method,
                    "days_until_due": sub.days_until_due,
                    "cancel_at_period_end": sub.cancel_at_period_end,
                    "default_payment_method": sub.default_payment_method,
                    "metadata": dict(sub.metadata),
                },
                protect=sub.protect,
                trial_period_days=sub.trial_period_days,
                proration_behavior=sub.proration_behavior,
                currency=currency,
            )
    return state


@dataclass
class Existing(State):
    """The account as read from Stripe: managed objects by key, plus what the planner needs
    to know about everything else (alternate prices, unmanaged ids, subscriptions per price)."""

    # Every managed price, including archived ones and replaced ones that share a key.
    all_prices: list[PriceState] = field(default_factory=list)
    # Managed subscriptions that are canceled or incomplete_expired (reported, never re-created).
    ended_subscriptions: dict[str, SubscriptionState] = field(default_factory=dict)
    unmanaged: dict[str, int] = field(default_factory=dict)
    unmanaged_product_ids: set[str] = field(default_factory=set)
    # lookup_key -> id of the unmanaged price holding it.
    unmanaged_lookup_keys: dict[str, str] = field(default_factory=dict)
    # price id -> number of live (not ended) subscriptions with an item on it, managed or not.
    subscriptions_per_price: dict[str, int] = field(default_factory=dict)
    # price id -> price key, for every managed price.
    price_keys: dict[str, str] = field(default_factory=dict)
