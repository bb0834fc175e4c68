"""Charges: created by confirming a PaymentIntent (never directly); retrieve and list.

A charge's `amount_refunded` / `refunded` move with its refunds (refunds.py). `refunds` is
returned only when expanded, as Stripe does since API version 2022-11-15.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import stripe

from stripe_emulator.currencies import exponent
from stripe_emulator.errors import ApiError
from stripe_emulator.framework import (
    TYPES,
    Obj,
    ObjectType,
    Request,
    Store,
    list_page,
    random_token,
    register_type,
    route,
)
from stripe_emulator.resources.common import empty_billing_details

# Test cards (https://docs.stripe.com/testing#declined-payments): payment method token ->
# (brand, last4, decline (code, decline_code, message) or None). Messages are Stripe's, as seen
# in live answers: "Your card was declined." etc. (stripe-stateful-mock's live-verified parity
# tests, src/api/customers.ts), the velocity one from a live answer quoted in
# https://github.com/anthropics/claude-code/issues/68941. The docs list no decline code for
# expired_card / incorrect_cvc / processing_error; live answers repeat the error code there.
Decline = tuple[str, str, str]
_GENERIC = ("card_declined", "generic_decline", "Your card was declined.")
_INSUFFICIENT = ("card_declined", "insufficient_funds", "Your card has insufficient funds.")
_LOST = ("card_declined", "lost_card", "Your card was declined.")
_STOLEN = ("card_declined", "stolen_card", "Your card was declined.")
_EXPIRED = ("expired_card", "expired_card", "Your card has expired.")
_CVC = ("incorrect_cvc", "incorrect_cvc", "Your card's security code is incorrect.")
_PROCESSING = (
    "processing_error",
    "processing_error",
    "An error occurred while processing your card. Try again in a little bit.",
)
_FRAUD = ("card_declined", "fraudulent", "Your card was declined.")
_VELOCITY = (
    "card_declined",
    "card_velocity_exceeded",
    "Your card was declined for making repeated attempts too frequently or exceeding its "
    "amount limit.",
)

TEST_CARDS: dict[str, tuple[str, str, Decline | None]] = {
    "pm_card_visa": ("visa", "4242", None),
    "pm_card_visa_debit": ("visa", "5556", None),
    "pm_card_mastercard": ("mastercard", "4444", None),
    "pm_card_amex": ("amex", "8431", None),
    "pm_card_discover": ("discover", "1117", None),
    "pm_card_jcb": ("jcb", "0505", None),
    "pm_card_unionpay": ("unionpay", "0005", None),
    "pm_card_chargeDeclined": ("visa", "0002", _GENERIC),
    "pm_card_chargeDeclinedInsufficientFunds": ("visa", "9995", _INSUFFICIENT),
    "pm_card_chargeDeclinedLostCard": ("visa", "9987", _LOST),
    "pm_card_chargeDeclinedStolenCard": ("visa", "9979", _STOLEN),
    "pm_card_chargeDeclinedExpiredCard": ("visa", "0069", _EXPIRED),
    "pm_card_chargeDeclinedIncorrectCvc": ("visa", "0127", _CVC),
    "pm_card_chargeDeclinedProcessingError": ("visa", "0119", _PROCESSING),
    "pm_card_chargeDeclinedVelocityLimitExceeded": ("visa", "6975", _VELOCITY),
    # Not in the docs' PaymentMethod table (only as tok_visa_chargeDeclinedFraudulent, whose
    # row there says expired_card); kept with the `fraudulent` decline code of
    # https://docs.stripe.com/declines/codes.
    "pm_card_chargeDeclinedFraudulent": ("visa", "0019", _FRAUD),
    # "Attaching this card to a Customer object succeeds, but attempts to charge the customer
    # fail" (https://docs.stripe.com/testing#declined-payments).
    "pm_card_chargeCustomerFail": ("visa", "0341", _GENERIC),
    # "This card requires authentication on all transactions, regardless of how the card is set
    # up" (https://docs.stripe.com/testing#authentication-and-setup): confirming leaves the
    # intent in requires_action (see payment_intents.py), it never declines by itself.
    "pm_card_authenticationRequired": ("visa", "3184", None),
}
# The `pm_card_visa_chargeDeclined...` spellings (the docs' own) name the same cards.
for _name, _card in list(TEST_CARDS.items()):
    if _name.startswith("pm_card_chargeDeclined"):
        TEST_CARDS["pm_card_visa_" + _name[len("pm_card_") :]] = _card

# Tokens that need 3D Secure on every payment.
AUTHENTICATION_REQUIRED = frozenset({"pm_card_authenticationRequired"})

# "The cards in the previous table can't be attached to a Customer object"
# (https://docs.stripe.com/testing#declined-payments): every declining card but
# pm_card_chargeCustomerFail is refused at attach with its card error.
REFUSED_AT_ATTACH: dict[str, Decline] = {
    name: card[2]
    for name, card in TEST_CARDS.items()
    if card[2] is not None and name != "pm_card_chargeCustomerFail"
}

# The `param` of a card error: live Stripe names the card field at fault (`cvc` for an
# incorrect CVC, `exp_month` for an expired card) and answers `param: ""` for the other
# declines (stripe-stateful-mock's parity tests compare `raw.param` with live Stripe for
# tok_chargeDeclined, ...InsufficientFunds, ...IncorrectCvc, ...ExpiredCard).
CARD_ERROR_PARAM = {"incorrect_cvc": "cvc", "expired_card": "exp_month"}


def card_error_fields(decline: Decline) -> dict[str, Any]:
    """`param` and, for `card_declined` only, `decline_code` of a card error. Live answers
    for an expired card or an incorrect CVC carry no decline_code (the docs' table says n/a;
    stripe-stateful-mock compares `raw.decline_code` with live Stripe)."""
    code, decline_code, _message = decline
    fields: dict[str, Any] = {"param": CARD_ERROR_PARAM.get(code, "")}
    if code == "card_declined":
        fields["decline_code"] = decline_code
    return fields


def attach_refusal(token: str) -> ApiError | None:
    """The 402 Stripe answers when a declining test card is attached to a customer."""
    decline = REFUSED_AT_ATTACH.get(token)
    if decline is None:
        return None
    code, _decline_code, message = decline
    return ApiError(402, "card_error", message, code=code, extra=card_error_fields(decline))


# Declines by last4, for payment methods stored by the payment_methods resource.
DECLINES_BY_LAST4: dict[str, Decline] = {
    last4: decline for _b, last4, decline in TEST_CARDS.values() if decline is not None
}


def card_for(store: Store, pm_id: str) -> tuple[str, str, Decline | None] | None:
    """(brand, last4, decline) for a test token or a stored payment method; None if unknown."""
    if pm_id in TEST_CARDS:
        return TEST_CARDS[pm_id]
    if "payment_method" not in TYPES:
        return None
    pm = store.get("payment_method", pm_id)
    if pm is None or pm.get("deleted"):
        return None
    token = pm.get("_token") or pm.get("_test_token")
    if isinstance(token, str) and token in TEST_CARDS:
        return TEST_CARDS[token]
    card = pm.get("card") or {}
    brand = str(card.get("brand") or "visa")
    last4 = str(card.get("last4") or "4242")
    decline = DECLINES_BY_LAST4.get(last4)
    code = pm.get("_decline_code")
    if isinstance(code, str) and code:
        decline = next(
            (d for d in DECLINES_BY_LAST4.values() if d[1] == code),
            ("card_declined", code, "Your card was declined."),
        )
    return brand, last4, decline


SYMBOLS = {"usd": "$", "eur": "€", "gbp": "£", "jpy": "¥", "cny": "¥", "inr": "₹", "krw": "₩"}


def stripe_money(amount: int, currency: str) -> str:
    """Money as Stripe writes it in messages: `$0.50`, `¥50`, `15.00 czk`."""
    exp = exponent(currency)
    major = f"{Decimal(amount).scaleb(-exp):,.{exp}f}"
    sym = SYMBOLS.get(currency)
    return f"{sym}{major}" if sym else f"{major} {currency}"


def _compute(store: Store, obj: Obj) -> Obj:
    """`refunds` as a list object (rendered only when expanded)."""
    page = list_page(
        store,
        "refund",
        url=f"/v1/charges/{obj['id']}/refunds",
        limit=100,
        index=("charge", obj["id"]),
    )
    return {"refunds": page}


register_type(
    ObjectType(
        name="charge",
        collection="charges",
        id_prefix="ch",
        expandable={
            "customer": "customer",
            "payment_intent": "payment_intent",
        },
        includable=("refunds",),
        nested={"refunds": "list:refund"},
        index_on=("customer", "payment_intent"),
        stripe_class=stripe.Charge,
        compute=_compute,
    )
)


def new_charge(
    store: Store, pi: Obj, pm_id: str, brand: str, last4: str, decline: Decline | None, now: int
) -> Obj:
    """A charge for one confirmation attempt of a PaymentIntent: succeeded, or failed."""
    ok = decline is None
    failure_code, decline_code, failure_message = decline or (None, None, None)
    # Every field stripe.Charge.Outcome declares, but `rule` (set only when a Radar rule
    # acted on the charge).
    outcome: dict[str, Any] = {
        "advice_code": None,
        "network_advice_code": None,
        "network_decline_code": None,
        "network_status": "approved_by_network" if ok else "declined_by_network",
        "reason": None if ok else decline_code,
        "risk_level": "normal",
        "risk_score": 20,
        "seller_message": "Payment complete."
        if ok
        else "The bank did not return any further details with this decline.",
        "type": "authorized" if ok else "issuer_declined",
    }
    stored = store.get("payment_method", pm_id) if "payment_method" in TYPES else None
    pm_card = (stored or {}).get("card") or {}
    ch: Obj = {
        "id": store.new_id("charge"),
        "object": "charge",
        "amount": pi["amount"],
        "amount_captured": pi["amount"] if ok else 0,
        "amount_refunded": 0,
        "application": None,
        "application_fee": None,
        "application_fee_amount": None,
        "authorization_code": None,
        "balance_transaction": None,
        "billing_details": empty_billing_details(),
        "calculated_statement_descriptor": "BILLING-SYNC",
        "captured": ok,
        "created": now,
        "currency": pi["currency"],
        "customer": pi.get("customer"),
        "description": pi.get("description"),
        "disputed": False,
        "failure_balance_transaction": None,
        "failure_code": failure_code,
        "failure_message": failure_message,
        "fraud_details": {},
        "level3": None,
        "livemode": False,
        "metadata": {},
        "on_behalf_of": None,
        "outcome": outcome,
        "paid": ok,
        "payment_intent": pi["id"],
        "payment_method": pm_id,
        "payment_method_details": {
            "type": "card",
            # The fields stripe.Charge.PaymentMethodDetails.Card declares for an online card
            # payment; the ones for other flows (card-present `description`/`iin`/`issuer`,
            # `moto`, `capture_before`, credential usage, ...) are omitted, as Stripe does.
            "card": {
                "amount_authorized": pi["amount"] if ok else None,
                "authorization_code": None,
                "brand": brand,
                "checks": {
                    "address_line1_check": None,
                    "address_postal_code_check": None,
                    "cvc_check": None,
                },
                "country": "US",
                "exp_month": pm_card.get("exp_month", 12),
                "exp_year": pm_card.get("exp_year", 2034),
                "extended_authorization": {"status": "disabled"},
                "fingerprint": pm_card.get("fingerprint"),
                "funding": pm_card.get("funding", "credit"),
                "incremental_authorization": {"status": "unavailable"},
                "installments": None,
                "last4": last4,
                "mandate": None,
                "multicapture": {"status": "unavailable"},
                "network": brand,
                "network_token": {"used": False},
                "network_transaction_id": random_token(15) if ok else None,
                "overcapture": {
                    "maximum_amount_capturable": pi["amount"],
                    "status": "unavailable",
                },
                "regulated_status": "unregulated",
                "three_d_secure": None,
                "wallet": None,
            },
        },
        "presentment_details": None,
        "radar_options": None,
        "receipt_email": pi.get("receipt_email"),
        "receipt_number": None,
        "receipt_url": f"https://pay.stripe.com/receipts/emulator/{random_token(24)}"
        if ok
        else None,
        "refunded": False,
        "review": None,
        "shipping": None,
        "source": None,
        "source_transfer": None,
        "statement_descriptor": None,
        "statement_descriptor_suffix": None,
        "status": "succeeded" if ok else "failed",
        "transfer": None,
        "transfer_data": None,
        "transfer_group": None,
    }
    return store.insert("charge", ch)


@route(
    "GET",
    "/v1/charges/{charge}",
    stripe.params.ChargeRetrieveParams,
    implemented=set(),
    returns="charge",
)
def retrieve_charge(req: Request) -> Obj:
    ch = req.store.get_or_404("charge", req.path_args["charge"])
    return req.render("charge", ch)


@route(
    "GET",
    "/v1/charges",
    stripe.params.ChargeListParams,
    implemented={"customer", "payment_intent"},
    returns="list:charge",
)
def list_charges(req: Request) -> Obj:
    p = req.params
    if p.get("payment_intent"):
        cus = p.get("customer")
        return req.list_response(
            "charge",
            url="/v1/charges",
            index=("payment_intent", p["payment_intent"]),
            where=(lambda o: o.get("customer") == cus) if cus else None,
        )
    if p.get("customer"):
        return req.list_response("charge", url="/v1/charges", index=("customer", p["customer"]))
    return req.list_response("charge", url="/v1/charges")
