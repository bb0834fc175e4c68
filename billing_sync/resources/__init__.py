"""The resource kinds billing-sync manages, in one ordered registry (read order = dependency order).

Adding a kind: one module here with its state, fields, reads and rules (see
docs/architecture.md, "Adding a resource kind"), then one line in KINDS.
"""

from __future__ import annotations

from typing import Any

from billing_sync.resources.base import (
    Desired,
    Existing,
    FieldSpec,
    Kind,
    Mutability,
    PlanContext,
    Snapshot,
    Unset,
)
from billing_sync.resources.coupon import COUPON
from billing_sync.resources.customer import CUSTOMER
from billing_sync.resources.feature import FEATURE
from billing_sync.resources.meter import METER
from billing_sync.resources.price import PRICE
from billing_sync.resources.product import PRODUCT
from billing_sync.resources.product_feature import PRODUCT_FEATURE
from billing_sync.resources.promotion_code import PROMOTION_CODE
from billing_sync.resources.subscription import SUBSCRIPTION
from billing_sync.resources.tax_rate import TAX_RATE

# A kind comes after every kind it refers to: it is read, and its changes listed, in this order.
KINDS: tuple[Kind[Any], ...] = (
    PRODUCT,
    METER,
    PRICE,
    # Discounts and taxes: coupons refer to products, codes to coupons, subscriptions to all three.
    COUPON,
    PROMOTION_CODE,
    TAX_RATE,
    CUSTOMER,
    SUBSCRIPTION,
    FEATURE,
    PRODUCT_FEATURE,
)
BY_NAME: dict[str, Kind[Any]] = {k.name: k for k in KINDS}
RANK: dict[str, int] = {k.name: n for n, k in enumerate(KINDS)}

if len(BY_NAME) != len(KINDS):  # pragma: no cover - a programming error, caught at import
    raise RuntimeError("two resource kinds share a name")

__all__ = [
    "BY_NAME",
    "COUPON",
    "CUSTOMER",
    "FEATURE",
    "KINDS",
    "METER",
    "PRICE",
    "PRODUCT",
    "PRODUCT_FEATURE",
    "PROMOTION_CODE",
    "RANK",
    "SUBSCRIPTION",
    "TAX_RATE",
    "Desired",
    "Existing",
    "FieldSpec",
    "Kind",
    "Mutability",
    "PlanContext",
    "Snapshot",
    "Unset",
]
