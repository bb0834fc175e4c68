"""The emulator's accepted parameters and returned fields agree with the stripe package's types.

- Every route's implemented parameter paths exist in the stripe `*Params` TypedDict it names
  (so the emulator never accepts a parameter Stripe does not know).
- Every object the emulator returns carries every field its stripe resource class declares
  (`stripe.Price.__annotations__`, ...), as of the pinned stripe version; fields Stripe returns
  only when expanded (`includable`) appear exactly when expanded.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlencode

import pytest
import stripe
from stripe_emulator.framework import ROUTES, TYPES, Route, render
from stripe_emulator.params import check_implemented_subset, known_paths, typed_fields
from stripe_emulator.server import Emulator, dumps, load_resources

load_resources()

# Declared on the classes for deleted stubs only (`{"id", "object", "deleted": true}`).
NOT_ON_LIVE_OBJECTS = {"OBJECT_NAME", "deleted"}
MY_TYPES = {
    "product",
    "price",
    "customer",
    "payment_method",
    "subscription",
    "subscription_item",
    "plan",
    "coupon",
    "promotion_code",
    "tax_rate",
    "discount",
    "billing.meter",
    "entitlements.feature",
    "product_feature",
    "checkout.session",
    "item",
}
ROUTE_IDS = [f"{r.method} {r.template}" for r in ROUTES]


def test_routes_exist_for_core_surface() -> None:
    served = set(ROUTE_IDS)
    for expected in (
        "POST /v1/products",
        "GET /v1/products",
        "GET /v1/products/{id}",
        "POST /v1/products/{id}",
        "DELETE /v1/products/{id}",
        "POST /v1/prices",
        "GET /v1/prices",
        "GET /v1/prices/{id}",
        "POST /v1/prices/{id}",
        "POST /v1/customers",
        "GET /v1/customers",
        "DELETE /v1/customers/{id}",
        "POST /v1/payment_methods/{id}/attach",
        "POST /v1/subscriptions",
        "POST /v1/subscriptions/{id}",
        "DELETE /v1/subscriptions/{id}",
        "GET /v1/subscriptions",
        "GET /v1/subscription_items",
    ):
        assert expected in served
    assert "DELETE /v1/prices/{id}" not in served  # prices cannot be deleted


@pytest.mark.parametrize("route", ROUTES, ids=ROUTE_IDS)
def test_implemented_params_are_stripe_params(route: Route) -> None:
    assert check_implemented_subset(route.params_type, route.implemented_paths) == []
    known = known_paths(route.params_type)
    assert route.implemented_paths <= known
    # And the TypedDict is a real stripe params type, not something made up.
    assert route.params_type.__module__.startswith("stripe.params.")
    assert "api_key" not in typed_fields(route.params_type)


def test_subset_check_can_fail() -> None:
    assert check_implemented_subset(stripe.params.PriceUpdateParams, {"unit_amount"}) == [
        "unit_amount"
    ]
    assert check_implemented_subset(stripe.params.PriceCreateParams, {"recurring.colour"}) == [
        "recurring.colour"
    ]


def test_price_update_params_are_the_mutable_fields() -> None:
    route = next(r for r in ROUTES if (r.method, r.template) == ("POST", "/v1/prices/{id}"))
    top = {p.split(".")[0] for p in route.implemented_paths}
    assert top == {
        "active",
        "nickname",
        "metadata",
        "lookup_key",
        "transfer_lookup_key",
        "tax_behavior",
        "currency_options",
        "expand",
    }


# -- returned fields -----------------------------------------------------------------------------

KEY = "sk_test_fields_check"


def _call(emu: Emulator, method: str, path: str, params: dict[str, Any] | None = None) -> Any:
    body = urlencode(_flatten(params or {})).encode()
    headers = {
        "authorization": f"Bearer {KEY}",
        "content-type": "application/x-www-form-urlencoded",
    }
    if method == "GET":
        path = f"{path}?{body.decode()}"
        body = b""
    resp = emu.handle(method, path, headers, body)
    assert resp.status == 200, resp.body
    return json.loads(dumps(resp.body))


def _flatten(params: dict[str, Any], prefix: str = "") -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    for k, v in params.items():
        name = f"{prefix}[{k}]" if prefix else k
        if isinstance(v, dict):
            out += _flatten(v, name)
        elif isinstance(v, list):
            for i, item in enumerate(v):
                out += _flatten({str(i): item}, name)
        elif isinstance(v, bool):
            out.append((name, "true" if v else "false"))
        else:
            out.append((name, str(v)))
    return out


@pytest.fixture(scope="module")
def populated() -> Emulator:
    emu = Emulator()
    prod = _call(emu, "POST", "/v1/products", {"name": "Fields"})
    price = _call(
        emu,
        "POST",
        "/v1/prices",
        {
            "product": prod["id"],
            "currency": "usd",
            "billing_scheme": "tiered",
            "tiers_mode": "volume",
            "tiers": [{"up_to": 5, "unit_amount": 100}, {"up_to": "inf", "unit_amount": 50}],
            "recurring": {"interval": "month"},
        },
    )
    cus = _call(emu, "POST", "/v1/customers", {"email": "f@example.test"})
    pm = _call(emu, "POST", "/v1/payment_methods/pm_card_visa/attach", {"customer": cus["id"]})
    _call(
        emu,
        "POST",
        f"/v1/customers/{cus['id']}",
        {"invoice_settings": {"default_payment_method": pm["id"]}},
    )
    meter = _call(
        emu,
        "POST",
        "/v1/billing/meters",
        {
            "display_name": "Tokens",
            "event_name": "tokens",
            "default_aggregation": {"formula": "sum"},
        },
    )
    metered = _call(
        emu,
        "POST",
        "/v1/prices",
        {
            "product": prod["id"],
            "currency": "usd",
            "unit_amount_decimal": "0.3",
            "recurring": {"interval": "month", "usage_type": "metered", "meter": meter["id"]},
        },
    )
    coupon = _call(
        emu,
        "POST",
        "/v1/coupons",
        {
            "amount_off": 100,
            "currency": "usd",
            "applies_to": {"products": [prod["id"]]},
            "currency_options": {"eur": {"amount_off": 90}},
        },
    )
    promo = _call(
        emu,
        "POST",
        "/v1/promotion_codes",
        {"promotion": {"type": "coupon", "coupon": coupon["id"]}, "code": "FIELDS"},
    )
    rate = _call(
        emu, "POST", "/v1/tax_rates", {"display_name": "VAT", "percentage": 20, "inclusive": False}
    )
    _call(
        emu,
        "POST",
        "/v1/subscriptions",
        {
            "customer": cus["id"],
            "items": [{"price": price["id"], "quantity": 2}, {"price": metered["id"]}],
            "discounts": [{"promotion_code": promo["id"]}],
            "default_tax_rates": [rate["id"]],
        },
    )
    feature = _call(emu, "POST", "/v1/entitlements/features", {"name": "SSO", "lookup_key": "sso"})
    _call(
        emu, "POST", f"/v1/products/{prod['id']}/features", {"entitlement_feature": feature["id"]}
    )
    # The payments resources (another module's surface), when served: one refunded payment.
    if any(r.template == "/v1/refunds" for r in ROUTES):
        pi = _call(
            emu,
            "POST",
            "/v1/payment_intents",
            {
                "amount": 2000,
                "currency": "usd",
                "customer": cus["id"],
                "payment_method": pm["id"],
                "confirm": True,
                "automatic_payment_methods": {"enabled": True, "allow_redirects": "never"},
            },
        )
        _call(emu, "POST", "/v1/refunds", {"payment_intent": pi["id"], "amount": 500})
    # Checkout: one open session, one completed by the paying-customer control.
    flat = _call(
        emu,
        "POST",
        "/v1/prices",
        {
            "product": prod["id"],
            "currency": "usd",
            "unit_amount": 900,
            "recurring": {"interval": "month"},
        },
    )
    for _ in range(2):
        session = _call(
            emu,
            "POST",
            "/v1/checkout/sessions",
            {
                "mode": "subscription",
                "line_items": [{"price": flat["id"], "quantity": 1}],
                "success_url": "https://example.test/ok",
            },
        )
    done = emu.control("POST", f"/_emulator/checkout_sessions/{session['id']}/complete", {})
    assert done.status == 200, done.body
    return emu


def _declared(cls: type) -> set[str]:
    return {k for k in cls.__annotations__ if k not in NOT_ON_LIVE_OBJECTS}


def _omitted(tname: str, obj: dict[str, Any]) -> set[str]:
    """Declared fields Stripe leaves out of this object: a payment method carries the hash of
    its own type only (https://docs.stripe.com/api/payment_methods/object)."""
    if tname == "payment_method":
        from stripe_emulator.resources.payment_methods import TYPE_HASHES

        return set(TYPE_HASHES) - {obj["type"]}
    return set()


def test_payment_method_omits_other_types_hashes(populated: Emulator) -> None:
    store = populated.store
    pm = render(store, "payment_method", next(iter(store.coll("payment_method").objs.values())))
    assert pm["type"] == "card" and isinstance(pm["card"], dict)
    assert "sepa_debit" not in pm and "us_bank_account" not in pm and "link" not in pm


# Nested fields the SDK declares that the emulator renders, checked one level into the
# hashes Stripe always returns (each path: the emulator's object type, then the keys).
NESTED = {
    (
        "subscription",
        "trial_settings",
        "end_behavior",
    ): stripe.Subscription.TrialSettings.EndBehavior,
    ("charge", "outcome"): stripe.Charge.Outcome,
    ("charge", "payment_method_details"): None,  # only `type` and the hash of that type
    ("payment_method", "card"): stripe.PaymentMethod.Card,
    ("promotion_code", "restrictions"): stripe.PromotionCode.Restrictions,
    ("promotion_code", "promotion"): stripe.PromotionCode.Promotion,
    ("discount", "source"): stripe.Discount.Source,
    ("payment_intent", "amount_details"): stripe.PaymentIntent.AmountDetails,
    ("payment_intent", "amount_details", "tip"): stripe.PaymentIntent.AmountDetails.Tip,
    ("payment_intent", "payment_method_options", "card"): (
        stripe.PaymentIntent.PaymentMethodOptions.Card
    ),
}
# Declared, but only present in flows the emulator does not model (Stripe omits them).
NESTED_OMITTED: dict[tuple[str, ...], set[str]] = {
    ("charge", "outcome"): {"rule"},  # only when a Radar rule acted
    ("payment_method", "card"): {"description", "iin", "issuer"},  # card-issuing previews
    # Live PaymentIntents without industry data carry `"amount_details": {"tip": {}}` (payloads
    # of live events quoted in public code, e.g. a Stripe CLI-created PaymentIntent): the other
    # hashes appear only when sent (discount, line items, shipping, tax) or when they failed
    # validation (error), and the tip's amount only when a tip was given.
    ("payment_intent", "amount_details"): {
        "discount_amount",
        "error",
        "line_items",
        "shipping",
        "tax",
    },
    ("payment_intent", "amount_details", "tip"): {"amount"},
    # Live card options list installments, mandate_options, network and request_three_d_secure
    # (each null or "automatic") unless the request set others: the capture, authorization,
    # CVC, setup-usage and descriptor options appear only when requested (live event payloads
    # quoted in public code).
    ("payment_intent", "payment_method_options", "card"): {
        "capture_method",
        "request_extended_authorization",
        "request_incremental_authorization",
        "request_multicapture",
        "request_overcapture",
        "require_cvc_recollection",
        "setup_credential_usage",
        "setup_future_usage",
        "statement_descriptor_suffix_kana",
        "statement_descriptor_suffix_kanji",
        "stored_credential_usage",
    },
}


@pytest.mark.parametrize("path", sorted(NESTED), ids=".".join)
def test_nested_declared_fields(populated: Emulator, path: tuple[str, ...]) -> None:
    store = populated.store
    tname, *keys = path
    assert store.coll(tname).objs, f"no {tname} to check"
    for obj in store.coll(tname).objs.values():
        node: Any = render(store, tname, obj, [])
        for k in keys:
            node = node[k]
        cls = NESTED[path]
        if cls is None:  # payment_method_details: {type, <type>: {...}}
            assert set(node) == {"type", node["type"]}
            card_declared = {
                k
                for k in stripe.Charge.PaymentMethodDetails.Card.__annotations__
                if not k.isupper()
            }
            rendered = set(node["card"])
            assert rendered <= card_declared, rendered - card_declared
            assert {"amount_authorized", "checks", "network_token", "regulated_status"} <= rendered
            continue
        declared = {k for k in cls.__annotations__ if not k.isupper()}
        omitted = NESTED_OMITTED.get(path, set())
        assert omitted <= declared, omitted - declared  # an SDK upgrade renamed one
        assert set(node) == declared - omitted, set(node) ^ declared


@pytest.mark.parametrize("tname", sorted(MY_TYPES))
def test_my_types_have_objects(populated: Emulator, tname: str) -> None:
    store = populated.store
    if tname in ("plan", "item"):
        return  # embedded in subscription items, Checkout Sessions
    assert len(store.coll(tname)) > 0


@pytest.mark.parametrize("tname", sorted(TYPES))
def test_returned_objects_carry_declared_fields(populated: Emulator, tname: str) -> None:
    t = TYPES[tname]
    if t.stripe_class is None:
        pytest.skip(f"{tname} declares no stripe class")
    store = populated.store
    objs = list(store.coll(tname).objs.values())
    if tname == "plan":
        from stripe_emulator.resources.subscriptions import plan_of

        objs = [plan_of(p) for p in store.coll("price").objs.values()]
    if tname == "item":  # Checkout line items live in their session
        objs = [
            li
            for cs in store.coll("checkout.session").objs.values()
            for li in cs["line_items"]["data"]
        ]
    if not objs:
        assert tname not in MY_TYPES
        pytest.skip(f"no {tname} objects in this scenario")
    for obj in objs:
        plain = render(store, tname, obj, [])
        declared = _declared(t.stripe_class) - _omitted(tname, plain)
        assert set(plain) == declared - set(t.includable), (
            f"{tname}: {set(plain) ^ (declared - set(t.includable))}"
        )
        full = render(store, tname, obj, list(t.includable))
        assert set(full) == declared
        assert plain["object"] == tname
        if "livemode" in declared:
            assert plain["livemode"] is False
        assert not any(k.startswith("_") for k in full)


def test_meter_events_and_summaries_carry_declared_fields(populated: Emulator) -> None:
    store = populated.store
    meter = next(iter(store.coll("billing.meter").objs.values()))
    cus = next(iter(store.coll("customer").objs.values()))
    event = _call(
        populated,
        "POST",
        "/v1/billing/meter_events",
        {"event_name": "tokens", "payload": {"stripe_customer_id": cus["id"], "value": "7"}},
    )
    assert set(event) == _declared(stripe.billing.MeterEvent)
    now = event["timestamp"] - event["timestamp"] % 60
    page = _call(
        populated,
        "GET",
        f"/v1/billing/meters/{meter['id']}/event_summaries",
        {"customer": cus["id"], "start_time": now, "end_time": now + 60},
    )
    (summary,) = page["data"]
    assert set(summary) == _declared(stripe.billing.MeterEventSummary)
    assert summary["aggregated_value"] == 7.0


def test_field_check_can_fail(populated: Emulator) -> None:
    store = populated.store
    price = next(iter(store.coll("price").objs.values()))
    rendered = render(store, "price", {k: v for k, v in price.items() if k != "nickname"}, [])
    assert set(rendered) != _declared(stripe.Price) - {"tiers", "currency_options"}


def _request(emu: Emulator, route: Any, pairs: list[tuple[str, str]]) -> Any:
    path = route.template
    for name in route.regex.groupindex:
        path = path.replace("{" + name + "}", f"x_{name}")
    body = urlencode(pairs).encode()
    headers = {
        "authorization": f"Bearer {KEY}",
        "content-type": "application/x-www-form-urlencoded",
    }
    if route.method in ("GET", "DELETE"):
        path, body = f"{path}?{body.decode()}", b""
    resp = emu.handle(route.method, path, headers, body)
    return resp.status, json.loads(dumps(resp.body))


@pytest.mark.parametrize("route", ROUTES, ids=ROUTE_IDS)
def test_every_route_rejects_unknown_and_unsupported_params(route: Route) -> None:
    emu = Emulator()
    status, body = _request(emu, route, [("zz_not_a_stripe_param", "1")])
    assert status == 400
    assert body["error"]["message"] == "Received unknown parameter: zz_not_a_stripe_param"
    assert body["error"]["param"] == "zz_not_a_stripe_param"
    unsupported = sorted(
        name for name in typed_fields(route.params_type) if not route.implemented.covers(name)
    )
    if unsupported:
        status, body = _request(emu, route, [(unsupported[0], "1")])
        assert status == 400
        assert body["error"]["message"] == (
            f"Parameter {unsupported[0]} is not supported by the billing-sync emulator"
        )
    assert emu.requests() and all(r["status"] == 400 for r in emu.requests())
