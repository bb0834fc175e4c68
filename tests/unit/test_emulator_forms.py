"""The emulator's form decoder and validator against the stripe library's own encoder."""

from __future__ import annotations

from decimal import Decimal
from typing import Any
from urllib.parse import parse_qsl, urlencode

import pytest
import stripe.params as sp
from hypothesis import given, settings
from hypothesis import strategies as st
from stripe._encode import _api_encode
from stripe_emulator.errors import ApiError
from stripe_emulator.params import Implemented, decode_form, validate


def _wire(params: dict[str, Any]) -> str:
    """Exactly what stripe-python puts on the wire (see _api_requestor)."""
    return urlencode(list(_api_encode(params))).replace("%5B", "[").replace("%5D", "]")


def _normalise(value: Any) -> Any:
    """What the decoder yields before typing: lists as {"0": ...}; empties vanish on the wire."""
    if isinstance(value, list):
        value = {str(i): v for i, v in enumerate(value)}
    if isinstance(value, dict):
        out = {k: _normalise(v) for k, v in value.items()}
        return {k: v for k, v in out.items() if v != {}}
    return value


keys = st.text(alphabet="abcdefghijklmnopqrstuvwxyz_0123456789", min_size=1, max_size=8)
scalars = st.text(alphabet=st.characters(blacklist_categories=["Cs"]), max_size=12)
tree = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.dictionaries(keys, children, min_size=1, max_size=4),
        st.lists(children, min_size=1, max_size=4),
    ),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(keys, tree, max_size=5))
def test_decode_inverts_stripe_encoding(params: dict[str, Any]) -> None:
    decoded = decode_form(parse_qsl(_wire(params), keep_blank_values=True))
    assert decoded == _normalise(params)


def test_typed_validation_of_a_realistic_body() -> None:
    params = {
        "product": "prod_1",
        "currency": "usd",
        "unit_amount_decimal": Decimal("12.5"),
        "recurring": {"interval": "month", "interval_count": 3},
        "tiers": [{"up_to": 5, "unit_amount": 10}, {"up_to": "inf", "flat_amount": 0}],
        "metadata": {"a": "1", "b": ""},
        "active": False,
        "expand": ["product"],
    }
    raw = decode_form(parse_qsl(_wire(params), keep_blank_values=True))
    paths = {
        "product",
        "currency",
        "unit_amount_decimal",
        "recurring",
        "tiers",
        "metadata",
        "active",
        "expand",
    }
    out = validate(sp.PriceCreateParams, Implemented(paths), raw)
    assert out["unit_amount_decimal"] == Decimal("12.5")
    assert out["recurring"] == {"interval": "month", "interval_count": 3}
    assert out["tiers"] == [{"up_to": 5, "unit_amount": 10}, {"up_to": "inf", "flat_amount": 0}]
    assert out["metadata"] == {"a": "1", "b": ""}
    assert out["active"] is False
    assert out["expand"] == ["product"]


@pytest.mark.parametrize(
    ("pairs", "message", "param"),
    [
        ([("currency", "usd"), ("unit_amount", "x")], "Invalid integer: x", "unit_amount"),
        ([("currency", "usd"), ("active", "maybe")], "Invalid boolean: maybe", "active"),
        (
            [("currency", "usd"), ("unit_amount_decimal", "1.2.3")],
            "Invalid decimal: 1.2.3",
            "unit_amount_decimal",
        ),
        (
            [("currency", "usd"), ("tiers[0][up_to]", "lots")],
            "Invalid integer: lots",
            "tiers[0][up_to]",
        ),
        ([("currency", "usd"), ("recurring", "month")], "Invalid hash: recurring", "recurring"),
        ([("currency", "usd"), ("expand", "product")], "Invalid array: expand", "expand"),
        (
            [("currency", "usd"), ("metadata[a][b]", "1")],
            "Invalid string: metadata[a]",
            "metadata[a]",
        ),
        (
            [("currency", "usd"), ("tax_behavior", "sometimes")],
            "Invalid tax_behavior: must be one of exclusive, inclusive, or unspecified",
            "tax_behavior",
        ),
        ([("unit_amount", "1")], "Missing required param: currency.", "currency"),
        (
            [("currency", "usd"), ("recurring[interval_count]", "2")],
            "Missing required param: recurring[interval].",
            "recurring[interval]",
        ),
        ([("currency", "usd"), ("colour", "red")], "Received unknown parameter: colour", "colour"),
        (
            [("currency", "usd"), ("custom_unit_amount[enabled]", "true")],
            "Parameter custom_unit_amount is not supported by the billing-sync emulator",
            "custom_unit_amount",
        ),
    ],
)
def test_validation_errors(pairs: list[tuple[str, str]], message: str, param: str) -> None:
    implemented = Implemented(
        {
            "currency",
            "unit_amount",
            "unit_amount_decimal",
            "active",
            "tiers",
            "recurring",
            "expand",
            "metadata",
            "tax_behavior",
        }
    )
    with pytest.raises(ApiError) as exc:
        validate(sp.PriceCreateParams, implemented, decode_form(pairs))
    assert exc.value.message == message
    assert exc.value.param == param
    assert exc.value.status == 400
    assert exc.value.validation is True


def test_empty_brackets_append_and_empty_values_unset() -> None:
    raw = decode_form([("expand[]", "a"), ("expand[]", "b"), ("metadata", "")])
    assert raw == {"expand": ["a", "b"], "metadata": ""}
    implemented = Implemented({"expand", "metadata", "nickname", "default_price", "name"})
    out = validate(sp.PriceUpdateParams, implemented, raw)
    assert out == {"expand": ["a", "b"], "metadata": ""}
    # A metadata key posted empty is removed (docs.stripe.com/api/metadata).
    assert validate(sp.PriceUpdateParams, implemented, {"metadata": {"k": ""}}) == {
        "metadata": {"k": ""}
    }
    # `default_price` is typed `str`, yet Stripe unsets it with "" (stripe-python#658).
    assert validate(sp.ProductUpdateParams, implemented, {"default_price": ""}) == {
        "default_price": ""
    }


@pytest.mark.parametrize(
    ("params_type", "raw", "name"),
    [
        (sp.PriceUpdateParams, {"nickname": ""}, "nickname"),
        (sp.ProductUpdateParams, {"name": ""}, "name"),
        (
            sp.PriceCreateParams,
            {"currency": "usd", "recurring": {"interval": ""}},
            "recurring[interval]",
        ),
    ],
)
def test_empty_string_where_stripe_cannot_unset(
    params_type: type, raw: dict[str, Any], name: str
) -> None:
    implemented = Implemented({"nickname", "name", "currency", "recurring"})
    with pytest.raises(ApiError) as exc:
        validate(params_type, implemented, raw)
    assert exc.value.code == "parameter_invalid_empty"
    assert exc.value.param == name
    assert exc.value.message == (
        f"You passed an empty string for '{name}'. We assume empty values are an attempt to "
        f"unset a parameter; however '{name}' cannot be unset. You should remove '{name}' "
        "from your request or supply a non-empty value."
    )


def test_conflicting_shapes_are_invalid() -> None:
    with pytest.raises(ApiError):
        decode_form([("metadata[a]", "1"), ("metadata[a][b]", "2")])
    with pytest.raises(ApiError):
        decode_form([("a[b", "1")])
