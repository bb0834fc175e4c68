"""Prices: create, retrieve, update (only the mutable fields), list. No delete, as in Stripe."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import stripe
import stripe.params as sp

from stripe_emulator.errors import ApiError
from stripe_emulator.framework import (
    Obj,
    ObjectType,
    Request,
    Store,
    apply_metadata,
    decimal_str,
    register_type,
    route,
    unset,
)
from stripe_emulator.resources.common import (
    check_currency,
    created_filter,
    non_negative,
    positive,
)
from stripe_emulator.resources.product_model import build_product

register_type(
    ObjectType(
        name="price",
        collection="prices",
        id_prefix="price",
        id_length=24,
        expandable={"product": "product"},
        includable=("tiers", "currency_options"),
        index_on=("product",),
        stripe_class=stripe.Price,
    )
)

LOOKUP_KEYS = "price_lookup_keys"  # store table: lookup_key -> price id
INTERVAL_DAYS = {"day": 1, "week": 7, "month": 31, "year": 366}


def _pname(prefix: str, name: str) -> str:
    if not prefix:
        return name
    head, *rest = name.split("[", 1)
    return f"{prefix}[{head}]" + (f"[{rest[0]}" if rest else "")


def _amount(
    p: dict[str, Any], prefix: str, *, required: bool, what: str = "unit_amount"
) -> tuple[int | None, str | None]:
    """(unit_amount, unit_amount_decimal) from `unit_amount` or `..._decimal` (exactly one)."""
    amount = unset(p.get(what))
    dec = unset(p.get(f"{what}_decimal"))
    if amount is not None and dec is not None:
        raise ApiError.invalid(
            f"You may only specify one of these parameters: {what}, {what}_decimal.",
            param=_pname(prefix, f"{what}_decimal"),
        )
    if amount is not None:
        non_negative(amount, _pname(prefix, what))
        return amount, str(amount)
    if dec is not None:
        d = Decimal(dec)
        if d < 0:
            raise ApiError.invalid(
                f"Invalid decimal: {dec} must be non-negative",
                param=_pname(prefix, f"{what}_decimal"),
            )
        exp = d.as_tuple().exponent
        if isinstance(exp, int) and exp < -12:
            raise ApiError.invalid(
                f"Invalid decimal: {dec} can have at most 12 decimal places",
                param=_pname(prefix, f"{what}_decimal"),
            )
        text = decimal_str(d)
        return (int(d) if d == d.to_integral_value() else None), text
    if required:
        raise ApiError.invalid(
            f"Missing required param: {_pname(prefix, what)}.",
            param=_pname(prefix, what),
            code="parameter_missing",
        )
    return None, None


def _tiers(raw: Any, prefix: str, param: str = "tiers") -> list[Obj]:
    if not raw:
        raise ApiError.invalid(
            f"Missing required param: {_pname(prefix, param)}.",
            param=_pname(prefix, param),
            code="parameter_missing",
        )
    out: list[Obj] = []
    last_up: int | None = 0
    for i, t in enumerate(raw):
        name = _pname(prefix, f"{param}[{i}]")
        if not isinstance(t, dict):
            raise ApiError.invalid(f"Invalid hash: {name}", param=name)
        up = t.get("up_to")
        if up in (None, ""):
            raise ApiError.invalid(
                f"Missing required param: {name}[up_to].", param=f"{name}[up_to]"
            )
        if up == "inf":
            if i != len(raw) - 1:
                raise ApiError.invalid(
                    "Only the last tier may have `up_to` set to `inf`.", param=f"{name}[up_to]"
                )
            up_value: int | None = None
        else:
            positive(up, f"{name}[up_to]")
            if last_up is None or up <= last_up:
                raise ApiError.invalid(
                    "Tiers must be given in ascending order of `up_to`.", param=f"{name}[up_to]"
                )
            up_value = up
        last_up = up_value
        ua, uad = _amount(t, name, required=False)
        fa, fad = _amount(t, name, required=False, what="flat_amount")
        if ua is None and uad is None and fa is None and fad is None:
            raise ApiError.invalid(
                f"Each tier needs a unit_amount or a flat_amount ({name}).", param=name
            )
        out.append(
            {
                "flat_amount": fa,
                "flat_amount_decimal": fad,
                "unit_amount": ua,
                "unit_amount_decimal": uad,
                "up_to": up_value,
            }
        )
    if out[-1]["up_to"] is not None:
        raise ApiError.invalid(
            "The last tier must have `up_to` set to `inf`.",
            param=_pname(prefix, f"{param}[{len(out) - 1}][up_to]"),
        )
    return out


def _currency_option(opt: dict[str, Any], cur: str, scheme: str, prefix: str) -> Obj:
    name = _pname(prefix, f"currency_options[{cur}]")
    out: Obj = {
        "custom_unit_amount": None,
        "tax_behavior": unset(opt.get("tax_behavior")) or "unspecified",
    }
    if scheme == "tiered":
        out["tiers"] = _tiers(opt.get("tiers"), name)
        out["unit_amount"] = None
        out["unit_amount_decimal"] = None
    else:
        if opt.get("tiers"):
            raise ApiError.invalid(
                "Tiers can only be set when billing_scheme is tiered.", param=f"{name}[tiers]"
            )
        ua, uad = _amount(opt, name, required=True)
        out["unit_amount"] = ua
        out["unit_amount_decimal"] = uad
    return out


def _take_lookup_key(store: Store, key: str, price_id: str, transfer: bool, param: str) -> None:
    table = store.table(LOOKUP_KEYS)
    holder_id = table.get(key)
    if holder_id is not None and holder_id != price_id:
        if not transfer:
            raise ApiError.conflict(
                f"A price (`{holder_id}`) already uses that lookup key.", param=param
            )
        holder = store.get("price", holder_id)
        if holder is not None:
            holder["lookup_key"] = None
    table[key] = price_id


def _custom_unit_amount(p: dict[str, Any], prefix: str, *, allowed: bool = True) -> Obj | None:
    """Pay what you want: {maximum, minimum, preset} in minor units, instead of an amount."""
    raw = unset(p.get("custom_unit_amount"))
    if raw is None:
        return None
    name = _pname(prefix, "custom_unit_amount")
    if raw.get("enabled") is not True:
        raise ApiError.invalid(
            f"Pass `{name}[enabled]=true` to enable custom_unit_amount, otherwise omit it.",
            param=f"{name}[enabled]",
        )
    if not allowed:
        raise ApiError.invalid(
            "custom_unit_amount cannot be used with billing_scheme=tiered.", param=name
        )
    for k in ("unit_amount", "unit_amount_decimal"):
        if unset(p.get(k)) is not None:
            raise ApiError.invalid(
                f"You may only specify one of these parameters: {k}, custom_unit_amount.",
                param=_pname(prefix, k),
            )
    out: Obj = {}
    for k in ("maximum", "minimum", "preset"):
        value = unset(raw.get(k))
        out[k] = None if value is None else non_negative(value, f"{name}[{k}]")
    low, high, preset = out["minimum"], out["maximum"], out["preset"]
    if low is not None and high is not None and low > high:
        raise ApiError.invalid(
            "custom_unit_amount[minimum] must be less than or equal to custom_unit_amount[maximum].",
            param=f"{name}[minimum]",
        )
    if preset is not None and (
        (low is not None and preset < low) or (high is not None and preset > high)
    ):
        raise ApiError.invalid(
            "custom_unit_amount[preset] must be between the minimum and the maximum.",
            param=f"{name}[preset]",
        )
    return out


def _meter(store: Store, meter_id: Any, usage_type: str, prefix: str) -> str | None:
    """A metered price's meter: required since metered prices bill a meter's usage, and it
    must be active ("You can't attach a deactivated meter to a price",
    https://docs.stripe.com/api/billing/meter/deactivate)."""
    param = _pname(prefix, "recurring[meter]")
    if usage_type != "metered":
        if meter_id is not None:
            raise ApiError.invalid(
                "recurring[meter] can only be set when recurring[usage_type] is `metered`.",
                param=param,
            )
        return None
    if meter_id is None:
        raise ApiError.invalid(
            "Missing required param: recurring[meter] (a metered price needs a meter).",
            param=param,
            code="parameter_missing",
        )
    meter = store.get_named("billing.meter", meter_id, param=param, kind="billing meter")
    if meter["status"] != "active":
        raise ApiError.invalid(
            f"The meter `{meter_id}` is inactive; only active meters can be attached to prices.",
            param=param,
            validation=False,
        )
    return str(meter["id"])


def build_price(store: Store, p: dict[str, Any], now: int, *, prefix: str = "") -> Obj:
    """Create and insert a price from validated create params (also used by seeding)."""
    product_id = unset(p.get("product"))
    product_data = unset(p.get("product_data"))
    if product_id is not None and product_data is not None:
        raise ApiError.invalid(
            "You may only specify one of these parameters: product, product_data.",
            param=_pname(prefix, "product_data"),
        )
    if product_id is None and product_data is None:
        raise ApiError.invalid(
            f"Missing required param: {_pname(prefix, 'product')}.",
            param=_pname(prefix, "product"),
            code="parameter_missing",
        )
    currency = check_currency(p["currency"], _pname(prefix, "currency"))
    scheme = unset(p.get("billing_scheme")) or "per_unit"
    tiers: list[Obj] | None = None
    tiers_mode = unset(p.get("tiers_mode"))
    if scheme == "tiered":
        for k in ("unit_amount", "unit_amount_decimal"):
            if unset(p.get(k)) is not None:
                raise ApiError.invalid(
                    f"You may not specify `{k}` when billing_scheme is tiered.",
                    param=_pname(prefix, k),
                )
        if tiers_mode is None:
            raise ApiError.invalid(
                f"Missing required param: {_pname(prefix, 'tiers_mode')}.",
                param=_pname(prefix, "tiers_mode"),
                code="parameter_missing",
            )
        if unset(p.get("transform_quantity")) is not None:
            raise ApiError.invalid(
                "transform_quantity cannot be used with tiered prices.",
                param=_pname(prefix, "transform_quantity"),
            )
        tiers = _tiers(unset(p.get("tiers")), prefix)
        amount, amount_dec = None, None
        custom = _custom_unit_amount(p, prefix, allowed=False)
    else:
        for k in ("tiers", "tiers_mode"):
            if unset(p.get(k)) is not None:
                raise ApiError.invalid(
                    f"You may only specify `{k}` when billing_scheme is tiered.",
                    param=_pname(prefix, k),
                )
        custom = _custom_unit_amount(p, prefix)
        amount, amount_dec = _amount(p, prefix, required=custom is None)
    recurring = unset(p.get("recurring"))
    rec_obj: Obj | None = None
    if recurring is not None:
        count = unset(recurring.get("interval_count")) or 1
        positive(count, _pname(prefix, "recurring[interval_count]"))
        if count * INTERVAL_DAYS[recurring["interval"]] > 3 * 366:
            raise ApiError.invalid(
                "The maximum billing interval is three years.",
                param=_pname(prefix, "recurring[interval_count]"),
            )
        usage_type = unset(recurring.get("usage_type")) or "licensed"
        rec_obj = {
            "interval": recurring["interval"],
            "interval_count": count,
            "meter": _meter(store, unset(recurring.get("meter")), usage_type, prefix),
            "trial_period_days": None,
            "usage_type": usage_type,
        }
    if custom is not None and rec_obj is not None:
        raise ApiError.invalid(
            "custom_unit_amount is only supported for one-time prices.",
            param=_pname(prefix, "custom_unit_amount"),
        )
    tq = unset(p.get("transform_quantity"))
    tq_obj = None
    if tq is not None:
        tq_obj = {
            "divide_by": positive(
                tq.get("divide_by"), _pname(prefix, "transform_quantity[divide_by]")
            ),
            "round": tq.get("round"),
        }
        if tq_obj["round"] in (None, ""):
            raise ApiError.invalid(
                "Missing required param: transform_quantity[round].",
                param=_pname(prefix, "transform_quantity[round]"),
            )
    tax_behavior = unset(p.get("tax_behavior")) or "unspecified"
    options: Obj = {}
    for cur, opt in (unset(p.get("currency_options")) or {}).items():
        c = check_currency(cur, _pname(prefix, f"currency_options[{cur}]"))
        if c == currency:
            raise ApiError.invalid(
                f"currency_options cannot contain the price's own currency ({currency}).",
                param=_pname(prefix, f"currency_options[{cur}]"),
            )
        options[c] = _currency_option(opt, c, scheme, prefix)
    main_option: Obj = {
        "custom_unit_amount": custom,
        "tax_behavior": tax_behavior,
        "unit_amount": amount,
        "unit_amount_decimal": amount_dec,
    }
    if tiers is not None:
        main_option["tiers"] = tiers
    lookup_key = unset(p.get("lookup_key"))
    if lookup_key is not None and len(lookup_key) > 200:
        raise ApiError.invalid(
            "lookup_key may be at most 200 characters.", param=_pname(prefix, "lookup_key")
        )
    if product_id is not None:
        if store.get("product", product_id) is None:
            raise ApiError.missing_param("product", product_id, param=_pname(prefix, "product"))
    else:
        assert product_data is not None
        product_id = build_product(store, product_data, now, prefix=_pname(prefix, "product_data"))[
            "id"
        ]
    if lookup_key is not None and not p.get("transfer_lookup_key"):
        holder = store.table(LOOKUP_KEYS).get(lookup_key)
        if holder is not None:
            raise ApiError.conflict(
                f"A price (`{holder}`) already uses that lookup key.",
                param=_pname(prefix, "lookup_key"),
            )
    pid = store.new_id("price")
    if lookup_key is not None:
        _take_lookup_key(
            store, lookup_key, pid, bool(p.get("transfer_lookup_key")), _pname(prefix, "lookup_key")
        )
    obj: Obj = {
        "id": pid,
        "object": "price",
        "active": p.get("active", True) if p.get("active") != "" else True,
        "billing_scheme": scheme,
        "created": now,
        "currency": currency,
        "currency_options": {currency: main_option, **options},
        "custom_unit_amount": custom,
        "livemode": False,
        "lookup_key": lookup_key,
        "metadata": apply_metadata({}, p.get("metadata")),
        "nickname": unset(p.get("nickname")),
        "product": product_id,
        "recurring": rec_obj,
        "tax_behavior": tax_behavior,
        "tiers": tiers,
        "tiers_mode": tiers_mode,
        "transform_quantity": tq_obj,
        "type": "recurring" if rec_obj else "one_time",
        "unit_amount": amount,
        "unit_amount_decimal": amount_dec,
    }
    return store.insert("price", obj)


_AMOUNT = {"unit_amount", "unit_amount_decimal"}
_TIER = {
    f"tiers.{k}"
    for k in ("up_to", "unit_amount", "unit_amount_decimal", "flat_amount", "flat_amount_decimal")
}
_CURRENCY_OPTIONS = {
    "currency_options.*.unit_amount",
    "currency_options.*.unit_amount_decimal",
    "currency_options.*.tax_behavior",
    *{f"currency_options.*.{t}" for t in _TIER},
}


@route(
    "POST",
    "/v1/prices",
    sp.PriceCreateParams,
    implemented={
        "active",
        "billing_scheme",
        "currency",
        *_CURRENCY_OPTIONS,
        "lookup_key",
        "metadata",
        "nickname",
        "product",
        "product_data.name",
        "product_data.id",
        "product_data.active",
        "product_data.metadata",
        "product_data.statement_descriptor",
        "product_data.unit_label",
        "product_data.tax_code",
        "recurring.interval",
        "recurring.interval_count",
        "recurring.usage_type",
        "recurring.meter",
        "custom_unit_amount",
        "tax_behavior",
        *_TIER,
        "tiers_mode",
        "transfer_lookup_key",
        "transform_quantity",
        *_AMOUNT,
    },
    returns="price",
)
def create_price(req: Request) -> Obj:
    return req.render("price", build_price(req.store, req.params, req.now))


@route("GET", "/v1/prices/{id}", sp.PriceRetrieveParams, implemented=set(), returns="price")
def retrieve_price(req: Request) -> Obj:
    return req.render("price", req.store.get_or_404("price", req.path_args["id"]))


@route(
    "POST",
    "/v1/prices/{id}",
    sp.PriceUpdateParams,
    implemented={
        "active",
        "nickname",
        "metadata",
        "lookup_key",
        "transfer_lookup_key",
        "tax_behavior",
        *_CURRENCY_OPTIONS,
    },
    returns="price",
)
def update_price(req: Request) -> Obj:
    store = req.store
    obj = store.get_or_404("price", req.path_args["id"])
    p = req.params
    # Check everything before changing anything: a refused update changes nothing.
    if "tax_behavior" in p:
        new = unset(p["tax_behavior"]) or "unspecified"
        if obj["tax_behavior"] != "unspecified" and new != obj["tax_behavior"]:
            raise ApiError.conflict(
                "The tax_behavior of a price cannot be changed once it is set to "
                f"`{obj['tax_behavior']}`.",
                param="tax_behavior",
            )
    if "active" in p and p["active"] is False:
        product = store.get("product", obj["product"])
        if product is not None and product.get("default_price") == obj["id"]:
            raise ApiError.conflict(
                "This price cannot be archived because it is the default price of its "
                "product. Set another default price on the product first.",
                param="active",
            )
    options: Obj | None = None
    if "currency_options" in p:
        raw = unset(p["currency_options"]) or {}
        main = obj["currency_options"][obj["currency"]]
        options = {obj["currency"]: main}
        if raw:
            options.update(
                {k: v for k, v in obj["currency_options"].items() if k != obj["currency"]}
            )
        for cur, opt in raw.items():
            c = check_currency(cur, f"currency_options[{cur}]")
            if c == obj["currency"]:
                raise ApiError.invalid(
                    "The price's own currency cannot be updated through currency_options.",
                    param=f"currency_options[{cur}]",
                )
            if opt == "":
                options.pop(c, None)
            else:
                options[c] = _currency_option(opt, c, obj["billing_scheme"], "")
    lookup_key = unset(p.get("lookup_key")) if "lookup_key" in p else obj["lookup_key"]
    if lookup_key is not None and len(lookup_key) > 200:
        raise ApiError.invalid("lookup_key may be at most 200 characters.", param="lookup_key")
    if "lookup_key" in p and lookup_key != obj["lookup_key"]:
        table = store.table(LOOKUP_KEYS)
        if lookup_key is not None:
            _take_lookup_key(
                store, lookup_key, obj["id"], bool(p.get("transfer_lookup_key")), "lookup_key"
            )
        if obj["lookup_key"] is not None and table.get(obj["lookup_key"]) == obj["id"]:
            del table[obj["lookup_key"]]
        obj["lookup_key"] = lookup_key
    elif p.get("transfer_lookup_key") and lookup_key is not None:
        _take_lookup_key(store, lookup_key, obj["id"], True, "lookup_key")
    if "tax_behavior" in p:
        obj["tax_behavior"] = unset(p["tax_behavior"]) or "unspecified"
        obj["currency_options"][obj["currency"]]["tax_behavior"] = obj["tax_behavior"]
    if "active" in p:
        obj["active"] = True if p["active"] == "" else p["active"]
    if "nickname" in p:
        obj["nickname"] = unset(p["nickname"])
    if "metadata" in p:
        obj["metadata"] = apply_metadata(obj["metadata"], p["metadata"])
    if options is not None:
        obj["currency_options"] = options
    return req.render("price", obj)


@route(
    "GET",
    "/v1/prices",
    sp.PriceListParams,
    implemented={
        "active",
        "product",
        "lookup_keys",
        "type",
        "currency",
        "recurring.interval",
        "recurring.usage_type",
        "created",
    },
    returns="list:price",
)
def list_prices(req: Request) -> Obj:
    p = req.params
    # Stripe returns only active prices unless `active=false` is asked (STRIPE_FACTS).
    active = unset(p.get("active"))
    active = True if active is None else active
    ptype = unset(p.get("type"))
    currency = unset(p.get("currency"))
    currency = currency.lower() if currency else None
    recurring = unset(p.get("recurring")) or {}
    interval = unset(recurring.get("interval"))
    usage = unset(recurring.get("usage_type"))
    created = created_filter(p.get("created"))
    lookup_keys = unset(p.get("lookup_keys"))
    product = unset(p.get("product"))
    if lookup_keys is not None and len(lookup_keys) > 10:
        raise ApiError.invalid("You may pass at most 10 lookup keys.", param="lookup_keys")
    keys = set(lookup_keys) if lookup_keys is not None else None

    def where(o: Obj) -> bool:
        rec = o["recurring"] or {}
        return (
            o["active"] == active
            and (ptype is None or o["type"] == ptype)
            and (currency is None or o["currency"] == currency)
            and (interval is None or rec.get("interval") == interval)
            and (usage is None or rec.get("usage_type") == usage)
            and (created is None or created(o["created"]))
            and (keys is None or o["lookup_key"] in keys)
        )

    if keys is not None:
        table = req.store.table(LOOKUP_KEYS)
        coll = req.store.coll("price")
        ids = [table[k] for k in keys if k in table]
        objs = sorted(
            (coll.objs[i] for i in ids if i in coll.pos),
            key=lambda o: coll.pos[o["id"]],
            reverse=True,
        )
        objs = [o for o in objs if where(o) and (product is None or o["product"] == product)]
        limit = p.get("limit") or 10
        page = {
            "object": "list",
            "data": objs[:limit],
            "has_more": len(objs) > limit,
            "url": "/v1/prices",
        }
        from stripe_emulator.framework import render

        return render(req.store, "list:price", page, req.expand)
    index = ("product", product) if product is not None else None
    return req.list_response("price", url="/v1/prices", where=where, index=index)
