"""`import`'s parts without an account: key generation, quoting and the emitter, the driver on
hand-made snapshots."""

from __future__ import annotations

import yaml
from hypothesis import given
from hypothesis import strategies as st

from billing_sync.config.emit import dump, is_plain, scalar
from billing_sync.config.loader import load_text
from billing_sync.config.source import parse
from billing_sync.resources import CUSTOMER, PRICE, PRODUCT
from billing_sync.resources.base import Existing, Snapshot, slug, unique_key
from billing_sync.resources.customer import CustomerState
from billing_sync.resources.importer import import_account
from billing_sync.resources.price import PriceState
from billing_sync.resources.product import ProductState

# -- keys ------------------------------------------------------------------------------------


def test_slug_is_a_readable_valid_key() -> None:
    assert slug("Pro Plan (EU)", "x") == "pro-plan-eu"
    assert slug("Ünïcödé  Café!", "x") == "unicode-cafe"
    assert slug("billing@acme.example", "x") == "billing-acme-example"
    assert slug("日本", "fallback") == "fallback"
    assert slug(None, "fallback") == "fallback"
    long = slug("a" * 63 + " b", "x")
    assert len(long) <= 64 and not long.endswith("-")


def test_unique_key_suffixes_and_stays_within_64_characters() -> None:
    assert unique_key("pro", set()) == "pro"
    assert unique_key("pro", {"pro"}) == "pro-2"
    assert unique_key("pro", {"pro", "pro-2"}) == "pro-3"
    own = "x" * 64
    assert unique_key(f"acme/{own}", {f"acme/{own}"}) == f"acme/{'x' * 62}-2"


def price(pid: str, product: str = "prod_1", **kw: object) -> PriceState:
    base: dict[str, object] = {
        "key": pid,
        "product": product,
        "currency": "usd",
        "unit_amount": 1000,
        "recurring": {"interval": "month", "interval_count": 1},
        "id": pid,
        "product_id": product,
    }
    base.update(kw)
    return PriceState(**base)  # type: ignore[arg-type]


def test_price_keys_from_lookup_key_or_product_interval_currency() -> None:
    ids = {"product": {"prod_1": "pro"}}
    assert PRICE.import_key(price("p1", lookup_key="pro_monthly"), ids) == "pro_monthly"
    assert PRICE.import_key(price("p2", lookup_key="Pro monthly!"), ids) == "pro-monthly-usd"
    assert PRICE.import_key(price("p3", recurring=None, currency="eur"), ids) == (
        "pro-one-time-eur"
    )
    yearly = price("p4", recurring={"interval": "year", "interval_count": 1})
    assert PRICE.import_key(yearly, ids) == "pro-yearly-usd"
    daily = price("p5", recurring={"interval": "day", "interval_count": 1})
    assert PRICE.import_key(daily, ids) == "pro-daily-usd"
    quarterly = price("p6", recurring={"interval": "month", "interval_count": 3})
    assert PRICE.import_key(quarterly, ids) == "pro-every-3-months-usd"


def test_customer_keys_from_name_then_email_then_id() -> None:
    assert CUSTOMER.import_key(CustomerState("c", name="Acme Inc.", id="cus_1"), {}) == "acme-inc"
    assert CUSTOMER.import_key(CustomerState("c", email="jo@x.io", id="cus_1"), {}) == "jo-x-io"
    assert CUSTOMER.import_key(CustomerState("c", id="cus_1"), {}) == "cus-1"


def existing(products: list[ProductState], prices: list[PriceState]) -> Existing:
    managed = {p.key: p for p in products if p.key != p.id}
    return (
        Existing()
        .with_snapshot(
            PRODUCT, Snapshot(managed, unmanaged=tuple(p for p in products if p.key == p.id))
        )
        .with_snapshot(PRICE, Snapshot(unmanaged=tuple(prices)))
    )


def test_generated_keys_are_unique_sorted_and_avoid_other_prices_lookup_keys() -> None:
    account = existing(
        [ProductState("prod_1", "prod_1", "Pro"), ProductState("pro", "prod_2", "Pro")],
        [
            price("price_b"),
            price("price_a"),
            # Its lookup key is what price_a and price_b would be called: they must not take it,
            # since a price's key is also its lookup key in billing.yaml.
            price("price_c", product="prod_2", lookup_key="pro-monthly-usd"),
        ],
    )
    result = import_account(account)
    prices = result.ids["price"]
    assert prices == {
        "pro-monthly-usd": "price_c",
        "pro-2-monthly-usd": "price_a",
        "pro-2-monthly-usd-2": "price_b",
    }
    # The managed product keeps its key; the unmanaged one, named like it, gets another.
    assert result.ids["product"] == {"pro": "prod_2", "pro-2": "prod_1"}
    assert import_account(account).text == result.text
    load_text(result.text)


def test_unmanaged_price_on_a_product_not_imported_is_left_out_with_a_reason() -> None:
    account = existing([], [price("price_1", product="prod_gone")])
    result = import_account(account)
    reason = "price price_1: its product prod_gone is not imported (archived ones need "
    assert result.warnings == (reason + "--include-archived)",)
    assert f"#   {reason}" in result.text


# -- quoting and the emitter -------------------------------------------------------------------

MISREAD = [
    "yes", "No", "ON", "off", "y", "N", "true", "False", "null", "Null", "~", "",
    "0100", "1e3", "1_000", "0x1F", "1:30", "12.5", ".5", "-1", "+1", ".inf", ".NaN",
    "2024-01-01", " lead", "trail ", "a: b", "a #b", "#x", "-", "- x", "@at", "`t", "!tag",
    "&a", "*a", "[x]", "{x}", "'q'", '"q"', "a\nb", "tab\there", "\u2028", "nbsp\xa0",
    "bell\x07", "\ufeffbom", "%pct", "|", ">", "?", "a,b", "=", "<<",
]  # fmt: skip


def test_strings_yaml_would_misread_are_quoted() -> None:
    for text in MISREAD:
        assert not is_plain(text), text
        assert scalar(text).startswith('"'), text
    for text in ("pro", "pro-monthly", "Pro Plan", "billing@acme.example", "a.b/c", "inf"):
        assert scalar(text) == text


@given(st.text())
def test_every_string_reads_back_as_itself(text: str) -> None:
    written = dump({"k": text, text: [text]})
    assert yaml.safe_load(written) == {"k": text, text: [text]}


@given(st.text(st.characters(blacklist_categories=("Cc", "Cs")), max_size=30))
def test_billing_yaml_parser_reads_every_quoted_string_back(text: str) -> None:
    document = parse(dump({"k": text}), "x.yaml")
    assert not document.issues and document.data == {"k": text}


def test_emitter_layout_and_comments() -> None:
    doc = {
        "version": 1,
        "products": {
            "pro": {
                "name": "Pro",
                "images": [],
                "metadata": {},
                "prices": {"m": {"tiers": [{"up_to": 10, "unit_amount": 0}, {"up_to": "inf"}]}},
            }
        },
    }
    text = dump(doc, {("products", "pro"): "prod_1"}, ["top", "", "line\nbreak"])
    assert text == (
        "# top\n"
        "#\n"
        "# line\\nbreak\n"
        "version: 1\n"
        "products:\n"
        "  pro:  # prod_1\n"
        "    name: Pro\n"
        "    images: []\n"
        "    metadata: {}\n"
        "    prices:\n"
        "      m:\n"
        "        tiers:\n"
        "          - up_to: 10\n"
        "            unit_amount: 0\n"
        "          - up_to: inf\n"
    )
    assert yaml.safe_load(text) == doc
