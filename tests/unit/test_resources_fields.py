"""Tests generated from the resource registry: every declared field of every kind, changed and removed.

For each field the registry declares, billing.yaml is edited (one field changed, then removed)
and planned against an account where the original was applied. The plan must carry a change of
the field's declared mutability (in place: an update that sends it; replace: a replace;
create only: a warning and nothing sent), and a removal must unset it, fall back to its default,
or be refused by validation, as the field's `unset` declares. A field added to a kind without
an entry below fails `test_every_declared_field_has_a_case`.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
import yaml

from billing_sync.changes import Archive, Change, Reactivate, Replace, Update
from billing_sync.config.loader import load_text
from billing_sync.errors import ConfigError
from billing_sync.plan.plan import Plan
from billing_sync.resources import KINDS, FieldSpec, Kind, Mutability, Unset
from billing_sync.resources.base import values
from billing_sync.resources.read import desired_state
from tests.unit.plan_helpers import applied, plan_for

FULL = """
version: 1
meters:
  ai_tokens:
    display_name: AI tokens
    customer_mapping: {event_payload_key: customer_id}
    value_settings: {event_payload_key: tokens}
    event_time_window: hour
  api_calls:
    display_name: API calls
    default_aggregation: {formula: count}
products:
  pro:
    name: Pro
    description: Everything
    tax_code: txcd_10103001
    statement_descriptor: PRO PLAN
    unit_label: seat
    url: https://example.com/pro
    images: [https://example.com/pro.png]
    marketing_features: [SSO]
    metadata: {tier: "2"}
    default_price: pro-monthly
    prices:
      pro-monthly:
        unit_amount: 2900
        currency: usd
        recurring: {interval: month}
        nickname: Monthly
        metadata: {team: growth}
        currency_options: {eur: {unit_amount: 2700}}
        lookup_key: pro-monthly-v1
      pro-yearly:
        unit_amount: 29000
        currency: usd
        recurring: {interval: year}
        tax_behavior: exclusive
      seats:
        currency: usd
        recurring: {interval: month}
        tiers_mode: graduated
        tiers: [{up_to: 10, unit_amount: 1000}, {up_to: inf, unit_amount: 800}]
      packs:
        unit_amount: 500
        currency: usd
        recurring: {interval: month}
        transform_quantity: {divide_by: 10, round: up}
      tokens:
        unit_amount_decimal: "0.3"
        currency: usd
        recurring: {interval: month, usage_type: metered, meter: ai_tokens}
      tip:
        currency: usd
        custom_unit_amount: {minimum: 500, preset: 1000, maximum: 50000}
    features: [sso]
  team:
    name: Team
features:
  sso:
    name: SSO
    lookup_key: sso-v1
    metadata: {team: identity}
customers:
  acme:
    email: billing@acme.example
    name: Acme
    description: Our first customer
    phone: "+15555550100"
    metadata: {crm: A-1}
    subscriptions:
      main:
        items: [{price: pro-monthly, quantity: 2}]
        collection_method: send_invoice
        days_until_due: 30
        cancel_at_period_end: false
        default_payment_method: pm_card_visa
        trial_period_days: 14
        proration_behavior: none
        metadata: {contract: C-1}
        protect: true
        discounts: [{promotion_code: launch-code}]
        default_tax_rates: [vat]
coupons:
  launch:
    name: Launch
    percent_off: 20
    duration: repeating
    duration_in_months: 3
    max_redemptions: 500
    redeem_by: @Y2@-01-01T00:00:00Z
    applies_to: {products: [pro]}
    metadata: {campaign: launch}
  fiver:
    id: FIVER-OFF
    amount_off: 500
    currency: usd
    currency_options: {eur: {amount_off: 450}}
promotion_codes:
  launch-code:
    coupon: launch
    code: LAUNCH20
    max_redemptions: 100
    expires_at: @Y1@-06-30T23:59:59Z
    restrictions: {first_time_transaction: true, minimum_amount: 1000, minimum_amount_currency: usd}
    metadata: {channel: blog}
tax_rates:
  vat:
    display_name: VAT
    percentage: 19
    inclusive: false
    description: German VAT
    jurisdiction: DE
    country: DE
    state: BE
    tax_type: vat
    metadata: {ledger: "4400"}
  gst:
    display_name: GST
    percentage: 10
    inclusive: true
policies:
  max_destroy_percent: 100
"""

# Coupon and code moments relative to today: Stripe creates them only in the future (and a
# coupon's redeem_by at most 5 years away), so fixed dates would expire.
YEAR = dt.date.today().year
FULL = FULL.replace("@Y2@", str(YEAR + 2)).replace("@Y1@", str(YEAR + 1))

Doc = dict[str, Any]
IN_60_DAYS = dt.date.today() + dt.timedelta(days=60)
PRO = ("products", "pro")
MONTHLY = ("products", "pro", "prices", "pro-monthly")
YEARLY = ("products", "pro", "prices", "pro-yearly")
SEATS = ("products", "pro", "prices", "seats")
PACKS = ("products", "pro", "prices", "packs")
TOKENS = ("products", "pro", "prices", "tokens")
TIP = ("products", "pro", "prices", "tip")
AI_TOKENS = ("meters", "ai_tokens")
API_CALLS = ("meters", "api_calls")
ACME = ("customers", "acme")
MAIN = ("customers", "acme", "subscriptions", "main")
LAUNCH = ("coupons", "launch")
FIVER = ("coupons", "fiver")
CODE = ("promotion_codes", "launch-code")
VAT = ("tax_rates", "vat")
SSO = ("features", "sso")


def at(doc: Doc, path: tuple[str, ...]) -> Doc:
    node = doc
    for part in path:
        node = node[part]
    return node


def setter(path: tuple[str, ...], name: str, value: Any) -> Callable[[Doc], None]:
    def edit(doc: Doc) -> None:
        at(doc, path)[name] = value

    return edit


def remover(path: tuple[str, ...], *names: str) -> Callable[[Doc], None]:
    def edit(doc: Doc) -> None:
        for name in names:
            at(doc, path).pop(name, None)

    return edit


def both(*edits: Callable[[Doc], None]) -> Callable[[Doc], None]:
    def edit(doc: Doc) -> None:
        for one in edits:
            one(doc)

    return edit


def move_monthly_to_team(doc: Doc) -> None:
    price = at(doc, PRO)["prices"].pop("pro-monthly")
    at(doc, PRO)["default_price"] = "pro-yearly"
    doc["products"]["team"]["prices"] = {"pro-monthly": price}


@dataclass(frozen=True)
class Case:
    """How to change one field in FULL, where the changed object is, and how to remove it."""

    key: str
    change: Callable[[Doc], None]
    remove: Callable[[Doc], None] | None  # None: not an optional field of its own (structural)
    # For a field with its own unset rule: the change its removal must plan, and on which key.
    on_remove: type[Change] | None = None
    remove_key: str | None = None
    # Removing it asks nothing of Stripe and is no drift: a parameter of the create request only,
    # which Stripe keeps no trace of (trial_period_days: the trial it started stays as it is).
    removal_in_sync: bool = False


CASES: dict[tuple[str, str], Case] = {
    ("product", "name"): Case("pro", setter(PRO, "name", "Pro 2"), remover(PRO, "name")),
    ("product", "description"): Case(
        "pro", setter(PRO, "description", "More"), remover(PRO, "description")
    ),
    ("product", "active"): Case("pro", setter(PRO, "active", False), remover(PRO, "active")),
    ("product", "tax_code"): Case(
        "pro", setter(PRO, "tax_code", "txcd_10000000"), remover(PRO, "tax_code")
    ),
    ("product", "statement_descriptor"): Case(
        "pro",
        setter(PRO, "statement_descriptor", "PRO PLAN 2"),
        remover(PRO, "statement_descriptor"),
    ),
    ("product", "unit_label"): Case(
        "pro", setter(PRO, "unit_label", "user"), remover(PRO, "unit_label")
    ),
    ("product", "url"): Case(
        "pro", setter(PRO, "url", "https://example.com/p"), remover(PRO, "url")
    ),
    ("product", "images"): Case(
        "pro", setter(PRO, "images", ["https://example.com/2.png"]), remover(PRO, "images")
    ),
    ("product", "marketing_features"): Case(
        "pro",
        setter(PRO, "marketing_features", ["SSO", "Audit"]),
        remover(PRO, "marketing_features"),
    ),
    ("product", "metadata"): Case(
        "pro", setter(PRO, "metadata", {"tier": "3"}), remover(PRO, "metadata")
    ),
    ("product", "id"): Case("pro", setter(PRO, "id", "pro-2"), remover(PRO, "id")),
    ("product", "default_price"): Case(
        "pro", setter(PRO, "default_price", "pro-yearly"), remover(PRO, "default_price")
    ),
    ("meter", "display_name"): Case(
        "ai_tokens",
        setter(AI_TOKENS, "display_name", "LLM tokens"),
        remover(AI_TOKENS, "display_name"),
    ),
    ("meter", "default_aggregation"): Case(
        "api_calls",
        setter(API_CALLS, "default_aggregation", {"formula": "sum"}),
        remover(API_CALLS, "default_aggregation"),  # back to sum: fixed, so reported
    ),
    ("meter", "customer_mapping"): Case(
        "ai_tokens",
        setter(AI_TOKENS, "customer_mapping", {"event_payload_key": "cus"}),
        remover(AI_TOKENS, "customer_mapping"),
    ),
    ("meter", "value_settings"): Case(
        "ai_tokens",
        setter(AI_TOKENS, "value_settings", {"event_payload_key": "n"}),
        remover(AI_TOKENS, "value_settings"),
    ),
    ("meter", "event_time_window"): Case(
        "ai_tokens",
        setter(AI_TOKENS, "event_time_window", "day"),
        remover(AI_TOKENS, "event_time_window"),
    ),
    ("meter", "active"): Case(
        "api_calls", setter(API_CALLS, "active", False), remover(API_CALLS, "active")
    ),
    ("price", "unit_amount_decimal"): Case(
        "tokens",
        setter(TOKENS, "unit_amount_decimal", "0.25"),
        remover(TOKENS, "unit_amount_decimal"),
    ),
    ("price", "custom_unit_amount"): Case(
        "tip",
        setter(TIP, "custom_unit_amount", {"minimum": 500, "preset": 2000}),
        remover(TIP, "custom_unit_amount"),
    ),
    ("price", "currency"): Case(
        "seats", setter(SEATS, "currency", "eur"), remover(SEATS, "currency")
    ),
    ("price", "unit_amount"): Case(
        "pro-monthly", setter(MONTHLY, "unit_amount", 3500), remover(MONTHLY, "unit_amount")
    ),
    ("price", "billing_scheme"): Case(
        "pro-yearly",
        both(
            remover(YEARLY, "unit_amount"),
            setter(YEARLY, "tiers_mode", "volume"),
            setter(YEARLY, "tiers", [{"up_to": "inf", "unit_amount": 29000}]),
        ),
        None,  # follows from tiers
    ),
    ("price", "tiers_mode"): Case(
        "seats", setter(SEATS, "tiers_mode", "volume"), remover(SEATS, "tiers_mode")
    ),
    ("price", "tiers"): Case(
        "seats",
        setter(
            SEATS,
            "tiers",
            [{"up_to": 5, "unit_amount": 1000}, {"up_to": "inf", "unit_amount": 700}],
        ),
        remover(SEATS, "tiers"),
    ),
    ("price", "recurring"): Case(
        "pro-yearly",
        setter(YEARLY, "recurring", {"interval": "month", "interval_count": 3}),
        remover(YEARLY, "recurring"),  # a one-time price now
    ),
    ("price", "transform_quantity"): Case(
        "packs",
        setter(PACKS, "transform_quantity", {"divide_by": 5, "round": "up"}),
        remover(PACKS, "transform_quantity"),
    ),
    ("price", "nickname"): Case(
        "pro-monthly", setter(MONTHLY, "nickname", "Monthly 2"), remover(MONTHLY, "nickname")
    ),
    ("price", "metadata"): Case(
        "pro-monthly", setter(MONTHLY, "metadata", {"team": "core"}), remover(MONTHLY, "metadata")
    ),
    ("price", "currency_options"): Case(
        "pro-monthly",
        setter(MONTHLY, "currency_options", {"eur": {"unit_amount": 2600}}),
        remover(MONTHLY, "currency_options"),
        on_remove=Replace,  # Stripe cannot remove a currency option in place
    ),
    ("price", "lookup_key"): Case(
        "pro-monthly",
        setter(MONTHLY, "lookup_key", "pro-monthly-v2"),
        remover(MONTHLY, "lookup_key"),
    ),
    ("price", "tax_behavior"): Case(
        "pro-monthly",
        setter(MONTHLY, "tax_behavior", "inclusive"),  # from unspecified: in place
        remover(YEARLY, "tax_behavior"),  # exclusive is final: back to unspecified is a replace
        on_remove=Replace,
        remove_key="pro-yearly",
    ),
    ("price", "product"): Case("pro-monthly", move_monthly_to_team, None),
    ("price", "active"): Case(
        "pro-yearly",
        setter(("products", "pro", "prices", "pro-yearly"), "active", False),
        remover(("products", "pro", "prices", "pro-yearly"), "active"),
    ),
    ("customer", "email"): Case(
        "acme", setter(ACME, "email", "ap@acme.example"), remover(ACME, "email")
    ),
    ("customer", "name"): Case("acme", setter(ACME, "name", "Acme Inc"), remover(ACME, "name")),
    ("customer", "description"): Case(
        "acme", setter(ACME, "description", "Still first"), remover(ACME, "description")
    ),
    ("customer", "phone"): Case(
        "acme", setter(ACME, "phone", "+15555550199"), remover(ACME, "phone")
    ),
    ("customer", "metadata"): Case(
        "acme", setter(ACME, "metadata", {"crm": "A-2"}), remover(ACME, "metadata")
    ),
    ("subscription", "items"): Case(
        "acme/main",
        setter(MAIN, "items", [{"price": "pro-monthly", "quantity": 3}]),
        remover(MAIN, "items"),
    ),
    ("subscription", "collection_method"): Case(
        "acme/main",
        both(
            setter(MAIN, "collection_method", "charge_automatically"),
            remover(MAIN, "days_until_due"),
        ),
        # Removing it falls back to charge_automatically, which takes no days_until_due.
        remover(MAIN, "collection_method", "days_until_due"),
    ),
    ("subscription", "days_until_due"): Case(
        "acme/main", setter(MAIN, "days_until_due", 14), remover(MAIN, "days_until_due")
    ),
    ("subscription", "cancel_at_period_end"): Case(
        "acme/main",
        setter(MAIN, "cancel_at_period_end", True),
        remover(MAIN, "cancel_at_period_end"),
    ),
    ("subscription", "default_payment_method"): Case(
        "acme/main",
        setter(MAIN, "default_payment_method", "pm_card_mastercard"),
        remover(MAIN, "default_payment_method"),
    ),
    ("subscription", "metadata"): Case(
        "acme/main", setter(MAIN, "metadata", {"contract": "C-2"}), remover(MAIN, "metadata")
    ),
    ("subscription", "protect"): Case(
        "acme/main", setter(MAIN, "protect", False), remover(MAIN, "protect")
    ),
    ("subscription", "trial_period_days"): Case(
        "acme/main",
        setter(MAIN, "trial_period_days", 30),
        remover(MAIN, "trial_period_days"),
        removal_in_sync=True,
    ),
    # A trial end declared for an existing (active) subscription: it replaces trial_period_days
    # (validate refuses both) and puts the subscription on a trial in place.
    ("subscription", "trial_end"): Case(
        "acme/main",
        both(remover(MAIN, "trial_period_days"), setter(MAIN, "trial_end", IN_60_DAYS)),
        remover(MAIN, "trial_end"),  # not declared in FULL: nothing to unset
    ),
    ("subscription", "proration_behavior"): Case(
        "acme/main",
        setter(MAIN, "proration_behavior", "always_invoice"),
        remover(MAIN, "proration_behavior"),
    ),
    ("subscription", "discounts"): Case(
        "acme/main", setter(MAIN, "discounts", [{"coupon": "fiver"}]), remover(MAIN, "discounts")
    ),
    ("subscription", "default_tax_rates"): Case(
        "acme/main",
        setter(MAIN, "default_tax_rates", ["vat", "gst"]),
        remover(MAIN, "default_tax_rates"),
    ),
    ("coupon", "name"): Case("launch", setter(LAUNCH, "name", "Launch 2"), remover(LAUNCH, "name")),
    ("coupon", "metadata"): Case(
        "launch", setter(LAUNCH, "metadata", {"campaign": "b"}), remover(LAUNCH, "metadata")
    ),
    ("coupon", "currency_options"): Case(
        "fiver",
        setter(FIVER, "currency_options", {"eur": {"amount_off": 400}}),
        remover(FIVER, "currency_options"),
        on_remove=Replace,  # Stripe cannot remove a currency option in place
    ),
    ("coupon", "percent_off"): Case(
        "launch", setter(LAUNCH, "percent_off", 25), remover(LAUNCH, "percent_off")
    ),
    ("coupon", "amount_off"): Case(
        "fiver", setter(FIVER, "amount_off", 600), remover(FIVER, "amount_off")
    ),
    ("coupon", "currency"): Case(
        "fiver", setter(FIVER, "currency", "gbp"), remover(FIVER, "currency")
    ),
    ("coupon", "duration"): Case(
        "launch",
        both(setter(LAUNCH, "duration", "forever"), remover(LAUNCH, "duration_in_months")),
        # Removing it falls back to once, which takes no duration_in_months.
        remover(LAUNCH, "duration", "duration_in_months"),
    ),
    ("coupon", "duration_in_months"): Case(
        "launch", setter(LAUNCH, "duration_in_months", 6), remover(LAUNCH, "duration_in_months")
    ),
    ("coupon", "max_redemptions"): Case(
        "launch", setter(LAUNCH, "max_redemptions", 50), remover(LAUNCH, "max_redemptions")
    ),
    ("coupon", "redeem_by"): Case(
        "launch",
        setter(LAUNCH, "redeem_by", f"{YEAR + 3}-01-01T00:00:00Z"),
        remover(LAUNCH, "redeem_by"),
    ),
    ("coupon", "applies_to"): Case(
        "launch",
        setter(LAUNCH, "applies_to", {"products": ["pro", "team"]}),
        remover(LAUNCH, "applies_to"),
    ),
    ("coupon", "id"): Case("fiver", setter(FIVER, "id", "FIVER-2"), remover(FIVER, "id")),
    ("promotion_code", "coupon"): Case(
        "launch-code", setter(CODE, "coupon", "fiver"), remover(CODE, "coupon")
    ),
    ("promotion_code", "code"): Case(
        "launch-code", setter(CODE, "code", "LAUNCH25"), remover(CODE, "code")
    ),
    ("promotion_code", "active"): Case(
        "launch-code", setter(CODE, "active", False), remover(CODE, "active")
    ),
    ("promotion_code", "max_redemptions"): Case(
        "launch-code", setter(CODE, "max_redemptions", 10), remover(CODE, "max_redemptions")
    ),
    ("promotion_code", "expires_at"): Case(
        "launch-code",
        setter(CODE, "expires_at", f"{YEAR + 1}-12-31T23:59:59Z"),
        remover(CODE, "expires_at"),
    ),
    ("promotion_code", "restrictions"): Case(
        "launch-code",
        setter(CODE, "restrictions", {"first_time_transaction": True}),
        remover(CODE, "restrictions"),
    ),
    ("promotion_code", "metadata"): Case(
        "launch-code", setter(CODE, "metadata", {"channel": "ads"}), remover(CODE, "metadata")
    ),
    ("tax_rate", "display_name"): Case(
        "vat", setter(VAT, "display_name", "MwSt"), remover(VAT, "display_name")
    ),
    ("tax_rate", "percentage"): Case(
        "vat", setter(VAT, "percentage", 7), remover(VAT, "percentage")
    ),
    ("tax_rate", "inclusive"): Case(
        "vat", setter(VAT, "inclusive", True), remover(VAT, "inclusive")
    ),
    ("tax_rate", "active"): Case("vat", setter(VAT, "active", False), remover(VAT, "active")),
    ("tax_rate", "description"): Case(
        "vat", setter(VAT, "description", "VAT DE"), remover(VAT, "description")
    ),
    ("tax_rate", "jurisdiction"): Case(
        "vat", setter(VAT, "jurisdiction", "DE-BE"), remover(VAT, "jurisdiction")
    ),
    ("tax_rate", "country"): Case("vat", setter(VAT, "country", "AT"), remover(VAT, "country")),
    ("tax_rate", "state"): Case("vat", setter(VAT, "state", "BY"), remover(VAT, "state")),
    ("tax_rate", "tax_type"): Case(
        "vat", setter(VAT, "tax_type", "sales_tax"), remover(VAT, "tax_type")
    ),
    ("tax_rate", "metadata"): Case(
        "vat", setter(VAT, "metadata", {"ledger": "4401"}), remover(VAT, "metadata")
    ),
    ("feature", "name"): Case("sso", setter(SSO, "name", "Single sign-on"), remover(SSO, "name")),
    ("feature", "metadata"): Case(
        "sso", setter(SSO, "metadata", {"team": "platform"}), remover(SSO, "metadata")
    ),
    # Stripe fixes a feature's lookup key: a new feature takes over (removing it: the key).
    ("feature", "lookup_key"): Case(
        "sso", setter(SSO, "lookup_key", "sso-v2"), remover(SSO, "lookup_key")
    ),
}

FIELDS = [(kind, spec) for kind in KINDS for spec in kind.fields]
IDS = [f"{kind.name}.{spec.name}" for kind, spec in FIELDS]


def full() -> Doc:
    doc: Doc = yaml.safe_load(FULL)
    return doc


def plan_after(edit: Callable[[Doc], None]) -> Plan:
    doc = full()
    edit(doc)
    return plan_for(load_text(yaml.safe_dump(doc, sort_keys=False)), applied(load_text(FULL)))


def changes_of(plan: Plan, kind: Kind[Any], key: str) -> list[Change]:
    return [c for c in plan.changes if c.kind == kind.name and c.key == key]


def mentions(change: Change, name: str) -> bool:
    return any(f.path.split(".", 1)[0] in (name, f"{name} (removed)") for f in change.fields)


def assert_declared_mutability(plan: Plan, kind: Kind[Any], spec: FieldSpec, key: str) -> None:
    own = changes_of(plan, kind, key)
    if spec.mutability is Mutability.REPLACE:
        assert any(isinstance(c, Replace) for c in own), [c.id for c in plan.changes]
    elif spec.mutability is Mutability.IN_PLACE:
        in_place = [c for c in own if isinstance(c, (Update, Archive, Reactivate))]
        assert any(mentions(c, spec.name) for c in in_place), [c.id for c in plan.changes]
        assert not any(isinstance(c, Replace) for c in own)
    elif spec.mutability is Mutability.CREATE_ONLY:
        assert not any(mentions(c, spec.name) for c in own), [c.data for c in own]
        assert any(spec.name in u and key in u for u in plan.unreachable), plan.unreachable
    else:  # REQUEST_OPTION: nothing to change on its own
        assert own == [], [c.id for c in own]


def test_every_declared_field_has_a_case() -> None:
    declared = {(kind.name, spec.name) for kind, spec in FIELDS}
    assert declared == set(CASES)


def test_every_state_field_is_declared() -> None:
    """The canonical state holds nothing that is not declared, but identity and read-only facts."""
    identity = {
        "key",
        "id",
        "product_id",
        "created",
        "status",
        "currency",
        "customer",
        "customer_id",
        "pin",
        "coupon_id",
        "discount_ids",
        "tax_rate_ids",
        "product",
        "feature",
        "feature_id",
        "active",
    }
    for kind in KINDS:
        state = next(iter(kind.desired(load_text(FULL)).values()))
        declared = {s.name for s in kind.fields}
        # Observed facts (a period end, for `status`) are read-only and never compared.
        observed = {f.name for f in dataclasses.fields(state) if f.metadata.get("observed")}
        names = {f.name for f in dataclasses.fields(state)} - (identity - declared) - observed
        assert names == declared, kind.name


def test_the_unchanged_document_plans_nothing() -> None:
    plan = plan_after(lambda doc: None)
    assert [c.id for c in plan.changes] == [] and plan.warnings == () and plan.in_sync


@pytest.mark.parametrize(("kind", "spec"), FIELDS, ids=IDS)
def test_changing_a_field_plans_its_declared_mutability(kind: Kind[Any], spec: FieldSpec) -> None:
    case = CASES[(kind.name, spec.name)]
    assert_declared_mutability(plan_after(case.change), kind, spec, case.key)


@pytest.mark.parametrize(("kind", "spec"), FIELDS, ids=IDS)
def test_removing_a_field_unsets_it_or_says_why_not(kind: Kind[Any], spec: FieldSpec) -> None:
    case = CASES[(kind.name, spec.name)]
    if case.remove is None:
        pytest.skip(f"{kind.name}.{spec.name} is not a field of its own in billing.yaml")
    doc = full()
    case.remove(doc)
    text = yaml.safe_dump(doc, sort_keys=False)
    if spec.unset is Unset.REQUIRED:
        with pytest.raises(ConfigError) as err:
            load_text(text)
        assert spec.name in str(err.value)
        return
    cfg = load_text(text)
    plan = plan_for(cfg, applied(load_text(FULL)))
    if case.removal_in_sync:
        assert not any(mentions(c, spec.name) for c in changes_of(plan, kind, case.key))
        assert not any(spec.name in u for u in plan.unreachable), plan.unreachable
        return
    if case.on_remove is not None:
        assert spec.unset is Unset.OWN_RULE
        own = changes_of(plan, kind, case.remove_key or case.key)
        assert any(isinstance(c, case.on_remove) for c in own), [c.id for c in plan.changes]
        return
    before = desired_state(load_text(FULL)).of(kind)[case.key]
    after = desired_state(cfg).of(kind)[case.key]
    if values(before, [spec]) == values(after, [spec]):
        # Its default is the value it had: nothing to unset.
        assert not any(mentions(c, spec.name) for c in changes_of(plan, kind, case.key))
        return
    if spec.unset is Unset.NEVER:
        # Stripe cannot unset it: nothing is sent, and the plan says so.
        assert not any(mentions(c, spec.name) for c in changes_of(plan, kind, case.key))
        assert any(
            "cannot unset" in u and spec.name in u and case.key in u for u in plan.unreachable
        ), plan.unreachable
    elif spec.unset is Unset.EMPTY and spec.mutability is Mutability.IN_PLACE:
        sent = [c.request.params.get(spec.name) for c in changes_of(plan, kind, case.key)]
        assert "" in sent, [c.data for c in plan.changes]
    elif spec.unset is Unset.MERGE:
        sent = [c.request.params.get(spec.name) for c in changes_of(plan, kind, case.key)]
        old = values(before, [spec])[spec.name]
        assert {k: "" for k in old} in sent, [c.data for c in plan.changes]
    else:  # DEFAULT or the kind's own rule: the new value is planned like any change
        assert_declared_mutability(plan, kind, spec, case.key)


def test_every_case_edits_the_document() -> None:
    for (kind, name), case in CASES.items():
        doc = full()
        case.change(doc)
        assert doc != full(), f"{kind}.{name} changes nothing"
