"""Cross-field and cross-object rules of billing.yaml (config.checks), and what they accept."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from billing_sync.config.checks import MAX_INTERVAL_COUNT, Finding, check_document, check_tiers
from billing_sync.config.loader import load_text
from billing_sync.config.models import BillingConfig, Tier
from billing_sync.config.source import parse
from billing_sync.errors import ConfigError
from tests.helpers import EXAMPLE


def load(text: str) -> object:
    return load_text(textwrap.dedent(text), "billing.yaml")


def errors_of(text: str) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load(text)
    return [str(i) for i in info.value.issues]


def price_doc(body: str, currency_line: str = "currency: usd") -> str:
    """A product `p` with one price `x` whose fields are `body` (indented by the caller)."""
    return f"version: 1\nproducts:\n  p:\n    name: P\n    prices:\n      x:\n        {currency_line}\n{body}"


@pytest.mark.parametrize(
    ("body", "minor"),
    [
        ('        amount: "19.99"\n', 1999),
        ("        amount: 19.99\n", 1999),  # a bare YAML number is taken as written
        ("        amount: 7\n", 700),
        ("        unit_amount: 0\n", 0),  # free price
    ],
)
def test_amount_forms_accepted(body: str, minor: int) -> None:
    cfg = load_text(price_doc(body))
    assert cfg.products["p"].prices["x"].minor_amount() == minor


@pytest.mark.parametrize(
    ("currency", "amount", "minor"),
    [("jpy", "4200", 4200), ("krw", "1000", 1000), ("kwd", "1.250", 1250), ("bhd", "12", 12000)],
)
def test_amount_exponents(currency: str, amount: str, minor: int) -> None:
    cfg = load_text(price_doc(f'        amount: "{amount}"\n', f"currency: {currency}"))
    assert cfg.products["p"].prices["x"].minor_amount() == minor


def test_boolean_amount_rejected() -> None:
    assert errors_of(price_doc("        amount: true\n")) == [
        "billing.yaml:8:17: products.p.prices.x.amount: expected a string, got true"
    ]


def test_valid_tiered_and_multi_currency_price() -> None:
    cfg = load_text(
        price_doc(
            "        recurring: {interval: month}\n"
            "        tiers_mode: volume\n"
            "        tiers: [{up_to: 5, flat_amount: 0}, {up_to: inf, unit_amount: 100}]\n"
            "        currency_options:\n"
            "          eur:\n"
            "            tiers: [{up_to: 5, flat_amount: 0}, {up_to: inf, unit_amount: 90}]\n"
        )
    )
    price = cfg.products["p"].prices["x"]
    assert price.tiers is not None and price.tiers[-1].up_to == "inf"
    assert price.currency_options["eur"].tiers is not None


def test_currency_option_of_tiered_price_needs_tiers() -> None:
    text = price_doc(
        "        recurring: {interval: month}\n"
        "        tiers_mode: volume\n"
        "        tiers: [{up_to: inf, unit_amount: 100}]\n"
        "        currency_options:\n"
        "          eur: {unit_amount: 90}\n"
    )
    assert errors_of(text) == [
        "billing.yaml:12:11: products.p.prices.x.currency_options.eur: an option of a tiered price needs tiers (and only tiers)"
    ]


def test_currency_option_needs_one_amount() -> None:
    text = price_doc(
        '        amount: "1.00"\n        currency_options:\n          eur: {tax_behavior: inclusive}\n'
    )
    assert errors_of(text) == [
        "billing.yaml:10:11: products.p.prices.x.currency_options.eur: set exactly one of unit_amount or amount (found none)"
    ]


def test_currency_option_tiers_are_checked() -> None:
    text = price_doc(
        "        recurring: {interval: month}\n"
        "        tiers_mode: volume\n"
        "        tiers: [{up_to: inf, unit_amount: 100}]\n"
        "        currency_options:\n"
        "          eur: {tiers: [{up_to: 3, unit_amount: 90}]}\n"
    )
    assert errors_of(text) == [
        "billing.yaml:12:33: products.p.prices.x.currency_options.eur.tiers[0].up_to: the last tier must have up_to: inf, not 3"
    ]


@pytest.mark.parametrize(("interval", "most"), sorted(MAX_INTERVAL_COUNT.items()))
def test_interval_count_limits(interval: str, most: int) -> None:
    ok = price_doc(
        f"        unit_amount: 1\n        recurring: {{interval: {interval}, interval_count: {most}}}\n"
    )
    assert load_text(ok).products["p"].prices["x"].recurring is not None
    bad = ok.replace(f"interval_count: {most}", f"interval_count: {most + 1}")
    [message] = errors_of(bad)
    assert message.endswith(
        f"at most {most} for interval {interval} (Stripe's longest period is one year), got {most + 1}"
    )


def test_check_tiers_unit() -> None:
    tiers = [Tier(up_to=10, unit_amount=1), Tier(up_to=5, flat_amount=2), Tier(up_to="inf")]
    assert list(check_tiers(tiers, ("t",))) == [
        Finding(("t", 1, "up_to"), "up_to must be greater than the previous tier's (10), got 5"),
        Finding(("t", 2), "a tier needs unit_amount or flat_amount"),
    ]
    assert list(check_tiers([Tier(up_to="inf", unit_amount=0)], ("t",))) == []


def test_lookup_key_override_may_free_its_own_key() -> None:
    """A price may take another key as lookup_key only if nobody else uses that key."""
    text = price_doc("        unit_amount: 1\n        lookup_key: pro_monthly_current\n")
    cfg = load_text(text)
    assert cfg.products["p"].prices["x"].lookup_key == "pro_monthly_current"


def test_lookup_key_collision_between_two_overrides() -> None:
    text = (
        "version: 1\nproducts:\n  p:\n    name: P\n    prices:\n"
        "      a: {currency: usd, unit_amount: 1, lookup_key: same}\n"
        "      b: {currency: usd, unit_amount: 2, lookup_key: same}\n"
    )
    assert errors_of(text) == [
        "billing.yaml:7:54: products.p.prices.b.lookup_key: lookup_key 'same' is already used by price 'a'"
    ]


def test_lookup_key_taken_by_an_override_then_a_plain_key() -> None:
    text = (
        "version: 1\nproducts:\n  p:\n    name: P\n    prices:\n"
        "      a: {currency: usd, unit_amount: 1, lookup_key: b}\n"
        "      b: {currency: usd, unit_amount: 2}\n"
    )
    assert errors_of(text) == [
        "billing.yaml:6:54: products.p.prices.a.lookup_key: lookup_key 'b' is already used by price 'b'"
    ]


def test_product_id_override_colliding_with_a_later_product_key() -> None:
    text = "version: 1\nproducts:\n  a: {name: A, id: b}\n  b: {name: B}\n"
    assert errors_of(text) == [
        "billing.yaml:3:20: products.a.id: product id 'b' is already used by product 'b'"
    ]


def test_subscription_rules_accept_a_good_subscription() -> None:
    text = """\
    version: 1
    products:
      p:
        name: P
        default_price: m
        prices:
          m: {currency: eur, unit_amount: 100, recurring: {interval: month}}
          y: {currency: eur, unit_amount: 1000, recurring: {interval: year}}
    customers:
      c:
        subscriptions:
          s1:
            items: [{price: m, quantity: 3}, {price: y}]
            collection_method: send_invoice
            days_until_due: 0
    """
    assert errors_of(text) == [
        "billing.yaml:15:25: customers.c.subscriptions.s1.days_until_due: must be at least 1, got 0"
    ]
    cfg = load(text.replace("days_until_due: 0", "days_until_due: 7"))
    assert cfg is not None


def test_unknown_price_without_close_match_has_no_hint() -> None:
    text = """\
    version: 1
    customers:
      c:
        subscriptions:
          s: {items: [{price: zzz}]}
    """
    assert errors_of(text) == [
        "billing.yaml:5:27: customers.c.subscriptions.s.items[0].price: unknown price 'zzz'"
    ]


def test_mixed_currency_reported_once_per_offending_item() -> None:
    text = """\
    version: 1
    products:
      p:
        name: P
        prices:
          u: {currency: usd, unit_amount: 1, recurring: {interval: month}}
          e: {currency: eur, unit_amount: 1, recurring: {interval: month}}
          g: {currency: gbp, unit_amount: 1, recurring: {interval: month}}
    customers:
      c:
        subscriptions:
          s: {items: [{price: u}, {price: e}, {price: g}]}
    """
    assert errors_of(text) == [
        "billing.yaml:12:39: customers.c.subscriptions.s.items[1].price: price 'e' is in EUR but 'u' is in USD: all items of a subscription share one currency",
        "billing.yaml:12:51: customers.c.subscriptions.s.items[2].price: price 'g' is in GBP but 'u' is in USD: all items of a subscription share one currency",
    ]


def test_invalid_price_does_not_cause_reference_errors() -> None:
    """A subscription on a price that is itself broken gets no second, misleading error."""
    text = """\
    version: 1
    products:
      p:
        name: P
        prices:
          m: {currency: usdd, unit_amount: 1, recurring: {interval: month}}
    customers:
      c:
        subscriptions:
          s: {items: [{price: m}]}
    """
    assert errors_of(text) == [
        "billing.yaml:6:21: products.p.prices.m.currency: 'usdd' is not a currency Stripe supports"
    ]


def test_metadata_limits_at_the_edge_are_fine() -> None:
    meta = "".join(f"          k{i:02d}: v\n" for i in range(50))
    text = (
        "version: 1\ncustomers:\n  c:\n    metadata:\n"
        + meta.replace("          ", "      ")
        + f"      {'k' * 40}: {'v' * 500}\n"
    )
    # 51 keys: over the limit
    with pytest.raises(ConfigError, match="must have at most 50 keys, got 51"):
        load_text(text)
    text_ok = text.replace("      k49: v\n", "")
    assert len(load_text(text_ok).customers["c"].metadata) == 50


def test_statement_descriptor_edges() -> None:
    base = "version: 1\nproducts:\n  p:\n    name: P\n    statement_descriptor: {}\n"
    assert load_text(base.format('"ACME1"')).products["p"].statement_descriptor == "ACME1"
    assert load_text(base.format('"' + "A" * 22 + '"')).products["p"].statement_descriptor
    [msg] = errors_of(base.format('"it\'s ok"'))
    assert msg.endswith("statement_descriptor: must not contain any of < > \\ \" ' (found ')")


def _validating_documents() -> list[tuple[str, Any, BillingConfig]]:
    """(name, data, models) of the example and every fixture whose whole document validates
    (the others' rules validate each object on their own: nothing to compare)."""
    fixtures = Path(__file__).parent.parent / "fixtures" / "config"
    out = []
    for path in [
        EXAMPLE,
        *sorted(fixtures.glob("good/*.yaml")),
        *sorted(fixtures.glob("bad/*.yaml")),
    ]:
        doc = parse(path.read_text(encoding="utf-8"), path.name)
        try:
            valid = BillingConfig.model_validate(doc.data)
        except ValidationError:
            continue
        if not doc.issues:
            out.append((f"{path.parent.name}/{path.name}", doc.data, valid))
    return out


VALIDATING = _validating_documents()


def test_some_validating_documents_break_rules() -> None:
    """The comparison below covers documents whose rules find something, not only clean ones."""
    assert sum(1 for _, data, valid in VALIDATING if check_document(data, valid)) >= 10


@pytest.mark.parametrize(
    ("data", "valid"), [v[1:] for v in VALIDATING], ids=[v[0] for v in VALIDATING]
)
def test_rules_read_the_same_models_either_way(data: Any, valid: BillingConfig) -> None:
    """When the whole document validates, the rules take its models instead of validating each
    object again: they find exactly what they find validating each object on their own."""
    assert check_document(data, valid) == check_document(data)
