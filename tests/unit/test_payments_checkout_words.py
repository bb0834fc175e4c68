"""How `payments checkout` describes a price: per unit, tiers, packages, metered, custom."""

from __future__ import annotations

from typing import Any

from billing_sync.payments.service import PriceRef

MONTH = {"interval": "month", "interval_count": 1, "usage_type": "licensed"}


def ref(**kw: Any) -> PriceRef:
    base: dict[str, Any] = {
        "id": "price_1",
        "key": "k",
        "type": "recurring" if kw.get("recurring") else "one_time",
        "active": True,
        "currency": "usd",
        "unit_amount": None,
        "recurring": None,
    }
    return PriceRef(**{**base, **kw})


def test_plain_prices_keep_their_short_form() -> None:
    assert ref(unit_amount=2900, recurring=MONTH).words() == "29.00 USD/month"
    quarterly = {**MONTH, "interval_count": 3}
    assert ref(unit_amount=2900, recurring=quarterly).words() == "29.00 USD/3 months"
    assert ref(unit_amount=49900).words() == "499.00 USD one-time"
    assert ref(unit_amount_decimal="0.3").words() == "0.003 USD one-time"


def test_tiers_are_listed_with_their_ranges_and_flat_amounts() -> None:
    tiers = (
        {"up_to": 10, "unit_amount": 1000, "unit_amount_decimal": "1000"},
        {"up_to": None, "unit_amount": 800, "flat_amount": 500, "flat_amount_decimal": "500"},
    )
    price = ref(recurring=MONTH, tiers_mode="volume", tiers=tiers)
    assert price.words() == (
        "volume tiers: 1-10 at 10.00 USD, 11+ at 8.00 USD + 5.00 USD flat; every month"
    )


def test_packages_metered_and_custom_amounts() -> None:
    packs = ref(unit_amount=1000, transform_quantity={"divide_by": 10, "round": "down"})
    assert packs.words() == "10.00 USD per 10 units, rounded down, one-time"
    metered = ref(unit_amount_decimal="0.002", recurring={**MONTH, "usage_type": "metered"})
    assert metered.metered and not metered.custom
    assert metered.words() == "metered usage, 0.00002 USD a unit; every month"
    tip = ref(custom_unit_amount={"minimum": 500, "maximum": None, "preset": 1500})
    assert tip.custom and tip.custom_bounds() == "minimum 5.00 USD, preset 15.00 USD"
    assert tip.words() == (
        "amount chosen by the customer (minimum 5.00 USD, preset 15.00 USD), one-time"
    )
    assert ref(custom_unit_amount={}).words() == "amount chosen by the customer, one-time"
