"""Discounts: a coupon or promotion code redeemed on a subscription (no endpoints of their own).

Rules from Stripe's API reference (docs.stripe.com/api/discounts, /api/subscriptions/update):
`discounts` on a subscription is the whole list after the request: `{coupon}` and
`{promotion_code}` redeem new discounts, `{discount}` keeps one the subscription already has
(with its start and end), an entry left out removes it, and `""` removes them all. In this API
version a discount names its coupon under `source` (`{type: coupon, coupon}`) and, when it
came from a code, `promotion_code`. A `repeating` coupon's discount ends `duration_in_months`
after it started; `once` and `forever` discounts have no end. Redeeming counts against the
coupon's (and code's) `max_redemptions`; a deleted, expired or used-up coupon cannot be
redeemed, while discounts made from it keep working.
"""

from __future__ import annotations

from typing import Any

import stripe

from stripe_emulator.errors import ApiError
from stripe_emulator.framework import Obj, ObjectType, Store, register_type, unset
from stripe_emulator.resources.coupons import coupon_valid
from stripe_emulator.resources.promotion_codes import promotion_code_for_discount

register_type(
    ObjectType(
        name="discount",
        collection="discounts",
        id_prefix="di",
        expandable={
            "source.coupon": "coupon",
            "promotion_code": "promotion_code",
            "customer": "customer",
        },
        stripe_class=stripe.Discount,
    )
)

MONTH = 30 * 86_400  # the emulator's approximation of a month for a discount's end


def _redeem(store: Store, coupon_id: Any, param: str, now: int) -> Obj:
    coupon = store.get_named("coupon", coupon_id, param=param)
    if not coupon_valid(store, coupon, now):
        raise ApiError.invalid(
            f"Coupon {coupon_id} is no longer valid: it cannot be redeemed.",
            param=param,
            validation=False,
        )
    return coupon


def plan_discounts(
    store: Store, sub: Obj, raw: Any, now: int, *, allow_existing: bool
) -> list[tuple[str, Obj | None, Obj | None]]:
    """Check a `discounts` parameter before anything changes: per entry ("keep", discount) or
    ("new", coupon, promotion code)."""
    entries = unset(raw) or []
    current = set(sub.get("discounts") or [])
    planned: list[tuple[str, Obj | None, Obj | None]] = []
    seen: set[str] = set()
    for i, entry in enumerate(entries):
        name = f"discounts[{i}]"
        given = [k for k in ("coupon", "promotion_code", "discount") if unset(entry.get(k))]
        if len(given) != 1:
            raise ApiError.invalid(
                f"You must pass exactly one of coupon, promotion_code or discount in {name}.",
                param=name,
            )
        field = given[0]
        value = entry[field]
        if field == "discount":
            if not allow_existing or value not in current:
                raise ApiError.invalid(
                    f"Discount {value} is not a discount of this subscription.",
                    param=f"{name}[discount]",
                )
            planned.append(("keep", store.get("discount", value), None))
            continue
        if field == "promotion_code":
            promo = promotion_code_for_discount(store, value, f"{name}[promotion_code]", now)
            coupon = _redeem(store, promo["promotion"]["coupon"], f"{name}[promotion_code]", now)
            planned.append(("new", coupon, promo))
        else:
            coupon = _redeem(store, value, f"{name}[coupon]", now)
            planned.append(("new", coupon, None))
        if coupon["id"] in seen:
            raise ApiError.invalid(
                f"Coupon {coupon['id']} is applied twice in discounts.", param=name
            )
        seen.add(coupon["id"])
    return planned


def apply_discounts(
    store: Store, sub: Obj, planned: list[tuple[str, Obj | None, Obj | None]], now: int
) -> None:
    """Make the subscription's discounts the planned ones (after `plan_discounts` passed)."""
    kept: list[str] = []
    for how, obj, promo in planned:
        if how == "keep" and obj is not None:
            kept.append(obj["id"])
            continue
        coupon = obj or {}
        coupon["times_redeemed"] += 1
        if promo is not None:
            promo["times_redeemed"] += 1
        months = int(coupon.get("duration_in_months") or 0)
        discount = {
            "id": store.new_id("discount"),
            "object": "discount",
            "checkout_session": None,
            "customer": sub["customer"],
            "customer_account": None,
            "end": now + months * MONTH if coupon.get("duration") == "repeating" else None,
            "invoice": None,
            "invoice_item": None,
            "promotion_code": promo["id"] if promo is not None else None,
            "source": {"coupon": coupon["id"], "type": "coupon"},
            "start": now,
            "subscription": sub["id"],
            "subscription_item": None,
        }
        store.insert("discount", discount)
        kept.append(discount["id"])
    for old in set(sub.get("discounts") or []) - set(kept):
        store.coll("discount").remove(old)
    sub["discounts"] = kept
