"""Prices: fixed fields force a replace (lookup key transferred), reverts reactivate, and defaults follow."""

from __future__ import annotations

import dataclasses
import operator
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from enum import Enum
from typing import Any, NamedTuple

from billing_sync.changes import (
    Adopt,
    Archive,
    Change,
    Create,
    FieldChange,
    KindPlan,
    Reactivate,
    Reason,
    Replace,
    Request,
    Stage,
    Update,
    is_ref,
    object_token,
    release_token,
)
from billing_sync.config.models import BillingConfig, Price, Tier
from billing_sync.metadata import KEY_META, managed_key, user_metadata
from billing_sync.money import decimal_text, format_amount, format_decimal_amount
from billing_sync.remote.pages import id_of, shared
from billing_sync.resources.base import (
    Desired,
    Existing,
    FieldSpec,
    IdKeys,
    Ignore,
    Imported,
    Kind,
    ListRead,
    Mutability,
    Pages,
    PlanContext,
    Snapshot,
    Unset,
    create_changes,
    field_changes,
    ignore_rules,
    is_key,
    metadata_params,
    reachable,
    slug,
    top_fields,
    values,
)
from billing_sync.resources.meter import METER
from billing_sync.resources.product import PRODUCT

EXPAND = ("data.tiers", "data.currency_options")


@dataclass(frozen=True, slots=True)
class PriceState:
    key: str
    product: str  # product key (for an unmanaged product: its id)
    currency: str
    unit_amount: int | None = None
    # Minor units with a fraction ("0.3": 0.003 USD); set only when not a whole number.
    unit_amount_decimal: str | None = None
    # Pay what you want: {"minimum", "maximum", "preset"} in minor units (None when absent).
    custom_unit_amount: Mapping[str, int | None] | None = None
    billing_scheme: str = "per_unit"
    tiers_mode: str | None = None
    tiers: tuple[Mapping[str, Any], ...] | None = None
    recurring: Mapping[str, Any] | None = None
    transform_quantity: Mapping[str, Any] | None = None
    nickname: str | None = None
    metadata: Mapping[str, str] = field(default_factory=dict)
    # currency -> {"unit_amount": int | None, "tiers": [...] | None}; never the main currency
    currency_options: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    lookup_key: str | None = None
    tax_behavior: str = "unspecified"
    active: bool = True
    id: str | None = None  # existing only
    product_id: str | None = None  # existing only
    created: int = 0  # existing only: which of several prices sharing a key is newest
    pin: str | None = None  # desired only: `stripe_id:`, the existing price to adopt


# Fields fixed at creation: any difference is a replace.
FIXED = (
    "currency",
    "unit_amount",
    "unit_amount_decimal",
    "custom_unit_amount",
    "billing_scheme",
    "tiers_mode",
    "tiers",
    "recurring",
    "transform_quantity",
)
# Fields Stripe changes in place (tax_behavior only from `unspecified`; options only added or changed).
IN_PLACE = ("nickname", "metadata", "currency_options", "lookup_key", "tax_behavior")


class PriceKind(Kind[PriceState]):
    name = "price"
    plural = "prices"
    fields = (
        FieldSpec("currency", mutability=Mutability.REPLACE, unset=Unset.REQUIRED),
        # Exactly one of unit_amount (or amount) and tiers is required.
        FieldSpec("unit_amount", mutability=Mutability.REPLACE, unset=Unset.REQUIRED),
        FieldSpec("unit_amount_decimal", mutability=Mutability.REPLACE, unset=Unset.REQUIRED),
        FieldSpec("custom_unit_amount", mutability=Mutability.REPLACE, unset=Unset.REQUIRED),
        # Follows from tiers: tiered with tiers, per_unit without.
        FieldSpec("billing_scheme", mutability=Mutability.REPLACE, unset=Unset.DEFAULT),
        FieldSpec("tiers_mode", mutability=Mutability.REPLACE, unset=Unset.REQUIRED),
        FieldSpec("tiers", mutability=Mutability.REPLACE, unset=Unset.REQUIRED),
        # Without it the price is one-time; `usage_type: metered` and its `meter` are part of it.
        FieldSpec("recurring", mutability=Mutability.REPLACE, unset=Unset.DEFAULT),
        FieldSpec("transform_quantity", mutability=Mutability.REPLACE, unset=Unset.DEFAULT),
        # Stripe's price update takes no empty string for it (stripe.params types): kept.
        FieldSpec("nickname", unset=Unset.NEVER),
        FieldSpec("metadata", unset=Unset.MERGE),
        # Added or changed in place; Stripe cannot remove one, so a removal is a replace.
        FieldSpec("currency_options", unset=Unset.OWN_RULE, own_rule=True),
        # Defaults to the price key; moving it to another price transfers it.
        FieldSpec("lookup_key", unset=Unset.DEFAULT, own_rule=True),
        # In place only from `unspecified`; inclusive/exclusive is final, so changing or removing
        # one that is set is a replace.
        FieldSpec("tax_behavior", unset=Unset.OWN_RULE, own_rule=True),
        FieldSpec("product", mutability=Mutability.REPLACE, unset=Unset.REQUIRED, own_rule=True),
        FieldSpec("active", unset=Unset.DEFAULT, own_rule=True),
    )
    # Stripe lists only active prices unless asked; tiers and options only when expanded.
    list_reads = (
        ListRead("/v1/prices", {"active": "true", "expand": list(EXPAND)}),
        ListRead("/v1/prices", {"active": "false", "expand": list(EXPAND)}),
    )

    # -- billing.yaml ------------------------------------------------------------------------
    def desired(self, config: BillingConfig) -> dict[str, PriceState]:
        return {
            key: desired_price(key, product_key, price)
            for product_key, product in config.products.items()
            for key, price in product.prices.items()
        }

    def ignored(self, config: BillingConfig) -> Mapping[str, Ignore]:
        return ignore_rules(
            config.ignore.prices,
            ((k, p.ignore) for prod in config.products.values() for k, p in prod.prices.items()),
        )

    def render(self, state: PriceState) -> tuple[tuple[str, ...], dict[str, Any]]:
        doc: dict[str, Any] = {"currency": state.currency}
        if state.tiers:
            doc["tiers_mode"] = state.tiers_mode
            doc["tiers"] = [_tier_param(t) for t in state.tiers]
        elif state.custom_unit_amount is not None:
            doc["custom_unit_amount"] = _custom_param(state.custom_unit_amount)
        elif state.unit_amount_decimal is not None:
            doc["unit_amount_decimal"] = state.unit_amount_decimal
        else:
            doc["unit_amount"] = state.unit_amount
        if state.recurring:
            doc["recurring"] = dict(state.recurring)
        if state.transform_quantity:
            doc["transform_quantity"] = dict(state.transform_quantity)
        if state.nickname is not None:
            doc["nickname"] = state.nickname
        if state.tax_behavior != "unspecified":
            doc["tax_behavior"] = state.tax_behavior
        if state.currency_options:
            # billing.yaml writes options as Stripe takes them.
            doc["currency_options"] = _options_param(state.currency_options)
        if state.lookup_key != state.key:
            doc["lookup_key"] = state.lookup_key
        if state.metadata:
            doc["metadata"] = dict(state.metadata)
        if not state.active:
            doc["active"] = False
        if state.pin:
            doc["stripe_id"] = state.pin
        return ("products", state.product, "prices", state.key), doc

    # -- Stripe ------------------------------------------------------------------------------
    def read(
        self, objects: Iterable[dict[str, Any]], existing: Existing, pages: Pages
    ) -> Snapshot[PriceState]:
        product_keys = {p.id: p.key for p in existing.of(PRODUCT).managed.values()}
        meter_keys = METER.keys_by_id(existing)
        by_key: dict[str, list[PriceState]] = defaultdict(list)
        unmanaged: list[PriceState] = []
        for obj in objects:
            product_id = id_of(obj["product"]) or ""
            state = normalise_price(obj, product_keys.get(product_id, product_id), meter_keys)
            if managed_key(obj) is None:
                unmanaged.append(state)
            else:
                by_key[state.key].append(state)
        managed: dict[str, PriceState] = {}
        others: list[PriceState] = []
        for key, states in by_key.items():
            # The current one of several prices sharing a key: active, holding the lookup key, newest.
            current = max(states, key=lambda p: (p.active, p.lookup_key is not None, p.created))
            managed[key] = current
            others += [p for p in states if p is not current]
        return Snapshot(managed=managed, others=tuple(others), unmanaged=tuple(unmanaged))

    def stripe_id(self, state: PriceState) -> str | None:
        return state.id

    def is_live(self, state: PriceState) -> bool:
        return state.active

    def keys_by_id(self, existing: Existing) -> dict[str, str]:
        """Stripe price id -> price key, for every managed price (archived ones included)."""
        snap = existing.of(self)
        return {p.id: p.key for p in (*snap.managed.values(), *snap.others) if p.id}

    def by_id(self, existing: Existing) -> dict[str, PriceState]:
        snap = existing.of(self)
        return {p.id: p for p in (*snap.managed.values(), *snap.others) if p.id}

    def targets(self, desired: Desired, existing: Existing) -> Mapping[str, str]:
        index = _Index(existing, PRODUCT.targets(desired, existing))
        out: dict[str, str] = {}
        for key, d in desired.of(self).items():
            found = index.resolve(key, d)
            if found.how is How.CONFLICT:
                continue
            out[key] = found.price.id or "" if found.price is not None else object_ref(key)
        return out

    # -- import ------------------------------------------------------------------------------
    def import_key(self, state: PriceState, ids: IdKeys) -> str:
        """Its lookup key when that is a valid key, else `<product>-<interval>-<currency>`
        (`pro-monthly-usd`, `setup-one-time-eur`, `pro-every-3-months-usd`)."""
        if is_key(state.lookup_key):
            return str(state.lookup_key)
        product = ids.get(PRODUCT.name, {}).get(state.product_id or "") or state.product
        return slug(f"{product}-{_interval_slug(state.recurring)}-{state.currency}", "price")

    def import_names(self, state: PriceState) -> tuple[str, ...]:
        return (state.lookup_key,) if state.lookup_key else ()

    def import_state(self, state: PriceState, key: str, ids: IdKeys) -> Imported[PriceState]:
        """Under its product's imported key; a price without a lookup key gets its key as one
        (as billing.yaml means it). Amounts billing.yaml cannot write are refused."""
        product = ids.get(PRODUCT.name, {}).get(state.product_id or "")
        where = f"price {state.id}"
        if product is None:
            return Imported.skip(
                f"{where}: its product {state.product_id} is not imported (archived ones need "
                "--include-archived)"
            )
        amounts = (state.tiers, state.unit_amount, state.unit_amount_decimal)
        if all(a is None for a in (*amounts, state.custom_unit_amount)):
            return Imported.skip(f"{where}: no amount, tiers or custom_unit_amount")
        fractional = fractional_tiers(state)
        if fractional:
            return Imported.skip(
                f"{where}: {', '.join(fractional)} is a fraction of the minor unit, which "
                "billing.yaml's tiers cannot declare (whole minor units only)"
            )
        for cur, opt in state.currency_options.items():
            if not opt.get("tiers") and opt.get("unit_amount") is None:
                return Imported.skip(
                    f"{where}: its {cur} currency option has no whole unit_amount, which "
                    "billing.yaml cannot declare"
                )
        meter = metered_on(state)
        if meter is not None and meter not in set(ids.get(METER.name, {}).values()):
            return Imported.skip(f"{where}: its meter {meter} is not imported")
        # Without a lookup key nothing else matches it: the id pins its adoption.
        pin = None if state.lookup_key else state.id
        return Imported(
            dataclasses.replace(
                state, key=key, product=product, lookup_key=state.lookup_key or key, pin=pin
            )
        )

    # -- comparison --------------------------------------------------------------------------
    def compare(self, context: PlanContext) -> KindPlan:
        rules = _Rules(context, _Index(context.existing, context.targets.get(PRODUCT.name, {})))
        plans = [rules.declared(key, d) for key, d in context.desired.of(self).items()]
        return KindPlan(
            (
                *(c for p in plans for c in p.changes),
                *rules.removed(),
                *default_price_changes(context),
            ),
            unreachable=tuple(u for p in plans for u in p.unreachable),
            conflicts=tuple(c for p in plans for c in p.conflicts),
            grandfathered={k: n for p in plans for k, n in p.grandfathered.items()},
        )


def object_ref(key: str) -> str:
    return "${price:" + key + "}"


class How(Enum):
    """How a declared price is reached from the account."""

    IN_PLACE = "updated in place"
    ADOPT = "an unmanaged price with the same lookup key and fixed fields is taken over"
    REVERT = "an archived price is reactivated"
    CREATE = "created"
    REPLACE = "replaced"
    CONFLICT = "an unmanaged price holds its lookup key"


class Resolution(NamedTuple):
    """How one declared price is reached (a tuple: made twice per declared price a plan)."""

    how: How
    price: PriceState | None = None  # the price reused (in place or reverted), when there is one
    current: PriceState | None = None  # the current managed price of the key


class _Index:
    """Read-only indexes of the account's prices, so planning stays linear in its size."""

    def __init__(self, existing: Existing, product_ids: Mapping[str, str]) -> None:
        snap = existing.of(PRICE)
        self.current = snap.managed
        self.product_ids = product_ids
        self.by_key: dict[str, list[PriceState]] = defaultdict(list)
        self.lookup_holders: dict[str, list[PriceState]] = defaultdict(list)
        for p in (*snap.managed.values(), *snap.others):
            self.by_key[p.key].append(p)
            if p.lookup_key:
                self.lookup_holders[p.lookup_key].append(p)
        self.unmanaged_by_lookup_key = {p.lookup_key: p for p in snap.unmanaged if p.lookup_key}
        self.unmanaged_by_id = {p.id: p for p in snap.unmanaged if p.id}
        self.keys_by_id = PRICE.keys_by_id(existing)
        self.by_id = PRICE.by_id(existing)

    def product_id(self, product_key: str) -> str:
        return self.product_ids.get(product_key, product_key)

    def reusable(self, p: PriceState, d: PriceState) -> bool:
        """Whether p can become d by updates alone (else it must be replaced)."""
        if not (
            _fixed_values(p) == _fixed_values(d)
            and p.product_id == self.product_id(d.product)
            and p.tax_behavior in ("unspecified", d.tax_behavior)
        ):
            return False
        if not p.currency_options:  # the common case: nothing more to check
            return True
        return (
            # Stripe can add or change a currency option in place, but not remove one, and an
            # option's tax behaviour, like the price's, is final once set.
            set(p.currency_options) <= set(d.currency_options)
            and all(
                opt.get("tax_behavior", "unspecified")
                in ("unspecified", d.currency_options[cur].get("tax_behavior", "unspecified"))
                for cur, opt in p.currency_options.items()
            )
        )

    def lookup_holder(self, lookup_key: str | None, exclude: str | None) -> PriceState | None:
        for p in self.lookup_holders.get(lookup_key or "", []):
            if p.id != exclude:
                return p
        return None

    def resolve(self, key: str, d: PriceState) -> Resolution:
        cur = self.current.get(key)
        holder = self.unmanaged_by_lookup_key.get(d.lookup_key or "")
        if holder is None and d.pin is not None and cur is None:
            holder = self.unmanaged_by_id.get(d.pin)
        if holder is not None:
            # Adoptable only while no managed price has the key and updates alone can reach it.
            if cur is None and self.reusable(holder, d):
                return Resolution(How.ADOPT, holder, None)
            return Resolution(How.CONFLICT, holder, cur)
        if cur is not None and self.reusable(cur, d):
            return Resolution(How.IN_PLACE, cur, cur)
        for p in self.by_key.get(key, []):
            if p is not cur and self.reusable(p, d):
                return Resolution(How.REVERT, p, cur)
        return Resolution(How.CREATE if cur is None else How.REPLACE, None, cur)


@dataclass(frozen=True)
class _Rules:
    """The price rules over one read-only context: each method returns changes, none keeps any."""

    context: PlanContext
    index: _Index

    def declared(self, key: str, d: PriceState) -> KindPlan:
        """What one declared price needs: in place, a revert, a create or a replace."""
        current = self.index.current.get(key)
        if current is None:
            return self._declared(key, d)
        d, notes = reachable(
            PRICE.name, key, current, d, PRICE.fields, self.context.desired.ignore(PRICE, key)
        )
        found = self._declared(key, d)
        if not notes:
            return found
        return dataclasses.replace(found, unreachable=(*found.unreachable, *notes))

    def _declared(self, key: str, d: PriceState) -> KindPlan:
        found = self.index.resolve(key, d)
        cur = found.current
        if (
            found.how is How.IN_PLACE
            and cur is not None
            and d.active == cur.active
            and _in_place_values(cur) == _in_place_values(d)
        ):
            # The common case: nothing to update (what `_in_place` decides first), decided
            # before the summary and dependencies only a change needs.
            return KindPlan(self._archive_stale(key, cur.id))
        needs = frozenset({object_token(PRODUCT.name, d.product)})
        meter = metered_on(d)
        if meter is not None:
            needs |= METER.needs_of(meter)
        summary = describe_price(d)
        if found.how is How.CONFLICT and found.price is not None:
            return KindPlan(
                conflicts=(
                    f"price {key}: lookup_key {d.lookup_key!r} belongs to price "
                    f"{found.price.id}, which is not managed by billing-sync and cannot become "
                    "this price by updates (Stripe fixes amount, currency, interval, tiers and "
                    "product at creation): declare it as it is to adopt it, or give this price "
                    "another lookup_key",
                )
            )
        if found.how is How.ADOPT and found.price is not None:
            held = found.price
            params = self._in_place_params(held, d)
            params["metadata"] = {**params.get("metadata", {}), KEY_META: key}
            adopt_change = Adopt(
                kind=PRICE.name,
                key=key,
                request=Request("post", f"/v1/prices/{held.id}", params),
                stripe_id=held.id,
                fields=(
                    FieldChange(KEY_META, None, key),
                    *field_changes(values(held, MUTABLE_SPECS), values(d, MUTABLE_SPECS)),
                ),
                summary=summary,
                needs=needs,
                provides=frozenset({object_token(PRICE.name, key)}),
            )
            return KindPlan((adopt_change,))
        if found.how is How.IN_PLACE and cur is not None:
            return KindPlan(
                (*self._in_place(key, cur, d, needs, summary), *self._archive_stale(key, cur.id))
            )
        if found.how is How.REVERT and found.price is not None:
            match = found.price
            params = self._in_place_params(match, d)
            params["active"] = True
            params["lookup_key"] = d.lookup_key
            params["transfer_lookup_key"] = True
            revert = Reactivate(
                kind=PRICE.name,
                key=key,
                request=Request("post", f"/v1/prices/{match.id}", params),
                stripe_id=match.id,
                reason=Reason.REVERTED,
                fields=(
                    FieldChange("active", False, True),
                    *field_changes(values(match, MUTABLE_SPECS), values(d, MUTABLE_SPECS)),
                ),
                summary=summary,
                notes=(f"reverts to archived price {match.id}",),
                needs=needs,
                provides=frozenset({object_token(PRICE.name, key)}),
            )
            replaced = self._archive_replaced(key, cur) if cur is not None and cur.active else ()
            stale = self._archive_stale(key, match.id, cur.id if cur else None)
            return KindPlan((revert, *replaced, *stale))
        if found.how is How.CREATE:
            create = Create(
                kind=PRICE.name,
                key=key,
                request=Request("post", "/v1/prices", self._create_params(d)),
                fields=create_changes(d, (*FIXED_SPECS, *MUTABLE_SPECS), _quiet),
                summary=summary,
                needs=needs,
                provides=frozenset({object_token(PRICE.name, key)}),
            )
            return KindPlan((create, *self._archive_stale(key, None)))
        assert cur is not None  # How.REPLACE always has a current price
        return self._replace(key, cur, d, needs, summary)

    def _replace(
        self, key: str, cur: PriceState, d: PriceState, needs: frozenset[str], summary: str
    ) -> KindPlan:
        """A fixed field changed: create the successor, move what is declared, archive the old."""
        users = self.context.references.get(cur.id or "", ())
        moving = sum(
            1 for kind, ukey in users if ukey in self.context.desired.objects.get(kind, {})
        )
        stay = len(users) - moving
        product_id = self.index.product_id(d.product)
        changes = field_changes(values(cur, FIXED_SPECS), values(d, FIXED_SPECS))
        if cur.product_id != product_id:
            changes.append(FieldChange("product", cur.product_id, product_id))
        removed = sorted(set(cur.currency_options) - set(d.currency_options))
        if removed:
            changes.append(FieldChange("currency_options (removed)", removed, None))
        if cur.tax_behavior not in ("unspecified", d.tax_behavior):
            changes.append(FieldChange("tax_behavior", cur.tax_behavior, d.tax_behavior))
        changes += field_changes(values(cur, MUTABLE_SPECS), values(d, MUTABLE_SPECS))
        replace = Replace(
            kind=PRICE.name,
            key=key,
            request=Request("post", "/v1/prices", self._create_params(d)),
            stripe_id=cur.id,
            fields=tuple(changes),
            summary=f"{describe_price(cur)} -> {summary}",
            notes=_subscriptions_note(moving, stay),
            needs=needs,
            provides=frozenset({object_token(PRICE.name, key)}),
        )
        replaced = self._archive_replaced(key, cur) if cur.active else ()
        return KindPlan(
            (replace, *replaced, *self._archive_stale(key, cur.id)),
            grandfathered={key: stay} if stay else {},
        )

    def _create_params(self, d: PriceState) -> dict[str, Any]:
        params: dict[str, Any] = {
            "product": self.index.product_id(d.product),
            "currency": d.currency,
        }
        if d.tiers:
            params["billing_scheme"] = "tiered"
            params["tiers_mode"] = d.tiers_mode
            params["tiers"] = [_tier_param(t) for t in d.tiers]
        elif d.custom_unit_amount is not None:
            params["custom_unit_amount"] = {"enabled": True, **_custom_param(d.custom_unit_amount)}
        elif d.unit_amount_decimal is not None:
            params["unit_amount_decimal"] = d.unit_amount_decimal
        else:
            params["unit_amount"] = d.unit_amount
        if d.recurring:
            params["recurring"] = dict(d.recurring)
            meter = metered_on(d)
            if meter is not None:  # the meter's Stripe id, or its placeholder until created
                params["recurring"]["meter"] = self.context.target(METER, meter) or meter
        if d.transform_quantity:
            params["transform_quantity"] = dict(d.transform_quantity)
        if d.nickname is not None:
            params["nickname"] = d.nickname
        if d.tax_behavior != "unspecified":
            params["tax_behavior"] = d.tax_behavior
        if d.currency_options:
            params["currency_options"] = _options_param(d.currency_options)
        params["lookup_key"] = d.lookup_key
        params["metadata"] = {**d.metadata, KEY_META: d.key}
        if not d.active:
            params["active"] = False
        if self.index.lookup_holder(d.lookup_key, None) is not None:
            params["transfer_lookup_key"] = True
        return params

    def _in_place_params(self, cur: PriceState, d: PriceState) -> dict[str, Any]:
        old, new = values(cur, MUTABLE_SPECS), values(d, MUTABLE_SPECS)
        params: dict[str, Any] = {}
        for name in sorted(top_fields(field_changes(old, new))):
            if name == "metadata":
                params["metadata"] = metadata_params(cur.metadata, d.metadata)
            elif name == "currency_options":
                # Stripe replaces the per-currency entries given and keeps absent ones, so only
                # additions and changes can be expressed in place.
                params["currency_options"] = _options_param(d.currency_options)
            elif name == "lookup_key":
                params["lookup_key"] = d.lookup_key or ""
                if self.index.lookup_holder(d.lookup_key, cur.id) is not None:
                    params["transfer_lookup_key"] = True
            else:
                params[name] = SPEC_BY_NAME[name].param(new[name])
        return params

    def _in_place(
        self, key: str, cur: PriceState, d: PriceState, needs: frozenset[str], summary: str
    ) -> tuple[Change, ...]:
        if d.active == cur.active and _in_place_values(cur) == _in_place_values(d):
            return ()  # the common case, decided without building the field mappings
        changes = field_changes(values(cur, MUTABLE_SPECS), values(d, MUTABLE_SPECS))
        params = self._in_place_params(cur, d)
        cls: type[Change] = Update
        if d.active != cur.active:
            params["active"] = d.active
            changes.insert(0, FieldChange("active", cur.active, d.active))
            cls = Reactivate if d.active else Archive
        if not changes:
            return ()
        provides = frozenset({object_token(PRICE.name, key)}) if cls is Reactivate else frozenset()
        if cls is Archive:
            needs = needs | {release_token(cur.id or "")}
        return (
            cls(
                kind=PRICE.name,
                key=key,
                request=Request("post", f"/v1/prices/{cur.id}", params),
                stripe_id=cur.id,
                stage=Stage.DESTROY if cls is Archive else Stage.BUILD,
                fields=tuple(changes),
                summary=summary,
                destructive=cls is Archive,
                needs=needs,
                provides=provides,
            ),
        )

    def _archive(
        self,
        key: str,
        price: PriceState,
        reason: Reason,
        stage: Stage,
        *,
        destructive: bool = False,
        note: str | None = None,
        after: frozenset[str] = frozenset(),
    ) -> Change:
        """Archive one Stripe price (never delete: Stripe keeps prices forever)."""
        return Archive(
            kind=PRICE.name,
            key=key,
            request=Request("post", f"/v1/prices/{price.id}", {"active": False}),
            stripe_id=price.id,
            reason=reason,
            stage=stage,
            fields=(FieldChange("active", True, False),),
            summary=describe_price(price),
            notes=(note,) if note else (),
            destructive=destructive,
            # Whatever still points at it (a default price) moves away first.
            needs=after | {release_token(price.id or "")},
        )

    def _archive_replaced(self, key: str, old: PriceState) -> tuple[Change, ...]:
        return (
            self._archive(
                key,
                old,
                Reason.REPLACED,
                Stage.CLEANUP,
                note="the replaced price is archived; subscriptions still on it keep it",
                after=frozenset({object_token(PRICE.name, key)}),
            ),
        )

    def _archive_stale(
        self, key: str, keep: str | None, also_keep: str | None = None
    ) -> tuple[Change, ...]:
        """Other active prices with this key (left by an interrupted replace) are archived."""
        current = self.index.current.get(key)
        found = self.index.by_key.get(key, ())
        if len(found) == 1 and found[0] is current:
            return ()  # the common case: the current price is the only one with this key
        return tuple(
            self._archive(
                key,
                p,
                Reason.STALE,
                Stage.CLEANUP,
                note="an older active price with the same key (left by an interrupted apply)",
                after=frozenset({object_token(PRICE.name, key)}),
            )
            for p in self.index.by_key.get(key, [])
            if p.active and p.id not in (keep, also_keep) and p is not current
        )

    def removed(self) -> tuple[Change, ...]:
        """Every active price of a key no longer declared is archived (destructive)."""
        declared = self.context.desired.of(PRICE)
        return tuple(
            self._archive(
                key,
                p,
                Reason.REMOVED if p is self.index.current.get(key) else Reason.STALE,
                Stage.DESTROY,
                destructive=True,
            )
            for key in sorted(self.index.by_key)
            if key not in declared
            for p in self.index.by_key[key]
            if p.active
        )


def default_price_changes(context: PlanContext) -> list[Change]:
    """Point each product's default price at its declared price's target, or unset it when
    billing.yaml declares none. This lives with prices because only they know where each price
    key ends up (a replaced or reverted price's default follows it).
    """
    snapshot = context.existing.of(PRODUCT)
    adoptable = {p.id: p for p in snapshot.unmanaged}
    price_keys = PRICE.keys_by_id(context.existing)
    targets = context.targets.get(PRICE.name, {})
    changes: list[Change] = []
    for key, d in context.desired.of(PRODUCT).items():
        e = snapshot.managed.get(key) or adoptable.get(d.id)
        current = e.default_price if e else None
        price_key = d.default_price
        # Not declared: unset (Stripe also refuses to archive a price that is a default).
        target = targets.get(price_key) if price_key is not None else ""
        if target is None or target == current or (target == "" and current is None):
            continue
        product_id = context.target(PRODUCT, key) or key
        changes.append(
            Update(
                kind=PRODUCT.name,
                key=key,
                request=Request("post", f"/v1/products/{product_id}", {"default_price": target}),
                stripe_id=product_id,
                reason=Reason.DEFAULT_PRICE,
                stage=Stage.LINK,
                fields=(
                    FieldChange(
                        "default_price",
                        price_label(current, price_keys),
                        price_label(target, price_keys, price_key),
                    ),
                ),
                needs=frozenset({object_token(PRODUCT.name, key)})
                | (PRICE.needs_of(price_key) if price_key else frozenset()),
                provides=frozenset({release_token(current)}) if current else frozenset(),
            )
        )
    return changes


def price_label(
    target: str | None, price_keys: Mapping[str, str], key: str | None = None
) -> str | None:
    """`pro-monthly (price_123)` or `pro-monthly (new price)` for plan listings."""
    if not target:
        return None
    key = key or price_keys.get(target, target)
    return f"{key} (new price)" if is_ref(target) else f"{key} ({target})"


# -- both sides' normal form -------------------------------------------------------------------
def normalise_tiers(tiers: Iterable[Mapping[str, Any]] | None) -> tuple[dict[str, Any], ...] | None:
    """Stripe returns `up_to: null` for the last tier and nulls for absent amounts; a tier
    amount that is a fraction of the minor unit comes only as `unit_amount_decimal` (or
    `flat_amount_decimal`), with `unit_amount: null`, and is kept exactly (see tier_amount)."""
    if not tiers:
        return None
    out = []
    for t in tiers:
        up_to = t.get("up_to")
        out.append(
            {
                "up_to": "inf" if up_to in (None, "inf") else int(up_to),
                "unit_amount": tier_amount(t, "unit_amount"),
                "flat_amount": tier_amount(t, "flat_amount"),
            }
        )
    return tuple(out) or None


def tier_amount(tier: Mapping[str, Any], name: str) -> int | str:
    """A tier's `name` amount in minor units, exactly: an int, or the decimal text of an amount
    with a fraction of the minor unit (`"0.5"`), which billing.yaml's tiers cannot declare, so
    that it differs from every declared tier instead of being read as 0. Absent: 0.
    Stripe's tier object: `unit_amount` nullable, `unit_amount_decimal` "Same as unit_amount,
    but contains a decimal value with at most 12 decimal places" (stripe-ruby Price::Tier)."""
    whole = tier.get(name)
    if whole is not None:
        return int(whole)
    text = tier.get(f"{name}_decimal")
    if text is None:
        return 0
    value = Decimal(str(text))
    return int(value) if value == value.to_integral_value() else decimal_text(value)


def fractional_tiers(state: PriceState) -> list[str]:
    """Where `state`'s tiers (main currency, then currency options) hold an amount with a
    fraction of the minor unit: `tier 2 unit_amount 0.5 (usd)`."""
    found = []
    groups = [
        (state.currency, state.tiers),
        *((c, o.get("tiers")) for c, o in sorted(state.currency_options.items())),
    ]
    for currency, tiers in groups:
        for n, t in enumerate(tiers or (), start=1):
            for name in ("unit_amount", "flat_amount"):
                if isinstance(t[name], str):
                    found.append(f"tier {n} {name} {t[name]} ({currency})")
    return found


def _desired_tiers(tiers: list[Tier] | None) -> tuple[dict[str, Any], ...] | None:
    return normalise_tiers([t.model_dump() for t in tiers] if tiers else None)


def declared_billing(config: BillingConfig) -> dict[str, tuple[str, bool]]:
    """Price key -> (its currency, whether it is metered), as `desired_price` would say, without
    building every price's state (subscriptions' desired states need only these)."""
    return {
        key: (
            price.currency.lower(),
            price.recurring is not None
            and price.recurring.usage_type == "metered"
            and bool(price.recurring.meter),
        )
        for product in config.products.values()
        for key, price in product.prices.items()
    }


def desired_price(key: str, product_key: str, price: Price) -> PriceState:
    options = {
        cur.lower(): {
            "unit_amount": opt.minor_amount(cur) if not opt.tiers else None,
            "tiers": _desired_tiers(opt.tiers),
            "tax_behavior": opt.tax_behavior or "unspecified",
        }
        for cur, opt in sorted(price.currency_options.items())
    }
    tiers = _desired_tiers(price.tiers)
    minor = None if tiers else price.minor_decimal()
    whole = minor is not None and minor == minor.to_integral_value()
    custom = price.custom_unit_amount
    recurring: dict[str, Any] | None = None
    if price.recurring is not None:
        recurring = {
            "interval": price.recurring.interval,
            "interval_count": price.recurring.interval_count,
        }
        if price.recurring.usage_type == "metered":
            recurring.update(usage_type="metered", meter=price.recurring.meter)
    return PriceState(
        key=key,
        product=product_key,
        currency=price.currency.lower(),
        unit_amount=int(minor) if minor is not None and whole else None,
        unit_amount_decimal=decimal_text(minor) if minor is not None and not whole else None,
        custom_unit_amount=custom.model_dump() if custom is not None else None,
        billing_scheme="tiered" if tiers else "per_unit",
        tiers_mode=price.tiers_mode if tiers else None,
        tiers=tiers,
        recurring=recurring,
        transform_quantity=(
            price.transform_quantity.model_dump() if price.transform_quantity else None
        ),
        nickname=price.nickname,
        metadata=dict(price.metadata),
        currency_options=options,
        lookup_key=price.lookup_key or key,
        tax_behavior=price.tax_behavior or "unspecified",
        active=price.active,
        pin=price.stripe_id,
    )


def normalise_price(
    obj: Mapping[str, Any], product_key: str, meter_keys: Mapping[str, str] | None = None
) -> PriceState:
    """A Stripe price -> PriceState, with Stripe's echoes removed so an unchanged price is equal."""
    currency = shared(obj["currency"])
    options: dict[str, Any] = {}
    for cur, opt in sorted((obj.get("currency_options") or {}).items()):
        if cur == currency:  # Stripe echoes the main currency inside currency_options
            continue
        opt_tiers = normalise_tiers(opt.get("tiers"))
        options[shared(cur)] = {
            "unit_amount": None if opt_tiers else opt.get("unit_amount"),
            "tiers": opt_tiers,
            "tax_behavior": shared(opt.get("tax_behavior") or "unspecified"),
        }
    recurring = obj.get("recurring")
    transform = obj.get("transform_quantity")
    tiered = obj.get("billing_scheme") == "tiered"
    custom = obj.get("custom_unit_amount")
    fraction = None
    if not tiered and obj.get("unit_amount") is None and obj.get("unit_amount_decimal") is not None:
        fraction = decimal_text(Decimal(str(obj["unit_amount_decimal"])))
    rec: dict[str, Any] | None = None
    if recurring:
        rec = {
            "interval": shared(recurring["interval"]),
            "interval_count": recurring["interval_count"],
        }
        if recurring.get("usage_type") == "metered":
            meter = id_of(recurring.get("meter")) or ""
            rec.update(usage_type="metered", meter=(meter_keys or {}).get(meter, meter))
    key = managed_key(obj) or obj["id"]
    lookup_key = obj.get("lookup_key")
    return PriceState(
        key=key,
        product=product_key,
        currency=currency,
        unit_amount=None if tiered else obj.get("unit_amount"),
        unit_amount_decimal=fraction,
        custom_unit_amount=(
            {k: custom.get(k) for k in ("minimum", "maximum", "preset")} if custom else None
        ),
        billing_scheme=shared(obj.get("billing_scheme") or "per_unit"),
        tiers_mode=shared(obj.get("tiers_mode")) if tiered else None,
        tiers=normalise_tiers(obj.get("tiers")) if tiered else None,
        recurring=rec,
        transform_quantity=(
            {"divide_by": transform["divide_by"], "round": transform["round"]}
            if transform
            else None
        ),
        nickname=obj.get("nickname"),
        metadata=user_metadata(obj),
        currency_options=options,
        lookup_key=key if lookup_key == key else lookup_key,  # the same text: kept once
        tax_behavior=shared(obj.get("tax_behavior") or "unspecified"),
        active=bool(obj.get("active")),
        id=obj["id"],
        product_id=id_of(obj["product"]),
        created=int(obj.get("created") or 0),
    )


def _tier_param(t: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"up_to": t["up_to"], "unit_amount": t["unit_amount"]}
    if t["flat_amount"]:
        out["flat_amount"] = t["flat_amount"]
    return out


def _custom_param(custom: Mapping[str, int | None]) -> dict[str, int]:
    return {k: v for k, v in custom.items() if v is not None}


def metered_on(p: PriceState) -> str | None:
    """The meter key a metered price bills (None for licensed and one-time prices)."""
    return str(p.recurring["meter"]) if p.recurring and p.recurring.get("meter") else None


def _options_param(options: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for cur, opt in options.items():
        param: dict[str, Any] = (
            {"tiers": [_tier_param(t) for t in opt["tiers"]]}
            if opt["tiers"]
            else {"unit_amount": opt["unit_amount"]}
        )
        if opt.get("tax_behavior", "unspecified") != "unspecified":
            param["tax_behavior"] = opt["tax_behavior"]
        out[cur] = param
    return out


def _quiet(name: str, value: Any) -> bool:
    """Defaults not worth a line in a create's listing."""
    return isinstance(value, str) and (name, value) in {
        ("billing_scheme", "per_unit"),
        ("billing_scheme", "tiered"),
        ("tax_behavior", "unspecified"),
    }


# -- money in words ----------------------------------------------------------------------------
# How many of an interval make a month, for MRR (Stripe's own MRR uses the same 52/12 and 365/12).
PER_MONTH = {
    "day": Decimal(365) / 12,
    "week": Decimal(52) / 12,
    "month": Decimal(1),
    "year": Decimal(1) / 12,
}


def interval_words(recurring: Mapping[str, Any] | None) -> str:
    if not recurring:
        return "one-time"
    count = int(recurring.get("interval_count") or 1)
    interval = recurring["interval"]
    return f"/{interval}" if count == 1 else f"/{count} {interval}s"


def _interval_slug(recurring: Mapping[str, Any] | None) -> str:
    """`monthly`, `yearly`, `every-3-months`, `one-time`: a price key's middle part."""
    if not recurring:
        return "one-time"
    count = int(recurring.get("interval_count") or 1)
    interval = str(recurring["interval"])
    if count == 1:
        return "daily" if interval == "day" else f"{interval}ly"
    return f"every-{count}-{interval}s"


def _tier_money(minor: int | str, currency: str) -> str:
    """A tier amount in major units: a fraction of the minor unit shown exactly."""
    return (
        format_amount(minor, currency)
        if isinstance(minor, int)
        else format_decimal_amount(minor, currency)
    )


def describe_price(p: PriceState) -> str:
    """`19.99 USD/month`, `499.00 USD one-time`, `graduated tiers (10.00 USD up to 10; ...)/month`."""
    per = interval_words(p.recurring)
    sep = " " if per == "one-time" else ""
    if p.tiers:
        parts = []
        for t in p.tiers:
            amount = _tier_money(t["unit_amount"], p.currency)
            if t.get("flat_amount"):
                amount += f" + {_tier_money(t['flat_amount'], p.currency)} flat"
            bound = "above" if t["up_to"] == "inf" else f"up to {t['up_to']}"
            parts.append(f"{amount} {bound}")
        return f"{p.tiers_mode} tiers ({'; '.join(parts)}){sep}{per}"
    if p.custom_unit_amount is not None:
        bounds = [
            f"{name} {format_amount(v, p.currency)}"
            for name, v in p.custom_unit_amount.items()
            if v is not None
        ]
        shown = f" ({', '.join(bounds)})" if bounds else ""
        return f"pay what you want in {p.currency.upper()}{shown}{sep}{per}"
    if p.unit_amount_decimal is not None:
        text = format_decimal_amount(p.unit_amount_decimal, p.currency)
    else:
        text = format_amount(p.unit_amount, p.currency)
    meter = metered_on(p)
    text += (f" per unit of meter {meter}" if meter is not None else sep) + per
    tq = p.transform_quantity
    if tq:
        text += f" per {tq['divide_by']} units (rounded {tq['round']})"
    return text


def charge_for_quantity(p: PriceState, quantity: int) -> Decimal:
    """What one billing period costs for `quantity`, in minor units."""
    tq = p.transform_quantity
    if tq:
        q = Decimal(quantity) / int(tq["divide_by"])
        quantity = int(q.to_integral_value(ROUND_CEILING if tq["round"] == "up" else ROUND_FLOOR))
    if not p.tiers:
        if p.unit_amount_decimal is not None:
            return Decimal(p.unit_amount_decimal) * quantity
        return Decimal(p.unit_amount or 0) * quantity
    if p.tiers_mode == "volume":
        for t in p.tiers:
            if t["up_to"] == "inf" or quantity <= t["up_to"]:
                return Decimal(t["unit_amount"]) * quantity + Decimal(t["flat_amount"])
        return Decimal(0)
    total, lower = Decimal(0), 0
    for t in p.tiers:
        if quantity <= lower:
            break
        upper = quantity if t["up_to"] == "inf" else min(quantity, t["up_to"])
        total += Decimal(t["unit_amount"]) * (upper - lower) + Decimal(t["flat_amount"])
        lower = upper
    return total


def monthly(p: PriceState, quantity: int) -> Decimal:
    """Monthly recurring revenue of one item in minor units (0 for one-time prices)."""
    if not p.recurring or metered_on(p) is not None:  # usage is not known in advance
        return Decimal(0)
    factor = PER_MONTH[p.recurring["interval"]] / int(p.recurring.get("interval_count") or 1)
    return charge_for_quantity(p, quantity) * factor


PRICE = PriceKind()
SPEC_BY_NAME = {s.name: s for s in PRICE.fields}
FIXED_SPECS = tuple(SPEC_BY_NAME[n] for n in FIXED)
MUTABLE_SPECS = tuple(SPEC_BY_NAME[n] for n in IN_PLACE)
# The same fields as tuples, to test equality without building mappings (once per price).
_fixed_values = operator.attrgetter(*FIXED)
_in_place_values = operator.attrgetter(*IN_PLACE)


def _subscriptions_note(moving: int, stay: int) -> tuple[str, ...]:
    """What a price replacement does to subscriptions, saying only what is not zero."""
    parts = []
    if moving:
        parts.append(
            f"{moving} declared subscription{'s move' if moving > 1 else ' moves'} to the new price"
        )
    if stay:
        parts.append(
            f"{stay} other subscription{'s stay' if stay > 1 else ' stays'} on the old price"
        )
    return ("; ".join(parts),) if parts else ()
