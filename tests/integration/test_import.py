"""`billing-sync import` (in-process CLI) against an account built by hand with the stripe client.

The account is made with the official client only, never by billing-sync. The imported file
must validate, be the same bytes on every import, and declare exactly what the account holds:
field by field for every declared field of every kind, through the registry.
"""

from __future__ import annotations

import json
import re
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import stripe

from billing_sync.config.loader import load_config
from billing_sync.remote.client import connect
from billing_sync.resources import KINDS, PRODUCT_FEATURE
from billing_sync.resources.base import Existing, Kind, values
from billing_sync.resources.read import desired_state, read_account
from tests.helpers import EXAMPLE, ROOT, EmulatorHandle, run_cli

KITCHEN_SINK = ROOT / "tests" / "fixtures" / "e2e" / "kitchen_sink.yaml"


def build_account(client: stripe.StripeClient) -> dict[str, str]:
    """A hand-made account; returns the ids the assertions need."""
    v1 = client.v1
    pro = v1.products.create(params={"name": "Pro Plan", "description": "For teams"})
    team = v1.products.create(
        params={"name": "Team", "metadata": {"crm": "T-1"}, "unit_label": "seat"}
    )
    old = v1.products.create(params={"name": "Legacy"})
    monthly = v1.prices.create(
        params={
            "product": pro.id,
            "currency": "usd",
            "unit_amount": 2900,
            "recurring": {"interval": "month"},
            "tax_behavior": "exclusive",
            "currency_options": {"eur": {"unit_amount": 2700, "tax_behavior": "exclusive"}},
        }
    )
    yearly = v1.prices.create(
        params={
            "product": pro.id,
            "currency": "usd",
            "unit_amount": 29000,
            "recurring": {"interval": "year"},
            "lookup_key": "pro_yearly",
            "nickname": "yes",  # a string YAML 1.1 would read as a boolean
        }
    )
    v1.products.update(pro.id, params={"default_price": monthly.id})
    seats = v1.prices.create(
        params={
            "product": team.id,
            "currency": "usd",
            "billing_scheme": "tiered",
            "tiers_mode": "graduated",
            "tiers": [
                {"up_to": 10, "unit_amount": 1000},
                {"up_to": "inf", "unit_amount": 800, "flat_amount": 500},
            ],
            "currency_options": {
                "gbp": {
                    "tiers": [
                        {"up_to": 10, "unit_amount": 900},
                        {"up_to": "inf", "unit_amount": 700},
                    ]
                }
            },
            "recurring": {"interval": "month", "interval_count": 3},
            "metadata": {"code": "0100"},  # a string YAML 1.1 would read as a number
        }
    )
    setup = v1.prices.create(
        params={
            "product": team.id,
            "currency": "usd",
            "unit_amount": 1000,
            "lookup_key": "Team setup fee",  # not a valid key: kept as lookup_key
        }
    )
    packs = v1.prices.create(
        params={
            "product": team.id,
            "currency": "usd",
            "unit_amount": 500,
            "recurring": {"interval": "month"},
            "transform_quantity": {"divide_by": 10, "round": "up"},
        }
    )
    archived = v1.prices.create(
        params={
            "product": pro.id,
            "currency": "usd",
            "unit_amount": 1900,
            "recurring": {"interval": "month"},
        }
    )
    v1.prices.update(archived.id, params={"active": False})
    fractional = v1.prices.create(
        params={"product": team.id, "currency": "usd", "unit_amount_decimal": Decimal("0.5")}
    )
    meter = v1.billing.meters.create(
        params={
            "display_name": "API calls",
            "event_name": "api_calls",
            "default_aggregation": {"formula": "count"},
        }
    )
    metered = v1.prices.create(
        params={
            "product": team.id,
            "currency": "usd",
            "unit_amount_decimal": Decimal("0.25"),
            "recurring": {"interval": "month", "usage_type": "metered", "meter": meter.id},
            "lookup_key": "api-calls",
        }
    )
    legacy_price = v1.prices.create(
        params={"product": old.id, "currency": "usd", "unit_amount": 100}
    )
    v1.prices.update(legacy_price.id, params={"active": False})
    v1.products.update(old.id, params={"active": False})

    v1.coupons.create(
        params={
            "id": "SPRING",
            "name": "Spring",
            "percent_off": 12.5,
            "duration": "repeating",
            "duration_in_months": 2,
            "applies_to": {"products": [pro.id]},
        }
    )
    spring = v1.promotion_codes.create(
        params={
            "promotion": {"type": "coupon", "coupon": "SPRING"},
            "code": "SPRING25",
            "restrictions": {"minimum_amount": 5000, "minimum_amount_currency": "usd"},
        }
    )
    vat = v1.tax_rates.create(
        params={"display_name": "VAT", "percentage": 19, "inclusive": False, "country": "DE"}
    )
    acme = v1.customers.create(params={"name": "Acme Inc.", "email": "billing@acme.example"})
    jane = v1.customers.create(params={"email": "jane@example.com", "metadata": {"vip": "true"}})
    sub = v1.subscriptions.create(
        params={
            "customer": acme.id,
            "items": [{"price": monthly.id, "quantity": 3}, {"price": packs.id, "quantity": 25}],
            "collection_method": "send_invoice",
            "days_until_due": 30,
            "metadata": {"deal": "D-7"},
            "discounts": [{"promotion_code": spring.id}],
            "default_tax_rates": [vat.id],
        }
    )
    trial = v1.subscriptions.create(
        params={"customer": jane.id, "items": [{"price": seats.id}], "trial_period_days": 14}
    )
    gone = v1.subscriptions.create(
        params={"customer": jane.id, "items": [{"price": yearly.id}], "trial_period_days": 7}
    )
    v1.subscriptions.cancel(gone.id)
    sso = v1.entitlements.features.create(params={"name": "SSO", "lookup_key": "sso"})
    export = v1.entitlements.features.create(
        params={"name": "Data export", "lookup_key": "Export CSV", "metadata": {"area": "data"}}
    )
    retired = v1.entitlements.features.create(params={"name": "Retired", "lookup_key": "retired"})
    v1.entitlements.features.update(retired.id, params={"active": False})
    for product, feature in ((pro, sso), (pro, export), (team, sso)):
        v1.products.features.create(product.id, params={"entitlement_feature": feature.id})
    return {
        "pro": pro.id,
        "team": team.id,
        "old": old.id,
        "monthly": monthly.id,
        "yearly": yearly.id,
        "seats": seats.id,
        "setup": setup.id,
        "packs": packs.id,
        "archived": archived.id,
        "fractional": fractional.id,
        "meter": meter.id,
        "metered": metered.id,
        "acme": acme.id,
        "jane": jane.id,
        "sub": sub.id,
        "trial": trial.id,
        "gone": gone.id,
        "sso": sso.id,
        "export": export.id,
        "retired": retired.id,
    }


@pytest.fixture
def account(emulator: EmulatorHandle) -> dict[str, str]:
    return build_account(emulator.client())


def import_to(emulator: EmulatorHandle, out: Path, *flags: str) -> str:
    res = run_cli(emulator, "import", "--out", str(out), *flags)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "Traceback" not in res.stderr
    assert res.stdout.startswith(f"Wrote {out}: imported ")
    return res.stdout + res.stderr


def ids_in_comments(text: str) -> dict[tuple[str, ...], str]:
    """billing.yaml path -> the Stripe id in the comment after its key."""
    out: dict[tuple[str, ...], str] = {}
    stack: list[tuple[int, str]] = []
    for line in text.splitlines():
        m = re.match(r"( *)([^ #][^:]*):(?:  # (\S+)| .*)?$", line)
        if not m or line.lstrip().startswith(("#", "-")):
            continue
        indent, key = len(m[1]), m[2].strip('"')
        while stack and stack[-1][0] >= indent:
            stack.pop()
        stack.append((indent, key))
        if m[3]:
            out[tuple(k for _, k in stack)] = m[3]
    return out


def account_states(emulator: EmulatorHandle) -> Existing:
    return read_account(connect(emulator.api_key, emulator.url))


def by_stripe_id(kind: Kind[Any], existing: Existing) -> dict[str, Any]:
    snap = existing.of(kind)
    return {kind.stripe_id(s) or "": s for s in (*snap.managed.values(), *snap.unmanaged)}


def test_import_validates_is_deterministic_and_declares_the_account(
    emulator: EmulatorHandle, account: dict[str, str], tmp_path: Path
) -> None:
    out = tmp_path / "billing.yaml"
    stderr = import_to(emulator, out, "--include-customers")
    text = out.read_text(encoding="utf-8")
    res = run_cli(emulator, "validate", "-c", str(out))
    assert res.returncode == 0, res.stderr
    assert "(3 products" not in res.stdout  # the archived product is not imported

    # Same account, same bytes (stdout too).
    again = run_cli(emulator, "import", "--include-customers")
    assert again.returncode == 0 and again.stdout == text

    # Readable keys, Stripe ids as comments, quoted strings YAML would misread.
    assert f"  pro-plan:  # {account['pro']}\n    name: Pro Plan\n    id: {account['pro']}" in text
    assert f"      pro-plan-monthly-usd:  # {account['monthly']}" in text
    assert f"      pro_yearly:  # {account['yearly']}" in text
    assert '        nickname: "yes"' in text
    assert '          code: "0100"' in text
    # Two one-time USD team prices: the setup fee and the sub-cent one (0.005 USD).
    one_time = {account["setup"], account["fractional"]}
    assert {m[1] for m in re.findall(r"      (team-one-time-usd(-2)?):  # (\S+)", text)} == {
        "",
        "-2",
    }
    assert set(re.findall(r"      team-one-time-usd(?:-2)?:  # (\S+)", text)) == one_time
    assert '        unit_amount_decimal: "0.5"' in text
    assert f"  api_calls:  # {account['meter']}\n    display_name: API calls" in text
    assert "        recurring:\n          interval: month\n          interval_count: 1\n" in text
    assert "        lookup_key: Team setup fee" in text
    assert "      team-every-3-months-usd:" in text
    assert "    default_price: pro-plan-monthly-usd" in text
    assert f"  acme-inc:  # {account['acme']}" in text
    assert f"  jane-example-com:  # {account['jane']}" in text
    assert f"      pro-plan-monthly-usd:  # {account['sub']}" in text  # acme's subscription
    assert account["gone"] not in text and account["archived"] not in text
    assert account["old"] not in text
    assert "warning:" not in stderr

    # Loading the file gives, for every declared field of every kind, the account's values.
    desired = desired_state(load_config(out))
    existing = account_states(emulator)
    comments = ids_in_comments(text)
    keys: dict[str, dict[str, str]] = {}  # kind name -> Stripe id -> key in the file
    for kind in KINDS:
        for key, state in desired.of(kind).items():
            path, body = kind.render(state)
            if isinstance(body, list):  # list items (a product's features) carry no comment
                continue
            keys.setdefault(kind.name, {})[comments[path]] = key
    for kind in KINDS:
        found = by_stripe_id(kind, existing)
        assert desired.of(kind), kind.name
        for stripe_id, key in keys.get(kind.name, {}).items():
            want = values(found[stripe_id], kind.fields)
            got = values(desired.of(kind)[key], kind.fields)
            want = declared_as(kind, want, found[stripe_id], key, keys)
            assert got == want, (kind.name, key)
    assert set(keys["price"]) == {
        account[k]
        for k in ("monthly", "yearly", "seats", "setup", "packs", "fractional", "metered")
    }
    assert set(keys["subscription"]) == {account["sub"], account["trial"]}
    assert set(keys["feature"]) == {account["sso"], account["export"]}
    assert f"  data-export:  # {account['export']}\n    name: Data export\n" in text
    assert "    lookup_key: Export CSV\n" in text
    # Every link of the account, by the Stripe ids of its two ends.
    ids = {kind: {key: sid for sid, key in found.items()} for kind, found in keys.items()}
    declared_links = {
        (ids["product"][a.product], ids["feature"][a.feature])
        for a in desired.of(PRODUCT_FEATURE).values()
    }
    snap = existing.of(PRODUCT_FEATURE)
    assert declared_links == {
        (a.product_id, a.feature_id) for a in (*snap.managed.values(), *snap.unmanaged)
    }
    assert len(declared_links) == 3


def declared_as(
    kind: Kind[Any],
    fields: dict[str, Any],
    state: Any,
    key: str,
    keys: dict[str, dict[str, str]],
) -> dict[str, Any]:
    """The account's values as billing.yaml declares them: references to other objects become
    their keys in the file (written here independently of the importer), and a price without a
    lookup key gets its key as one (billing.yaml's default)."""
    out = dict(fields)
    if kind.name == "product" and state.default_price:
        out["default_price"] = keys["price"][state.default_price]
    if kind.name == "price":
        out["product"] = keys["product"][state.product_id]
        out["lookup_key"] = state.lookup_key or key
    if kind.name == "subscription":
        out["items"] = tuple(
            type(i)(keys["price"][i.price_id], i.quantity, i.metadata) for i in state.items
        )
        # A trial is declared by its length (trial_period_days), never by its end as well:
        # validate refuses both, and the plan compares trial_end only when it is declared.
        out["trial_end"] = None
        out["discounts"] = tuple({f: keys[f][sid]} for f, sid, _ in state.discount_ids)
        out["default_tax_rates"] = tuple(keys["tax_rate"][t] for t in state.tax_rate_ids)
    if kind.name == "coupon":
        out["applies_to"] = tuple(sorted(keys["product"][p] for p in state.applies_to))
    if kind.name == "promotion_code":
        out["coupon"] = keys["coupon"][state.coupon_id]
    return out


def test_catalog_only_and_archived(
    emulator: EmulatorHandle, account: dict[str, str], tmp_path: Path
) -> None:
    out = tmp_path / "catalog.yaml"
    stderr = import_to(emulator, out)
    text = out.read_text(encoding="utf-8")
    assert "customers:" not in text and account["acme"] not in text
    assert "4 archived left out (--include-archived)" in stderr  # 1 product, 2 prices, 1 feature
    assert run_cli(emulator, "validate", "-c", str(out)).returncode == 0

    full = tmp_path / "all.yaml"
    import_to(emulator, full, "--include-archived")
    text = full.read_text(encoding="utf-8")
    assert run_cli(emulator, "validate", "-c", str(full)).returncode == 0
    cfg = load_config(full)
    assert cfg.products["legacy"].active is False
    assert cfg.products["legacy"].id == account["old"]
    archived = [p for p in cfg.products["pro-plan"].prices.values() if not p.active]
    assert len(archived) == 1 and archived[0].unit_amount == 1900
    assert f"  # {account['archived']}" in text
    # Stripe archives features for good: billing.yaml cannot declare one, so it is left out.
    assert f"feature {account['retired']}: archived" in text.split("version: 1")[0]


def test_out_is_refused_when_the_file_exists_unless_forced(
    emulator: EmulatorHandle, account: dict[str, str], tmp_path: Path
) -> None:
    out = tmp_path / "billing.yaml"
    out.write_text("mine\n", encoding="utf-8")
    res = run_cli(emulator, "import", "--out", str(out))
    assert res.returncode == 1
    assert res.stderr.strip().splitlines() == [
        f"error: {out} already exists: choose another --out, or add --force"
    ]
    assert out.read_text(encoding="utf-8") == "mine\n"
    import_to(emulator, out, "--force")
    assert out.read_text(encoding="utf-8").startswith("# billing.yaml written by")
    assert [p.name for p in tmp_path.iterdir()] == ["billing.yaml"]  # no temporary file left
    res = run_cli(emulator, "import", "--force")
    assert res.returncode == 1 and "--force only applies with --out" in res.stderr


def test_empty_account_imports_an_empty_valid_file(
    emulator: EmulatorHandle, tmp_path: Path
) -> None:
    out = tmp_path / "billing.yaml"
    import_to(emulator, out, "--include-customers")
    assert run_cli(emulator, "validate", "-c", str(out)).returncode == 0


def test_what_billing_yaml_cannot_declare_is_left_out_with_its_dependents(
    emulator: EmulatorHandle, tmp_path: Path
) -> None:
    """Stripe allows a two-year interval, billing.yaml does not: the price is left out with the
    loader's own message, and so is the subscription on it (declaring it without that item would
    make the plan remove the item), each named in the file and on stderr."""
    v1 = emulator.client().v1
    product = v1.products.create(params={"name": "Pro"})
    biennial = v1.prices.create(
        params={
            "product": product.id,
            "currency": "usd",
            "unit_amount": 9900,
            "recurring": {"interval": "month", "interval_count": 24},
        }
    )
    customer = v1.customers.create(params={"name": "Acme"})
    sub = v1.subscriptions.create(
        params={"customer": customer.id, "items": [{"price": biennial.id}], "trial_period_days": 3}
    )
    out = tmp_path / "billing.yaml"
    log = import_to(emulator, out, "--include-customers")
    text = out.read_text(encoding="utf-8")
    assert run_cli(emulator, "validate", "-c", str(out)).returncode == 0
    assert f"price {biennial.id}: at most 12 for interval month" in log
    assert f"subscription {sub.id} of customer acme: its price(s) {biennial.id}" in log
    header = text.split("version: 1")[0]
    assert biennial.id in header and sub.id in header
    assert "  pro:  # " in text and "  acme:  # " in text and "subscriptions" not in text


@pytest.mark.parametrize("config", [EXAMPLE, KITCHEN_SINK], ids=["example", "kitchen-sink"])
def test_a_managed_account_imports_to_a_file_that_plans_nothing(
    emulator: EmulatorHandle, tmp_path: Path, config: Path
) -> None:
    """What billing-sync manages keeps its keys: the imported file plans no change at all."""
    res = run_cli(emulator, "apply", "-c", str(config), "--auto-approve")
    assert res.returncode == 0, res.stdout + res.stderr
    out = tmp_path / "billing.yaml"
    import_to(emulator, out, "--include-customers", "--include-archived")
    res = run_cli(emulator, "plan", "-c", str(out), "--detailed-exitcode")
    assert res.returncode == 0, res.stdout + res.stderr
    original, imported = desired_state(load_config(config)), desired_state(load_config(out))
    for kind in KINDS:
        assert set(imported.of(kind)) == set(original.of(kind)), kind.name


def test_a_tier_of_a_fraction_of_a_cent_is_a_conflict_and_left_out_of_import(
    emulator: EmulatorHandle, tmp_path: Path
) -> None:
    """Stripe takes a tier's `unit_amount_decimal` with fractions of a cent (and answers
    `unit_amount: null`); billing.yaml tiers take whole cents. A declaration of the same lookup
    key is refused as a conflict (never adopted as if the tier were 0), and import leaves the
    price out, saying why."""
    v1 = emulator.client().v1
    product = v1.products.create(params={"id": "seats", "name": "Seats"})
    held = v1.prices.create(
        params={
            "product": product.id,
            "currency": "usd",
            "recurring": {"interval": "month"},
            "billing_scheme": "tiered",
            "tiers_mode": "graduated",
            "lookup_key": "seats-graduated",
            "tiers": [
                {"up_to": 10, "unit_amount": 1000},
                {"up_to": "inf", "unit_amount_decimal": Decimal("0.5")},
            ],
            "expand": ["tiers"],
        }
    )
    assert held.tiers is not None and held.tiers[1].unit_amount is None
    cfg = tmp_path / "declared.yaml"
    cfg.write_text(
        "version: 1\nproducts:\n  seats:\n    name: Seats\n    prices:\n"
        "      seats-graduated:\n        currency: usd\n        recurring: {interval: month}\n"
        "        tiers_mode: graduated\n"
        "        tiers: [{up_to: 10, unit_amount: 1000}, {up_to: inf, unit_amount: 0}]\n",
        encoding="utf-8",
    )
    res = run_cli(emulator, "plan", "-c", str(cfg), "--format", "json")
    doc = json.loads(res.stdout)
    assert [c for c in doc["conflicts"] if held.id in c], doc["conflicts"]
    assert "price.adopt:seats-graduated" not in {op["id"] for op in doc["operations"]}
    writes = len(emulator.writes())
    assert run_cli(emulator, "apply", "-c", str(cfg), "--auto-approve").returncode != 0
    assert len(emulator.writes()) == writes
    out = tmp_path / "billing.yaml"
    log = import_to(emulator, out)
    assert f"price {held.id}" in log and "tier 2 unit_amount 0.5 (usd)" in log, log
    assert run_cli(emulator, "validate", "-c", str(out)).returncode == 0
