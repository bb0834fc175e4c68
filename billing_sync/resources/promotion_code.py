"""Promotion codes: customer-facing codes for a coupon; `active` and metadata change in place, any
other change makes a new code (the old one is deactivated first when the code text stays), and
removal deactivates (Stripe never deletes promotion codes)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from billing_sync.config.models import BillingConfig
from billing_sync.metadata import KEY_META, managed_key, user_metadata
from billing_sync.money import format_amount
from billing_sync.remote.pages import id_of
from billing_sync.resources.base import (
    Desired,
    Existing,
    FieldSpec,
    IdKeys,
    Imported,
    ListRead,
    Mutability,
    Pages,
    PlanContext,
    Snapshot,
    Unset,
)
from billing_sync.resources.coupon import COUPON, moment_text
from billing_sync.resources.versioned import VersionedKind


@dataclass(frozen=True, slots=True)
class PromotionCodeState:
    key: str
    coupon: str  # the coupon's key (an unmanaged coupon: its Stripe id)
    code: str
    active: bool = True
    max_redemptions: int | None = None
    expires_at: int | None = None
    # {first_time_transaction, minimum_amount, minimum_amount_currency}
    restrictions: Mapping[str, Any] = field(default_factory=dict)
    metadata: Mapping[str, str] = field(default_factory=dict)
    id: str | None = None  # existing only
    created: int = 0  # existing only
    coupon_id: str | None = None  # existing only


def _restrictions(first_time: bool, minimum: int | None, currency: str | None) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if first_time:
        out["first_time_transaction"] = True
    if minimum is not None:
        out["minimum_amount"] = minimum
        out["minimum_amount_currency"] = (currency or "").lower()
    return out


class PromotionCodeKind(VersionedKind[PromotionCodeState]):
    name = "promotion_code"
    plural = "promotion_codes"
    path = "/v1/promotion_codes"
    fields = (
        FieldSpec("coupon", mutability=Mutability.REPLACE, unset=Unset.REQUIRED),
        FieldSpec("code", mutability=Mutability.REPLACE, unset=Unset.REQUIRED),
        FieldSpec("active", unset=Unset.DEFAULT),
        FieldSpec("max_redemptions", mutability=Mutability.REPLACE, unset=Unset.DEFAULT),
        FieldSpec("expires_at", mutability=Mutability.REPLACE, unset=Unset.DEFAULT),
        FieldSpec("restrictions", mutability=Mutability.REPLACE, unset=Unset.DEFAULT),
        FieldSpec("metadata", unset=Unset.MERGE),
    )
    # Inactive codes are listed too (no `active` filter): re-adding one reactivates it.
    list_reads = (ListRead("/v1/promotion_codes"),)

    def desired(self, config: BillingConfig) -> dict[str, PromotionCodeState]:
        return {
            key: PromotionCodeState(
                key=key,
                coupon=p.coupon,
                code=p.code,
                active=p.active,
                max_redemptions=p.max_redemptions,
                expires_at=p.expires_at,
                restrictions=_restrictions(
                    p.restrictions.first_time_transaction,
                    p.restrictions.minimum_amount,
                    p.restrictions.minimum_amount_currency,
                ),
                metadata=dict(p.metadata),
            )
            for key, p in config.promotion_codes.items()
        }

    def render(self, state: PromotionCodeState) -> tuple[tuple[str, ...], dict[str, Any]]:
        doc: dict[str, Any] = {"coupon": state.coupon, "code": state.code}
        if not state.active:
            doc["active"] = False
        if state.max_redemptions is not None:
            doc["max_redemptions"] = state.max_redemptions
        if state.expires_at is not None:
            doc["expires_at"] = moment_text(state.expires_at)
        if state.restrictions:
            doc["restrictions"] = dict(state.restrictions)
        if state.metadata:
            doc["metadata"] = dict(state.metadata)
        return ("promotion_codes", state.key), doc

    def read(
        self, objects: Iterable[dict[str, Any]], existing: Existing, pages: Pages
    ) -> Snapshot[PromotionCodeState]:
        coupon_keys = COUPON.keys_by_id(existing)
        managed: list[PromotionCodeState] = []
        unmanaged: list[PromotionCodeState] = []
        for obj in objects:
            promotion = obj.get("promotion") or {}
            if promotion.get("type", "coupon") != "coupon":
                continue
            r = obj.get("restrictions") or {}
            key = managed_key(obj)
            coupon_id = id_of(promotion.get("coupon")) or ""
            state = PromotionCodeState(
                key=key or obj["id"],
                coupon=coupon_keys.get(coupon_id, coupon_id),
                code=obj.get("code") or "",
                active=bool(obj.get("active")),
                max_redemptions=obj.get("max_redemptions"),
                expires_at=obj.get("expires_at"),
                restrictions=_restrictions(
                    bool(r.get("first_time_transaction")),
                    r.get("minimum_amount"),
                    r.get("minimum_amount_currency"),
                ),
                metadata=user_metadata(obj),
                id=obj["id"],
                created=int(obj.get("created") or 0),
                coupon_id=coupon_id,
            )
            (unmanaged if key is None else managed).append(state)
        return self.group(managed, unmanaged)

    def describe(self, state: PromotionCodeState) -> str:
        words = f"code {state.code} for coupon {state.coupon}"
        limits = []
        if state.max_redemptions is not None:
            limits.append(f"{state.max_redemptions} redemptions")
        if state.expires_at is not None:
            limits.append(f"until {moment_text(state.expires_at)}")
        if state.restrictions.get("first_time_transaction"):
            limits.append("first order only")
        if state.restrictions.get("minimum_amount") is not None:
            amount = format_amount(
                state.restrictions["minimum_amount"],
                state.restrictions.get("minimum_amount_currency") or "usd",
            )
            limits.append(f"orders from {amount}")
        return words + (f" ({', '.join(limits)})" if limits else "")

    def adoptable(
        self, d: PromotionCodeState, snapshot: Snapshot[PromotionCodeState]
    ) -> list[PromotionCodeState]:
        """The active unmanaged code with the same text (Stripe: unique among active codes,
        whatever the case)."""
        code = d.code.casefold()
        return [u for u in snapshot.unmanaged if u.active and u.code.casefold() == code]

    def usable(self, desired: Desired, existing: Existing, version: PromotionCodeState) -> bool:
        """A code made for a coupon that is gone, or was deleted and created again since (same
        id, new terms), or that this plan replaces, is not reused: a new code is created."""
        coupon = COUPON.live(existing, version.coupon)
        return (
            coupon is not None
            and coupon.created <= version.created
            and not COUPON.replaced(desired, existing, version.coupon)
        )

    def create_problem(self, context: PlanContext, d: PromotionCodeState) -> str | None:
        if d.expires_at is not None and d.expires_at <= context.now:
            return (
                f"expires_at {moment_text(d.expires_at)} is past, and Stripe creates codes only "
                "with a future expiry: declare a later one (or remove the code)"
            )
        return None

    def new_waits_for_old(self, old: PromotionCodeState, new: PromotionCodeState) -> bool:
        """The same code text cannot be active twice: deactivate the old code first."""
        return old.code.casefold() == new.code.casefold()

    def create_params(
        self, context: PlanContext, d: PromotionCodeState
    ) -> tuple[dict[str, Any], frozenset[str]]:
        params: dict[str, Any] = {
            "promotion": {"type": "coupon", "coupon": context.target(COUPON, d.coupon) or d.coupon},
            "code": d.code,
        }
        if not d.active:
            params["active"] = False
        if d.max_redemptions is not None:
            params["max_redemptions"] = d.max_redemptions
        if d.expires_at is not None:
            params["expires_at"] = d.expires_at
        if d.restrictions:
            params["restrictions"] = dict(d.restrictions)
        params["metadata"] = {**d.metadata, KEY_META: d.key}
        return params, COUPON.needs_of(d.coupon)

    # -- import ------------------------------------------------------------------------------
    def import_key(self, state: PromotionCodeState, ids: IdKeys) -> str:
        return state.code.lower()

    def import_state(
        self, state: PromotionCodeState, key: str, ids: IdKeys
    ) -> Imported[PromotionCodeState]:
        """Its coupon by the imported coupon's key; left out when that coupon is not imported."""
        coupon = ids.get(COUPON.name, {}).get(state.coupon_id or "")
        if coupon is None:
            return Imported.skip(
                f"promotion code {state.id} ({state.code}): its coupon {state.coupon} is not "
                "imported"
            )
        return Imported(replace(state, key=key, coupon=coupon))


PROMOTION_CODE = PromotionCodeKind()
