"""Subscriptions and their items: create, retrieve, update, cancel, list; subscription_items.

No invoices are modelled: a subscription's first payment succeeds when a usable card is
available (declining test cards make it `incomplete`, or 402 with error_if_incomplete).
Periods live on the items (`current_period_start/end`), as in API versions since 2025-03-31.
Time-based transitions (trial end, cancel_at, incomplete -> incomplete_expired after 23 h)
happen lazily when a subscription is read or written.
"""

from __future__ import annotations

import calendar
import datetime as dt
from collections.abc import Callable
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
    list_page,
    register_type,
    route,
    unset,
)
from stripe_emulator.resources.charges import (
    AUTHENTICATION_REQUIRED,
    TEST_CARDS,
    card_error_fields,
)
from stripe_emulator.resources.common import created_filter, non_negative
from stripe_emulator.resources.discounts import apply_discounts, plan_discounts
from stripe_emulator.resources.tax_rates import usable_tax_rate

MAX_ITEMS = 20
EMBEDDED_ITEMS = 10
INCOMPLETE_EXPIRES = 23 * 3600


def _items_url(sub_id: str) -> str:
    return f"/v1/subscription_items?subscription={sub_id}"


def _compute_subscription(store: Store, obj: Obj) -> Obj:
    page = list_page(
        store,
        "subscription_item",
        url=_items_url(obj["id"]),
        limit=EMBEDDED_ITEMS,
        index=("subscription", obj["id"]),
        ascending=True,
    )
    coll = store.coll("subscription_item")
    total = sum(1 for pos in coll.positions(("subscription", obj["id"])) if coll.order[pos])
    # Tax rates are embedded whole (stripe.Subscription.default_tax_rates: List[TaxRate]).
    rates = [r for t in obj.get("_tax_rates") or () if (r := store.get("tax_rate", t))]
    return {"items": {**page, "total_count": total}, "default_tax_rates": rates}


def plan_of(price: Obj) -> Obj:
    """The legacy `plan` view of a recurring price, as Stripe still returns on items."""
    rec = price.get("recurring") or {}
    return {
        "id": price["id"],
        "object": "plan",
        "active": price["active"],
        "amount": price["unit_amount"],
        "amount_decimal": price["unit_amount_decimal"],
        "billing_scheme": price["billing_scheme"],
        "created": price["created"],
        "currency": price["currency"],
        "interval": rec.get("interval"),
        "interval_count": rec.get("interval_count"),
        "livemode": False,
        "metadata": price["metadata"],
        "meter": rec.get("meter"),
        "nickname": price["nickname"],
        "product": price["product"],
        "tiers": price.get("tiers"),
        "tiers_mode": price["tiers_mode"],
        "transform_usage": None,
        "trial_period_days": None,
        "usage_type": rec.get("usage_type", "licensed"),
    }


def _compute_item(store: Store, obj: Obj) -> Obj:
    price = store.get("price", obj["price"]) or {"id": obj["price"]}
    return {"price": price, "plan": plan_of(price) if "recurring" in price else None}


register_type(
    ObjectType(
        name="subscription",
        collection="subscriptions",
        id_prefix="sub",
        expandable={
            "customer": "customer",
            "default_payment_method": "payment_method",
            "latest_invoice": "invoice",
            "discounts": "discount",
        },
        nested={"items": "list:subscription_item"},
        index_on=("customer",),
        stripe_class=stripe.Subscription,
        compute=_compute_subscription,
    )
)
register_type(
    ObjectType(
        name="subscription_item",
        collection="subscription_items",
        id_prefix="si",
        id_length=14,
        nested={"price": "price", "plan": "plan"},
        index_on=("subscription",),
        stripe_class=stripe.SubscriptionItem,
        compute=_compute_item,
    )
)
register_type(
    ObjectType(
        name="plan",
        collection="plans",
        id_prefix="plan",
        expandable={"product": "product"},
        includable=("tiers",),
        stripe_class=stripe.Plan,
    )
)


# ---------------------------------------------------------------------------------------------
# Time
# ---------------------------------------------------------------------------------------------


def add_interval(ts: int, interval: str, count: int) -> int:
    t = dt.datetime.fromtimestamp(ts, tz=dt.UTC)
    if interval == "day":
        return int((t + dt.timedelta(days=count)).timestamp())
    if interval == "week":
        return int((t + dt.timedelta(weeks=count)).timestamp())
    months = count * (12 if interval == "year" else 1)
    y, m = divmod(t.month - 1 + months, 12)
    year, month = t.year + y, m + 1
    day = min(t.day, calendar.monthrange(year, month)[1])
    return int(t.replace(year=year, month=month, day=day).timestamp())


def _period_end(price: Obj, start: int) -> int:
    rec = price["recurring"]
    return add_interval(start, rec["interval"], rec["interval_count"])


def _items_of(store: Store, sub_id: str) -> list[Obj]:
    coll = store.coll("subscription_item")
    return list(coll.iter_asc(("subscription", sub_id), -1))


def refresh(store: Store, sub: Obj, now: int) -> None:
    """Apply time-based transitions that are due."""
    status = sub["status"]
    if status == "incomplete" and now >= sub["created"] + INCOMPLETE_EXPIRES:
        sub["status"] = "incomplete_expired"
        sub["ended_at"] = sub["created"] + INCOMPLETE_EXPIRES
        return
    if status in ("canceled", "incomplete_expired", "incomplete"):
        return
    if sub.get("cancel_at") is not None and now >= sub["cancel_at"]:
        cancel_now(store, sub, sub["cancel_at"], reason="cancellation_requested")
        return
    if status == "trialing" and sub.get("trial_end") is not None and now >= sub["trial_end"]:
        sub["status"] = "active"
        for item in _items_of(store, sub["id"]):
            price = store.get("price", item["price"])
            if price is not None:
                item["current_period_start"] = sub["trial_end"]
                item["current_period_end"] = _period_end(price, sub["trial_end"])
    for item in _items_of(store, sub["id"]):
        price = store.get("price", item["price"])
        while price is not None and item["current_period_end"] <= now:
            item["current_period_start"] = item["current_period_end"]
            item["current_period_end"] = _period_end(price, item["current_period_start"])


def cancel_now(store: Store, sub: Obj, now: int, *, reason: str = "cancellation_requested") -> None:
    sub["status"] = "canceled"
    sub["canceled_at"] = sub.get("canceled_at") or now
    sub["ended_at"] = now
    sub["cancellation_details"]["reason"] = sub["cancellation_details"].get("reason") or reason


# ---------------------------------------------------------------------------------------------
# Validation shared by create and update
# ---------------------------------------------------------------------------------------------


def _usable_price(store: Store, price_id: Any, param: str) -> Obj:
    price = store.get("price", price_id) if isinstance(price_id, str) else None
    if price is None:
        raise ApiError.missing_param("price", str(price_id), param=param)
    if not price["active"]:
        raise ApiError.invalid(
            "The price specified is inactive. This field only accepts active prices.",
            param=param,
            validation=False,
        )
    if price["type"] != "recurring":
        raise ApiError.invalid(
            "The price specified is set to `type=one_time` but this field only accepts prices "
            "with `type=recurring`.",
            param=param,
            validation=False,
        )
    return price


def _quantity(value: Any, param: str) -> int:
    if value in (None, ""):
        return 1
    return non_negative(value, param)


def _item_quantity(price: Obj, value: Any, param: str) -> int | None:
    """An item's quantity; None for a metered price, which bills its meter's usage and refuses
    a quantity ("You cannot set the quantity for metered plans": Stripe's answer quoted in
    pay-rails/pay#193 and andrewculver/koudoku#204; "You can only specify a quantity when
    creating a subscription with a recurring[usage_type] of licensed",
    https://docs.stripe.com/billing/subscriptions/quantities)."""
    if (price.get("recurring") or {}).get("usage_type") == "metered":
        if value not in (None, ""):
            raise ApiError.invalid("You cannot set the quantity for metered plans.", param=param)
        return None
    return _quantity(value, param)


def _check_currency(prices: list[tuple[Obj, str]]) -> str:
    currency = prices[0][0]["currency"]
    for price, param in prices[1:]:
        if price["currency"] != currency:
            raise ApiError.invalid(
                f"The price specified has a currency of `{price['currency']}`, which differs "
                f"from the currency of the other items on this subscription (`{currency}`). "
                "All items of a subscription must use the same currency.",
                param=param,
            )
    return str(currency)


def _check_duplicates(prices: list[tuple[Obj, str]]) -> None:
    seen: set[str] = set()
    for price, param in prices:
        if price["id"] in seen:
            raise ApiError.invalid(
                f"Cannot add multiple subscription items with the same price: {price['id']}.",
                param=param,
            )
        seen.add(price["id"])


def _default_pm(store: Store, customer: Obj, value: Any, param: str) -> str | None:
    pm_id = unset(value)
    if pm_id is None:
        return None
    pm = store.get("payment_method", pm_id)
    if pm is None and pm_id not in TEST_CARDS:
        raise ApiError.missing_param("PaymentMethod", str(pm_id), param=param)
    # A test card token (pm_card_visa) names a new, unattached PaymentMethod each time it is
    # used, never one of the customer's: refused like any unattached one (see BEHAVIOUR.md).
    if pm is None or pm.get("customer") != customer["id"]:
        raise ApiError.conflict(
            f"The customer does not have a payment method with the ID {pm_id}. The payment "
            "method must be attached to the customer.",
            param=param,
        )
    return str(pm_id)


def _first_payment_error(store: Store, pm_id: str | None) -> ApiError | None:
    """Why the first invoice's payment does not succeed with this payment method, if it does
    not: a card that attaches but declines (pm_card_chargeCustomerFail), or one that needs 3D
    Secure on every payment (pm_card_authenticationRequired); both leave the subscription
    `incomplete`, or answer 402 with `payment_behavior=error_if_incomplete`
    (https://docs.stripe.com/api/subscriptions/create#create_subscription-payment_behavior)."""
    pm = store.get("payment_method", pm_id) if pm_id else None
    token = str((pm or {}).get("_token") or "")
    if token in AUTHENTICATION_REQUIRED:
        # The live answer for a card that needs authentication (quoted in
        # https://cloud.tencent.com/developer/ask/222147): code and decline_code
        # authentication_required.
        return ApiError(
            402,
            "card_error",
            "Your card was declined. This transaction requires authentication.",
            code="authentication_required",
            extra={"decline_code": "authentication_required", "param": ""},
        )
    card = TEST_CARDS.get(token)
    if card is None or card[2] is None:
        return None
    decline = card[2]
    return ApiError(
        402, "card_error", decline[2], code=decline[0], extra=card_error_fields(decline)
    )


def _new_item(
    store: Store,
    sub_id: str,
    price: Obj,
    quantity: int | None,
    metadata: Any,
    now: int,
    start: int,
    end: int,
) -> Obj:
    item: Obj = {
        "id": store.new_id("subscription_item"),
        "object": "subscription_item",
        "billed_until": None,
        "billing_thresholds": None,
        "created": now,
        "current_period_end": end,
        "current_period_start": start,
        "current_trial": None,
        "discounts": [],
        "metadata": apply_metadata({}, metadata),
        "price": price["id"],
        "quantity": quantity,
        "subscription": sub_id,
        "tax_rates": [],
    }
    return store.insert("subscription_item", item)


def _trial_end(p: dict[str, Any], now: int) -> int | None:
    trial_end = unset(p.get("trial_end"))
    days = unset(p.get("trial_period_days"))
    if trial_end is not None and days is not None:
        raise ApiError.invalid(
            "You may only specify one of these parameters: trial_end, trial_period_days.",
            param="trial_end",
        )
    if days is not None:
        if not isinstance(days, int) or not 0 <= days <= 730:
            raise ApiError.invalid(
                "trial_period_days must be between 0 and 730.", param="trial_period_days"
            )
        return now + days * 86400 if days > 0 else None
    if trial_end == "now":
        return None
    if trial_end is not None:
        if trial_end <= now:
            raise ApiError.invalid(
                "Invalid timestamp: must be an integer Unix timestamp in the future.",
                param="trial_end",
            )
        if trial_end > now + 730 * 86400:
            raise ApiError.invalid(
                "trial_end can be no more than 730 days in the future.", param="trial_end"
            )
        return int(trial_end)
    return None


def _collection(
    p: dict[str, Any], current_method: str | None, current_days: int | None
) -> tuple[str, int | None]:
    method = unset(p.get("collection_method")) or current_method or "charge_automatically"
    days = unset(p.get("days_until_due")) if "days_until_due" in p else current_days
    if method == "send_invoice":
        if days is None:
            raise ApiError.invalid(
                "Missing required param: days_until_due. It is required when "
                "collection_method is send_invoice.",
                param="days_until_due",
                code="parameter_missing",
            )
        non_negative(days, "days_until_due")
    else:
        if "days_until_due" in p and unset(p["days_until_due"]) is not None:
            raise ApiError.invalid(
                "days_until_due can only be set when collection_method is send_invoice.",
                param="days_until_due",
            )
        days = None
    return method, days


# ---------------------------------------------------------------------------------------------
# Item changes (shared by subscription update and the subscription_items endpoints)
# ---------------------------------------------------------------------------------------------

ItemChange = tuple[str, Obj | None, dict[str, Any]]  # (item id or "" for new, price, spec)


def _items_param(i: int, field: str) -> str:
    return f"items[{i}][{field}]"


def _plan_items(
    store: Store,
    sub: Obj,
    specs: list[dict[str, Any]],
    *,
    check: bool,
    param: Callable[[int, str], str] = _items_param,
) -> tuple[dict[str, Obj], list[ItemChange]]:
    """Validate item changes against the subscription without changing anything."""
    current = {it["id"]: it for it in _items_of(store, sub["id"])}
    final: dict[str, tuple[Obj, str]] = {
        iid: (store.get("price", it["price"]) or {}, "items") for iid, it in current.items()
    }
    changes: list[ItemChange] = []
    for i, spec in enumerate(specs):
        if "metadata" in spec:
            apply_metadata({}, spec["metadata"])  # validates keys and sizes
        if "quantity" in spec:
            _quantity(spec["quantity"], param(i, "quantity"))
        iid = unset(spec.get("id"))
        if iid is not None:
            if iid not in current:
                raise ApiError.invalid(
                    f"The subscription item {iid} does not belong to this subscription.",
                    param=param(i, "id"),
                    validation=False,
                )
            if spec.get("deleted") is True:
                final.pop(iid, None)
                changes.append((iid, None, {"deleted": True}))
                continue
            price = None
            if unset(spec.get("price")) is not None:
                price = _usable_price(store, spec["price"], param(i, "price"))
                final[iid] = (price, param(i, "price"))
            if "quantity" in spec:
                _item_quantity(
                    price or store.get("price", current[iid]["price"]) or {},
                    spec["quantity"],
                    param(i, "quantity"),
                )
            changes.append((iid, price, spec))
        else:
            if spec.get("deleted") is True:
                raise ApiError.invalid("An item to delete needs its id.", param=param(i, "id"))
            if unset(spec.get("price")) is None:
                raise ApiError.invalid(
                    f"Missing required param: {param(i, 'price')}.",
                    param=param(i, "price"),
                    code="parameter_missing",
                )
            price = _usable_price(store, spec["price"], param(i, "price"))
            _item_quantity(price, spec.get("quantity"), param(i, "quantity"))
            final[f"new{i}"] = (price, param(i, "price"))
            changes.append(("", price, spec))
    if check:
        if not final:
            raise ApiError.invalid(
                "A subscription must have at least one item; cancel it instead.",
                param="items",
                validation=False,
            )
        if len(final) > MAX_ITEMS:
            raise ApiError.invalid(
                f"A subscription can have at most {MAX_ITEMS} items.", param="items"
            )
        listed = list(final.values())
        currency = _check_currency(listed)
        if currency != sub["currency"]:
            raise ApiError.invalid(
                f"The price specified has a currency of `{currency}`, which differs from the "
                f"subscription's currency (`{sub['currency']}`).",
                param=listed[0][1],
            )
        _check_duplicates(listed)
    return current, changes


def _apply_items(
    store: Store, sub: Obj, plan: tuple[dict[str, Obj], list[ItemChange]], now: int
) -> list[Obj]:
    """Apply planned item changes; returns the items changed or created."""
    current, changes = plan
    coll = store.coll("subscription_item")
    touched: list[Obj] = []
    for iid, price, spec in changes:
        if iid and spec.get("deleted") is True:
            touched.append(current[iid])
            coll.remove(iid)
            continue
        if iid:
            item = current[iid]
            if price is not None and price["id"] != item["price"]:
                item["price"] = price["id"]
                item["quantity"] = _item_quantity(price, spec.get("quantity"), "quantity")
            elif "quantity" in spec:
                item["quantity"] = _quantity(spec["quantity"], "quantity")
            if "metadata" in spec:
                item["metadata"] = apply_metadata(item["metadata"], spec["metadata"])
            touched.append(item)
        else:
            assert price is not None
            if sub["status"] == "trialing" and sub["trial_end"] is not None:
                start, end = now, sub["trial_end"]
            else:
                anchor = next(iter(current.values()), None)
                start = anchor["current_period_start"] if anchor else now
                end = _period_end(price, start)
            touched.append(
                _new_item(
                    store,
                    sub["id"],
                    price,
                    _item_quantity(price, spec.get("quantity"), "quantity"),
                    spec.get("metadata"),
                    now,
                    start,
                    end,
                )
            )
    return touched


# ---------------------------------------------------------------------------------------------
# Create
# ---------------------------------------------------------------------------------------------


def build_subscription(store: Store, p: dict[str, Any], now: int) -> Obj:
    """Create and insert a subscription from validated create params (also used by seeding)."""
    customer_id = unset(p.get("customer"))
    if customer_id is None:
        raise ApiError.invalid(
            "Missing required param: customer.", param="customer", code="parameter_missing"
        )
    items = unset(p.get("items")) or []
    if not items:
        raise ApiError.invalid(
            "Missing required param: items.", param="items", code="parameter_missing"
        )
    if len(items) > MAX_ITEMS:
        raise ApiError.invalid(f"A subscription can have at most {MAX_ITEMS} items.", param="items")
    customer = store.get_named("customer", customer_id, param="customer")
    prices: list[tuple[Obj, str]] = []
    quantities: list[int | None] = []
    for i, it in enumerate(items):
        if unset(it.get("price")) is None:
            raise ApiError.invalid(
                f"Missing required param: items[{i}][price].",
                param=f"items[{i}][price]",
                code="parameter_missing",
            )
        price = _usable_price(store, it["price"], f"items[{i}][price]")
        quantities.append(_item_quantity(price, it.get("quantity"), f"items[{i}][quantity]"))
        prices.append((price, f"items[{i}][price]"))
    currency = _check_currency(prices)
    _check_duplicates(prices)
    method, days = _collection(p, None, None)
    trial_end = _trial_end(p, now)
    default_pm = _default_pm(
        store, customer, p.get("default_payment_method"), "default_payment_method"
    )
    behavior = unset(p.get("payment_behavior")) or "allow_incomplete"

    status = "active"
    if trial_end is not None:
        status = "trialing"
    elif method == "charge_automatically":
        free = all(pr["unit_amount"] == 0 for pr, _ in prices)
        pm_id = default_pm or customer["invoice_settings"].get("default_payment_method")
        if free:
            status = "active"
        elif behavior == "default_incomplete":
            status = "incomplete"
        elif pm_id is None:
            raise ApiError(
                400,
                "invalid_request_error",
                "This customer has no attached payment source or default payment method. "
                "Please consider adding a default payment method. For more information, visit "
                "https://docs.stripe.com/billing/subscriptions/payment-methods-setting"
                "#payment-method-priority.",
                code="resource_missing",
            )
        elif (failure := _first_payment_error(store, pm_id)) is not None:
            if behavior == "error_if_incomplete":
                raise failure
            status = "incomplete"
    cancel_at = unset(p.get("cancel_at"))
    tax_rates = _tax_rates(store, p.get("default_tax_rates"), [])
    discounts = plan_discounts(store, {}, p.get("discounts"), now, allow_existing=False)
    sub_id = store.new_id("subscription")
    start = now
    sub: Obj = {
        "id": sub_id,
        "object": "subscription",
        "application": None,
        "application_fee_percent": None,
        "automatic_tax": {"disabled_reason": None, "enabled": False, "liability": None},
        "billing_cycle_anchor": trial_end or start,
        "billing_cycle_anchor_config": None,
        # The default for new subscriptions in this API version (mixed intervals allowed).
        "billing_mode": {
            "flexible": {"proration_discounts": "included"},
            "type": "flexible",
            "updated_at": None,
        },
        "billing_schedules": [],
        "billing_thresholds": None,
        "cancel_at": cancel_at,
        "cancel_at_period_end": False,
        "canceled_at": None,
        "cancellation_details": {
            "comment": None,
            "feedback": None,
            "feedback_option": None,
            "reason": None,
        },
        "collection_method": method,
        "created": now,
        "currency": currency,
        "customer": customer["id"],
        "customer_account": None,
        "days_until_due": days,
        "default_payment_method": default_pm,
        "default_source": None,
        "default_tax_rates": [],
        "description": unset(p.get("description")),
        "discounts": [],
        "ended_at": None,
        "invoice_settings": {
            "account_tax_ids": None,
            "custom_fields": None,
            "description": None,
            "footer": None,
            "issuer": {"type": "self"},
        },
        "latest_invoice": None,
        "livemode": False,
        "managed_payments": None,
        "metadata": apply_metadata({}, p.get("metadata")),
        "next_pending_invoice_item_invoice": None,
        "on_behalf_of": None,
        "pause_collection": None,
        "payment_settings": {
            "payment_method_options": None,
            "payment_method_types": None,
            "save_default_payment_method": "off",
        },
        "pending_invoice_item_interval": None,
        "pending_setup_intent": None,
        "pending_update": None,
        "presentment_details": None,
        "schedule": None,
        "start_date": start,
        "status": status,
        "status_details": None,
        "test_clock": None,
        "transfer_data": None,
        "trial_end": trial_end,
        # billing_cycle_anchor: "If not set, the default is `now`" (stripe.Subscription's
        # TrialSettings.EndBehavior docstring): null when the request did not set it.
        "trial_settings": {
            "end_behavior": {
                "billing_cycle_anchor": None,
                "missing_payment_method": "create_invoice",
            }
        },
        "trial_start": start if trial_end is not None else None,
        "_tax_rates": tax_rates,
    }
    store.insert("subscription", sub)
    apply_discounts(store, sub, discounts, now)
    for (price, _), qty, it in zip(prices, quantities, items, strict=True):
        end = trial_end if trial_end is not None else _period_end(price, start)
        _new_item(store, sub_id, price, qty, it.get("metadata"), now, start, end)
    if p.get("cancel_at_period_end") is True:
        _set_cancel_at_period_end(store, sub, True)
    return sub


def _tax_rates(store: Store, raw: Any, current: list[str]) -> list[str]:
    """`default_tax_rates`: existing tax rates, active unless the subscription has them already."""
    return [
        usable_tax_rate(store, t, f"default_tax_rates[{i}]", current=current)
        for i, t in enumerate(unset(raw) or [])
    ]


def _set_cancel_at_period_end(store: Store, sub: Obj, value: bool) -> None:
    sub["cancel_at_period_end"] = value
    if value:
        ends = [it["current_period_end"] for it in _items_of(store, sub["id"])]
        sub["cancel_at"] = max(ends) if ends else None
    else:
        sub["cancel_at"] = None


_ITEM = {"items.price", "items.quantity", "items.metadata"}
_COMMON = {
    "cancel_at_period_end",
    "collection_method",
    "days_until_due",
    "default_payment_method",
    "description",
    "metadata",
    "payment_behavior",
    "proration_behavior",
    "trial_end",
}


@route(
    "POST",
    "/v1/subscriptions",
    sp.SubscriptionCreateParams,
    implemented={
        *_COMMON,
        *_ITEM,
        "customer",
        "trial_period_days",
        "cancel_at",
        "discounts.coupon",
        "discounts.promotion_code",
        "default_tax_rates",
    },
    returns="subscription",
)
def create_subscription(req: Request) -> Obj:
    return req.render("subscription", build_subscription(req.store, req.params, req.now))


@route(
    "GET",
    "/v1/subscriptions/{id}",
    sp.SubscriptionRetrieveParams,
    implemented=set(),
    returns="subscription",
)
def retrieve_subscription(req: Request) -> Obj:
    sub = req.store.get_or_404("subscription", req.path_args["id"])
    refresh(req.store, sub, req.now)
    return req.render("subscription", sub)


# ---------------------------------------------------------------------------------------------
# Update
# ---------------------------------------------------------------------------------------------


@route(
    "POST",
    "/v1/subscriptions/{id}",
    sp.SubscriptionUpdateParams,
    implemented={
        *_COMMON,
        *_ITEM,
        "items.id",
        "items.deleted",
        "cancel_at",
        "discounts.coupon",
        "discounts.promotion_code",
        "discounts.discount",
        "default_tax_rates",
    },
    returns="subscription",
)
def update_subscription(req: Request) -> Obj:
    store = req.store
    sub = store.get_or_404("subscription", req.path_args["id"])
    refresh(store, sub, req.now)
    p = req.params
    changing = set(p) - {"expand", "metadata"}
    if sub["status"] in ("canceled", "incomplete_expired") and changing:
        raise ApiError.invalid(
            "A canceled subscription can only update its cancellation_details and metadata.",
            param=sorted(changing)[0],
            validation=False,
        )
    if sub["status"] == "incomplete" and changing - {"payment_behavior", "proration_behavior"}:
        raise ApiError.invalid(
            "You cannot update a subscription in `incomplete` status in a way that results in "
            "a new invoice or invoice items. Only metadata and default_source can be updated.",
            param=sorted(changing)[0],
            validation=False,
        )
    customer = store.get("customer", sub["customer"]) or {"id": sub["customer"]}

    # Plan every item change first; apply only when everything is valid.
    item_plan = _plan_items(store, sub, unset(p.get("items")) or [], check="items" in p)
    method, days = _collection(p, sub["collection_method"], sub["days_until_due"])
    default_pm = sub["default_payment_method"]
    if "default_payment_method" in p:
        default_pm = _default_pm(
            store, customer, p["default_payment_method"], "default_payment_method"
        )
    metadata = apply_metadata(sub["metadata"], p["metadata"]) if "metadata" in p else None
    trial_end_param = unset(p.get("trial_end"))
    new_trial_end = _trial_end({"trial_end": trial_end_param}, req.now) if trial_end_param else None
    discounts = (
        plan_discounts(store, sub, p["discounts"], req.now, allow_existing=True)
        if "discounts" in p
        else None
    )
    current_rates = list(sub.get("_tax_rates") or [])
    tax_rates = _tax_rates(store, p.get("default_tax_rates"), current_rates)

    # Apply.
    _apply_items(store, sub, item_plan, req.now)
    if discounts is not None:
        apply_discounts(store, sub, discounts, req.now)
    if "default_tax_rates" in p:
        sub["_tax_rates"] = tax_rates
    sub["collection_method"] = method
    sub["days_until_due"] = days
    sub["default_payment_method"] = default_pm
    if "description" in p:
        sub["description"] = unset(p["description"])
    if metadata is not None:
        sub["metadata"] = metadata
    # "The billing_cycle_anchor will be updated to the trial_end value" (API reference,
    # subscriptions update `trial_end`): ending a trial starts a period now, a new trial end
    # ends the current period then.
    if trial_end_param == "now" and sub["status"] == "trialing":
        sub["trial_end"] = req.now
        sub["status"] = "active"
        sub["billing_cycle_anchor"] = req.now
        for item in _items_of(store, sub["id"]):
            price_obj = store.get("price", item["price"])
            item["current_period_start"] = req.now
            if price_obj is not None:
                item["current_period_end"] = _period_end(price_obj, req.now)
    elif new_trial_end is not None:
        if sub["status"] != "trialing":
            # A trial added to a paying subscription starts now (an intra-subscription trial,
            # https://stripe.com/docs/subscriptions/billing-cycle); prorations are not modelled.
            sub["trial_start"] = req.now
            for item in _items_of(store, sub["id"]):
                item["current_period_start"] = req.now
        sub["trial_end"] = new_trial_end
        sub["status"] = "trialing"
        sub["billing_cycle_anchor"] = new_trial_end
        for item in _items_of(store, sub["id"]):
            item["current_period_end"] = new_trial_end
    if "cancel_at" in p:
        sub["cancel_at"] = unset(p["cancel_at"])
        sub["cancel_at_period_end"] = False
    if "cancel_at_period_end" in p:
        _set_cancel_at_period_end(store, sub, bool(unset(p["cancel_at_period_end"])))
    elif sub["cancel_at_period_end"]:
        _set_cancel_at_period_end(store, sub, True)
    return req.render("subscription", sub)


# ---------------------------------------------------------------------------------------------
# Cancel, list, items
# ---------------------------------------------------------------------------------------------


@route(
    "DELETE",
    "/v1/subscriptions/{id}",
    sp.SubscriptionCancelParams,
    implemented={
        "invoice_now",
        "prorate",
        "cancellation_details.comment",
        "cancellation_details.feedback",
    },
    returns="subscription",
)
def cancel_subscription(req: Request) -> Obj:
    store = req.store
    sub = store.get_or_404("subscription", req.path_args["id"])
    refresh(store, sub, req.now)
    if sub["status"] == "canceled":
        raise ApiError.invalid(
            f"This subscription has already been canceled ({sub['id']}).",
            param="id",
            validation=False,
        )
    details = unset(req.params.get("cancellation_details")) or {}
    for key in ("comment", "feedback"):
        if key in details:
            sub["cancellation_details"][key] = unset(details[key])
    cancel_now(store, sub, req.now)
    return req.render("subscription", sub)


@route(
    "GET",
    "/v1/subscriptions",
    sp.SubscriptionListParams,
    implemented={"customer", "price", "status", "collection_method", "created"},
    returns="list:subscription",
)
def list_subscriptions(req: Request) -> Obj:
    store = req.store
    p = req.params
    status = unset(p.get("status"))
    customer = unset(p.get("customer"))
    price = unset(p.get("price"))
    method = unset(p.get("collection_method"))
    created = created_filter(p.get("created"))

    def status_ok(s: str) -> bool:
        if status is None:
            return s != "canceled"
        if status == "all":
            return True
        if status == "ended":
            return s in ("canceled", "incomplete_expired")
        return bool(s == status)

    def where(o: Obj) -> bool:
        refresh(store, o, req.now)
        return (
            status_ok(o["status"])
            and (method is None or o["collection_method"] == method)
            and (created is None or created(o["created"]))
            and (price is None or any(it["price"] == price for it in _items_of(store, o["id"])))
        )

    index = ("customer", customer) if customer is not None else None
    return req.list_response("subscription", url="/v1/subscriptions", where=where, index=index)


@route(
    "GET",
    "/v1/subscription_items",
    sp.SubscriptionItemListParams,
    implemented={"subscription"},
    returns="list:subscription_item",
)
def list_subscription_items(req: Request) -> Obj:
    sub_id = req.params["subscription"]
    req.store.get_named("subscription", sub_id, param="subscription")
    return req.list_response(
        "subscription_item",
        url="/v1/subscription_items",
        index=("subscription", sub_id),
        ascending=True,
    )


@route(
    "GET",
    "/v1/subscription_items/{id}",
    sp.SubscriptionItemRetrieveParams,
    implemented=set(),
    returns="subscription_item",
)
def retrieve_subscription_item(req: Request) -> Obj:
    item = req.store.get_or_404("subscription_item", req.path_args["id"])
    return req.render("subscription_item", item)


def _top_param(i: int, field: str) -> str:
    return field


def _item_subscription(store: Store, item: Obj, now: int) -> Obj:
    sub = store.get_or_404("subscription", item["subscription"], param="subscription")
    refresh(store, sub, now)
    if sub["status"] in ("canceled", "incomplete_expired", "incomplete"):
        raise ApiError.invalid(
            f"The items of a subscription in status `{sub['status']}` cannot be changed.",
            param="subscription",
            validation=False,
        )
    return sub


_ITEM_WRITE = {"price", "quantity", "metadata", "proration_behavior", "payment_behavior"}


@route(
    "POST",
    "/v1/subscription_items",
    sp.SubscriptionItemCreateParams,
    implemented={*_ITEM_WRITE, "subscription"},
    returns="subscription_item",
)
def create_subscription_item(req: Request) -> Obj:
    p = req.params
    sub = _item_subscription(req.store, {"subscription": p["subscription"]}, req.now)
    spec: dict[str, Any] = {k: p[k] for k in ("price", "quantity", "metadata") if k in p}
    plan = _plan_items(req.store, sub, [spec], check=True, param=_top_param)
    (item,) = _apply_items(req.store, sub, plan, req.now)
    return req.render("subscription_item", item)


@route(
    "POST",
    "/v1/subscription_items/{id}",
    sp.SubscriptionItemUpdateParams,
    implemented=_ITEM_WRITE,
    returns="subscription_item",
)
def update_subscription_item(req: Request) -> Obj:
    item = req.store.get_or_404("subscription_item", req.path_args["id"])
    sub = _item_subscription(req.store, item, req.now)
    spec: dict[str, Any] = {"id": item["id"]}
    spec.update({k: req.params[k] for k in ("price", "quantity", "metadata") if k in req.params})
    plan = _plan_items(req.store, sub, [spec], check=True, param=_top_param)
    _apply_items(req.store, sub, plan, req.now)
    return req.render("subscription_item", item)


@route(
    "DELETE",
    "/v1/subscription_items/{id}",
    sp.SubscriptionItemDeleteParams,
    implemented={"proration_behavior", "payment_behavior", "clear_usage"},
    returns="raw",
)
def delete_subscription_item(req: Request) -> Obj:
    item = req.store.get_or_404("subscription_item", req.path_args["id"])
    sub = _item_subscription(req.store, item, req.now)
    plan = _plan_items(
        req.store, sub, [{"id": item["id"], "deleted": True}], check=True, param=_top_param
    )
    _apply_items(req.store, sub, plan, req.now)
    return {"id": item["id"], "object": "subscription_item", "deleted": True}
