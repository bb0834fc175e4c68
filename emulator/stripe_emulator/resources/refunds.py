"""Refunds: create (by payment_intent or charge; full or partial, repeatable until the charge
is fully refunded), retrieve, update (metadata), list (charge, payment_intent).

Refunds succeed at once. Over-refunding answers Stripe's 400 on `amount`; refunding a fully
refunded charge answers `charge_already_refunded`; refunding an intent without a successful
charge is refused.
"""

from __future__ import annotations

import stripe

from stripe_emulator.errors import ApiError
from stripe_emulator.framework import (
    Obj,
    ObjectType,
    Request,
    apply_metadata,
    register_type,
    route,
    unset,
)
from stripe_emulator.resources.charges import stripe_money

REASONS = ("duplicate", "fraudulent", "requested_by_customer")

register_type(
    ObjectType(
        name="refund",
        collection="refunds",
        id_prefix="re",
        expandable={"charge": "charge", "payment_intent": "payment_intent"},
        index_on=("charge", "payment_intent"),
        stripe_class=stripe.Refund,
    )
)


def _missing_param(kind: str, oid: str, param: str) -> ApiError:
    return ApiError(
        400,
        "invalid_request_error",
        f"No such {kind}: '{oid}'",
        code="resource_missing",
        param=param,
        validation=True,
    )


def _charge_to_refund(req: Request) -> Obj:
    p = req.params
    pi_id = unset(p.get("payment_intent"))
    ch_id = unset(p.get("charge"))
    if pi_id and ch_id:
        raise ApiError.invalid(
            "You may only specify one of these parameters: charge, payment_intent.",
            param="payment_intent",
        )
    if not pi_id and not ch_id:
        raise ApiError.invalid(
            "One of the following params should be provided for this request: "
            "payment_intent or charge."
        )
    if pi_id:
        pi = req.store.get("payment_intent", pi_id)
        if pi is None:
            raise _missing_param("payment_intent", pi_id, "payment_intent")
        charge = req.store.get("charge", pi["latest_charge"]) if pi.get("latest_charge") else None
        if pi["status"] != "succeeded" or charge is None or charge["status"] != "succeeded":
            raise ApiError.invalid(
                f"This PaymentIntent ({pi_id}) does not have a successful charge to refund.",
                param="payment_intent",
            )
        return charge
    assert ch_id is not None
    charge = req.store.get("charge", ch_id)
    if charge is None:
        # Live Stripe answers an unknown charge with 404 resource_missing, `param: id`
        # (stripe-stateful-mock's parity test "can't refund a non-existent charge" compares
        # status, code and param with live Stripe; its src/api/refunds.ts).
        raise ApiError.missing("charge", ch_id, param="id")
    if charge["status"] != "succeeded":
        raise ApiError.invalid(
            f"Charge {ch_id} cannot be refunded because it has a status of {charge['status']}.",
            param="charge",
        )
    return charge


@route(
    "POST",
    "/v1/refunds",
    stripe.params.RefundCreateParams,
    implemented={"payment_intent", "charge", "amount", "reason", "metadata"},
    returns="refund",
)
def create_refund(req: Request) -> Obj:
    p = req.params
    reason = unset(p.get("reason"))
    if reason is not None and reason not in REASONS:
        raise ApiError.invalid(
            "Invalid reason: must be one of duplicate, fraudulent, or requested_by_customer",
            param="reason",
        )
    charge = _charge_to_refund(req)
    cur = charge["currency"]
    left = charge["amount"] - charge["amount_refunded"]
    if left <= 0:
        raise ApiError.conflict(
            f"Charge {charge['id']} has already been refunded.", code="charge_already_refunded"
        )
    amount = p.get("amount")
    if amount is None:
        amount = left
    elif amount < 1:
        raise ApiError.invalid("This value must be greater than or equal to 1.", param="amount")
    elif amount > left:
        against = (
            f"unrefunded amount on charge ({stripe_money(left, cur)})"
            if charge["amount_refunded"]
            else f"charge amount ({stripe_money(charge['amount'], cur)})"
        )
        raise ApiError.invalid(
            f"Refund amount ({stripe_money(amount, cur)}) is greater than {against}",
            param="amount",
            code="amount_too_large",
        )
    refund: Obj = {
        "id": req.store.new_id("refund"),
        "object": "refund",
        "amount": amount,
        "balance_transaction": None,
        "charge": charge["id"],
        "created": req.now,
        "currency": cur,
        "customer": charge.get("customer"),
        "customer_account": None,
        "description": None,
        "destination_details": None,
        "failure_balance_transaction": None,
        "failure_reason": None,
        "instructions_email": None,
        "metadata": apply_metadata({}, p.get("metadata")),
        "next_action": None,
        "payment_intent": charge.get("payment_intent"),
        "payment_method": charge.get("payment_method"),
        "pending_reason": None,
        "presentment_details": None,
        "reason": reason,
        "receipt_number": None,
        "source_transfer_reversal": None,
        "status": "succeeded",
        "transfer_reversal": None,
    }
    req.store.insert("refund", refund)
    charge["amount_refunded"] += amount
    charge["refunded"] = charge["amount_refunded"] >= charge["amount"]
    return req.render("refund", refund)


@route(
    "GET",
    "/v1/refunds/{refund}",
    stripe.params.RefundRetrieveParams,
    implemented=set(),
    returns="refund",
)
def retrieve_refund(req: Request) -> Obj:
    return req.render("refund", req.store.get_or_404("refund", req.path_args["refund"]))


@route(
    "POST",
    "/v1/refunds/{refund}",
    stripe.params.RefundUpdateParams,
    implemented={"metadata"},
    returns="refund",
)
def update_refund(req: Request) -> Obj:
    refund = req.store.get_or_404("refund", req.path_args["refund"])
    refund["metadata"] = apply_metadata(refund.get("metadata"), req.params.get("metadata"))
    return req.render("refund", refund)


@route(
    "GET",
    "/v1/refunds",
    stripe.params.RefundListParams,
    implemented={"charge", "payment_intent"},
    returns="list:refund",
)
def list_refunds(req: Request) -> Obj:
    ch = unset(req.params.get("charge"))
    pi = unset(req.params.get("payment_intent"))
    if ch:
        return req.list_response(
            "refund",
            url="/v1/refunds",
            index=("charge", ch),
            where=(lambda o: o.get("payment_intent") == pi) if pi else None,
        )
    if pi:
        return req.list_response("refund", url="/v1/refunds", index=("payment_intent", pi))
    return req.list_response("refund", url="/v1/refunds")
