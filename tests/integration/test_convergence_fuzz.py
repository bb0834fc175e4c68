"""Property: for random pairs of valid catalogs A and B (every resource kind), applying A then B
leaves nothing to plan and no managed key held by two live objects; a hand edit made through
the official client after A is drift (`drift` exits 2), and applying B then converges: the next
plan is empty and the account, read through the official client, equals B field by field."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from billing_sync.apply.execute import Executor
from billing_sync.plan.planner import build_plan
from billing_sync.remote.client import connect
from tests.helpers import EmulatorHandle, duplicates, everything, run_cli

CURRENCIES = ["usd", "eur", "jpy", "kwd"]
FEATURES = ["f1", "f2", "f3"]
METERS = ["m1", "m2"]
COUPONS = ["c1", "c2"]
CODES = ["pc1", "pc2"]
TAX_RATES = ["t1", "t2"]

price_st = st.fixed_dictionaries(
    {
        # flat: unit_amount; decimal: a sub-cent `amount`; metered: on a meter (recurring,
        # usd); custom: pay what you want (one-time).
        "kind": st.sampled_from(["flat", "flat", "decimal", "metered", "custom"]),
        "currency": st.sampled_from(CURRENCIES),
        "unit_amount": st.integers(0, 5).map(lambda n: n * 500),
        "decimal": st.sampled_from(["0.003", "0.00002", "1.5"]),
        "meter": st.sampled_from(METERS),
        "minimum": st.sampled_from([None, 500, 1000]),
        "interval": st.sampled_from(["month", "year", None]),
        "nickname": st.sampled_from([None, "A", "B"]),
        "meta": st.sampled_from([{}, {"k": "1"}, {"k": "2", "j": "x"}]),
    }
)
product_st = st.fixed_dictionaries(
    {
        "name": st.sampled_from(["Alpha", "Beta"]),
        "description": st.sampled_from([None, "d1", "d2"]),
        "prices": st.dictionaries(st.sampled_from(["a", "b", "c"]), price_st, max_size=3),
        "features": st.lists(st.sampled_from(FEATURES), unique=True, max_size=2),
    }
)
meter_st = st.fixed_dictionaries(
    {
        "display_name": st.sampled_from(["Tokens", "Calls"]),
        "formula": st.sampled_from(["sum", "sum", "count"]),
    }
)
feature_st = st.fixed_dictionaries(
    {
        "name": st.sampled_from(["Feature X", "Feature Y"]),
        "lookup_key": st.sampled_from([None, "v2"]),
        "meta": st.sampled_from([{}, {"k": "1"}]),
    }
)
coupon_st = st.fixed_dictionaries(
    {
        "name": st.sampled_from([None, "Launch", "Partner"]),
        "off": st.sampled_from([("percent", 20), ("percent", 12.5), ("amount", 500)]),
        "duration": st.sampled_from([("once", None), ("repeating", 3), ("forever", None)]),
        "max_redemptions": st.sampled_from([None, 50]),
        "applies_to_first": st.booleans(),
        "meta": st.sampled_from([{}, {"k": "1"}]),
    }
)
code_st = st.fixed_dictionaries(
    {
        "coupon": st.sampled_from(COUPONS),
        "variant": st.sampled_from(["A", "B"]),
        "active": st.sampled_from([True, True, False]),
        "first_time": st.booleans(),
        "meta": st.sampled_from([{}, {"k": "1"}]),
    }
)
tax_rate_st = st.fixed_dictionaries(
    {
        "display_name": st.sampled_from(["VAT", "GST"]),
        "percentage": st.sampled_from([7, 19, 20.5]),
        "inclusive": st.booleans(),
        "country": st.sampled_from([None, "DE"]),
        "active": st.sampled_from([True, True, False]),
        "meta": st.sampled_from([{}, {"k": "1"}]),
    }
)


def catalogs(least: int = 0) -> st.SearchStrategy[dict[str, Any]]:
    """Catalogs holding at least `least` objects of each kind (and, with least > 0, always a
    subscription with discounts and tax rates, so that every hand edit finds its object)."""

    def some(keys: list[str], values: st.SearchStrategy[Any], most: int) -> Any:
        return st.dictionaries(st.sampled_from(keys), values, min_size=least, max_size=most)

    return st.fixed_dictionaries(
        {
            "products": some(["p1", "p2", "p3"], product_st, 3),
            "meters": some(METERS, meter_st, 2),
            "features": some(FEATURES, feature_st, 3),
            "coupons": some(COUPONS, coupon_st, 2),
            "codes": some(CODES, code_st, 2),
            "tax_rates": some(TAX_RATES, tax_rate_st, 2),
            "seats": st.integers(1, 3),
            "subscribe": st.just(True) if least else st.booleans(),
            "discounts": st.lists(
                st.sampled_from(COUPONS + CODES), unique=True, min_size=least, max_size=2
            ),
            "sub_tax_rates": st.lists(
                st.sampled_from(TAX_RATES), unique=True, min_size=least, max_size=2
            ),
            # Days from today: a trial declared on the subscription (None: no trial_end).
            "trial_days": st.sampled_from([None, None, 30, 60]),
            # A usd monthly price that a subscription can always hold.
            "anchor": st.just(bool(least)),
        }
    )


rich_catalog_st = catalogs(least=1)
catalog_st = st.one_of(catalogs(), rich_catalog_st)


ANCHOR_PRICE = {
    "kind": "flat",
    "currency": "usd",
    "unit_amount": 1000,
    "decimal": "1.5",
    "meter": "m1",
    "minimum": None,
    "interval": "month",
    "nickname": None,
    "meta": {},
}


def _meta(doc: dict[str, Any], meta: dict[str, str]) -> None:
    if meta:
        doc["metadata"] = dict(meta)


def _price(p: dict[str, Any], meters: dict[str, Any]) -> dict[str, Any]:
    """One price of billing.yaml; a kind the catalog cannot hold falls back to a flat price."""
    kind = p["kind"]
    if kind == "metered" and p["meter"] not in meters:
        kind = "flat"
    if kind == "decimal" and p["currency"] in ("jpy", "kwd"):
        kind = "flat"
    price: dict[str, Any] = {"currency": p["currency"]}
    if kind == "metered":
        price["currency"] = "usd"
        price["amount"] = p["decimal"]
        price["recurring"] = {"interval": "month", "usage_type": "metered", "meter": p["meter"]}
    elif kind == "custom":
        price["custom_unit_amount"] = {"minimum": p["minimum"]} if p["minimum"] else {}
        if p["currency"] in ("jpy", "kwd"):
            price["currency"] = "usd"
    else:
        if kind == "decimal":
            price["amount"] = p["decimal"]
        else:
            price["unit_amount"] = p["unit_amount"]
        if p["interval"]:
            price["recurring"] = {"interval": p["interval"]}
    if p["nickname"]:
        price["nickname"] = p["nickname"]
    _meta(price, p["meta"])
    return price


def to_yaml(catalog: dict[str, Any], today: datetime) -> str:
    meters = catalog["meters"]
    features = catalog["features"]
    products: dict[str, Any] = {}
    prices_by_key: dict[str, dict[str, Any]] = {}
    catalog_products = dict(catalog["products"])
    if catalog["anchor"]:
        catalog_products["p0"] = {
            "name": "Anchor",
            "description": None,
            "features": [],
            "prices": {"m": {**ANCHOR_PRICE}},
        }
    for pkey, prod in catalog_products.items():
        prices: dict[str, Any] = {}
        for suffix, p in prod["prices"].items():
            key = f"{pkey}-{suffix}"
            prices[key] = prices_by_key[key] = _price(p, meters)
        product: dict[str, Any] = {"name": prod["name"], "prices": prices}
        if prod["description"]:
            product["description"] = prod["description"]
        granted = [f for f in prod["features"] if f in features]
        if granted:
            product["features"] = granted
        products[pkey] = product
    doc: dict[str, Any] = {"version": 1}
    if meters:
        doc["meters"] = {
            k: {"display_name": m["display_name"], "default_aggregation": {"formula": m["formula"]}}
            for k, m in meters.items()
        }
    doc["products"] = products
    if features:
        doc["features"] = {}
        for k, f in features.items():
            feature: dict[str, Any] = {"name": f["name"]}
            if f["lookup_key"]:
                feature["lookup_key"] = f"{k}-{f['lookup_key']}"
            _meta(feature, f["meta"])
            doc["features"][k] = feature
    if catalog["coupons"]:
        doc["coupons"] = {}
        for k, c in catalog["coupons"].items():
            coupon: dict[str, Any] = {}
            if c["name"]:
                coupon["name"] = c["name"]
            off, value = c["off"]
            if off == "percent":
                coupon["percent_off"] = value
            else:
                coupon["amount_off"] = value
                coupon["currency"] = "usd"
            # Stripe refuses amount_off coupons without an end (API 2025-03-31.basil).
            if off == "amount" and c["duration"][0] == "forever":
                c = {**c, "duration": ("repeating", 12)}
            coupon["duration"] = c["duration"][0]
            if c["duration"][1]:
                coupon["duration_in_months"] = c["duration"][1]
            if c["max_redemptions"]:
                coupon["max_redemptions"] = c["max_redemptions"]
            if c["applies_to_first"] and products:
                coupon["applies_to"] = {"products": [next(iter(products))]}
            _meta(coupon, c["meta"])
            doc["coupons"][k] = coupon
    codes = {k: c for k, c in catalog["codes"].items() if c["coupon"] in catalog["coupons"]}
    if codes:
        doc["promotion_codes"] = {}
        for k, c in codes.items():
            code: dict[str, Any] = {"coupon": c["coupon"], "code": f"{k.upper()}{c['variant']}"}
            if not c["active"]:
                code["active"] = False
            if c["first_time"]:
                code["restrictions"] = {"first_time_transaction": True}
            _meta(code, c["meta"])
            doc["promotion_codes"][k] = code
    if catalog["tax_rates"]:
        doc["tax_rates"] = {}
        for k, t in catalog["tax_rates"].items():
            rate: dict[str, Any] = {
                "display_name": t["display_name"],
                "percentage": t["percentage"],
                "inclusive": t["inclusive"],
            }
            if t["country"]:
                rate["country"] = t["country"]
            if not t["active"]:
                rate["active"] = False
            _meta(rate, t["meta"])
            doc["tax_rates"][k] = rate
    # One usd subscription on the recurring usd prices of the first one's interval.
    recurring_usd = [
        (k, p) for k, p in prices_by_key.items() if p["currency"] == "usd" and "recurring" in p
    ]
    if catalog["subscribe"] and recurring_usd:
        interval = recurring_usd[0][1]["recurring"]["interval"]
        items: list[dict[str, Any]] = []
        for k, p in recurring_usd:
            if p["recurring"]["interval"] != interval:
                continue
            metered = p["recurring"].get("usage_type") == "metered"
            items.append({"price": k} if metered else {"price": k, "quantity": catalog["seats"]})
        sub: dict[str, Any] = {
            "items": items,
            "collection_method": "send_invoice",
            "days_until_due": 30,
        }
        discounts = []
        applied: set[str] = set()  # Stripe applies a coupon once per subscription
        for d in catalog["discounts"]:
            if d in catalog["coupons"] and d not in applied:
                discounts.append({"coupon": d})
                applied.add(d)
            elif d in codes and codes[d]["active"] and codes[d]["coupon"] not in applied:
                discounts.append({"promotion_code": d})
                applied.add(codes[d]["coupon"])
        if discounts:
            sub["discounts"] = discounts
        rates = [
            t
            for t in catalog["sub_tax_rates"]
            if t in catalog["tax_rates"] and catalog["tax_rates"][t]["active"]
        ]
        if rates:
            sub["default_tax_rates"] = rates
        if catalog["trial_days"]:
            sub["trial_end"] = (today + timedelta(days=catalog["trial_days"])).strftime("%Y-%m-%d")
        doc["customers"] = {"c1": {"email": "c1@example.com", "subscriptions": {"main": sub}}}
    doc["policies"] = {"max_destroy_percent": 100, "max_update_percent": 100}
    return yaml.safe_dump(doc, sort_keys=False)


TODAY = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)


def apply(url: str, key: str, config: Path) -> None:
    remote = connect(key, url)
    plan = build_plan(remote, str(config))
    assert not plan.conflicts, plan.conflicts
    report = Executor(remote, parallelism=2, rate_limit=1000).run(plan)
    assert report.ok, [(r.change.id, r.message) for r in report.results if r.status != "done"]


def validate(emulator: EmulatorHandle, config: Path) -> None:
    res = run_cli(emulator, "validate", "-c", str(config))
    assert res.returncode == 0, res.stdout + res.stderr + config.read_text()


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(first=catalog_st, second=catalog_st)
def test_any_transition_converges(
    emulator: EmulatorHandle, tmp_path: Path, first: dict[str, Any], second: dict[str, Any]
) -> None:
    emulator.reset()
    config = tmp_path / "billing.yaml"
    for catalog in (first, second):
        config.write_text(to_yaml(catalog, TODAY))
        validate(emulator, config)
        apply(emulator.url, emulator.api_key, config)
        again = build_plan(connect(emulator.api_key, emulator.url), str(config))
        assert [c.id for c in again.changes] == [], config.read_text()
        assert_only_allowed_unreachable(again.unreachable, cancelled=False)
        assert duplicates(emulator) == {}
        assert_account_equals(emulator, yaml.safe_load(config.read_text()))


def assert_only_allowed_unreachable(unreachable: tuple[str, ...], *, cancelled: bool) -> None:
    # What may stay different is only what Stripe does not allow: a field it cannot unset, a
    # meter setting fixed at creation, a subscription cancelled by hand (never re-created
    # without someone deciding to).
    allowed = ("cannot unset", "one meter only", "can only be set when the meter is created") + (
        ("canceled in Stripe",) if cancelled else ()
    )
    assert all(any(a in u for a in allowed) for u in unreachable), unreachable


HAND_EDITS = [
    "rename",
    "product_metadata",
    "archive_price",
    "quantity",
    "cancel",
    "add_item",
    "rename_coupon",
    "coupon_metadata",
    "deactivate_code",
    "code_metadata",
    "deactivate_tax_rate",
    "tax_rate_metadata",
    "rename_feature",
    "feature_metadata",
    "archive_feature",
    "detach_feature",
    "deactivate_meter",
    "rename_meter",
    "remove_discount",
    "remove_tax_rates",
]


def _managed(items: Any) -> list[Any]:
    return [o for o in items if _key(o)]


def hand_edit(emulator: EmulatorHandle, edit: str) -> bool:
    """One edit someone could make in the Dashboard; False when the account has nothing to edit."""
    client = emulator.client()
    objs = everything(emulator)
    managed = [o for o in _managed(objs["products"]) if o["active"]]
    prices = [o for o in _managed(objs["prices"]) if o["active"]]
    subs = [s for s in objs["subscriptions"] if s["status"] in ("active", "trialing")]
    coupons = _managed(client.v1.coupons.list({"limit": 100}).data)
    codes = [c for c in _managed(client.v1.promotion_codes.list({"limit": 100}).data) if c.active]
    rates = [r for r in _managed(client.v1.tax_rates.list({"limit": 100}).data) if r.active]
    features = [f for f in _managed(objs["features"]) if f["active"]]
    meters = [m for m in objs["meters"] if m["status"] == "active"]
    if edit == "rename" and managed:
        client.v1.products.update(managed[0]["id"], {"name": "Renamed by hand"})
    elif edit == "product_metadata" and managed:
        client.v1.products.update(managed[0]["id"], {"metadata": {"hand": "1"}})
    elif edit == "archive_price" and prices:
        defaults = {p.get("default_price") for p in objs["products"]}
        free = [p for p in prices if p["id"] not in defaults]
        if not free:
            return False
        client.v1.prices.update(free[0]["id"], {"active": False})
    elif edit == "quantity" and subs:
        items = [i for i in subs[0]["items"]["data"] if i.get("quantity") is not None]
        if not items:
            return False
        client.v1.subscription_items.update(items[0]["id"], {"quantity": items[0]["quantity"] + 1})
    elif edit == "cancel" and subs:
        client.v1.subscriptions.cancel(subs[0]["id"])
    elif edit == "add_item" and subs:
        sub = subs[0]
        first = sub["items"]["data"][0]["price"]
        extra = client.v1.prices.create(
            {
                "product": first["product"],
                "currency": first["currency"],
                "unit_amount": 700,
                "recurring": {"interval": first["recurring"]["interval"]},
            }
        )
        client.v1.subscription_items.create(
            {"subscription": sub["id"], "price": extra.id, "quantity": 1}
        )
    elif edit == "rename_coupon" and coupons:
        client.v1.coupons.update(coupons[0].id, {"name": "Renamed by hand"})
    elif edit == "coupon_metadata" and coupons:
        client.v1.coupons.update(coupons[0].id, {"metadata": {"hand": "1"}})
    elif edit == "deactivate_code" and codes:
        client.v1.promotion_codes.update(codes[0].id, {"active": False})
    elif edit == "code_metadata" and codes:
        client.v1.promotion_codes.update(codes[0].id, {"metadata": {"hand": "1"}})
    elif edit == "deactivate_tax_rate" and rates:
        client.v1.tax_rates.update(rates[0].id, {"active": False})
    elif edit == "tax_rate_metadata" and rates:
        client.v1.tax_rates.update(rates[0].id, {"metadata": {"hand": "1"}})
    elif edit == "rename_feature" and features:
        client.v1.entitlements.features.update(features[0]["id"], {"name": "Renamed by hand"})
    elif edit == "feature_metadata" and features:
        client.v1.entitlements.features.update(features[0]["id"], {"metadata": {"hand": "1"}})
    elif edit == "archive_feature" and features:
        client.v1.entitlements.features.update(features[0]["id"], {"active": False})
    elif edit == "detach_feature":
        for product in managed:
            links = client.v1.products.features.list(product["id"]).data
            if links:
                client.v1.products.features.delete(product["id"], links[0].id)
                return True
        return False
    elif edit == "deactivate_meter" and meters:
        client.v1.billing.meters.deactivate(meters[0]["id"])
    elif edit == "rename_meter" and meters:
        client.v1.billing.meters.update(meters[0]["id"], {"display_name": "Renamed by hand"})
    elif edit == "remove_discount" and subs:
        if not subs[0].get("discounts"):
            return False
        client.v1.subscriptions.update(subs[0]["id"], {"discounts": ""})
    elif edit == "remove_tax_rates" and subs:
        if not subs[0].get("default_tax_rates"):
            return False
        client.v1.subscriptions.update(subs[0]["id"], {"default_tax_rates": ""})
    else:
        return False
    return True


@settings(
    max_examples=2,  # per hand edit: 40 in all
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(first=rich_catalog_st, second=catalog_st)
@pytest.mark.parametrize("edit", HAND_EDITS)
def test_hand_edits_are_drift_and_the_next_apply_converges(
    emulator: EmulatorHandle,
    tmp_path: Path,
    first: dict[str, Any],
    second: dict[str, Any],
    edit: str,
) -> None:
    emulator.reset()
    config = tmp_path / "billing.yaml"
    config.write_text(to_yaml(first, TODAY))
    apply(emulator.url, emulator.api_key, config)
    assume(hand_edit(emulator, edit))
    drift = run_cli(emulator, "drift", "-c", str(config))
    assert drift.returncode == 2, (edit, drift.stdout, drift.stderr, config.read_text())
    cancelled = edit == "cancel"
    config.write_text(to_yaml(second, TODAY))
    apply(emulator.url, emulator.api_key, config)
    again = build_plan(connect(emulator.api_key, emulator.url), str(config))
    assert [c.id for c in again.changes] == [], (edit, config.read_text())
    assert_only_allowed_unreachable(again.unreachable, cancelled=cancelled)
    assert duplicates(emulator) == {}
    assert_account_equals(emulator, yaml.safe_load(config.read_text()), skip_subscription=cancelled)


# --------------------------------------------------------------------------- field by field


def _plain(meta: Any) -> dict[str, str]:
    """Metadata as a dict, whether read raw (a dict) or through the client (a StripeObject)."""
    if meta is None:
        return {}
    return dict(meta.to_dict() if hasattr(meta, "to_dict") else meta)


def _key(obj: Any) -> str | None:
    meta = _plain(obj["metadata"])
    return meta.get("billing_sync_key")


def _user_meta(obj: Any) -> dict[str, str]:
    return {k: v for k, v in _plain(obj["metadata"]).items() if not k.startswith("billing_sync_")}


def assert_account_equals(
    emulator: EmulatorHandle, doc: dict[str, Any], *, skip_subscription: bool = False
) -> None:
    """The account, read through the official client (not billing-sync), is `doc`."""
    client = emulator.client()
    objs = everything(emulator)
    products = {p["id"]: p for p in objs["products"] if p["active"]}
    features = {_key(f): f for f in objs["features"] if f["active"] and _key(f)}
    for key, f in (doc.get("features") or {}).items():
        live = features[key]
        assert live["name"] == f["name"], key
        assert live["lookup_key"] == f.get("lookup_key", key), key
        assert _user_meta(live) == (f.get("metadata") or {}), key
    assert set(features) == set(doc.get("features") or {}), "undeclared features are archived"
    for key, product in doc["products"].items():
        live = products[key]
        assert live["name"] == product["name"], key
        assert live["description"] == product.get("description"), key
        links = client.v1.products.features.list(key).data
        granted = sorted(str(_key(link.entitlement_feature)) for link in links)
        assert granted == sorted(product.get("features") or []), key
        declared_prices = product["prices"]
        live_prices = {
            p["lookup_key"]: p
            for p in objs["prices"]
            if p["active"] and p["product"] == key and _key(p)  # not a price added by hand
        }
        assert set(live_prices) == set(declared_prices), key
        for pkey, price in declared_prices.items():
            lp = live_prices[pkey]
            assert lp["currency"] == price["currency"], pkey
            if "nickname" in price:  # removed: Stripe keeps it ("cannot unset", reported)
                assert lp["nickname"] == price["nickname"], pkey
            assert _user_meta(lp) == (price.get("metadata") or {}), pkey
            recurring = price.get("recurring")
            assert (lp["recurring"] or {}).get("interval") == (recurring or {}).get("interval")
            if recurring and recurring.get("meter"):
                meter = next(m for m in objs["meters"] if m["id"] == lp["recurring"]["meter"])
                assert meter["event_name"] == recurring["meter"], pkey
                assert lp["recurring"]["usage_type"] == "metered", pkey
            if "custom_unit_amount" in price:
                assert lp["custom_unit_amount"]["minimum"] == price["custom_unit_amount"].get(
                    "minimum"
                ), pkey
            elif "unit_amount" in price:
                assert lp["unit_amount"] == price["unit_amount"], pkey
            else:
                # `amount` in major units: Stripe holds cents, as a decimal string.
                assert Decimal(lp["unit_amount_decimal"]) == Decimal(price["amount"]) * 100, pkey
    meters = {m["event_name"]: m for m in objs["meters"]}
    for key, m in (doc.get("meters") or {}).items():
        assert meters[key]["display_name"] == m["display_name"], key
        assert meters[key]["status"] == "active", key
    coupons = {c.id: c for c in client.v1.coupons.list({"limit": 100}).data if _key(c)}
    assert set(coupons) == set(doc.get("coupons") or {})
    for key, c in (doc.get("coupons") or {}).items():
        coupon: Any = client.v1.coupons.retrieve(key, {"expand": ["applies_to"]})
        if "name" in c:
            assert coupon.name == c["name"], key
        assert coupon.percent_off == c.get("percent_off"), key
        assert coupon.amount_off == c.get("amount_off"), key
        assert coupon.duration == c["duration"], key
        assert coupon.duration_in_months == c.get("duration_in_months"), key
        assert coupon.max_redemptions == c.get("max_redemptions"), key
        applies = coupon.applies_to.products if coupon.applies_to else None
        assert applies == (c.get("applies_to") or {}).get("products"), key
        assert _user_meta(coupon) == (c.get("metadata") or {}), key
    all_codes: list[Any] = [
        c for c in client.v1.promotion_codes.list({"limit": 100}).data if _key(c)
    ]
    declared_codes = doc.get("promotion_codes") or {}
    for key, c in declared_codes.items():
        # A replaced code stays deactivated beside its successor (Stripe never deletes codes).
        candidates = [
            v
            for v in all_codes
            if _key(v) == key
            and v.code == c["code"]
            and v.promotion.coupon == c["coupon"]
            and v.active == c.get("active", True)
        ]
        assert len(candidates) >= 1, (key, all_codes)
        code: Any = max(candidates, key=lambda v: v.created)
        assert code.restrictions.first_time_transaction == bool(
            (c.get("restrictions") or {}).get("first_time_transaction")
        ), key
        assert _user_meta(code) == (c.get("metadata") or {}), key
    for v in all_codes:
        if v.active:
            assert _key(v) in declared_codes, v.id
            assert v.code == declared_codes[str(_key(v))]["code"], v.id
    all_rates: list[Any] = [r for r in client.v1.tax_rates.list({"limit": 100}).data if _key(r)]
    declared_rates = doc.get("tax_rates") or {}
    for key, t in declared_rates.items():
        # A replaced rate (percentage or inclusive changed) stays archived beside its successor.
        rate_candidates = [
            r
            for r in all_rates
            if _key(r) == key
            and float(r.percentage) == float(t["percentage"])
            and r.inclusive == t["inclusive"]
        ]
        assert len(rate_candidates) == 1, (key, rate_candidates)
        rate: Any = rate_candidates[0]
        assert rate.active == t.get("active", True), key
        assert rate.display_name == t["display_name"], key
        assert _user_meta(rate) == (t.get("metadata") or {}), key
        if "country" in t:
            assert rate.country == t["country"], key
    for r in all_rates:
        if r.active:
            assert _key(r) in declared_rates, r.id
            t = declared_rates[str(_key(r))]
            assert float(r.percentage) == float(t["percentage"]), r.id
    if skip_subscription:
        return
    # A removed subscription is cancelled at period end (the default policy): still active.
    live_subs = [
        s
        for s in objs["subscriptions"]
        if s["status"] in ("active", "trialing") and not s["cancel_at_period_end"]
    ]
    declared = (doc.get("customers") or {}).get("c1", {}).get("subscriptions", {})
    assert len(live_subs) == len(declared), live_subs
    for sub in declared.values():
        live_sub: Any = client.v1.subscriptions.retrieve(
            live_subs[0]["id"], {"expand": ["discounts"]}
        )
        prices = {p["id"]: p["lookup_key"] for p in objs["prices"]}
        items = sorted((prices[i.price.id], i.quantity) for i in live_sub["items"]["data"])
        assert items == sorted((i["price"], i.get("quantity")) for i in sub["items"])
        rate_ids = {r.id: _key(r) for r in client.v1.tax_rates.list({"limit": 100}).data}
        assert sorted(str(rate_ids[r.id]) for r in live_sub.default_tax_rates or []) == sorted(
            sub.get("default_tax_rates") or []
        )
        code_ids = {c.id: _key(c) for c in client.v1.promotion_codes.list({"limit": 100}).data}
        held: list[tuple[str, Any]] = []
        for d in live_sub.discounts or []:
            if d.promotion_code:
                held.append(("promotion_code", code_ids[d.promotion_code]))
            else:
                held.append(("coupon", d.source.coupon))
        want = [next(iter(d.items())) for d in sub.get("discounts") or []]
        assert sorted(held) == sorted(want)
        if "trial_end" in sub:
            end = datetime.strptime(sub["trial_end"], "%Y-%m-%d").replace(tzinfo=UTC)
            assert live_sub.trial_end == int(end.timestamp())
