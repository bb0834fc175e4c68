"""Pydantic models of billing.yaml (the desired state); every model forbids unknown fields.

The models hold the single-value rules (types, ranges, lengths, character sets, currencies),
so that they also appear in the JSON Schema printed by `billing-sync schema`. Rules that
combine several fields or objects (exactly one amount, tiers, references, uniqueness, one
currency per subscription, ...) live in `billing_sync.config.checks` and are run by the loader.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PrivateAttr,
    StringConstraints,
)

from billing_sync.metadata import (
    METADATA_KEY_MAX,
    METADATA_MAX_KEYS,
    METADATA_VALUE_MAX,
    RESERVED_PREFIX,
)
from billing_sync.money import CURRENCIES, to_minor

Interval = Literal["day", "week", "month", "year"]
TaxBehavior = Literal["inclusive", "exclusive", "unspecified"]
ProrationBehavior = Literal["create_prorations", "always_invoice", "none"]
CollectionMethod = Literal["charge_automatically", "send_invoice"]

#: Product, price, customer and subscription keys (and explicit product ids).
KEY_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$"
_KEY_RE = re.compile(KEY_PATTERN)

#: Stripe refuses square brackets in metadata keys (its limits come from billing_sync.metadata).
METADATA_KEY_PATTERN = r"^[^\[\]]*$"

#: Characters Stripe refuses in a statement descriptor.
STATEMENT_DESCRIPTOR_FORBIDDEN = "<>\\\"'"


def _check_key(value: str) -> str:
    if not _KEY_RE.match(value):
        raise ValueError(
            f"{value!r} is not allowed: use 1-64 letters, digits, '_' or '-', "
            "starting with a letter or digit"
        )
    return value


def _check_currency(value: str) -> str:
    if value in CURRENCIES:
        return value
    if value.lower() in CURRENCIES:
        raise ValueError(f"currency must be lower case: write {value.lower()!r}, not {value!r}")
    raise ValueError(f"{value!r} is not a currency Stripe supports")


def _check_statement_descriptor(value: str) -> str:
    bad = sorted({c for c in value if c in STATEMENT_DESCRIPTOR_FORBIDDEN})
    if bad:
        shown = " ".join(bad)
        raise ValueError(f"must not contain any of < > \\ \" ' (found {shown})")
    if not any(c.isascii() and c.isalpha() for c in value):
        raise ValueError("must contain at least one letter")
    return value


# billing-sync's own metadata keys (`billing_sync_key`, `billing_sync_protect`, ...) start with
# RESERVED_PREFIX; a declared one would re-key or unprotect the object, so billing.yaml may not
# set any. Product ids with it are reserved too: the apply lock is such a product.
RESERVED_METADATA_PREFIX = RESERVED_PREFIX


def _check_product_id(value: str) -> str:
    if value.lower().startswith(RESERVED_PREFIX):
        raise ValueError(
            f"{value!r} is reserved: billing-sync keeps its own {RESERVED_PREFIX}* products "
            "(the apply lock)"
        )
    return value


def _check_metadata_key(value: str) -> str:
    if value.lower().startswith(RESERVED_METADATA_PREFIX):
        raise ValueError(
            f"key {value!r} is reserved: billing-sync keeps its own "
            f"{RESERVED_METADATA_PREFIX}* metadata on the objects it manages"
        )
    return value


def _amount_text(value: Any) -> Any:
    """`amount` accepts a quoted decimal string; bare YAML numbers are taken as written."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return getattr(value, "text", None) or repr(value)  # YamlFloat: exactly as written
    return value


#: Free-text fields: Stripe's OpenAPI spec declares `maxLength: 5000` on its plain string
#: parameters (product name and description, price nickname, customer name, ...). Taken from
#: the spec as published in stripe/openapi (not re-checked against live Stripe here).
MAX_TEXT = 5000
#: Customer.email: "This may be up to 512 characters" (stripe-python 16.1.0,
#: params/_customer_create_params.py, the API reference's text).
MAX_EMAIL = 512
#: Product.marketing_features[].name: "Up to 80 characters long" (same source,
#: params/_product_create_params.py).
MAX_MARKETING_FEATURE = 80

# One '@', something before it, a dotted domain after it, no blanks: what Stripe's
# "Invalid email address" refuses in practice (it also refuses surrounding spaces,
# stripe/stripe-dotnet#1897). Deliberately loose: a valid address is never refused.
_EMAIL_RE = re.compile(r"[^@\s]+@[^@\s.]+(?:\.[^@\s.]+)+\Z")
_URL_RE = re.compile(r"https?://[^\s/?#]+[^\s]*\Z")


def _check_email(value: str) -> str:
    if not _EMAIL_RE.match(value):
        raise ValueError(f"{value!r} is not an email address (expected name@example.com)")
    return value


def _check_url(value: str) -> str:
    if not _URL_RE.match(value):
        raise ValueError(f"{value!r} is not a URL: expected http:// or https:// and a host")
    return value


def _up_to(value: Any) -> Any:
    if value == "inf" or (isinstance(value, int) and not isinstance(value, bool) and value >= 1):
        return value
    raise ValueError(f"expected a positive integer or 'inf', got {value!r}")


Text = Annotated[str, Field(max_length=MAX_TEXT)]
Email = Annotated[str, Field(max_length=MAX_EMAIL), AfterValidator(_check_email)]
Url = Annotated[str, Field(max_length=MAX_TEXT), AfterValidator(_check_url)]
Key = Annotated[str, AfterValidator(_check_key), Field(json_schema_extra={"pattern": KEY_PATTERN})]
ProductId = Annotated[Key, AfterValidator(_check_product_id)]
Currency = Annotated[
    str,
    AfterValidator(_check_currency),
    Field(json_schema_extra={"enum": sorted(CURRENCIES)}),
]
MetadataKey = Annotated[
    str,
    StringConstraints(min_length=1, max_length=METADATA_KEY_MAX, pattern=METADATA_KEY_PATTERN),
    AfterValidator(_check_metadata_key),
]
MetadataValue = Annotated[str, StringConstraints(max_length=METADATA_VALUE_MAX)]
Metadata = Annotated[dict[MetadataKey, MetadataValue], Field(max_length=METADATA_MAX_KEYS)]
Amount = Annotated[str, BeforeValidator(_amount_text)]
#: Stripe's maximum amount: 8 digits in minor units, 99,999,999 (999,999.99 USD). "The amount
#: value supports up to eight digits (e.g., a value of 99999999 for a USD charge of
#: $999,999.99)" (Stripe API reference, Charge.amount; https://stripe.com/docs/currencies,
#: "Minimum and maximum charge amounts"). Stripe also refuses a subscription line whose
#: quantity x unit amount exceeds it ("Invalid quantity: total amount (quantity * plan
#: amount) must be no more than $999,999.99 USD", a live Stripe error quoted in
#: ParabolInc/parabol#746).
MAX_AMOUNT = 99_999_999
MinorAmount = Annotated[int, Field(ge=0, le=MAX_AMOUNT)]
#: A subscription item's quantity: at most MAX_AMOUNT, since quantity x unit amount may not
#: exceed it for any priced item (see MAX_AMOUNT).
MAX_QUANTITY = MAX_AMOUNT
#: days_until_due: Stripe documents no maximum; billing-sync caps it like trial_period_days
#: (730 days, two years), so a typo such as 10^11 is caught by validate, not half-way
#: through an apply.
MAX_DAYS_UNTIL_DUE = 730


class Model(BaseModel):
    """Base of every billing.yaml model: unknown fields are errors, types are strict."""

    model_config = ConfigDict(extra="forbid", strict=True, validate_default=True)


class _Ignore(Model):
    """What another writer owns on this object: metadata keys and fields billing-sync never
    compares, sets or unsets (their values in Stripe are kept)."""

    metadata: list[MetadataKey] = Field(default_factory=list)


class ProductIgnore(_Ignore):
    fields: list[
        Literal[
            "name",
            "description",
            "tax_code",
            "statement_descriptor",
            "unit_label",
            "url",
            "images",
            "marketing_features",
        ]
    ] = Field(default_factory=list)


class PriceIgnore(_Ignore):
    fields: list[Literal["nickname"]] = Field(default_factory=list)


class CustomerIgnore(_Ignore):
    fields: list[Literal["email", "name", "description", "phone"]] = Field(default_factory=list)


class SubscriptionIgnore(_Ignore):
    fields: list[
        Literal[
            "collection_method", "days_until_due", "cancel_at_period_end", "default_payment_method"
        ]
    ] = Field(default_factory=list)


class IgnoreRules(Model):
    """`ignore:` for every object of a kind (per object: each object's own `ignore:`)."""

    products: ProductIgnore = Field(default_factory=ProductIgnore)
    prices: PriceIgnore = Field(default_factory=PriceIgnore)
    customers: CustomerIgnore = Field(default_factory=CustomerIgnore)
    subscriptions: SubscriptionIgnore = Field(default_factory=SubscriptionIgnore)


class Recurring(Model):
    """A recurring price's billing period: `interval_count` intervals (at most one year)."""

    interval: Interval
    interval_count: int = Field(default=1, ge=1)


class Tier(Model):
    """One tier of a tiered price; only the last tier has `up_to: inf`."""

    up_to: Annotated[int | Literal["inf"], BeforeValidator(_up_to)]
    unit_amount: MinorAmount | None = None
    flat_amount: MinorAmount | None = None


class TransformQuantity(Model):
    """Bill `quantity / divide_by`, rounded up or down (package pricing)."""

    divide_by: int = Field(ge=1)
    round: Literal["up", "down"]


class CurrencyOption(Model):
    """Per-currency amounts of a multi-currency price."""

    unit_amount: MinorAmount | None = None
    amount: Amount | None = None
    tiers: list[Tier] | None = Field(default=None, min_length=1)
    tax_behavior: TaxBehavior | None = None

    def minor_amount(self, currency: str) -> int | None:
        """The per-unit amount in minor units of `currency` (None for tiered options)."""
        if self.unit_amount is not None:
            return self.unit_amount
        if self.amount is not None:
            return to_minor(self.amount, currency)
        return None


class Price(Model):
    """A price: `unit_amount` (minor units), `amount` (major units) or `tiers`; one-time
    unless `recurring` is given. Its key is also its default lookup_key."""

    currency: Currency
    unit_amount: MinorAmount | None = None
    amount: Amount | None = None
    tiers: list[Tier] | None = Field(default=None, min_length=1)
    tiers_mode: Literal["graduated", "volume"] | None = None
    recurring: Recurring | None = None
    nickname: Text | None = None
    tax_behavior: TaxBehavior | None = None
    transform_quantity: TransformQuantity | None = None
    currency_options: dict[Currency, CurrencyOption] = Field(default_factory=dict)
    metadata: Metadata = Field(default_factory=dict)
    lookup_key: str | None = Field(default=None, min_length=1, max_length=200)
    active: bool = True
    # Pins adoption to this existing price (one without a lookup key: `import` writes it).
    stripe_id: str | None = Field(default=None, pattern=r"^price_[A-Za-z0-9]{1,250}$")
    ignore: PriceIgnore = Field(default_factory=PriceIgnore)

    def minor_amount(self) -> int | None:
        """The per-unit amount in minor units (None for tiered prices)."""
        if self.unit_amount is not None:
            return self.unit_amount
        if self.amount is not None:
            return to_minor(self.amount, self.currency)
        return None


class Product(Model):
    """A product and its prices; the key is the Stripe product id unless `id` is given."""

    name: str = Field(min_length=1, max_length=MAX_TEXT)
    id: ProductId | None = None
    description: Text | None = None
    active: bool = True
    metadata: Metadata = Field(default_factory=dict)
    ignore: ProductIgnore = Field(default_factory=ProductIgnore)
    tax_code: Text | None = None
    statement_descriptor: (
        Annotated[
            str, Field(min_length=5, max_length=22), AfterValidator(_check_statement_descriptor)
        ]
        | None
    ) = None
    unit_label: str | None = Field(default=None, min_length=1, max_length=12)
    url: Url | None = None
    images: list[Url] = Field(default_factory=list, max_length=8)
    marketing_features: list[
        Annotated[str, Field(min_length=1, max_length=MAX_MARKETING_FEATURE)]
    ] = Field(default_factory=list, max_length=15)
    default_price: str | None = None
    prices: dict[Key, Price] = Field(default_factory=dict)


class SubscriptionItem(Model):
    """One line of a subscription: a recurring price key and a quantity."""

    price: str
    quantity: int = Field(default=1, ge=1, le=MAX_QUANTITY)
    metadata: Metadata = Field(default_factory=dict)


class Subscription(Model):
    """A contracted subscription of a customer (identified by customer key + its own key)."""

    items: list[SubscriptionItem] = Field(min_length=1, max_length=20)
    collection_method: CollectionMethod = "charge_automatically"
    days_until_due: int | None = Field(default=None, ge=1, le=MAX_DAYS_UNTIL_DUE)
    trial_period_days: int | None = Field(default=None, ge=1, le=730)
    cancel_at_period_end: bool = False
    default_payment_method: Text | None = None
    proration_behavior: ProrationBehavior | None = None
    metadata: Metadata = Field(default_factory=dict)
    ignore: SubscriptionIgnore = Field(default_factory=SubscriptionIgnore)
    protect: bool = False


class Customer(Model):
    """A customer and its declared subscriptions."""

    email: Email | None = None
    name: Text | None = None
    description: Text | None = None
    phone: Text | None = None
    metadata: Metadata = Field(default_factory=dict)
    ignore: CustomerIgnore = Field(default_factory=CustomerIgnore)
    subscriptions: dict[Key, Subscription] = Field(default_factory=dict)


class Policies(Model):
    """Safety and behaviour policies for plan/apply."""

    subscription_removal: Literal["cancel_at_period_end", "cancel_now", "unmanage"] = (
        "cancel_at_period_end"
    )
    proration_behavior: ProrationBehavior = "create_prorations"
    max_destroy_percent: float = Field(default=30, ge=0, le=100)


class PaymentsSettings(Model):
    """Defaults for `billing-sync payments`."""

    max_amount: int | None = Field(default=None, ge=1, le=MAX_AMOUNT)
    max_amount_currency: Currency = "usd"


class BillingConfig(Model):
    """The whole billing.yaml document."""

    version: Literal[1] = 1
    products: dict[ProductId, Product] = Field(default_factory=dict)
    customers: dict[Key, Customer] = Field(default_factory=dict)
    policies: Policies = Field(default_factory=Policies)
    ignore: IgnoreRules = Field(default_factory=IgnoreRules)
    payments: PaymentsSettings = Field(default_factory=PaymentsSettings)

    # Set by the loader: the file's name and text. Positions (path -> (line, column), one per
    # YAML node: over a million at 100,000 objects) are found again from the text on the
    # first `location()` call rather than kept alive for every run that never asks.
    _source_file: str = PrivateAttr(default="")
    _source_text: str | None = PrivateAttr(default=None)
    _positions: Mapping[tuple[str | int, ...], tuple[int, int]] | None = PrivateAttr(default=None)

    def price_index(self) -> dict[str, tuple[str, Price]]:
        """price key -> (product key, price)."""
        return {
            pk: (prod_key, price)
            for prod_key, prod in self.products.items()
            for pk, price in prod.prices.items()
        }

    def location(self, *path: str | int) -> str | None:
        """`file:line:col` of a node, e.g. `cfg.location("products", "pro", "prices")`.

        Known only for configs made by the loader; falls back to the nearest located parent.
        """
        if self._positions is None:
            if self._source_text is None:
                return None
            from billing_sync.config.source import parse  # the loader's own parser, on demand

            self._positions = parse(self._source_text, self._source_file).source.values
        for n in range(len(path), -1, -1):
            pos = self._positions.get(tuple(path[:n]))
            if pos is not None:
                return f"{self._source_file}:{pos[0]}:{pos[1]}"
        return None
