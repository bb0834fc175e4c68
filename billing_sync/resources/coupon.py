"""Coupons: name, metadata and currency options change in place; any other change deletes the coupon
and creates it again under the same id; removal deletes it (discounts already applied keep working)."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from billing_sync.changes import (
    Change,
    Create,
    Delete,
    FieldChange,
    KindPlan,
    Reason,
    Replace,
    Request,
    Stage,
    Update,
    object_token,
    release_token,
)
from billing_sync.config.models import BillingConfig
from billing_sync.metadata import KEY_META, managed_key, user_metadata
from billing_sync.money import format_amount
from billing_sync.resources.base import (
    Desired,
    Existing,
    FieldSpec,
    IdKeys,
    Imported,
    Kind,
    ListRead,
    Mutability,
    Pages,
    PlanContext,
    Snapshot,
    Unset,
    adopt,
    create_changes,
    diff_fields,
    field_changes,
    plain_specs,
    reachable,
    slug,
    values,
)
from billing_sync.resources.product import PRODUCT
from billing_sync.resources.tax_rate import percent_text, percent_value


@dataclass(frozen=True, slots=True)
class CouponState:
    key: str
    id: str  # the Stripe coupon id: billing.yaml's `id`, else the key
    name: str | None = None
    percent_off: str | None = None  # decimal text
    amount_off: int | None = None  # minor units of `currency`
    currency: str | None = None
    currency_options: Mapping[str, int] = field(default_factory=dict)  # currency -> amount_off
    duration: str = "once"
    duration_in_months: int | None = None
    max_redemptions: int | None = None
    redeem_by: int | None = None
    applies_to: tuple[str, ...] = ()  # product keys (an unmanaged product: its id)
    metadata: Mapping[str, str] = field(default_factory=dict)
    created: int = 0  # existing only


def moment_text(ts: int) -> str:
    """Unix seconds as billing.yaml writes a moment: `2026-12-31T23:59:59Z`."""
    return dt.datetime.fromtimestamp(ts, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _options_param(options: Mapping[str, int]) -> dict[str, Any]:
    return {cur: {"amount_off": amount} for cur, amount in sorted(options.items())}


def describe_coupon(c: CouponState) -> str:
    """`20% off for 3 months`, `5.00 EUR off once` (`also 4.50 GBP`), `10% off forever`."""
    if c.percent_off is not None:
        off = f"{c.percent_off}% off"
    else:
        off = f"{format_amount(c.amount_off, c.currency or 'usd')} off"
        if c.currency_options:
            others = ", ".join(
                format_amount(a, cur) for cur, a in sorted(c.currency_options.items())
            )
            off += f" (or {others})"
    if c.duration == "repeating":
        months = c.duration_in_months or 0
        off += f" for {months} month{'s' if months != 1 else ''}"
    else:
        off += f" {c.duration}"
    if c.applies_to:
        off += f" on {', '.join(c.applies_to)}"
    limits = []
    if c.max_redemptions is not None:
        limits.append(f"{c.max_redemptions} redemptions")
    if c.redeem_by is not None:
        limits.append(f"redeem by {moment_text(c.redeem_by)}")
    return off + (f" ({', '.join(limits)})" if limits else "")


def coupon_discount(
    c: CouponState, currency: str, monthly_total: Decimal, per_month: Decimal
) -> Decimal:
    """What a coupon takes off a subscription's monthly revenue (minor units): a percentage of
    it, or its amount once per invoice (`per_month` invoices a month). A `once` coupon takes
    nothing: it discounts one invoice, not the recurring revenue."""
    if c.duration == "once":
        return Decimal(0)
    if c.percent_off is not None:
        return monthly_total * Decimal(c.percent_off) / 100
    amount = c.amount_off if c.currency == currency else c.currency_options.get(currency)
    if amount is None:
        return Decimal(0)
    return min(monthly_total, Decimal(amount) * per_month)


class CouponKind(Kind[CouponState]):
    name = "coupon"
    plural = "coupons"
    fields = (
        # Stripe's coupon update takes no empty string for it (stripe.params types): kept.
        FieldSpec("name", unset=Unset.NEVER),
        FieldSpec("metadata", unset=Unset.MERGE),
        # Added or changed in place; Stripe cannot remove one, so a removal is a replace.
        FieldSpec("currency_options", unset=Unset.OWN_RULE, own_rule=True),
        # Exactly one of percent_off and amount_off (with currency) is required.
        FieldSpec("percent_off", mutability=Mutability.REPLACE, unset=Unset.REQUIRED),
        FieldSpec("amount_off", mutability=Mutability.REPLACE, unset=Unset.REQUIRED),
        FieldSpec("currency", mutability=Mutability.REPLACE, unset=Unset.REQUIRED),
        FieldSpec("duration", mutability=Mutability.REPLACE, unset=Unset.DEFAULT),
        # Required with duration: repeating, refused without it.
        FieldSpec("duration_in_months", mutability=Mutability.REPLACE, unset=Unset.REQUIRED),
        FieldSpec("max_redemptions", mutability=Mutability.REPLACE, unset=Unset.DEFAULT),
        FieldSpec("redeem_by", mutability=Mutability.REPLACE, unset=Unset.DEFAULT),
        FieldSpec("applies_to", mutability=Mutability.REPLACE, unset=Unset.DEFAULT),
        # The coupon's identity in Stripe: another id is another coupon.
        FieldSpec("id", mutability=Mutability.REPLACE, unset=Unset.DEFAULT, own_rule=True),
    )
    # `applies_to` and `currency_options` are returned only when expanded; deleted coupons are
    # not listed.
    list_reads = (
        ListRead("/v1/coupons", {"expand": ["data.applies_to", "data.currency_options"]}),
    )

    # -- billing.yaml ------------------------------------------------------------------------
    def desired(self, config: BillingConfig) -> dict[str, CouponState]:
        return {
            key: CouponState(
                key=key,
                id=c.id or key,
                name=c.name,
                percent_off=percent_text(c.percent_off) if c.percent_off is not None else None,
                amount_off=c.amount_off,
                currency=c.currency,
                currency_options={
                    cur: o.amount_off for cur, o in sorted(c.currency_options.items())
                },
                duration=c.duration,
                duration_in_months=c.duration_in_months,
                max_redemptions=c.max_redemptions,
                redeem_by=c.redeem_by,
                applies_to=tuple(sorted(c.applies_to.products)) if c.applies_to else (),
                metadata=dict(c.metadata),
            )
            for key, c in config.coupons.items()
        }

    def render(self, state: CouponState) -> tuple[tuple[str, ...], dict[str, Any]]:
        doc: dict[str, Any] = {}
        if state.id != state.key:
            doc["id"] = state.id
        if state.name is not None:
            doc["name"] = state.name
        if state.percent_off is not None:
            doc["percent_off"] = percent_value(state.percent_off)
        else:
            doc["amount_off"] = state.amount_off
            doc["currency"] = state.currency
        if state.currency_options:
            doc["currency_options"] = _options_param(state.currency_options)
        doc["duration"] = state.duration
        for name in ("duration_in_months", "max_redemptions"):
            if getattr(state, name) is not None:
                doc[name] = getattr(state, name)
        if state.redeem_by is not None:
            doc["redeem_by"] = moment_text(state.redeem_by)
        if state.applies_to:
            doc["applies_to"] = {"products": list(state.applies_to)}
        if state.metadata:
            doc["metadata"] = dict(state.metadata)
        return ("coupons", state.key), doc

    # -- Stripe ------------------------------------------------------------------------------
    def read(
        self, objects: Iterable[dict[str, Any]], existing: Existing, pages: Pages
    ) -> Snapshot[CouponState]:
        product_keys = {p.id: p.key for p in existing.of(PRODUCT).managed.values()}
        managed: dict[str, CouponState] = {}
        unmanaged: list[CouponState] = []
        for obj in objects:
            key = managed_key(obj)
            currency = obj.get("currency")
            options = {
                cur: int(o["amount_off"])
                for cur, o in sorted((obj.get("currency_options") or {}).items())
                if cur != currency  # Stripe echoes the main currency in the options
            }
            products = (obj.get("applies_to") or {}).get("products") or []
            percent = obj.get("percent_off")
            state = CouponState(
                key=key or obj["id"],
                id=obj["id"],
                name=obj.get("name"),
                percent_off=percent_text(percent) if percent is not None else None,
                amount_off=obj.get("amount_off"),
                currency=currency,
                currency_options=options,
                duration=obj.get("duration") or "once",
                duration_in_months=obj.get("duration_in_months"),
                max_redemptions=obj.get("max_redemptions"),
                redeem_by=obj.get("redeem_by"),
                applies_to=tuple(sorted(product_keys.get(p, p) for p in products)),
                metadata=user_metadata(obj),
                created=int(obj.get("created") or 0),
            )
            if key is None:
                unmanaged.append(state)
            else:
                managed[key] = state
        return Snapshot(managed=managed, unmanaged=tuple(unmanaged))

    def stripe_id(self, state: CouponState) -> str | None:
        return state.id

    def keys_by_id(self, existing: Existing) -> dict[str, str]:
        return {c.id: c.key for c in existing.of(self).managed.values()}

    def targets(self, desired: Desired, existing: Existing) -> Mapping[str, str]:
        """Coupon ids are chosen in billing.yaml, so they are known before creation."""
        return {key: d.id for key, d in desired.of(self).items()}

    # -- import ------------------------------------------------------------------------------
    def import_key(self, state: CouponState, ids: IdKeys) -> str:
        return slug(state.id, slug(state.name, "coupon"))

    def import_state(self, state: CouponState, key: str, ids: IdKeys) -> Imported[CouponState]:
        """Its products by their imported keys; left out when one of them is not imported."""
        products = ids.get(PRODUCT.name, {})
        by_key = {v: k for k, v in products.items()}
        mapped = []
        for p in state.applies_to:
            found = products.get(p) or (p if p in by_key else None)
            if found is None:
                return Imported.skip(f"coupon {state.id}: its product {p} is not imported")
            mapped.append(found)
        return Imported(dataclasses.replace(state, key=key, applies_to=tuple(sorted(mapped))))

    # -- comparison --------------------------------------------------------------------------
    def compare(self, context: PlanContext) -> KindPlan:
        snapshot = context.existing.of(self)
        unmanaged = {c.id: c for c in snapshot.unmanaged}
        taken = {c.id: c for c in snapshot.managed.values()}
        changes: list[Change] = []
        conflicts: list[str] = []
        unreachable: list[str] = []
        for key, d in context.desired.of(self).items():
            e = snapshot.managed.get(key)
            if e is None:
                held = unmanaged.get(d.id)
                if held is not None:
                    if self._fixed_differ(held, d):
                        conflicts.append(
                            f"coupon {key}: the coupon id {d.id!r} belongs to a coupon "
                            f"billing-sync does not manage ({describe_coupon(held)}), and Stripe "
                            "fixes its terms at creation: declare it as it is to adopt it, or "
                            "give this coupon another id"
                        )
                        continue
                    change, notes = adopt(
                        self,
                        key,
                        held,
                        d,
                        f"/v1/coupons/{d.id}",
                        summary=describe_coupon(d),
                        ignore=context.desired.ignore(self, key),
                    )
                    changes.append(change)
                    unreachable += notes
                    continue
                other = taken.get(d.id)
                if other is not None and other.key != key:
                    conflicts.append(
                        f"coupon {key}: the coupon id {d.id!r} is held by coupon {other.key}, "
                        "which billing-sync manages under another key"
                    )
                    continue
                if (problem := _create_problem(context, d)) is not None:
                    conflicts.append(f"coupon {key}: {problem}")
                    continue
                changes.append(self._create(context, d))
                continue
            d, notes = reachable(
                self.name, key, e, d, self.fields, context.desired.ignore(self, key)
            )
            unreachable += notes
            if self._fixed_differ(e, d):
                if (problem := _create_problem(context, d)) is not None:
                    conflicts.append(f"coupon {key}: {problem}")
                    continue
                changes += self._replace(context, e, d)
                continue
            update = self._update(e, d)
            if update is not None:
                changes.append(update)
        for key, e in snapshot.managed.items():
            if key not in context.desired.of(self):
                changes.append(self._delete(e, Reason.REMOVED, Stage.DESTROY))
        return KindPlan(tuple(changes), (), tuple(conflicts), unreachable=tuple(unreachable))

    def replaced(self, desired: Desired, existing: Existing, key: str) -> bool:
        """Whether the plan deletes coupon `key` and creates it again (its terms changed)."""
        e = existing.of(self).managed.get(key)
        d = desired.of(self).get(key)
        return e is not None and d is not None and self._fixed_differ(e, d)

    def live(self, existing: Existing, key: str) -> CouponState | None:
        """The coupon `key` as it is in the account (managed, else an unmanaged one of that id)."""
        snap = existing.of(self)
        found = snap.managed.get(key)
        return found or next((c for c in snap.unmanaged if c.id == key), None)

    def _fixed_differ(self, e: CouponState, d: CouponState) -> bool:
        fixed = [s for s in self.fields if s.mutability is Mutability.REPLACE]
        # Stripe cannot remove a currency option: one declared no more is a replace.
        return values(e, fixed) != values(d, fixed) or not set(e.currency_options) <= set(
            d.currency_options
        )

    def _create_params(
        self, context: PlanContext, d: CouponState
    ) -> tuple[dict[str, Any], frozenset[str]]:
        params: dict[str, Any] = {"id": d.id, "duration": d.duration}
        needs: set[str] = set()
        if d.name is not None:
            params["name"] = d.name
        if d.percent_off is not None:
            params["percent_off"] = d.percent_off
        else:
            params["amount_off"] = d.amount_off
            params["currency"] = d.currency
        if d.currency_options:
            params["currency_options"] = _options_param(d.currency_options)
        for name in ("duration_in_months", "max_redemptions", "redeem_by"):
            if getattr(d, name) is not None:
                params[name] = getattr(d, name)
        if d.applies_to:
            params["applies_to"] = {
                "products": [context.target(PRODUCT, p) or p for p in d.applies_to]
            }
            for p in d.applies_to:
                needs |= PRODUCT.needs_of(p)
        params["metadata"] = {**d.metadata, KEY_META: d.key}
        return params, frozenset(needs)

    def _create(self, context: PlanContext, d: CouponState) -> Change:
        params, needs = self._create_params(context, d)
        return Create(
            kind=self.name,
            key=d.key,
            request=Request("post", "/v1/coupons", params),
            stripe_id=d.id,
            fields=create_changes(d, plain_specs(self.fields), _quiet),
            summary=describe_coupon(d),
            needs=needs,
            provides=frozenset({object_token(self.name, d.key)}),
        )

    def _replace(self, context: PlanContext, e: CouponState, d: CouponState) -> list[Change]:
        """Delete, then create under the declared id (when the id is the same, the old coupon
        must be gone first: Stripe coupon ids are unique)."""
        params, needs = self._create_params(context, d)
        delete = self._delete(e, Reason.DECLARED, Stage.BUILD)
        specs = [
            *plain_specs(self.fields),
            *(s for s in self.fields if s.name in ("id", "currency_options")),
        ]
        create = Replace(
            kind=self.name,
            key=d.key,
            request=Request("post", "/v1/coupons", params),
            stripe_id=e.id,
            fields=tuple(field_changes(values(e, specs), values(d, specs))),
            summary=f"{describe_coupon(e)} -> {describe_coupon(d)}",
            notes=(
                "Stripe fixes a coupon's terms: the old coupon is deleted and the new one "
                "created; discounts already applied keep the old terms",
            ),
            needs=needs | {release_token(e.id)},
            provides=frozenset({object_token(self.name, d.key)}),
        )
        return [delete, create]

    def _update(self, e: CouponState, d: CouponState) -> Change | None:
        found = diff_fields(e, d, [s for s in self.fields if s.mutability is Mutability.IN_PLACE])
        if not found.changes:
            return None
        params = {k: v for k, v in found.params.items() if k != "currency_options"}
        if "currency_options" in {c.path.split(".", 1)[0] for c in found.changes}:
            params["currency_options"] = _options_param(d.currency_options)
        return Update(
            kind=self.name,
            key=d.key,
            request=Request("post", f"/v1/coupons/{e.id}", dict(sorted(params.items()))),
            stripe_id=e.id,
            fields=found.changes,
            summary=describe_coupon(d),
        )

    def _delete(self, e: CouponState, reason: Reason, stage: Stage) -> Change:
        return Delete(
            kind=self.name,
            key=e.key,
            request=Request("delete", f"/v1/coupons/{e.id}", {}),
            stripe_id=e.id,
            reason=reason,
            stage=stage,
            fields=(FieldChange("deleted", False, True),),
            summary=describe_coupon(e),
            notes=(
                "discounts already applied keep working; the coupon cannot be redeemed again"
                if reason is Reason.REMOVED
                else "deleted first: the new terms are created under its id",
            ),
            destructive=reason is Reason.REMOVED,
            provides=frozenset({release_token(e.id)}),
        )


# "cannot be set to more than 5 years in the future" (stripe.params.CouponCreateParams).
REDEEM_BY_MAX_YEARS = 5


def _create_problem(context: PlanContext, d: CouponState) -> str | None:
    """Why Stripe would refuse to create the coupon now: a redeem_by past or too far away."""
    if d.redeem_by is None:
        return None
    if d.redeem_by <= context.now:
        return (
            f"redeem_by {moment_text(d.redeem_by)} is past, and Stripe creates coupons only with a "
            "future one: declare a later redeem_by (or remove the coupon)"
        )
    if d.redeem_by > context.now + REDEEM_BY_MAX_YEARS * 366 * 86_400:
        return (
            f"redeem_by {moment_text(d.redeem_by)} is more than {REDEEM_BY_MAX_YEARS} years away, "
            "which Stripe refuses"
        )
    return None


def _quiet(name: str, value: Any) -> bool:
    return name == "duration" and value == "once"


COUPON = CouponKind()
