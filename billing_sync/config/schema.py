"""The JSON Schema of billing.yaml (`billing-sync schema`): the models' own schema, plus what
JSON Schema can say of the rules in `checks` (amounts by currency, exactly one amount, tiers,
send_invoice and days_until_due, reserved keys), so that editors agree with `validate`.

What it cannot say (references between objects, uniqueness across the file, increasing tiers,
one currency per subscription, an option's currency against its price's) is checked by
`validate` only; tests/unit/test_config_schema.py lists those cases.
"""

from __future__ import annotations

import copy
import re
from typing import Any

from billing_sync.config.checks import MAX_INTERVAL_COUNT
from billing_sync.config.models import (
    KEY_PATTERN,
    MAX_AMOUNT,
    BillingConfig,
)
from billing_sync.metadata import RESERVED_PREFIX
from billing_sync.money import (
    CURRENCIES,
    MAX_MINOR_DECIMALS,
    THREE_DECIMAL,
    ZERO_DECIMAL,
    exponent,
)

#: The schema's identity: billing.yaml format version 1, whichever file or URL it is served
#: from (editors point at a local copy: `billing-sync schema > billing.schema.json`).
SCHEMA_ID = "urn:billing-sync:billing.yaml:v1"
DRAFT = "https://json-schema.org/draft/2020-12/schema"

Schema = dict[str, Any]


def _ci(text: str) -> str:
    """A case-insensitive regex for `text` (JSON Schema patterns have no flags)."""
    return "".join(f"[{c.lower()}{c.upper()}]" if c.isalpha() else re.escape(c) for c in text)


#: Keys billing-sync reserves (metadata keys, product ids), in any letter case.
RESERVED = {"not": {"pattern": "^" + _ci(RESERVED_PREFIX)}}


def _amount_pattern(currency_exponent: int, whole_digits: int, sub_minor: bool = False) -> str:
    """A decimal string `validate` accepts for a currency with this exponent and maximum.

    Trailing zeros are fine ("19.990" is 1999 cents); three-decimal currencies must end in 0,
    so they take the two-decimal pattern. A price's own amount (`sub_minor`) may go on to 12
    decimal places of the minor unit (unit_amount_decimal), except in three-decimal currencies."""
    decimals = min(currency_exponent, 2)
    if sub_minor and currency_exponent != 3:
        decimals = currency_exponent + MAX_MINOR_DECIMALS
    fraction = r"(\.0+)?" if decimals == 0 else rf"(\.[0-9]{{1,{decimals}}}0*)?"
    return rf"^\s*0*[0-9]{{1,{whole_digits}}}{fraction}\s*$"


def _amount(currency_exponent: int, sub_minor: bool = False) -> Schema:
    """`amount` for currencies of one exponent: a decimal string, or a plain YAML number (a
    price's own amount may be a fraction of the minor unit: `sub_minor`)."""
    # The largest amount, 99,999,999 minor units; three-decimal amounts end in 0.
    top = MAX_AMOUNT - (MAX_AMOUNT % 10 if currency_exponent == 3 else 0)
    whole = len(str(MAX_AMOUNT // 10**currency_exponent))
    number: Schema = {"type": "number", "minimum": 0, "maximum": top / 10**currency_exponent}
    if currency_exponent == 0 and not sub_minor:
        number["multipleOf"] = 1
    return {
        "anyOf": [
            {"type": "string", "pattern": _amount_pattern(currency_exponent, whole, sub_minor)},
            number,
            {"type": "null"},
        ]
    }


GROUPS = {
    0: sorted(ZERO_DECIMAL),
    3: sorted(THREE_DECIMAL),
    2: sorted(c for c in CURRENCIES if exponent(c) == 2),
}


def _any_amount(described: Schema) -> Schema:
    """`amount` before its currency is known: a plain decimal string or number (or null)."""
    return {
        "anyOf": [
            {"type": "string", "pattern": r"^\s*[0-9]+(\.[0-9]+)?\s*$"},
            {"type": "number", "minimum": 0},
            {"type": "null"},
        ],
        **{k: v for k, v in described.items() if k in ("default", "description", "title")},
    }


def _present(name: str) -> Schema:
    """`name` is given (and not null: an explicit null means "not given" to validate)."""
    return {"required": [name], "properties": {name: {"not": {"type": "null"}}}}


def _absent(name: str) -> Schema:
    return {"not": _present(name)}


def _exactly_one(*names: str) -> Schema:
    return {"oneOf": [_present(n) for n in names]}


def _strict_keys(node: Any) -> None:
    """pydantic writes the pattern of a mapping's keys as `patternProperties`, which lets other
    keys through: make it `propertyNames` (every key must match) with one value schema."""
    if isinstance(node, dict):
        pattern_props = node.get("patternProperties")
        if (
            isinstance(pattern_props, dict)
            and len(pattern_props) == 1
            and "additionalProperties" not in node
            and "properties" not in node
        ):
            ((pattern, value),) = pattern_props.items()
            del node["patternProperties"]
            node["propertyNames"] = {**node.get("propertyNames", {}), "pattern": pattern}
            node["additionalProperties"] = value
        for child in node.values():
            _strict_keys(child)
    elif isinstance(node, list):
        for child in node:
            _strict_keys(child)


def _price(price: Schema, option_ref: str) -> None:
    price["allOf"] = [
        _exactly_one("unit_amount", "amount", "unit_amount_decimal", "tiers", "custom_unit_amount"),
        # Pay what you want: one-time, without currency options.
        {
            "if": _present("custom_unit_amount"),
            "then": {
                "allOf": [
                    _absent("recurring"),
                    {"properties": {"currency_options": {"maxProperties": 0}}},
                ]
            },
        },
        # tiers need tiers_mode and recurring, and exclude transform_quantity; tiers_mode
        # needs tiers.
        {
            "if": _present("tiers"),
            "then": {
                "allOf": [
                    _present("tiers_mode"),
                    _present("recurring"),
                    _absent("transform_quantity"),
                ]
            },
        },
        {"if": _present("tiers_mode"), "then": _present("tiers")},
        *(
            {
                "if": {"required": ["currency"], "properties": {"currency": {"enum": currencies}}},
                "then": {"properties": {"amount": _amount(exp, sub_minor=True)}},
            }
            for exp, currencies in GROUPS.items()
        ),
    ]
    options = price["properties"]["currency_options"]
    # The amount of an option is read in the option's own currency: its key.
    options["patternProperties"] = {
        "^(" + "|".join(GROUPS[exp]) + ")$": {
            "allOf": [{"$ref": option_ref}, {"properties": {"amount": _amount(exp)}}]
        }
        for exp in (0, 3)
    }
    options["additionalProperties"] = {
        "allOf": [{"$ref": option_ref}, {"properties": {"amount": _amount(2)}}]
    }


def _recurring(recurring: Schema) -> None:
    metered = {"required": ["usage_type"], "properties": {"usage_type": {"const": "metered"}}}
    recurring["allOf"] = [
        # A metered price names its meter; only a metered one does.
        {"if": metered, "then": _present("meter"), "else": _absent("meter")},
        *(
            {
                "if": {"properties": {"interval": {"const": interval}}},
                "then": {"properties": {"interval_count": {"maximum": most}}},
            }
            for interval, most in MAX_INTERVAL_COUNT.items()
        ),
    ]


def _subscription(sub: Schema) -> None:
    send_invoice = {
        "required": ["collection_method"],
        "properties": {"collection_method": {"const": "send_invoice"}},
    }
    sub["if"] = send_invoice
    sub["then"] = _present("days_until_due")
    sub["else"] = _absent("days_until_due")


def _discounts(defs: Schema) -> None:
    """Coupons, promotion codes and subscription discounts: the rules of one object JSON Schema
    can state (references between objects stay with validate)."""
    coupon = defs["Coupon"]
    coupon["allOf"] = [
        _exactly_one("percent_off", "amount_off"),
        {"if": _present("amount_off"), "then": _present("currency")},
        {"if": _absent("amount_off"), "then": {"allOf": [_absent("currency")]}},
        {
            "if": _absent("amount_off"),
            "then": {
                "not": {
                    "required": ["currency_options"],
                    "properties": {"currency_options": {"minProperties": 1}},
                }
            },
        },
        {
            "if": {"required": ["duration"], "properties": {"duration": {"const": "repeating"}}},
            "then": _present("duration_in_months"),
            "else": _absent("duration_in_months"),
        },
    ]
    restrictions = defs["PromotionRestrictions"]
    restrictions["dependentRequired"] = {
        "minimum_amount": ["minimum_amount_currency"],
        "minimum_amount_currency": ["minimum_amount"],
    }
    defs["SubscriptionDiscount"]["allOf"] = [_exactly_one("coupon", "promotion_code")]


def _metadata_keys(node: Any) -> None:
    """Every metadata map refuses billing-sync's reserved keys (`billing_sync_*`)."""
    if isinstance(node, dict):
        props = node.get("properties")
        if isinstance(props, dict):
            for name, prop in props.items():
                if name == "metadata" and isinstance(prop, dict) and "propertyNames" in prop:
                    prop["propertyNames"] = {"allOf": [prop["propertyNames"], RESERVED]}
        for child in node.values():
            _metadata_keys(child)
    elif isinstance(node, list):
        for child in node:
            _metadata_keys(child)


def json_schema() -> Schema:
    """The JSON Schema (draft 2020-12) of billing.yaml, with a description for every field."""
    doc = copy.deepcopy(BillingConfig.model_json_schema())
    _strict_keys(doc)
    defs = doc["$defs"]
    for model in ("Price", "CurrencyOption"):
        props = defs[model]["properties"]
        props["amount"] = _any_amount(props["amount"])
    _price(defs["Price"], "#/$defs/CurrencyOption")
    decimal = defs["Price"]["properties"]["unit_amount_decimal"]
    decimal["anyOf"] = [
        {"type": "string", "pattern": rf"^\s*[0-9]+(\.[0-9]{{1,{MAX_MINOR_DECIMALS}}})?\s*$"},
        {"type": "null"},
    ]
    defs["CurrencyOption"]["allOf"] = [_exactly_one("unit_amount", "amount", "tiers")]
    tier = defs["Tier"]
    tier["anyOf"] = [_present("unit_amount"), _present("flat_amount")]
    for branch in tier["properties"]["up_to"]["anyOf"]:
        if branch.get("type") == "integer":
            branch["minimum"] = 1
    _recurring(defs["Recurring"])
    _subscription(defs["Subscription"])
    _discounts(defs)
    _metadata_keys(doc)
    # Product ids: the key of `products:` (unless `id:` is given) and `id:` itself.
    doc["properties"]["products"]["propertyNames"] = {"allOf": [{"pattern": KEY_PATTERN}, RESERVED]}
    product_id = defs["Product"]["properties"]["id"]
    product_id["anyOf"] = [
        {**branch, **RESERVED} if branch.get("type") == "string" else branch
        for branch in product_id["anyOf"]
    ]
    return {
        "$schema": DRAFT,
        "$id": SCHEMA_ID,
        **doc,
        "title": "billing.yaml (billing-sync)",
    }
