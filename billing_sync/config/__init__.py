"""Config layer: the billing.yaml models and the position-keeping loader.

Public API: `load_config(path)`, `load_text(text, filename)` and `config_path(explicit)`
(all raising `billing_sync.errors.ConfigError` with every issue), the models, and
`BillingConfig.location(*path)` for the `file:line:col` of a loaded node.
"""

from billing_sync.config.loader import config_path, load_config, load_text
from billing_sync.config.models import (
    BillingConfig,
    CurrencyOption,
    Customer,
    PaymentsSettings,
    Policies,
    Price,
    Product,
    Recurring,
    Subscription,
    SubscriptionItem,
    Tier,
    TransformQuantity,
)
from billing_sync.config.source import format_path

__all__ = [
    "BillingConfig",
    "CurrencyOption",
    "Customer",
    "PaymentsSettings",
    "Policies",
    "Price",
    "Product",
    "Recurring",
    "Subscription",
    "SubscriptionItem",
    "Tier",
    "TransformQuantity",
    "config_path",
    "format_path",
    "load_config",
    "load_text",
]
