"""Rules that combine several fields or objects of billing.yaml.

The loader runs them on every object that validates on its own (a product without its
prices, each price, a customer without its subscriptions, each subscription), so one bad
object does not hide the problems of the others. Each rule yields a `Finding` with the path
of the offending node and whether the key (`at="key"`) or the value (`at="value"`) is meant.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from itertools import pairwise
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ValidationError

from billing_sync.config.models import (
    MAX_AMOUNT,
    BillingConfig,
    Coupon,
    CurrencyOption,
    Price,
    Product,
    PromotionCode,
    Subscription,
    Tier,
)
from billing_sync.money import MAX_MINOR_DECIMALS, format_amount, to_minor, to_minor_decimal

Path = tuple[str | int, ...]
_M = TypeVar("_M", bound=BaseModel)

#: An `amount` string: base-10 digits with an optional decimal part (a leading '-' is read,
#: to be reported as negative). No exponent ('1e3'), sign '+', separators or other digits.
_DECIMAL = re.compile(r"-?[0-9]+(?:\.[0-9]+)?\Z")
_NUMBER_LIKE = re.compile(r"[-+0-9.,_eE ]+\Z")

#: Stripe's longest recurring period is one year.
MAX_INTERVAL_COUNT = {"day": 365, "week": 52, "month": 12, "year": 1}


@dataclass(frozen=True)
class Finding:
    """A broken rule: path of the node, message, and which part of the node to point at."""

    path: Path
    message: str
    at: Literal["key", "value"] = "value"


def _try(model: type[_M], data: Any) -> _M | None:
    try:
        return model.model_validate(data)
    except ValidationError:
        return None


def _mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _hint(word: str, choices: list[str]) -> str:
    close = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def check_tiers(tiers: list[Tier], path: Path) -> Iterator[Finding]:
    """Last tier `up_to: inf` (and only it), strictly increasing, each tier priced."""
    last = len(tiers) - 1
    previous = 0
    for i, tier in enumerate(tiers):
        where = (*path, i)
        if tier.up_to == "inf":
            if i != last:
                yield Finding((*where, "up_to"), "only the last tier can have up_to: inf")
        else:
            if i == last:
                yield Finding(
                    (*where, "up_to"), f"the last tier must have up_to: inf, not {tier.up_to}"
                )
            if tier.up_to <= previous:
                yield Finding(
                    (*where, "up_to"),
                    f"up_to must be greater than the previous tier's ({previous}), got {tier.up_to}",
                )
            previous = tier.up_to
        if tier.unit_amount is None and tier.flat_amount is None:
            yield Finding(where, "a tier needs unit_amount or flat_amount")


def _amount_fields(obj: Price | CurrencyOption) -> list[str]:
    names: tuple[str, ...] = ("unit_amount", "amount", "tiers")
    if isinstance(obj, Price):
        names += ("unit_amount_decimal", "custom_unit_amount")
    return [f for f in names if getattr(obj, f) is not None]


def _check_amount_decimal(price: Price, path: Path) -> Iterator[Finding]:
    """`unit_amount_decimal`: minor units, at most 12 decimal places, within Stripe's maximum."""
    if price.unit_amount_decimal is None:
        return
    text = price.unit_amount_decimal.strip()
    where = (*path, "unit_amount_decimal")
    if not _DECIMAL.match(text) or text.startswith("-"):
        yield Finding(
            where,
            f"{price.unit_amount_decimal!r} is not a non-negative decimal amount in minor units "
            "(e.g. '0.35' for 0.0035 USD)",
        )
        return
    _, _, places = text.partition(".")
    if len(places) > MAX_MINOR_DECIMALS:
        yield Finding(
            where,
            f"{price.unit_amount_decimal!r} has {len(places)} decimal places; Stripe takes at "
            f"most {MAX_MINOR_DECIMALS}",
        )
    elif Decimal(text) > MAX_AMOUNT:
        yield Finding(where, f"at most {MAX_AMOUNT} minor units (Stripe's maximum amount)")


def _check_custom_amount(price: Price, path: Path) -> Iterator[Finding]:
    """Pay what you want: one-time only; minimum <= preset <= maximum."""
    custom = price.custom_unit_amount
    if custom is None:
        return
    where = (*path, "custom_unit_amount")
    if price.recurring is not None:
        yield Finding(where, "custom_unit_amount is only allowed on one-time prices", "key")
    if price.currency_options:
        yield Finding(
            (*path, "currency_options"),
            "currency_options cannot be combined with custom_unit_amount in billing.yaml",
            "key",
        )
    bounds = [(n, getattr(custom, n)) for n in ("minimum", "preset", "maximum")]
    given = [(n, v) for n, v in bounds if v is not None]
    for (low_name, low), (high_name, high) in pairwise(given):
        if low > high:
            yield Finding((*where, high_name), f"{high_name} ({high}) is below {low_name} ({low})")


def _check_usage(price: Price, path: Path, meters: dict[str, Any]) -> Iterator[Finding]:
    """A metered price names a declared meter; only metered prices name one."""
    rec = price.recurring
    if rec is None:
        return
    where = (*path, "recurring")
    if rec.usage_type == "metered" and rec.meter is None:
        yield Finding(where, "a metered price needs meter: <meter key> (see meters)", "key")
    if rec.meter is not None:
        if rec.usage_type != "metered":
            yield Finding(
                (*where, "meter"), "meter is only allowed with usage_type: metered", "key"
            )
        elif rec.meter not in meters:
            yield Finding(
                (*where, "meter"), f"unknown meter {rec.meter!r}{_hint(rec.meter, list(meters))}"
            )
        elif _mapping(meters[rec.meter]).get("active") is False:
            yield Finding(
                (*where, "meter"),
                f"meter {rec.meter!r} is deactivated (active: false); Stripe attaches only "
                "active meters to prices",
            )


def _check_amount(obj: Price | CurrencyOption, currency: str, path: Path) -> Iterator[Finding]:
    if obj.amount is None:
        return
    text = obj.amount.strip()
    if not _DECIMAL.match(text):
        hint = ""
        if _NUMBER_LIKE.match(text):
            hint = ": write plain digits with an optional decimal point, e.g. '1000' or '19.99' (no exponent, sign or separators)"
        yield Finding((*path, "amount"), f"{obj.amount!r} is not a decimal amount{hint}")
        return
    try:
        # A price's own amount may be a fraction of the minor unit (unit_amount_decimal).
        minor = (
            to_minor_decimal(text, currency) if isinstance(obj, Price) else to_minor(text, currency)
        )
    except ValueError as err:
        yield Finding((*path, "amount"), str(err))
        return
    if minor > MAX_AMOUNT:
        yield Finding(
            (*path, "amount"),
            f"amount {obj.amount!r} is {minor} in minor units of {currency.upper()}; Stripe's "
            f"maximum is {MAX_AMOUNT} ({format_amount(MAX_AMOUNT, currency)})",
        )


def check_price(
    price: Price, path: Path, meters: dict[str, Any] | None = None
) -> Iterator[Finding]:
    """Rules of one price on its own (and the meter it names, from the raw `meters`)."""
    given = _amount_fields(price)
    if len(given) != 1:
        found = " and ".join(given) if given else "none"
        yield Finding(
            path,
            "set exactly one of unit_amount, amount, unit_amount_decimal, tiers or "
            f"custom_unit_amount (found {found})",
            "key",
        )
    yield from _check_amount(price, price.currency, path)
    yield from _check_amount_decimal(price, path)
    yield from _check_custom_amount(price, path)
    yield from _check_usage(price, path, meters or {})
    if price.tiers is not None:
        yield from check_tiers(price.tiers, (*path, "tiers"))
        if price.tiers_mode is None:
            yield Finding((*path, "tiers"), "tiers need tiers_mode: graduated or volume", "key")
        if price.recurring is None:
            yield Finding((*path, "tiers"), "tiers are only allowed on recurring prices", "key")
        if price.transform_quantity is not None:
            yield Finding(
                (*path, "transform_quantity"), "transform_quantity cannot be used with tiers", "key"
            )
    elif price.tiers_mode is not None:
        yield Finding((*path, "tiers_mode"), "tiers_mode is only allowed with tiers", "key")
    if price.recurring is not None:
        rec = price.recurring
        most = MAX_INTERVAL_COUNT[rec.interval]
        if rec.interval_count > most:
            yield Finding(
                (*path, "recurring", "interval_count"),
                f"at most {most} for interval {rec.interval} (Stripe's longest period is one year), got {rec.interval_count}",
            )
    for cur, option in price.currency_options.items():
        opath = (*path, "currency_options", cur)
        if cur == price.currency:
            yield Finding(opath, f"currency option {cur!r} repeats the price's own currency", "key")
        ogiven = _amount_fields(option)
        if price.tiers is not None:
            if ogiven != ["tiers"]:
                yield Finding(
                    opath, "an option of a tiered price needs tiers (and only tiers)", "key"
                )
        elif len(ogiven) != 1 or ogiven == ["tiers"]:
            found = " and ".join(ogiven) if ogiven else "none"
            yield Finding(opath, f"set exactly one of unit_amount or amount (found {found})", "key")
        yield from _check_amount(option, cur, opath)
        if option.tiers is not None:
            yield from check_tiers(option.tiers, (*opath, "tiers"))


def check_product(product: Product, path: Path, prices: dict[str, Any]) -> Iterator[Finding]:
    """Rules of one product; `prices` are its raw prices (key -> data)."""
    if product.default_price is not None:
        dp = product.default_price
        if dp not in prices:
            yield Finding(
                (*path, "default_price"),
                f"default_price {dp!r} is not a price of this product{_hint(dp, list(prices))}",
            )
        elif _mapping(prices[dp]).get("active") is False:
            yield Finding(
                (*path, "default_price"),
                f"default_price {dp!r} is archived (active: false)",
            )


def check_subscription(sub: Subscription, path: Path) -> Iterator[Finding]:
    """Rules of one subscription on its own (prices are checked by `check_references`)."""
    if sub.collection_method == "send_invoice" and sub.days_until_due is None:
        yield Finding(
            path, "days_until_due is required with collection_method: send_invoice", "key"
        )
    if sub.collection_method != "send_invoice" and sub.days_until_due is not None:
        yield Finding(
            (*path, "days_until_due"),
            "days_until_due is only allowed with collection_method: send_invoice",
            "key",
        )
    if sub.trial_period_days is not None and sub.trial_end is not None:
        yield Finding(
            (*path, "trial_end"),
            "declare trial_period_days or trial_end, not both: Stripe starts a trial from one of "
            "them; trial_end (a date, or now) also moves or ends the trial of an existing "
            "subscription",
            "key",
        )
    seen: dict[str, int] = {}
    for i, item in enumerate(sub.items):
        if item.price in seen:
            yield Finding(
                (*path, "items", i, "price"),
                f"price {item.price!r} is already in items[{seen[item.price]}]; raise its quantity instead",
            )
        else:
            seen[item.price] = i


def _claims(
    entries: list[tuple[str, str, Path, bool]], what: str, owner_kind: str
) -> Iterator[Finding]:
    """Uniqueness of (value, owner, path, explicit) entries.

    Implicit values (a key used as id / lookup key) are claimed first, so a collision is
    reported at the explicit override that causes it, or else at the later entry.
    """
    owner: dict[str, str] = {}
    for value, who, path, explicit in sorted(entries, key=lambda e: e[3]):
        if value in owner:
            yield Finding(
                path,
                f"{what} {value!r} is already used by {owner_kind} {owner[value]!r}",
                "value" if explicit else "key",
            )
        else:
            owner[value] = who


def check_document(raw: Any, valid: BillingConfig | None = None) -> list[Finding]:
    """Run every rule on the raw document (dicts from the YAML), whatever else is wrong.

    The rules read each object's model: validated here one by one (an invalid object is
    skipped, the others still checked), or taken from `valid`, the whole document's models
    when it validated (the same models of the same data: not validated twice)."""
    findings: list[Finding] = []
    doc = _mapping(raw)
    # price key -> (product key, price or None when the price itself is invalid)
    prices: dict[str, tuple[str, Price | None]] = {}
    product_ids: list[tuple[str, str, Path, bool]] = []
    for pkey, praw in _mapping(doc.get("products")).items():
        ppath: Path = ("products", pkey)
        pdata = _mapping(praw)
        raw_prices = _mapping(pdata.get("prices"))
        product = (
            valid.products[pkey]
            if valid is not None
            else _try(Product, {**pdata, "prices": {}})
            if isinstance(praw, dict)
            else None
        )
        if product is not None:
            findings.extend(check_product(product, ppath, raw_prices))
        if product is not None and product.id is not None:
            product_ids.append((product.id, pkey, (*ppath, "id"), True))
        else:
            product_ids.append((pkey, pkey, ppath, False))
        for key, rp in raw_prices.items():
            path: Path = (*ppath, "prices", key)
            price = valid.products[pkey].prices[key] if valid is not None else _try(Price, rp)
            if key in prices:
                findings.append(
                    Finding(
                        path,
                        f"price key {key!r} is already used in product {prices[key][0]!r} (price keys are unique across products)",
                        "key",
                    )
                )
                continue
            prices[key] = (pkey, price)
            if price is not None:
                findings.extend(check_price(price, path, _mapping(doc.get("meters"))))
    findings.extend(_claims(product_ids, "product id", "product"))
    lookup_keys: list[tuple[str, str, Path, bool]] = []
    for key, (pkey, price) in prices.items():
        path = ("products", pkey, "prices", key)
        if price is not None and price.lookup_key is not None:
            lookup_keys.append((price.lookup_key, key, (*path, "lookup_key"), True))
        else:
            lookup_keys.append((key, key, path, False))
    findings.extend(_claims(lookup_keys, "lookup_key", "price"))
    findings.extend(check_features(doc))
    for ckey, craw in _mapping(doc.get("customers")).items():
        cpath: Path = ("customers", ckey)
        for skey, sraw in _mapping(_mapping(craw).get("subscriptions")).items():
            spath: Path = (*cpath, "subscriptions", skey)
            sub = (
                valid.customers[ckey].subscriptions[skey]
                if valid is not None
                else _try(Subscription, sraw)
            )
            if sub is not None:
                findings.extend(check_subscription(sub, spath))
            findings.extend(_check_references(sraw, spath, prices))
    findings.extend(check_discounts(doc))
    return findings


def check_coupon(coupon: Coupon, path: Path, products: list[str]) -> Iterator[Finding]:
    """Rules of one coupon: one kind of discount, its currency, its duration, its products."""
    if (coupon.percent_off is None) == (coupon.amount_off is None):
        found = "both" if coupon.percent_off is not None else "none"
        yield Finding(path, f"set exactly one of percent_off or amount_off (found {found})", "key")
    if coupon.amount_off is not None and coupon.currency is None:
        yield Finding(path, "amount_off needs currency (the currency of the amount)", "key")
    if coupon.amount_off is None and coupon.currency is not None:
        yield Finding((*path, "currency"), "currency is only allowed with amount_off", "key")
    if coupon.currency_options and coupon.amount_off is None:
        yield Finding(
            (*path, "currency_options"), "currency_options are only allowed with amount_off", "key"
        )
    for cur in coupon.currency_options:
        if cur == coupon.currency:
            yield Finding(
                (*path, "currency_options", cur),
                f"currency option {cur!r} repeats the coupon's own currency",
                "key",
            )
    if coupon.duration == "repeating" and coupon.duration_in_months is None:
        yield Finding(path, "duration: repeating needs duration_in_months", "key")
    if coupon.amount_off is not None and coupon.duration == "forever":
        # API 2025-03-31.basil and later (billing-sync pins a later one).
        yield Finding(
            (*path, "duration"),
            "duration: forever is not allowed with amount_off: Stripe refuses amount-off "
            "coupons without an end (API 2025-03-31.basil and later); declare duration: once "
            "or repeating, or a percent_off",
        )
    if coupon.duration != "repeating" and coupon.duration_in_months is not None:
        yield Finding(
            (*path, "duration_in_months"),
            "duration_in_months is only allowed with duration: repeating",
            "key",
        )
    if coupon.applies_to is not None:
        for i, product in enumerate(coupon.applies_to.products):
            if product not in products:
                yield Finding(
                    (*path, "applies_to", "products", i),
                    f"unknown product {product!r}{_hint(product, products)}",
                )


def check_promotion_code(
    promo: PromotionCode, path: Path, coupons: dict[str, Any]
) -> Iterator[Finding]:
    """Rules of one promotion code: its coupon exists, a minimum amount has a currency."""
    if promo.coupon not in coupons:
        yield Finding(
            (*path, "coupon"),
            f"unknown coupon {promo.coupon!r}{_hint(promo.coupon, list(coupons))}",
        )
    r = promo.restrictions
    if (r.minimum_amount is None) != (r.minimum_amount_currency is None):
        yield Finding(
            (*path, "restrictions"),
            "minimum_amount and minimum_amount_currency go together",
            "key",
        )


def check_discounts(doc: dict[str, Any]) -> Iterator[Finding]:
    """Coupons, promotion codes and tax rates, and what subscriptions say about them."""
    products = list(_mapping(doc.get("products")))
    coupons = _mapping(doc.get("coupons"))
    promos = _mapping(doc.get("promotion_codes"))
    rates = list(_mapping(doc.get("tax_rates")))
    ids: list[tuple[str, str, Path, bool]] = []
    for key, raw in coupons.items():
        path: Path = ("coupons", key)
        coupon = _try(Coupon, raw)
        if coupon is not None:
            yield from check_coupon(coupon, path, products)
        if coupon is not None and coupon.id is not None:
            ids.append((coupon.id, key, (*path, "id"), True))
        else:
            ids.append((key, key, path, False))
    yield from _claims(ids, "coupon id", "coupon")
    codes: list[tuple[str, str, Path, bool]] = []
    for key, raw in promos.items():
        path = ("promotion_codes", key)
        promo = _try(PromotionCode, raw)
        if promo is None:
            continue
        yield from check_promotion_code(promo, path, coupons)
        if promo.active:  # Stripe: unique among active codes, whatever their case
            codes.append((promo.code.upper(), key, (*path, "code"), True))
    yield from _claims(codes, "active code", "promotion code")
    for ckey, craw in _mapping(doc.get("customers")).items():
        for skey, sraw in _mapping(_mapping(craw).get("subscriptions")).items():
            spath: Path = ("customers", ckey, "subscriptions", skey)
            yield from _check_discount_refs(_mapping(sraw), spath, coupons, promos, rates)


def _check_discount_refs(
    sub: dict[str, Any],
    path: Path,
    coupons: dict[str, Any],
    promos: dict[str, Any],
    rates: list[str],
) -> Iterator[Finding]:
    discounts = sub.get("discounts")
    seen: set[tuple[str, str]] = set()
    applied: dict[str, str] = {}
    for i, entry in enumerate(discounts if isinstance(discounts, list) else []):
        entry = _mapping(entry)
        given = [f for f in ("coupon", "promotion_code") if entry.get(f) is not None]
        dpath: Path = (*path, "discounts", i)
        if len(given) != 1:
            found = " and ".join(given) if given else "none"
            yield Finding(
                dpath, f"set exactly one of coupon or promotion_code (found {found})", "key"
            )
            continue
        field = given[0]
        ref = entry[field]
        known = coupons if field == "coupon" else promos
        if not isinstance(ref, str):
            continue
        if ref not in known:
            what = "coupon" if field == "coupon" else "promotion code"
            yield Finding((*dpath, field), f"unknown {what} {ref!r}{_hint(ref, list(known))}")
        elif (field, ref) in seen:
            yield Finding(
                (*dpath, field), f"{field} {ref!r} is already in this subscription's discounts"
            )
        else:
            # Stripe applies a coupon once per subscription, whether named directly or through
            # a promotion code ("Coupon X is applied twice in discounts").
            coupon = ref if field == "coupon" else _mapping(promos[ref]).get("coupon")
            if isinstance(coupon, str) and coupon in applied:
                through = "" if field == "coupon" else f" (through promotion code {ref!r})"
                yield Finding(
                    (*dpath, field),
                    f"coupon {coupon!r}{through} is already applied by {applied[coupon]}: "
                    "Stripe applies a coupon once per subscription",
                )
            elif isinstance(coupon, str):
                applied[coupon] = f"discounts[{i}]"
        seen.add((field, ref))
    tax = sub.get("default_tax_rates")
    for i, ref in enumerate(tax if isinstance(tax, list) else []):
        if isinstance(ref, str) and ref not in rates:
            yield Finding(
                (*path, "default_tax_rates", i), f"unknown tax rate {ref!r}{_hint(ref, rates)}"
            )


def _check_references(
    sraw: Any, path: Path, prices: dict[str, tuple[str, Price | None]]
) -> Iterator[Finding]:
    """Every item's price exists and is recurring; all items share one currency."""
    items = _mapping(sraw).get("items")
    if not isinstance(items, list):
        return
    first: tuple[str, str] | None = None
    for i, item in enumerate(items):
        ref = _mapping(item).get("price")
        if not isinstance(ref, str):
            continue
        ipath: Path = (*path, "items", i, "price")
        if ref not in prices:
            yield Finding(ipath, f"unknown price {ref!r}{_hint(ref, list(prices))}")
            continue
        price = prices[ref][1]
        if price is None:
            continue
        metered = price.recurring is not None and price.recurring.usage_type == "metered"
        if metered and "quantity" in _mapping(item):
            yield Finding(
                (*path, "items", i, "quantity"),
                f"price {ref!r} is metered: Stripe bills the usage its meter records and "
                "takes no quantity",
                "key",
            )
        if price.recurring is None:
            yield Finding(
                ipath,
                f"price {ref!r} is a one-time price; subscription items need recurring prices",
            )
        if first is None:
            first = (ref, price.currency)
        elif price.currency != first[1]:
            yield Finding(
                ipath,
                f"price {ref!r} is in {price.currency.upper()} but {first[0]!r} is in {first[1].upper()}: all items of a subscription share one currency",
            )


def check_features(doc: dict[str, Any]) -> Iterator[Finding]:
    """Feature lookup keys are unique (Stripe holds one per active feature); a product's
    `features` name declared features, each once."""
    features = _mapping(doc.get("features"))
    lookup_keys: list[tuple[str, str, Path, bool]] = []
    for key, raw in features.items():
        explicit = _mapping(raw).get("lookup_key")
        if isinstance(explicit, str):
            lookup_keys.append((explicit, key, ("features", key, "lookup_key"), True))
        else:
            lookup_keys.append((key, key, ("features", key), False))
    yield from _claims(lookup_keys, "lookup_key", "feature")
    for pkey, praw in _mapping(doc.get("products")).items():
        listed = _mapping(praw).get("features")
        if not isinstance(listed, list):
            continue
        seen: dict[str, int] = {}
        for i, fkey in enumerate(listed):
            if not isinstance(fkey, str):
                continue
            path: Path = ("products", pkey, "features", i)
            if fkey not in features:
                yield Finding(path, f"unknown feature {fkey!r}{_hint(fkey, list(features))}")
            elif fkey in seen:
                yield Finding(path, f"feature {fkey!r} is already in features[{seen[fkey]}]")
            else:
                seen[fkey] = i
