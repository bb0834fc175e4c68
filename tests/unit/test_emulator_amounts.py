"""The emulator's pricing of a quantity: tier boundaries, flat amounts, packages, sub-cent."""

from __future__ import annotations

from typing import Any

import pytest
from stripe_emulator.resources.amounts import line_amount, transformed_quantity


def tiered(mode: str, *tiers: tuple[int | None, int, int]) -> dict[str, Any]:
    return {
        "billing_scheme": "tiered",
        "tiers_mode": mode,
        "tiers": [
            {"up_to": up, "unit_amount": unit, "flat_amount": flat, "unit_amount_decimal": None}
            for up, unit, flat in tiers
        ],
    }


TIERS = ((10, 1000, 0), (50, 800, 0), (None, 600, 500))


@pytest.mark.parametrize(
    ("quantity", "graduated", "volume"),
    [
        (1, 1000, 1000),
        (10, 10_000, 10_000),  # the boundary belongs to the lower tier
        (11, 10_800, 8800),
        (50, 42_000, 40_000),
        (51, 43_100, 31_100),  # the last tier's flat amount once reached
    ],
)
def test_tiers_at_their_boundaries(quantity: int, graduated: int, volume: int) -> None:
    assert line_amount(tiered("graduated", *TIERS), quantity) == graduated
    assert line_amount(tiered("volume", *TIERS), quantity) == volume


def test_a_flat_only_first_tier_is_charged_once() -> None:
    price = tiered("graduated", (3, 0, 2500), (None, 700, 0))
    assert [line_amount(price, q) for q in (1, 3, 4)] == [2500, 2500, 3200]


@pytest.mark.parametrize(
    ("round_", "quantity", "units"), [("up", 20, 2), ("up", 21, 3), ("down", 29, 2), ("down", 9, 0)]
)
def test_transform_quantity(round_: str, quantity: int, units: int) -> None:
    price = {"unit_amount": 1000, "transform_quantity": {"divide_by": 10, "round": round_}}
    assert transformed_quantity(price, quantity) == units
    assert line_amount(price, quantity) == units * 1000


def test_sub_cent_amounts_round_the_line_once() -> None:
    price = {"unit_amount": None, "unit_amount_decimal": "0.003"}
    assert line_amount(price, 500) == 2  # 1.5 rounds half up
    assert line_amount(price, 499) == 1
