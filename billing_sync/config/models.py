"""Pydantic models of billing.yaml (the desired state); every model forbids unknown fields."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from billing_sync.money import to_minor

Interval = Literal["day", "week", "month", "year"]
TaxBehavior = Literal["inclusive", "exclusive", "unspecified"]
ProrationBehavior = Literal["create_prorations", "always_invoice", "none"]
CollectionMethod = Literal["charge_automatically", "send_invoice"]
Metadata = dict[str, str]
NonNegInt = int


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=False, validate_default=True)


class Recurring(Model):
    interval: Interval
    interval_count: int = Field(default=1, ge=1)


class Tier(Model):
    up_to: int | Literal["inf"]
    unit_amount: int | None = Field(default=None, ge=0)
    flat_amount: int | None = Field(default=None, ge=0)


class TransformQuantity(Model):
    divide_by: int = Field(ge=1)
    round: Literal["up", "down"]


class CurrencyOption(Model):
    """Per-currency amounts of a multi-currency price."""

    unit_amount: int | None = Field(default=None, ge=0)
    amount: str | None = None
    tiers: list[Tier] | None = None
    tax_behavior: TaxBehavior | None = None

    def minor_amount(self, currency: str) -> int | None:
        if self.unit_amount is not None:
            return self.unit_amount
        if self.amount is not None:
            return to_minor(self.amount, currency)
        return None


class Price(Model):
    currency: str
    unit_amount: int | None = Field(default=None, ge=0)
    amount: str | None = None
    tiers: list[Tier] | None = None
    tiers_mode: Literal["graduated", "volume"] | None = None
    recurring: Recurring | None = None
    nickname: str | None = None
    tax_behavior: TaxBehavior | None = None
    transform_quantity: TransformQuantity | None = None
    currency_options: dict[str, CurrencyOption] = Field(default_factory=dict)
    metadata: Metadata = Field(default_factory=dict)
    lookup_key: str | None = Field(default=None, min_length=1, max_length=200)
    active: bool = True

    def minor_amount(self) -> int | None:
        """The per-unit amount in minor units (None for tiered prices)."""
        if self.unit_amount is not None:
            return self.unit_amount
        if self.amount is not None:
            return to_minor(self.amount, self.currency)
        return None


class Product(Model):
    name: str = Field(min_length=1)
    id: str | None = Field(default=None, min_length=1)
    description: str | None = None
    active: bool = True
    metadata: Metadata = Field(default_factory=dict)
    tax_code: str | None = None
    statement_descriptor: str | None = None
    unit_label: str | None = None
    url: str | None = None
    images: list[str] = Field(default_factory=list)
    marketing_features: list[str] = Field(default_factory=list)
    default_price: str | None = None
    prices: dict[str, Price] = Field(default_factory=dict)


class SubscriptionItem(Model):
    price: str
    quantity: int = Field(default=1, ge=1)
    metadata: Metadata = Field(default_factory=dict)


class Subscription(Model):
    items: list[SubscriptionItem] = Field(min_length=1, max_length=20)
    collection_method: CollectionMethod = "charge_automatically"
    days_until_due: int | None = Field(default=None, ge=1)
    trial_period_days: int | None = Field(default=None, ge=1)
    cancel_at_period_end: bool = False
    default_payment_method: str | None = None
    proration_behavior: ProrationBehavior | None = None
    metadata: Metadata = Field(default_factory=dict)
    protect: bool = False


class Customer(Model):
    email: str | None = None
    name: str | None = None
    description: str | None = None
    phone: str | None = None
    metadata: Metadata = Field(default_factory=dict)
    subscriptions: dict[str, Subscription] = Field(default_factory=dict)


class Policies(Model):
    subscription_removal: Literal["cancel_at_period_end", "cancel_now"] = "cancel_at_period_end"
    proration_behavior: ProrationBehavior = "create_prorations"
    max_destroy_percent: float = Field(default=30, ge=0, le=100)


class PaymentsSettings(Model):
    """Defaults for `billing-sync payments`."""

    max_amount: int | None = Field(default=None, ge=1)
    max_amount_currency: str = "usd"


class BillingConfig(Model):
    version: Literal[1] = 1
    products: dict[str, Product] = Field(default_factory=dict)
    customers: dict[str, Customer] = Field(default_factory=dict)
    policies: Policies = Field(default_factory=Policies)
    payments: PaymentsSettings = Field(default_factory=PaymentsSettings)

    def price_index(self) -> dict[str, tuple[str, Price]]:
        """price key -> (product key, price)."""
        return {
            pk: (prod_key, price)
            for prod_key, prod in self.products.items()
            for pk, price in prod.prices.items()
        }
