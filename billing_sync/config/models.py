"""Pydantic models of billing.yaml (the desired state); every model forbids unknown fields.

The models hold the single-value rules (types, ranges, lengths, character sets, currencies),
so that they also appear in the JSON Schema printed by `billing-sync schema`. Rules that
combine several fields or objects (exactly one amount, tiers, references, uniqueness, one
currency per subscription, ...) live in `billing_sync.config.checks` and are run by the loader.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Annotated, Any, Literal, TypeVar

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PrivateAttr,
    StringConstraints,
    WithJsonSchema,
)

from billing_sync.config.timestamps import Moment
from billing_sync.metadata import (
    METADATA_KEY_MAX,
    METADATA_MAX_KEYS,
    METADATA_VALUE_MAX,
    RESERVED_PREFIX,
)
from billing_sync.money import CURRENCIES, to_minor, to_minor_decimal

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
# The same rules for the JSON Schema (ECMA-262 regular expressions: no \Z).
EMAIL_PATTERN = r"^[^@\s]+@[^@\s.]+(\.[^@\s.]+)+$"
URL_PATTERN = r"^https?://[^\s/?#]+[^\s]*$"
STATEMENT_DESCRIPTOR_PATTERN = r"^[^<>\\\"']*[A-Za-z][^<>\\\"']*$"


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
Email = Annotated[
    str,
    Field(max_length=MAX_EMAIL, json_schema_extra={"pattern": EMAIL_PATTERN}),
    AfterValidator(_check_email),
]
Url = Annotated[
    str,
    Field(max_length=MAX_TEXT, json_schema_extra={"pattern": URL_PATTERN}),
    AfterValidator(_check_url),
]
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


_FrozenModel = TypeVar("_FrozenModel", bound=Model)


def _nothing_ignored(cls: type[_FrozenModel]) -> Callable[[], _FrozenModel]:
    """The default `ignore:` of a kind: one frozen instance, shared by every object that
    declares none (a default made, or copied, per object cost 100,000 model constructions or
    deep copies at 100,000 objects). A factory, not a `default=`: pydantic deep-copies a
    default model, not what a factory returns."""
    instance = cls()
    return lambda: instance


class _Ignore(Model):
    """What another writer owns on this object: metadata keys and fields billing-sync never
    compares, sets or unsets (their values in Stripe are kept).

    Frozen: every object that declares no `ignore:` shares its kind's one default instance
    (see `_nothing_ignored`)."""

    model_config = ConfigDict(extra="forbid", strict=True, validate_default=True, frozen=True)

    metadata: list[MetadataKey] = Field(
        default_factory=list,
        description="Metadata keys another writer owns: never compared, set or unset.",
    )


_IGNORED_FIELDS = "Fields another writer owns: never compared, set or unset."


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
    ] = Field(default_factory=list, description=_IGNORED_FIELDS)


class PriceIgnore(_Ignore):
    fields: list[Literal["nickname"]] = Field(default_factory=list, description=_IGNORED_FIELDS)


class CustomerIgnore(_Ignore):
    fields: list[Literal["email", "name", "description", "phone"]] = Field(
        default_factory=list, description=_IGNORED_FIELDS
    )


class SubscriptionIgnore(_Ignore):
    fields: list[
        Literal[
            "collection_method",
            "days_until_due",
            "cancel_at_period_end",
            "default_payment_method",
            "discounts",
            "default_tax_rates",
        ]
    ] = Field(default_factory=list, description=_IGNORED_FIELDS)


class MeterIgnore(Model):
    """A meter has no metadata: only its fields can be another writer's (frozen and shared
    as `_Ignore` is)."""

    model_config = ConfigDict(extra="forbid", strict=True, validate_default=True, frozen=True)

    fields: list[Literal["display_name"]] = Field(default_factory=list, description=_IGNORED_FIELDS)


class CouponIgnore(_Ignore):
    fields: list[Literal["name"]] = Field(default_factory=list, description=_IGNORED_FIELDS)


class PromotionCodeIgnore(_Ignore):
    """Only metadata: a code's other fields say who may redeem it."""


class TaxRateIgnore(_Ignore):
    fields: list[Literal["display_name", "description", "jurisdiction"]] = Field(
        default_factory=list, description=_IGNORED_FIELDS
    )


class FeatureIgnore(_Ignore):
    fields: list[Literal["name"]] = Field(default_factory=list, description=_IGNORED_FIELDS)


class IgnoreRules(Model):
    """`ignore:` for every object of a kind (per object: each object's own `ignore:`)."""

    products: ProductIgnore = Field(
        default_factory=_nothing_ignored(ProductIgnore),
        description="What billing-sync leaves alone on every product.",
    )
    prices: PriceIgnore = Field(
        default_factory=_nothing_ignored(PriceIgnore),
        description="What billing-sync leaves alone on every price.",
    )
    customers: CustomerIgnore = Field(
        default_factory=_nothing_ignored(CustomerIgnore),
        description="What billing-sync leaves alone on every customer.",
    )
    subscriptions: SubscriptionIgnore = Field(
        default_factory=_nothing_ignored(SubscriptionIgnore),
        description="What billing-sync leaves alone on every subscription.",
    )
    meters: MeterIgnore = Field(
        default_factory=_nothing_ignored(MeterIgnore),
        description="What billing-sync leaves alone on every meter.",
    )
    coupons: CouponIgnore = Field(
        default_factory=_nothing_ignored(CouponIgnore),
        description="What billing-sync leaves alone on every coupon.",
    )
    promotion_codes: PromotionCodeIgnore = Field(
        default_factory=_nothing_ignored(PromotionCodeIgnore),
        description="What billing-sync leaves alone on every promotion code.",
    )
    tax_rates: TaxRateIgnore = Field(
        default_factory=_nothing_ignored(TaxRateIgnore),
        description="What billing-sync leaves alone on every tax rate.",
    )
    features: FeatureIgnore = Field(
        default_factory=_nothing_ignored(FeatureIgnore),
        description="What billing-sync leaves alone on every entitlement feature.",
    )


class Recurring(Model):
    """A recurring price's billing period: `interval_count` intervals (at most one year);
    a `metered` price bills the usage its `meter` (a meter key) aggregates over the period."""

    interval: Interval = Field(description="The billing period's unit: day, week, month or year.")
    interval_count: int = Field(
        default=1,
        ge=1,
        description="Intervals per billing period (at most one year: 365 days, 52 weeks, "
        "12 months or 1 year).",
    )
    usage_type: Literal["licensed", "metered"] = Field(
        default="licensed",
        description="metered: bill the usage the price's meter aggregates, not a quantity.",
    )
    meter: str | None = Field(
        default=None,
        description="The meter key (its event name) a metered price bills; only with "
        "usage_type: metered.",
    )


class CustomUnitAmount(Model):
    """Pay what you want (one-time prices): the customer picks the amount, in minor units."""

    minimum: MinorAmount | None = Field(default=None, description="Lowest amount (minor units).")
    maximum: MinorAmount | None = Field(default=None, description="Highest amount (minor units).")
    preset: MinorAmount | None = Field(
        default=None, description="Amount shown first (minor units), between the bounds."
    )


class Tier(Model):
    """One tier of a tiered price; only the last tier has `up_to: inf`."""

    up_to: Annotated[int | Literal["inf"], BeforeValidator(_up_to)] = Field(
        description="The last quantity in this tier, or `inf` for the last tier (strictly "
        "increasing)."
    )
    unit_amount: MinorAmount | None = Field(
        default=None, description="Per-unit amount in this tier, in minor units (cents)."
    )
    flat_amount: MinorAmount | None = Field(
        default=None, description="Flat amount for the whole tier, in minor units (cents)."
    )


class TransformQuantity(Model):
    """Bill `quantity / divide_by`, rounded up or down (package pricing)."""

    divide_by: int = Field(ge=1, description="Divide the quantity by this before billing.")
    round: Literal["up", "down"] = Field(description="Round the divided quantity up or down.")


_AMOUNT = (
    'Amount in major units as a decimal string ("19.99", or "0.003" for a fraction of a cent), '
    "converted with the currency's decimals; exactly one amount field or tiers."
)
_UNIT_AMOUNT = (
    "Amount in the currency's minor unit (1999 is 19.99 USD, 0 is free), at most 99,999,999; "
    "exactly one amount field or tiers."
)
_TAX_BEHAVIOR = "Whether the amount includes tax; Stripe changes it only from `unspecified`."


class CurrencyOption(Model):
    """Per-currency amounts of a multi-currency price."""

    unit_amount: MinorAmount | None = Field(default=None, description=_UNIT_AMOUNT)
    amount: Amount | None = Field(default=None, description=_AMOUNT)
    tiers: list[Tier] | None = Field(
        default=None, min_length=1, description="The tiers in this currency (tiered prices only)."
    )
    tax_behavior: TaxBehavior | None = Field(default=None, description=_TAX_BEHAVIOR)

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

    currency: Currency = Field(description="Three-letter currency code, lower case (usd, eur).")
    unit_amount: MinorAmount | None = Field(default=None, description=_UNIT_AMOUNT)
    amount: Amount | None = Field(default=None, description=_AMOUNT)
    tiers: list[Tier] | None = Field(
        default=None,
        min_length=1,
        description="Tiers of a tiered price (needs tiers_mode and recurring); exactly one of "
        "unit_amount, amount or tiers.",
    )
    tiers_mode: Literal["graduated", "volume"] | None = Field(
        default=None,
        description="graduated: each unit priced in its own tier; volume: all units at the "
        "tier the quantity falls in. Only with tiers.",
    )
    unit_amount_decimal: Amount | None = Field(
        default=None,
        description='Amount in minor units with a fraction, as a decimal string ("0.3" is '
        "0.003 USD), at most 12 decimal places.",
    )
    custom_unit_amount: CustomUnitAmount | None = Field(
        default=None,
        description="Pay what you want: the customer chooses the amount (one-time prices only).",
    )
    recurring: Recurring | None = Field(
        default=None, description="The billing period; without it the price is one-time."
    )
    nickname: Text | None = Field(
        default=None, description="A name for the price, not shown to customers."
    )
    tax_behavior: TaxBehavior | None = Field(default=None, description=_TAX_BEHAVIOR)
    transform_quantity: TransformQuantity | None = Field(
        default=None, description="Bill the quantity divided and rounded (not with tiers)."
    )
    currency_options: dict[Currency, CurrencyOption] = Field(
        default_factory=dict,
        description="Amounts in other currencies, keyed by currency (not the price's own).",
    )
    metadata: Metadata = Field(
        default_factory=dict, description="Key-value pairs stored on the Stripe price."
    )
    lookup_key: str | None = Field(
        default=None,
        min_length=1,
        max_length=200,
        description="The price's lookup key (default: the price key); unique among prices.",
    )
    active: bool = Field(default=True, description="false archives the price.")
    # Pins adoption to this existing price (one without a lookup key: `import` writes it).
    stripe_id: str | None = Field(
        default=None,
        pattern=r"^price_[A-Za-z0-9]{1,250}$",
        description="The existing Stripe price this declaration adopts (one without a lookup "
        "key; written by import).",
    )
    ignore: PriceIgnore = Field(
        default_factory=_nothing_ignored(PriceIgnore),
        description="What billing-sync leaves alone on this price.",
    )

    def minor_amount(self) -> int | None:
        """The per-unit amount in whole minor units (None for tiered, custom and sub-cent prices)."""
        value = self.minor_decimal()
        return int(value) if value is not None and value == value.to_integral_value() else None

    def minor_decimal(self) -> Decimal | None:
        """The per-unit amount in minor units, fractions allowed (None for tiered and custom)."""
        if self.unit_amount is not None:
            return Decimal(self.unit_amount)
        if self.amount is not None:
            return to_minor_decimal(self.amount, self.currency)
        if self.unit_amount_decimal is not None:
            return Decimal(self.unit_amount_decimal.strip())
        return None


class Product(Model):
    """A product and its prices; the key is the Stripe product id unless `id` is given."""

    name: str = Field(
        min_length=1, max_length=MAX_TEXT, description="The product's name, shown to customers."
    )
    id: ProductId | None = Field(
        default=None,
        description="The Stripe product id (default: the product key); set at creation only.",
    )
    description: Text | None = Field(default=None, description="Shown to customers.")
    active: bool = Field(default=True, description="false archives the product.")
    metadata: Metadata = Field(
        default_factory=dict, description="Key-value pairs stored on the Stripe product."
    )
    ignore: ProductIgnore = Field(
        default_factory=_nothing_ignored(ProductIgnore),
        description="What billing-sync leaves alone on this product.",
    )
    tax_code: Text | None = Field(default=None, description="A Stripe tax code (txcd_10103000).")
    statement_descriptor: (
        Annotated[
            str,
            Field(
                min_length=5,
                max_length=22,
                json_schema_extra={"pattern": STATEMENT_DESCRIPTOR_PATTERN},
            ),
            AfterValidator(_check_statement_descriptor),
        ]
        | None
    ) = Field(
        default=None,
        description="On card statements: 5-22 characters, a letter, none of < > \\ \" '.",
    )
    unit_label: str | None = Field(
        default=None, min_length=1, max_length=12, description="The unit on invoices (seat)."
    )
    url: Url | None = Field(default=None, description="The product's web page.")
    images: list[Url] = Field(default_factory=list, max_length=8, description="Up to 8 image URLs.")
    marketing_features: list[
        Annotated[str, Field(min_length=1, max_length=MAX_MARKETING_FEATURE)]
    ] = Field(
        default_factory=list,
        max_length=15,
        description="Up to 15 features shown in pricing tables (1-80 characters each).",
    )
    default_price: str | None = Field(
        default=None,
        description="The key of an active price of this product; removing it unsets the "
        "default price.",
    )
    prices: dict[Key, Price] = Field(
        default_factory=dict,
        description="The product's prices by key (the key is the default lookup_key).",
    )
    features: list[Key] = Field(
        default_factory=list,
        description="Keys of the entitlement features (top-level `features`) this product grants.",
        json_schema_extra={"uniqueItems": True},
    )


#: An entitlement feature's name and lookup key: "up to 80 characters" (the Feature object,
#: https://docs.stripe.com/api/entitlements/feature/object).
MAX_FEATURE_TEXT = 80


class Feature(Model):
    """An entitlement feature that apps check (`lookup_key`) and products grant (`features:`)."""

    name: str = Field(
        min_length=1,
        max_length=MAX_FEATURE_TEXT,
        description="The feature's name (not shown to customers).",
    )
    lookup_key: str | None = Field(
        default=None,
        min_length=1,
        max_length=MAX_FEATURE_TEXT,
        description="What apps check (default: the feature key); a new value replaces the feature.",
    )
    metadata: Metadata = Field(
        default_factory=dict, description="Key-value pairs stored on the Stripe feature."
    )
    ignore: FeatureIgnore = Field(
        default_factory=_nothing_ignored(FeatureIgnore),
        description="What billing-sync leaves alone on this feature.",
    )


# -- coupons, promotion codes, tax rates -------------------------------------------------------
#: `percent_off` and tax `percentage`: a decimal number of percent, written as a number or a
#: quoted string, kept exactly (Stripe takes and returns a float; billing-sync compares the
#: decimal text).
_PERCENT_RE = re.compile(r"[0-9]{1,3}(\.[0-9]{1,4})?\Z")


def _check_percent(value: str) -> str:
    text = value.strip()
    if not _PERCENT_RE.match(text):
        raise ValueError(
            f"{value!r} is not a percentage: write a number such as 20 or 7.5 (at most 4 decimals)"
        )
    number = float(text)
    if not 0 < number <= 100:
        raise ValueError(f"must be greater than 0 and at most 100, got {text}")
    return text


def _timestamp(value: Any) -> Any:
    """A moment: a YAML timestamp with a time (2026-12-31T23:59:59Z), the same as a quoted
    ISO 8601 string, or Unix seconds. A bare date is refused: which time of that day is meant?"""
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        try:
            value = dt.datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            raise ValueError(
                f"{value!r} is not a moment: write 2026-12-31T23:59:59Z or Unix seconds"
            ) from None
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:  # YAML: a timestamp without a zone is UTC
            value = value.replace(tzinfo=dt.UTC)
        return int(value.timestamp())
    if isinstance(value, dt.date):
        raise ValueError(
            f"{value.isoformat()} is a date without a time: write {value.isoformat()}T23:59:59Z "
            "(or the time you mean, with its zone)"
        )
    return value


Percent = Annotated[
    str,
    BeforeValidator(_amount_text),
    AfterValidator(_check_percent),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "number", "exclusiveMinimum": 0, "maximum": 100},
                {"type": "string", "pattern": r"^\s*[0-9]{1,3}(\.[0-9]{1,4})?\s*$"},
            ]
        }
    ),
]


#: Unix seconds (after 2001-09-09, before 2100): the parsed forms of `_timestamp`.
def _check_moment(value: int) -> int:
    if not 1_000_000_000 <= value <= 4_102_444_800:
        shown = dt.datetime.fromtimestamp(value, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        raise ValueError(f"{shown} is out of range: write a moment between 2001-09-09 and 2100")
    return value


Timestamp = Annotated[
    int,
    BeforeValidator(_timestamp),
    AfterValidator(_check_moment),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "integer", "minimum": 1_000_000_000, "maximum": 4_102_444_800},
                {"type": "string", "pattern": r"^[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}"},
            ]
        }
    ),
]
#: Stripe's coupon ids and promotion codes: letters and digits (codes), plus '-' and '_' (ids).
COUPON_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$"
PROMOTION_CODE_PATTERN = r"^[A-Za-z0-9]{1,500}$"
COUNTRY_PATTERN = r"^[A-Z]{2}$"
#: Subscription.default_tax_rates: billing-sync's cap (Stripe documents none in its types).
MAX_TAX_RATES = 10
TaxType = Literal[
    "admissions_tax",
    "amusement_tax",
    "attendance_tax",
    "communications_tax",
    "digital_excise_tax",
    "entertainment_tax",
    "get_fund",
    "gross_receipts_tax",
    "gst",
    "hospitality_tax",
    "hst",
    "igst",
    "jct",
    "lease_tax",
    "luxury_tax",
    "mass_transit_parking_tax",
    "nhil",
    "parking_tax",
    "pst",
    "qst",
    "resort_tax",
    "retail_delivery_fee",
    "rst",
    "sales_tax",
    "service_tax",
    "tourism_tax",
    "utility_users_tax",
    "vat",
]


class CouponCurrencyOption(Model):
    """An amount-off coupon's amount in another currency (minor units)."""

    amount_off: int = Field(
        ge=1, le=MAX_AMOUNT, description="The amount off in this currency, in minor units."
    )


class CouponAppliesTo(Model):
    """The declared products (by key) the coupon discounts; all products when absent."""

    products: list[str] = Field(min_length=1, description="Product keys the coupon applies to.")


class Coupon(Model):
    """A coupon: `percent_off`, or `amount_off` in `currency`; its key is its Stripe id unless
    `id` is given. Only name, metadata and currency_options change in place."""

    id: Annotated[str, Field(pattern=COUPON_ID_PATTERN)] | None = Field(
        default=None, description="The Stripe coupon id (default: the coupon key)."
    )
    name: str | None = Field(
        default=None, min_length=1, max_length=40, description="Shown to customers."
    )
    percent_off: Percent | None = Field(
        default=None, description="Percent off (over 0, at most 100); or amount_off."
    )
    amount_off: int | None = Field(
        default=None, ge=1, le=MAX_AMOUNT, description="Amount off in minor units of currency."
    )
    currency: Currency | None = Field(default=None, description="The currency of amount_off.")
    currency_options: dict[Currency, CouponCurrencyOption] = Field(
        default_factory=dict, description="amount_off in other currencies."
    )
    duration: Literal["once", "repeating", "forever"] = Field(
        default="once", description="How long a discount from it lasts."
    )
    duration_in_months: int | None = Field(
        default=None, ge=1, le=120, description="Months of a repeating discount."
    )
    max_redemptions: int | None = Field(
        default=None, ge=1, description="How many times it can be redeemed."
    )
    redeem_by: Timestamp | None = Field(
        default=None, description="Last moment to redeem it (2027-01-01T00:00:00Z)."
    )
    applies_to: CouponAppliesTo | None = Field(
        default=None, description="The products it discounts (default: all)."
    )
    metadata: Metadata = Field(
        default_factory=dict, description="Key-value pairs stored on the Stripe coupon."
    )
    ignore: CouponIgnore = Field(
        default_factory=_nothing_ignored(CouponIgnore),
        description="What billing-sync leaves alone on this coupon.",
    )


class PromotionRestrictions(Model):
    """Who may redeem a promotion code: first-time customers, a minimum order."""

    first_time_transaction: bool = Field(
        default=False, description="Only customers without earlier payments."
    )
    minimum_amount: int | None = Field(
        default=None, ge=1, le=MAX_AMOUNT, description="Minimum order, in minor units."
    )
    minimum_amount_currency: Currency | None = Field(
        default=None, description="The currency of minimum_amount."
    )


class PromotionCode(Model):
    """A customer-facing code for a declared coupon. Only `active` and metadata change in
    place; removing it deactivates it (Stripe never deletes promotion codes)."""

    coupon: str = Field(description="The coupon key.")
    code: Annotated[str, Field(pattern=PROMOTION_CODE_PATTERN)] = Field(
        description="What customers type: letters and digits."
    )
    active: bool = Field(default=True, description="false deactivates the code.")
    max_redemptions: int | None = Field(
        default=None, ge=1, description="How many times it can be redeemed."
    )
    expires_at: Timestamp | None = Field(
        default=None, description="When it expires (2026-12-31T23:59:59Z)."
    )
    restrictions: PromotionRestrictions = Field(
        default_factory=PromotionRestrictions, description="Who may redeem it."
    )
    metadata: Metadata = Field(
        default_factory=dict, description="Key-value pairs stored on the promotion code."
    )
    ignore: PromotionCodeIgnore = Field(
        default_factory=_nothing_ignored(PromotionCodeIgnore),
        description="What billing-sync leaves alone on this promotion code.",
    )


class TaxRate(Model):
    """A manual tax rate; `percentage` and `inclusive` are fixed once created (a change makes a
    new rate and archives the old one)."""

    display_name: str = Field(
        min_length=1, max_length=50, description="Shown to customers on invoices."
    )
    percentage: Percent = Field(description="The rate in percent; fixed once created.")
    inclusive: bool = Field(description="Whether prices include it; fixed once created.")
    active: bool = Field(default=True, description="false archives the rate.")
    description: Text | None = Field(default=None, description="An internal description.")
    jurisdiction: str | None = Field(
        default=None, min_length=1, max_length=50, description="The jurisdiction's label."
    )
    country: str | None = Field(
        default=None, pattern=COUNTRY_PATTERN, description="ISO 3166-1 code, e.g. DE."
    )
    state: str | None = Field(
        default=None, min_length=1, max_length=10, description="ISO 3166-2 subdivision, e.g. NY."
    )
    tax_type: TaxType | None = Field(default=None, description="vat, sales_tax, gst, ...")
    metadata: Metadata = Field(
        default_factory=dict, description="Key-value pairs stored on the tax rate."
    )
    ignore: TaxRateIgnore = Field(
        default_factory=_nothing_ignored(TaxRateIgnore),
        description="What billing-sync leaves alone on this rate.",
    )


class SubscriptionItem(Model):
    """One line of a subscription: a recurring price key and a quantity."""

    price: str = Field(description="The key of a recurring price in billing.yaml.")
    quantity: int = Field(
        default=1, ge=1, le=MAX_QUANTITY, description="How many units (1 to 99,999,999)."
    )
    metadata: Metadata = Field(
        default_factory=dict, description="Key-value pairs stored on the subscription item."
    )


class SubscriptionDiscount(Model):
    """One discount of a subscription: a declared coupon or promotion code (by key)."""

    coupon: str | None = Field(default=None, description="A coupon key.")
    promotion_code: str | None = Field(default=None, description="A promotion code key.")


class Subscription(Model):
    """A contracted subscription of a customer (identified by customer key + its own key)."""

    items: list[SubscriptionItem] = Field(
        min_length=1,
        max_length=20,
        description="1 to 20 items, each a different recurring price in one currency.",
    )
    collection_method: CollectionMethod = Field(
        default="charge_automatically",
        description="charge_automatically, or send_invoice (needs days_until_due).",
    )
    days_until_due: int | None = Field(
        default=None,
        ge=1,
        le=MAX_DAYS_UNTIL_DUE,
        description="Days to pay an invoice (1-730); only with send_invoice, and required there.",
    )
    trial_period_days: int | None = Field(
        default=None,
        ge=1,
        le=730,
        description="Trial days (1-730), used when the subscription is created.",
    )
    trial_end: Moment | None = Field(
        default=None,
        description=(
            "Set, move or end (`now`) the trial of the subscription: `now`, a date "
            "(YYYY-MM-DD, 00:00 UTC) or a date and time (UTC unless a zone is given)."
        ),
    )
    cancel_at_period_end: bool = Field(
        default=False, description="Cancel at the end of the current period."
    )
    default_payment_method: Text | None = Field(
        default=None,
        description="An attached PaymentMethod id, or a test card token (pm_card_visa) in test mode.",
    )
    proration_behavior: ProrationBehavior | None = Field(
        default=None,
        description="How changes are prorated (default: policies.proration_behavior).",
    )
    metadata: Metadata = Field(
        default_factory=dict, description="Key-value pairs stored on the Stripe subscription."
    )
    ignore: SubscriptionIgnore = Field(
        default_factory=_nothing_ignored(SubscriptionIgnore),
        description="What billing-sync leaves alone on this subscription.",
    )
    protect: bool = Field(
        default=False,
        description="Refuse plans that cancel or shrink it without --allow-destroy.",
    )
    discounts: list[SubscriptionDiscount] = Field(
        default_factory=list,
        max_length=20,
        description="Coupons or promotion codes (by key) applied to it; kept once applied.",
    )
    default_tax_rates: list[str] = Field(
        default_factory=list,
        max_length=MAX_TAX_RATES,
        description="Tax rate keys applied to its invoices.",
    )


class Customer(Model):
    """A customer and its declared subscriptions."""

    email: Email | None = Field(
        default=None, description="The customer's email (adopts an existing customer with it)."
    )
    name: Text | None = Field(default=None, description="The customer's name.")
    description: Text | None = Field(default=None, description="An internal description.")
    phone: Text | None = Field(default=None, description="The customer's phone number.")
    metadata: Metadata = Field(
        default_factory=dict, description="Key-value pairs stored on the Stripe customer."
    )
    ignore: CustomerIgnore = Field(
        default_factory=_nothing_ignored(CustomerIgnore),
        description="What billing-sync leaves alone on this customer.",
    )
    subscriptions: dict[Key, Subscription] = Field(
        default_factory=dict, description="The customer's subscriptions by key."
    )


class Policies(Model):
    """Safety and behaviour policies for plan/apply."""

    subscription_removal: Literal["cancel_at_period_end", "cancel_now", "unmanage"] = Field(
        default="cancel_at_period_end",
        description="What removing a subscription from billing.yaml does (unmanage: drop "
        "ownership, keep billing).",
    )
    proration_behavior: ProrationBehavior = Field(
        default="create_prorations", description="Default proration of subscription changes."
    )
    max_destroy_percent: float = Field(
        default=30,
        ge=0,
        le=100,
        description="Refuse plans archiving or cancelling more than this share of managed "
        "objects without --allow-destroy.",
    )
    max_update_percent: float = Field(
        default=30,
        ge=0,
        le=100,
        description="Refuse plans updating or replacing more than this share of managed objects "
        "without --allow-mass-update.",
    )
    min_objects_for_thresholds: int = Field(
        default=10,
        ge=0,
        description="The percentage thresholds apply only from this many managed objects.",
    )


class MeterAggregation(Model):
    """How a meter aggregates its events over a billing period."""

    formula: Literal["sum", "count", "last"] = Field(
        default="sum", description="sum or last of the event values, or count of the events."
    )


class MeterPayloadKey(Model):
    """Which key of a meter event's payload holds the customer id (or the value)."""

    event_payload_key: str = Field(
        min_length=1, max_length=100, description="The key in the meter event's payload."
    )


def _customer_mapping() -> MeterPayloadKey:
    return MeterPayloadKey(event_payload_key="stripe_customer_id")


def _value_settings() -> MeterPayloadKey:
    return MeterPayloadKey(event_payload_key="value")


class Meter(Model):
    """A billing meter; its key is its Stripe `event_name` (what apps send usage as). Stripe
    changes only `display_name` in place (see docs/billing-yaml.md, meters)."""

    display_name: str = Field(
        min_length=1, max_length=250, description="The meter's name (the only in-place change)."
    )
    default_aggregation: MeterAggregation = Field(
        default_factory=MeterAggregation, description="How events aggregate (fixed at creation)."
    )
    customer_mapping: MeterPayloadKey = Field(
        default_factory=_customer_mapping,
        description="The payload key with the customer id (default stripe_customer_id; fixed).",
    )
    value_settings: MeterPayloadKey = Field(
        default_factory=_value_settings,
        description="The payload key with the usage value (default value; fixed).",
    )
    event_time_window: Literal["day", "hour"] | None = Field(
        default=None, description="Events pre-aggregated per day or hour (fixed at creation)."
    )
    active: bool = Field(default=True, description="false deactivates the meter.")
    ignore: MeterIgnore = Field(
        default_factory=_nothing_ignored(MeterIgnore),
        description="What billing-sync leaves alone on this meter.",
    )


class PaymentsSettings(Model):
    """Defaults for `billing-sync payments`."""

    max_amount: int | None = Field(
        default=None,
        ge=1,
        le=MAX_AMOUNT,
        description="Largest one-off payment accepted, in minor units of max_amount_currency.",
    )
    max_amount_currency: Currency = Field(default="usd", description="The currency of max_amount.")


class BillingConfig(Model):
    """The whole billing.yaml document."""

    version: Literal[1] = Field(default=1, description="The format version: 1.")
    meters: dict[Key, Meter] = Field(
        default_factory=dict, description="Usage meters by key (the key is the event name)."
    )
    products: dict[ProductId, Product] = Field(
        default_factory=dict, description="The catalog: products by key."
    )
    customers: dict[Key, Customer] = Field(
        default_factory=dict, description="Customers and their subscriptions, by key."
    )
    coupons: dict[Key, Coupon] = Field(
        default_factory=dict, description="Coupons by key (the key is the coupon id by default)."
    )
    promotion_codes: dict[Key, PromotionCode] = Field(
        default_factory=dict, description="Customer-facing codes for coupons, by key."
    )
    tax_rates: dict[Key, TaxRate] = Field(
        default_factory=dict, description="Manual tax rates, by key."
    )
    features: dict[Key, Feature] = Field(
        default_factory=dict, description="Entitlement features that products grant, by key."
    )
    policies: Policies = Field(
        default_factory=Policies, description="Safety and behaviour of plan and apply."
    )
    ignore: IgnoreRules = Field(
        default_factory=IgnoreRules,
        description="What billing-sync leaves alone on every object of a kind.",
    )
    payments: PaymentsSettings = Field(
        default_factory=PaymentsSettings, description="Defaults for billing-sync payments."
    )

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
        positions = self._located()
        for n in range(len(path), -1, -1):
            pos = positions.get(tuple(path[:n]))
            if pos is not None:
                return f"{self._source_file}:{pos[0]}:{pos[1]}"
        return None

    def position(self, path: tuple[str | int, ...]) -> tuple[str, int, int] | None:
        """(file, line, column) of the value at exactly `path`, for configs made by the loader."""
        pos = self._located().get(path)
        return None if pos is None else (self._source_file, pos[0], pos[1])

    def _located(self) -> Mapping[tuple[str | int, ...], tuple[int, int]]:
        if self._positions is None:
            if self._source_text is None:
                return {}
            from billing_sync.config.source import parse  # the loader's own parser, on demand

            self._positions = parse(self._source_text, self._source_file).source.values
        return self._positions
