"""Config layer: the billing.yaml models and the position-keeping loader."""

from billing_sync.config.models import (
    BillingConfig,
    Customer,
    Policies,
    Price,
    Product,
    Subscription,
    SubscriptionItem,
)

__all__ = [
    "BillingConfig",
    "Customer",
    "Policies",
    "Price",
    "Product",
    "Subscription",
    "SubscriptionItem",
]
