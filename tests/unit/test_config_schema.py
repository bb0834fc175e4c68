"""The JSON Schema of billing.yaml (billing_sync.config.schema, `billing-sync schema`) against
`validate`: every config fixture goes through both, and they must agree except for the cases
listed here, each with the reason JSON Schema cannot see it.

The schema side reads the file as an editor or a CI schema check would: PyYAML's `safe_load`,
then the `jsonschema` package (draft 2020-12).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from billing_sync.config.loader import load_config, load_text
from billing_sync.config.schema import SCHEMA_ID, json_schema
from billing_sync.errors import ConfigError
from tests.helpers import EXAMPLE, ROOT

FIXTURES = ROOT / "tests" / "fixtures" / "config"
GOOD = FIXTURES / "good"

#: Files validate refuses and the schema accepts, because the rule relates several fields or
#: objects in a way JSON Schema cannot express.
CROSS_FIELD = {
    "currency_option_same_currency.yaml": "an option's currency (its key) against its price's",
    "dangling_price_reference.yaml": "an item's price must be declared elsewhere in the file",
    "default_price_archived.yaml": "default_price names a sibling price that must be active",
    "default_price_dangling.yaml": "default_price names a sibling price",
    "duplicate_lookup_key.yaml": "lookup keys unique across all products' prices",
    "duplicate_price_key_across_products.yaml": "price keys unique across products",
    "duplicate_product_id.yaml": "product ids unique across products (key or id:)",
    "inf_tier_not_last.yaml": "only the last tier is inf (position in a list)",
    "last_tier_not_inf.yaml": "the last tier is inf (position in a list)",
    "tiers_not_increasing.yaml": "up_to increases from one tier to the next",
    "mixed_currencies.yaml": "a subscription's items share the currency of prices declared elsewhere",
    "one_time_price_in_subscription.yaml": "an item's price, declared elsewhere, is recurring",
    "same_price_twice.yaml": "no price twice among a subscription's items",
    "coupon_applies_to_unknown_product.yaml": "a coupon's products are declared elsewhere",
    "coupon_id_taken.yaml": "coupon ids unique across coupons (key or id:)",
    "coupon_option_same_currency.yaml": "an option's currency (its key) against the coupon's",
    "promotion_code_unknown_coupon.yaml": "a code's coupon is declared elsewhere",
    "promotion_code_duplicate_active_code.yaml": "active codes unique across codes",
    "subscription_discount_twice.yaml": "no coupon twice among a subscription's discounts",
    "subscription_discount_unknown_code.yaml": "a discount's code is declared elsewhere",
    "subscription_discount_unknown_coupon.yaml": "a discount's coupon is declared elsewhere",
    "subscription_unknown_tax_rate.yaml": "a tax rate is declared elsewhere",
    "unknown_meter.yaml": "a metered price's meter must be declared elsewhere in the file",
    "metered_price_on_inactive_meter.yaml": "the meter, declared elsewhere, must be active",
    "metered_item_quantity.yaml": "an item's price, declared elsewhere, is metered",
    "custom_amount_preset_below_minimum.yaml": "preset between minimum and maximum (values "
    "compared with each other)",
    "feature_lookup_key_taken.yaml": "feature lookup keys unique (key or lookup_key:)",
    "feature_unknown.yaml": "a product's feature must be declared under `features`",
}

#: Files validate refuses while reading the YAML, before the data exists for a schema to judge
#: (`safe_load` keeps the last of two duplicate keys and reads YAML 1.1 numbers; billing.yaml's
#: loader refuses both, and checks every scalar for control characters).
YAML_LEVEL = {
    "duplicate_field.yaml": "duplicate key",
    "duplicate_product.yaml": "duplicate key",
    "several_errors.yaml": "duplicate key (and errors the schema sees, in the dropped twin)",
    "amount_float_exponent.yaml": "YAML 1.1 exponent number",
    "quantity_octal.yaml": "YAML 1.1 octal number",
    "unit_amount_hex.yaml": "YAML 1.1 hexadecimal number",
    "unit_amount_octal.yaml": "YAML 1.1 octal number",
    "unit_amount_sexagesimal.yaml": "YAML 1.1 base-60 number",
    "amount_bare_float_inexact.yaml": "a bare number's digits as written (a JSON number is a float)",
    "description_control_character.yaml": "a control character in a scalar",
    "name_nul_character.yaml": "a control character in a scalar",
}


def fixtures() -> list[Path]:
    found = sorted(FIXTURES.rglob("*.yaml"))
    assert len(found) > 90, "the config fixtures moved?"
    return [*found, EXAMPLE, *sorted((ROOT / "tests" / "fixtures" / "e2e").glob("*.yaml"))]


@pytest.fixture(scope="module")
def validator() -> jsonschema.Draft202012Validator:
    schema = json_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def validate_says(path: Path) -> bool:
    try:
        load_config(path)
    except ConfigError:
        return False
    return True


def schema_says(validator: jsonschema.Draft202012Validator, path: Path) -> bool:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, ValueError):  # not YAML (or a date that is no date): not valid
        return False
    return bool(validator.is_valid(data))


def test_schema_agrees_with_validate_on_every_fixture(
    validator: jsonschema.Draft202012Validator,
) -> None:
    differ: dict[str, tuple[bool, bool]] = {}
    for path in fixtures():
        ours, theirs = validate_says(path), schema_says(validator, path)
        if ours != theirs:
            differ[path.name] = (ours, theirs)
    # Only the listed cases differ, and always the same way: validate refuses, the schema
    # accepts (the schema never refuses a file validate accepts).
    assert differ == {name: (False, True) for name in {**CROSS_FIELD, **YAML_LEVEL}}


def test_the_good_fixtures_are_valid_and_the_bad_ones_invalid(
    validator: jsonschema.Draft202012Validator,
) -> None:
    good = sorted(GOOD.glob("*.yaml"))
    assert len(good) >= 4
    for path in good:
        assert validate_says(path), path
        assert schema_says(validator, path), list(
            validator.iter_errors(yaml.safe_load(path.read_text()))
        )
    for path in sorted((FIXTURES / "bad").glob("*.yaml")):
        assert not validate_says(path), path


@pytest.mark.parametrize(
    ("snippet", "valid"),
    [
        # The disagreements the schema had (issue 17): each now agrees with validate.
        ({"amount": 29.00}, True),
        ({"amount": "29.001"}, True),  # a fraction of a cent: unit_amount_decimal
        ({"amount": "0.000000000000001"}, False),  # 13 decimal places of a cent
        ({"amount": "0.3", "unit_amount_decimal": "30"}, False),
        ({"unit_amount_decimal": "0.123456789012"}, True),
        ({"unit_amount_decimal": "0.1234567890123"}, False),
        ({"custom_unit_amount": {"minimum": 100}}, True),
        ({"custom_unit_amount": {}, "recurring": {"interval": "month"}}, False),
        ({"amount": "29.00", "unit_amount": 2900}, False),
        ({"amount": "4200.5", "currency": "jpy"}, True),
        ({"amount": "4200.0000000000001", "currency": "jpy"}, False),
        ({"amount": "1.255", "currency": "kwd"}, False),
        ({"amount": "1000000.00"}, False),
        ({"amount": "1e3"}, False),
        ({"unit_amount": 100, "tiers_mode": "volume"}, False),
    ],
)
def test_amount_rules(
    validator: jsonschema.Draft202012Validator, snippet: dict[str, Any], valid: bool
) -> None:
    price = {"currency": "usd", **snippet}
    doc = {"version": 1, "products": {"pro": {"name": "Pro", "prices": {"p": price}}}}
    assert validator.is_valid(doc) is valid
    text = yaml.safe_dump(doc)
    try:
        load_text(text)
        ours = True
    except ConfigError:
        ours = False
    assert ours is valid


def test_keys_with_spaces_are_refused(validator: jsonschema.Draft202012Validator) -> None:
    assert not validator.is_valid({"products": {"pro plan": {"name": "Pro"}}})
    assert not validator.is_valid({"customers": {"a b": {}}})
    assert not validator.is_valid(
        {"products": {"pro": {"name": "Pro", "prices": {"pro monthly": {"currency": "usd"}}}}}
    )


def test_every_field_has_a_description_and_the_schema_an_id() -> None:
    schema = json_schema()
    assert schema["$id"] == SCHEMA_ID
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    # Every property of every model (the amount rules' `properties` inside allOf/if/then only
    # narrow a field already described, so only the models' own property lists are walked).
    missing = [
        f"{model}.{name}"
        for model, definition in {"BillingConfig": schema, **schema["$defs"]}.items()
        for name, prop in definition["properties"].items()
        if not prop.get("description")
    ]
    assert missing == []
    assert schema["$defs"]["Price"]["properties"]["amount"]["description"].startswith(
        "Amount in major units"
    )
