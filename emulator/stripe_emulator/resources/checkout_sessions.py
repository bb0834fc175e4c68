"""Checkout Sessions (hosted page, `payment` and `subscription` mode): create, retrieve, list,
expire, list line items; and the test controls that stand in for the paying customer.

Rules from https://docs.stripe.com/api/checkout/sessions and the `stripe.params.checkout`
types (sources per rule in BEHAVIOUR.md). A session is `open` until it is completed (by the
control `POST /_emulator/checkout_sessions/{id}/complete`, which does what Checkout does when
a customer pays), expired (`/expire`, or `expires_at` passing, applied lazily on read), and
its `url` exists only while it is open. No webhooks, invoices or tax are modelled.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import stripe
import stripe.params.checkout as spc

from stripe_emulator.currencies import MINIMUM_CHARGE
from stripe_emulator.errors import ApiError
from stripe_emulator.framework import (
    Obj,
    ObjectType,
    Request,
    Store,
    apply_metadata,
    control,
    match_route,
    register_type,
    render,
    route,
    unset,
)
from stripe_emulator.resources.amounts import line_amount
from stripe_emulator.resources.charges import AUTHENTICATION_REQUIRED, card_for, stripe_money
from stripe_emulator.resources.common import created_filter, non_negative
from stripe_emulator.resources.subscriptions import add_interval, refresh

# `expires_at`: "anywhere from 30 minutes to 24 hours after Checkout Session creation. By
# default, this value is 24 hours from creation." (stripe.params SessionCreateParams)
DEFAULT_LIFETIME = 24 * 3600
MIN_LIFETIME = 30 * 60
# line_items: at most 100 in payment mode; 20 recurring (+ 20 one-time) in subscription mode.
MAX_PAYMENT_ITEMS = 100
MAX_RECURRING_ITEMS = 20
CHECKOUT_HOST = "https://checkout.stripe.com/c/pay/"


def _line_items_url(session_id: str) -> str:
    return f"/v1/checkout/sessions/{session_id}/line_items"


def _compute_line_item(store: Store, obj: Obj) -> Obj:
    """A line item embeds its whole price (stripe.LineItem.price is a Price, not an id)."""
    price = store.get("price", obj["price"]) if isinstance(obj["price"], str) else None
    return {"price": price if price is not None else obj["price"]}


register_type(
    ObjectType(
        name="item",
        collection="checkout_line_items",  # never stored: embedded in their session
        id_prefix="li",
        nested={"price": "price"},
        stripe_class=stripe.LineItem,
        compute=_compute_line_item,
    )
)
register_type(
    ObjectType(
        name="checkout.session",
        collection="checkout_sessions",
        id_prefix="cs_test",
        id_length=58,
        expandable={
            "customer": "customer",
            "payment_intent": "payment_intent",
            "subscription": "subscription",
        },
        # `line_items` is returned only when expanded (`expand[]=line_items`).
        includable=("line_items",),
        nested={"line_items": "list:item"},
        stripe_class=stripe.checkout.Session,
    )
)


# ---------------------------------------------------------------------------------------------
# Validation
# ---------------------------------------------------------------------------------------------


def _url(value: Any, param: str) -> str:
    """An absolute http(s) URL; Stripe answers "Not a valid URL" otherwise."""
    text = str(value)
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.netloc or " " in text:
        raise ApiError.invalid("Not a valid URL", param=param, code="url_invalid")
    return text


def _is_metered(price: Obj) -> bool:
    return (price.get("recurring") or {}).get("usage_type") == "metered"


def _line_items(store: Store, items: list[dict[str, Any]]) -> list[tuple[Obj, int | None]]:
    """(price, quantity) per line item; the quantity is None for a metered price."""
    out: list[tuple[Obj, int | None]] = []
    for i, item in enumerate(items):
        where = f"line_items[{i}]"
        if unset(item.get("price")) is None:
            raise ApiError.invalid(
                f"Missing required param: {where}[price].",
                param=f"{where}[price]",
                code="parameter_missing",
            )
        price = store.get("price", item["price"]) if isinstance(item["price"], str) else None
        if price is None:
            raise ApiError.missing_param("price", str(item["price"]), param=f"{where}[price]")
        if not price["active"]:
            raise ApiError.invalid(
                "The price specified is inactive. This field only accepts active prices.",
                param=f"{where}[price]",
                validation=False,
            )
        if _is_metered(price):
            # A metered price bills its meter's usage at the end of each period: "Quantity
            # should not be defined when `recurring.usage_type=metered`"
            # (SessionCreateParamsLineItem.quantity); the live answer is quoted in
            # invertase/stripe-firebase-extensions#134 and better-auth/better-auth#8920.
            if unset(item.get("quantity")) is not None:
                raise ApiError.invalid(
                    "Quantity should not be specified where usage_type is `metered`. Remove "
                    f"quantity from `{where}`",
                    param=f"{where}[quantity]",
                )
            out.append((price, None))
            continue
        if unset(item.get("quantity")) is None:
            # Live answer quoted in stripe/stripe-java#1584 (a Stripe engineer replying).
            raise ApiError.invalid(
                f"Quantity is required. Add `quantity` to `{where}`",
                param=f"{where}[quantity]",
                code="parameter_missing",
            )
        quantity = non_negative(item["quantity"], f"{where}[quantity]")
        if quantity < 1:
            raise ApiError.invalid(
                "This value must be greater than or equal to 1.", param=f"{where}[quantity]"
            )
        if price.get("custom_unit_amount") and quantity != 1:
            # The customer chooses one amount; Stripe's quantity rule for such prices is not
            # documented in what we found (unconfirmed): the emulator takes only 1.
            raise ApiError.invalid(
                "A price with `custom_unit_amount` can only be bought with quantity 1.",
                param=f"{where}[quantity]",
            )
        out.append((price, quantity))
    return out


def _check_custom_amount(mode: str, items: list[tuple[Obj, int | None]]) -> None:
    """A price whose customer chooses the amount ("Customer chooses price") is sold alone, in
    payment mode: "Customer choose prices currently doesn't support recurring payments" and a
    link "can contain ... 1 line item when using Customer chooses price"
    (https://stripe.com/docs/payment-links/api); Checkout's pay-what-you-want "doesn't support
    subscription mode" (https://github.com/Vandivier/ladderly-3/issues/72, quoting
    https://stripe.com/docs/payments/checkout/pay-what-you-want). Wordings are ours."""
    for i, (price, _) in enumerate(items):
        if not price.get("custom_unit_amount"):
            continue
        if mode != "payment":
            raise ApiError.invalid(
                "Prices with `custom_unit_amount` can only be used in `payment` mode.",
                param=f"line_items[{i}][price]",
            )
        if len(items) > 1:
            raise ApiError.invalid(
                "A Checkout Session with a `custom_unit_amount` price can have only that one "
                "line item.",
                param="line_items",
            )


def _check_mode(mode: str, items: list[tuple[Obj, int | None]]) -> None:
    recurring = [p for p, _ in items if p["type"] == "recurring"]
    if mode == "payment" and recurring:
        index = next(i for i, (p, _) in enumerate(items) if p["type"] == "recurring")
        # Live answer quoted in https://github.com/dayhaysoos/use-shopping-cart/issues/224.
        raise ApiError.invalid(
            "You specified `payment` mode but passed a recurring price. Either switch to "
            "`subscription` mode or use only one-time prices.",
            param=f"line_items[{index}]",
        )
    if mode == "subscription" and not recurring:
        # Live answer quoted in https://github.com/invertase/stripe-firebase-extensions/issues/98.
        raise ApiError.invalid(
            "You must provide at least one recurring price in `subscription` mode when using "
            "prices.",
            param="line_items",
        )
    limit = MAX_PAYMENT_ITEMS if mode == "payment" else MAX_RECURRING_ITEMS
    if len(recurring if mode == "subscription" else items) > limit:
        raise ApiError.invalid(
            f"A Checkout Session in `{mode}` mode can have at most {limit} "
            + ("recurring " if mode == "subscription" else "")
            + "line items.",
            param="line_items",
        )
    currencies = {p["currency"] for p, _ in items}
    if len(currencies) > 1:
        raise ApiError.invalid(
            "All line items of a Checkout Session must use the same currency "
            f"(got {', '.join(sorted(currencies))}).",
            param="line_items",
        )
    seen: set[str] = set()
    for i, (price, _) in enumerate(items):
        if mode == "subscription" and price["type"] == "recurring" and price["id"] in seen:
            raise ApiError.invalid(
                f"Cannot add multiple subscription items with the same price: {price['id']}.",
                param=f"line_items[{i}][price]",
            )
        seen.add(price["id"])


def _starting_custom_amount(price: Obj) -> int:
    """What a custom-amount line shows before the customer chooses: the `preset` ("The starting
    unit amount which can be updated by the customer", stripe.Price), else the minimum, else 0
    (the fallbacks are the emulator's choice: unconfirmed)."""
    custom = price["custom_unit_amount"]
    for key in ("preset", "minimum"):
        if custom.get(key) is not None:
            return int(custom[key])
    return 0


def _amount(price: Obj, quantity: int | None) -> int:
    """What a line item costs at checkout: nothing up front for a metered price (its usage is
    billed at the end of the period), the starting amount of a custom amount."""
    if quantity is None:
        return 0
    if price.get("custom_unit_amount"):
        return _starting_custom_amount(price) * quantity
    return line_amount(price, quantity)


def _line_item(store: Store, session_id: str, n: int, price: Obj, quantity: int | None) -> Obj:
    amount = _amount(price, quantity)
    product = store.get("product", price["product"]) or {}
    return {
        "id": f"li_{session_id[8:22]}{n:04d}",
        "object": "item",
        "adjustable_quantity": None,
        "amount_discount": 0,
        "amount_subtotal": amount,
        "amount_tax": 0,
        "amount_total": amount,
        "currency": price["currency"],
        "description": product.get("name"),
        "discounts": [],
        "metadata": {},
        "price": price["id"],
        "quantity": quantity,
        "taxes": [],
    }


def _expire_if_due(session: Obj, now: int) -> None:
    if session["status"] == "open" and now >= session["expires_at"]:
        session["status"] = "expired"
        session["url"] = None


# ---------------------------------------------------------------------------------------------
# Endpoints
# ---------------------------------------------------------------------------------------------

_CREATE = {
    "mode",
    "line_items.price",
    "line_items.quantity",
    "success_url",
    "cancel_url",
    "customer",
    "customer_email",
    "customer_creation",
    "client_reference_id",
    "metadata",
    "expires_at",
    "ui_mode",
    "subscription_data.trial_period_days",
    "subscription_data.metadata",
    "subscription_data.description",
    "payment_intent_data.metadata",
    "payment_intent_data.description",
}


@route(
    "POST",
    "/v1/checkout/sessions",
    spc.SessionCreateParams,
    implemented=_CREATE,
    returns="checkout.session",
)
def create_session(req: Request) -> Obj:
    store, p, now = req.store, req.params, req.now
    ui_mode = unset(p.get("ui_mode")) or "hosted_page"
    if ui_mode != "hosted_page":
        raise ApiError.invalid(
            f"ui_mode={ui_mode} is not supported by the billing-sync emulator (hosted_page only)",
            param="ui_mode",
            code="parameter_unsupported",
        )
    mode = unset(p.get("mode"))
    if mode is None:
        raise ApiError.invalid(
            "Missing required param: mode.", param="mode", code="parameter_missing"
        )
    if mode not in ("payment", "subscription", "setup"):
        raise ApiError.invalid(
            f"Invalid mode: must be one of payment, setup, or subscription (got {mode})",
            param="mode",
        )
    if mode == "setup":
        raise ApiError.invalid(
            "mode=setup is not supported by the billing-sync emulator",
            param="mode",
            code="parameter_unsupported",
        )
    # Hosted Checkout needs success_url (Stripe staff: "the `success_url` is required today for
    # creating a normal Checkout Session", https://github.com/stripe/stripe-node/issues/1944).
    if unset(p.get("success_url")) is None:
        raise ApiError.invalid(
            "Missing required param: success_url.",
            param="success_url",
            code="parameter_missing",
        )
    success_url = _url(p["success_url"], "success_url")
    cancel_url = _url(p["cancel_url"], "cancel_url") if unset(p.get("cancel_url")) else None
    raw_items = unset(p.get("line_items")) or []
    if not raw_items:
        raise ApiError.invalid(
            "Missing required param: line_items.", param="line_items", code="parameter_missing"
        )
    items = _line_items(store, raw_items)
    _check_mode(mode, items)
    _check_custom_amount(mode, items)
    if "subscription_data" in p and mode != "subscription":
        raise ApiError.invalid(
            "You can only specify `subscription_data` in `subscription` mode.",
            param="subscription_data",
        )
    if "payment_intent_data" in p and mode != "payment":
        raise ApiError.invalid(
            "You can only specify `payment_intent_data` in `payment` mode.",
            param="payment_intent_data",
        )
    creation = unset(p.get("customer_creation"))
    if creation is not None and mode != "payment":
        # "Can only be set in `payment` and `setup` mode." (SessionCreateParams.customer_creation)
        raise ApiError.invalid(
            "customer_creation can only be set in `payment` or `setup` mode.",
            param="customer_creation",
        )
    customer_id = unset(p.get("customer"))
    if customer_id is not None and unset(p.get("customer_email")) is not None:
        raise ApiError.invalid(
            "You may only specify one of these parameters: customer, customer_email.",
            param="customer_email",
        )
    if customer_id is not None:
        store.get_named("customer", customer_id, param="customer")
    sub_data = unset(p.get("subscription_data")) or {}
    trial_days = unset(sub_data.get("trial_period_days"))
    if trial_days is not None and not (isinstance(trial_days, int) and 1 <= trial_days <= 730):
        raise ApiError.invalid(
            "trial_period_days must be between 1 and 730.",
            param="subscription_data[trial_period_days]",
        )
    expires_at = unset(p.get("expires_at"))
    if expires_at is None:
        expires_at = now + DEFAULT_LIFETIME
    elif not now + MIN_LIFETIME <= expires_at <= now + DEFAULT_LIFETIME:
        raise ApiError.invalid(
            "The `expires_at` timestamp must be between 30 minutes and 24 hours after the "
            "Checkout Session is created.",
            param="expires_at",
        )
    currency = str(items[0][0]["currency"])
    # What the customer pays now: every one-time item, and the recurring items unless a trial
    # defers them (one-time items in subscription mode go on the first invoice only).
    total = sum(
        _amount(price, qty) for price, qty in items if price["type"] == "one_time" or not trial_days
    )
    minimum = MINIMUM_CHARGE.get(currency)
    custom = any(price.get("custom_unit_amount") for price, _ in items)
    # A custom amount is checked when the customer chooses it (the control `complete`).
    if mode == "payment" and not custom and minimum is not None and total < minimum:
        # Wording unconfirmed; the minimum charge per currency is from
        # https://docs.stripe.com/currencies#minimum-and-maximum-charge-amounts.
        raise ApiError.invalid(
            "The Checkout Session's total amount due must add up to at least "
            f"{stripe_money(minimum, currency)} {currency}",
            param="line_items",
        )
    metadata = apply_metadata({}, p.get("metadata"))
    apply_metadata({}, sub_data.get("metadata"))  # validated now, used at completion
    session_id = store.new_id("checkout.session")
    session: Obj = {
        "id": session_id,
        "object": "checkout.session",
        "adaptive_pricing": None,
        "after_expiration": None,
        "allow_promotion_codes": None,
        "allowed_payment_method_types": None,
        "amount_subtotal": total,
        "amount_total": total,
        "automatic_tax": {"enabled": False, "liability": None, "provider": None, "status": None},
        "billing_address_collection": None,
        "branding_settings": None,
        "cancel_url": cancel_url,
        "client_reference_id": unset(p.get("client_reference_id")),
        "client_secret": None,
        "collected_information": None,
        "consent": None,
        "consent_collection": None,
        "created": now,
        "currency": currency,
        "currency_conversion": None,
        "custom_fields": [],
        "custom_text": {
            "after_submit": None,
            "shipping_address": None,
            "submit": None,
            "terms_of_service_acceptance": None,
        },
        "customer": customer_id,
        "customer_account": None,
        "customer_creation": (creation or "if_required") if mode == "payment" else None,
        "customer_details": None,
        "customer_email": unset(p.get("customer_email")),
        "discounts": [],
        "excluded_payment_method_types": None,
        "expires_at": expires_at,
        "integration_identifier": None,
        "invoice": None,
        "invoice_creation": None,
        "livemode": False,
        "locale": None,
        "managed_payments": None,
        "metadata": metadata,
        "mode": mode,
        "name_collection": None,
        "optional_items": None,
        "origin_context": None,
        "payment_intent": None,
        "payment_link": None,
        "payment_method_collection": "always" if mode == "subscription" else None,
        "payment_method_configuration_details": None,
        "payment_method_options": {},
        "payment_method_types": ["card"],
        "payment_status": "unpaid",
        "permissions": None,
        "phone_number_collection": {"enabled": False},
        "presentment_details": None,
        "recovered_from": None,
        "redirect_on_completion": None,
        "return_url": None,
        "saved_payment_method_options": None,
        "setup_intent": None,
        "shipping_address_collection": None,
        "shipping_cost": None,
        "shipping_options": [],
        "status": "open",
        "submit_type": None,
        "subscription": None,
        "success_url": success_url,
        "tax_id_collection": None,
        "total_details": {"amount_discount": 0, "amount_shipping": 0, "amount_tax": 0},
        "ui_mode": "hosted_page",
        "url": f"{CHECKOUT_HOST}{session_id}",
        "wallet_options": None,
        "line_items": {
            "object": "list",
            "data": [
                _line_item(store, session_id, n, price, qty) for n, (price, qty) in enumerate(items)
            ],
            "has_more": False,
            "url": _line_items_url(session_id),
        },
        # Kept for completion; never rendered.
        "_subscription_data": {
            "trial_period_days": trial_days,
            "metadata": sub_data.get("metadata"),
            "description": unset(sub_data.get("description")),
        },
        "_payment_intent_data": unset(p.get("payment_intent_data")) or {},
    }
    store.insert("checkout.session", session)
    return req.render("checkout.session", session)


@route(
    "GET",
    "/v1/checkout/sessions/{id}",
    spc.SessionRetrieveParams,
    implemented=set(),
    returns="checkout.session",
)
def retrieve_session(req: Request) -> Obj:
    session = req.store.get_or_404("checkout.session", req.path_args["id"], kind="checkout.session")
    _expire_if_due(session, req.now)
    return req.render("checkout.session", session)


@route(
    "GET",
    "/v1/checkout/sessions/{id}/line_items",
    spc.SessionListLineItemsParams,
    implemented=set(),
    returns="list:item",
)
def list_session_line_items(req: Request) -> Obj:
    session = req.store.get_or_404("checkout.session", req.path_args["id"], kind="checkout.session")
    items = session["line_items"]["data"]
    limit = req.params.get("limit") or 10
    if not isinstance(limit, int) or not 1 <= limit <= 100:
        raise ApiError.invalid("Invalid limit: must be between 1 and 100", param="limit")
    after = unset(req.params.get("starting_after"))
    start = 0
    if after is not None:
        ids = [i["id"] for i in items]
        if after not in ids:
            raise ApiError.missing_param("line item", str(after), param="starting_after")
        start = ids.index(after) + 1
    page = {
        "object": "list",
        "data": items[start : start + limit],
        "has_more": start + limit < len(items),
        "url": _line_items_url(session["id"]),
    }
    return req.render("list:item", page)


@route(
    "GET",
    "/v1/checkout/sessions",
    spc.SessionListParams,
    implemented={"customer", "payment_intent", "subscription", "status", "created"},
    returns="list:checkout.session",
)
def list_sessions(req: Request) -> Obj:
    p = req.params
    status = unset(p.get("status"))
    if status is not None and status not in ("open", "complete", "expired"):
        raise ApiError.invalid(
            f"Invalid status: must be one of complete, expired, or open (got {status})",
            param="status",
        )
    wanted = {k: unset(p.get(k)) for k in ("customer", "payment_intent", "subscription")}
    created = created_filter(p.get("created"))

    def where(o: Obj) -> bool:
        _expire_if_due(o, req.now)
        return (
            (status is None or o["status"] == status)
            and all(v is None or o[k] == v for k, v in wanted.items())
            and (created is None or created(o["created"]))
        )

    return req.list_response("checkout.session", url="/v1/checkout/sessions", where=where)


@route(
    "POST",
    "/v1/checkout/sessions/{id}/expire",
    spc.SessionExpireParams,
    implemented=set(),
    returns="checkout.session",
)
def expire_session(req: Request) -> Obj:
    session = req.store.get_or_404("checkout.session", req.path_args["id"], kind="checkout.session")
    _expire_if_due(session, req.now)
    # "A Checkout Session can be expired when it is in one of these statuses: open" and
    # "Returns an error if the Checkout Session has already expired or isn't in an expireable
    # state" (https://docs.stripe.com/api/checkout/sessions/expire); the wording is ours.
    if session["status"] != "open":
        raise ApiError.invalid(
            f"This Checkout Session is {session['status']}: only an open Checkout Session can "
            "be expired.",
            param="session",
            validation=False,
        )
    session["status"] = "expired"
    session["url"] = None
    return req.render("checkout.session", session)


# ---------------------------------------------------------------------------------------------
# Test controls: the customer pays; a renewal fails
# ---------------------------------------------------------------------------------------------


def _internal(store: Store, method: str, path: str, params: dict[str, Any], now: int) -> Obj:
    """Run one of the emulator's own Stripe endpoints for a control (as Checkout would call
    Stripe's), with parameters already typed; its validation and errors apply."""
    found = match_route(method, path)
    assert found is not None, path
    handler_route, args = found
    req = Request(store, method, path, args, params, "", handler_route, now)
    result: Obj = handler_route.handler(req)
    return result


def _refuse_card(store: Store, token: str) -> None:
    """The card a paying customer uses must pay: a declining card, or one that needs 3D Secure,
    leaves the session open (the customer would see the decline on the Checkout page)."""
    card = card_for(store, token)
    if card is None:
        raise ApiError.missing("PaymentMethod", token, param="payment_method")
    decline = card[2]
    if decline is not None:
        code, decline_code, message = decline
        raise ApiError(402, "card_error", message, code=code, extra={"decline_code": decline_code})
    if token in AUTHENTICATION_REQUIRED:
        raise ApiError.invalid(
            "cards that need 3D Secure cannot complete a session through this control",
            param="payment_method",
        )


def _choose_custom_amount(store: Store, session: Obj, amount: Any) -> None:
    """The amount a paying customer enters for a custom-amount price (`amount`, default the
    preset): within the price's `minimum` and `maximum`, and at least Stripe's minimum charge
    ("Must be at least the minimum charge amount", stripe.Price.CustomUnitAmount.minimum)."""
    lines = session["line_items"]["data"]
    price = store.get("price", lines[0]["price"]) or {}
    custom = price.get("custom_unit_amount")
    if not custom:
        if amount is not None:
            raise ApiError.invalid(
                "amount applies only to a session whose price has a custom_unit_amount",
                param="amount",
            )
        return
    if amount is None:
        amount = custom.get("preset")
    if amount is None:
        raise ApiError.invalid(
            f"amount is required: the customer chooses what to pay for {price['id']} (no preset)",
            param="amount",
        )
    if not isinstance(amount, int) or isinstance(amount, bool) or amount < 0:
        raise ApiError.invalid("amount must be a non-negative integer", param="amount")
    currency = str(session["currency"])
    low = custom.get("minimum")
    high = custom.get("maximum")
    floor = MINIMUM_CHARGE.get(currency)
    if (low is not None and amount < low) or (high is not None and amount > high):
        raise ApiError.invalid(
            f"amount {amount} is outside what {price['id']} allows (minimum {low}, maximum {high})",
            param="amount",
        )
    if floor is not None and amount < floor:
        raise ApiError.invalid(
            f"amount {amount} is below the minimum charge of {stripe_money(floor, currency)} "
            f"{currency}",
            param="amount",
        )
    total = amount * int(lines[0]["quantity"])
    lines[0].update(amount_subtotal=total, amount_total=total)
    session.update(amount_subtotal=total, amount_total=total)


@control("POST", "checkout_sessions/{id}/complete")
def complete_session(store: Store, args: dict[str, str], body: dict[str, Any], now: int) -> Obj:
    """Complete an open session as its customer would: pay with `payment_method` (a test card,
    default `pm_card_visa`); subscription mode creates the customer when the session has none
    (with `email`, else the session's customer_email), attaches the card and creates the
    subscription (`trialing` with subscription_data.trial_period_days, else `active`); payment
    mode creates and confirms the PaymentIntent (`succeeded`), for the `amount` the customer
    chooses when the price has a custom_unit_amount (default its preset)."""
    session = store.get_or_404("checkout.session", args["id"], kind="checkout.session")
    _expire_if_due(session, now)
    if session["status"] != "open":
        raise ApiError.invalid(
            f"This Checkout Session is {session['status']}: it can no longer be completed.",
            param="id",
        )
    token = str(body.get("payment_method") or "pm_card_visa")
    _refuse_card(store, token)
    _choose_custom_amount(store, session, body.get("amount"))
    email = body.get("email") or session["customer_email"]
    customer_id = session["customer"]
    items = session["line_items"]["data"]
    needs_customer = session["mode"] == "subscription" or session["customer_creation"] == "always"
    if customer_id is None and needs_customer:
        params: dict[str, Any] = {"email": email} if email else {}
        customer_id = _internal(store, "POST", "/v1/customers", params, now)["id"]
    customer = store.get("customer", customer_id) if customer_id else None
    if session["mode"] == "subscription":
        assert customer_id is not None
        pm = _internal(
            store, "POST", f"/v1/payment_methods/{token}/attach", {"customer": customer_id}, now
        )
        data = session["_subscription_data"]
        sub_params: dict[str, Any] = {
            "customer": customer_id,
            # A metered item has no quantity (the subscription refuses one).
            "items": [
                {"price": i["price"]}
                | ({"quantity": i["quantity"]} if i["quantity"] is not None else {})
                for i in items
                if (store.get("price", i["price"]) or {}).get("type") == "recurring"
            ],
            "default_payment_method": pm["id"],
            "payment_behavior": "error_if_incomplete",
        }
        if data.get("trial_period_days"):
            sub_params["trial_period_days"] = data["trial_period_days"]
        if data.get("metadata"):
            sub_params["metadata"] = data["metadata"]
        if data.get("description"):
            sub_params["description"] = data["description"]
        sub = _internal(store, "POST", "/v1/subscriptions", sub_params, now)
        session["subscription"] = sub["id"]
        # Nothing due now (a trial, or only metered items billed at the period's end).
        nothing_due = sub["status"] == "trialing" or not session["amount_total"]
        session["payment_status"] = "no_payment_required" if nothing_due else "paid"
    else:
        pi_data = session["_payment_intent_data"]
        pi_params: dict[str, Any] = {
            "amount": session["amount_total"],
            "currency": session["currency"],
            "payment_method": token,
            "confirm": True,
            "automatic_payment_methods": {"enabled": True, "allow_redirects": "never"},
        }
        if customer_id:
            pi_params["customer"] = customer_id
        if pi_data.get("metadata"):
            pi_params["metadata"] = pi_data["metadata"]
        if pi_data.get("description"):
            pi_params["description"] = pi_data["description"]
        pi = _internal(store, "POST", "/v1/payment_intents", pi_params, now)
        session["payment_intent"] = pi["id"]
        session["payment_status"] = "paid"
    session["customer"] = customer_id
    session["customer_details"] = {
        "address": None,
        "business_name": None,
        "email": (customer or {}).get("email") or email,
        "individual_name": None,
        "name": (customer or {}).get("name"),
        "phone": None,
        "tax_exempt": "none",
        "tax_ids": [],
    }
    session["status"] = "complete"
    session["url"] = None
    return render(store, "checkout.session", session)


FAILED_RENEWAL = ("past_due", "unpaid")


@control("POST", "subscriptions/{id}/fail_renewal")
def fail_renewal(store: Store, args: dict[str, str], body: dict[str, Any], now: int) -> Obj:
    """A renewal whose payment failed: an `active` or `trialing` subscription renews now (its
    items' new period starts now) and becomes `past_due` (the default; Stripe retries the
    invoice), or `unpaid` (the retries ran out and the account's settings leave it unpaid); a
    `past_due` one can become `unpaid` (same period).
    https://docs.stripe.com/billing/subscriptions/overview#subscription-statuses"""
    sub = store.get_or_404("subscription", args["id"])
    refresh(store, sub, now)
    status = body.get("status") or "past_due"
    if status not in FAILED_RENEWAL:
        raise ApiError.invalid(
            f"status must be one of {', '.join(FAILED_RENEWAL)} (got {status})", param="status"
        )
    allowed = ("active", "trialing") if status == "past_due" else ("active", "trialing", "past_due")
    if sub["status"] not in allowed:
        raise ApiError.invalid(
            f"subscription {sub['id']} is {sub['status']}: a failed renewal makes only "
            f"{' or '.join(allowed)} subscriptions {status}",
            param="status",
        )
    if sub["status"] in ("active", "trialing"):
        # The renewal is taken to happen now: a new period starts (Stripe moves the period on
        # and invoices it at renewal, paid or not) and its payment fails. A trial ends now.
        if sub["status"] == "trialing":
            sub["trial_end"] = now
        for item in store.coll("subscription_item").iter_asc(("subscription", sub["id"]), -1):
            price = store.get("price", item["price"]) or {}
            rec = price.get("recurring") or {"interval": "month", "interval_count": 1}
            item["current_period_start"] = now
            item["current_period_end"] = add_interval(now, rec["interval"], rec["interval_count"])
    sub["status"] = status
    return render(store, "subscription", sub)
