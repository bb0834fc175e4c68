"""How each declared field is unset agrees with Stripe's own types (stripe.params, generated
from Stripe's OpenAPI spec): a field billing-sync unsets with "" must accept "" in Stripe's
update parameters, and one it declares Stripe cannot unset must not, unless public evidence
says otherwise (each exception names its source)."""

from __future__ import annotations

from typing import Any

import pytest
import stripe.params as sp
import stripe.params.entitlements as spe

from billing_sync.resources import KINDS, FieldSpec, Kind, Unset

UPDATE_PARAMS: dict[str, Any] = {
    "product": sp.ProductModifyParams,
    "price": sp.PriceModifyParams,
    "meter": sp.billing.MeterModifyParams,
    "customer": sp.CustomerModifyParams,
    "subscription": sp.SubscriptionModifyParams,
    "coupon": sp.CouponModifyParams,
    "promotion_code": sp.PromotionCodeModifyParams,
    "tax_rate": sp.TaxRateModifyParams,
    "feature": spe.FeatureModifyParams,
    # An attachment has no update (and no fields): a link is created or deleted.
    "product_feature": sp.ProductFeatureCreateParams,
}
# Unset with "" although the types say str: Stripe staff confirm `default_price: ''` unsets a
# product's default price (stripe-python#658).
ACCEPTS_EMPTY_BY_EVIDENCE = {("product", "default_price")}

FIELDS = [
    (kind, spec)
    for kind in KINDS
    for spec in kind.fields
    if spec.unset in (Unset.EMPTY, Unset.NEVER)
]


def accepts_empty(kind: Kind[Any], name: str) -> bool:
    annotation = UPDATE_PARAMS[kind.name].__annotations__[name]
    return "Literal['']" in str(annotation) or (kind.name, name) in ACCEPTS_EMPTY_BY_EVIDENCE


def test_every_kind_has_its_update_parameters() -> None:
    assert set(UPDATE_PARAMS) == {k.name for k in KINDS}


@pytest.mark.parametrize(("kind", "spec"), FIELDS, ids=[f"{k.name}.{s.name}" for k, s in FIELDS])
def test_unset_rule_matches_stripes_types(kind: Kind[Any], spec: FieldSpec) -> None:
    assert accepts_empty(kind, spec.name) is (spec.unset is Unset.EMPTY)
