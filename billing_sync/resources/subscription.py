"""Subscriptions: items matched one by one, fields updated in place, removal cancels per policy."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any

from billing_sync.changes import (
    Adopt,
    Cancel,
    Change,
    Create,
    FieldChange,
    KindPlan,
    Reason,
    Request,
    Stage,
    Update,
    is_ref,
    object_token,
)
from billing_sync.config.cards import is_test_card
from billing_sync.config.models import BillingConfig
from billing_sync.config.timestamps import NOW, day, iso, unix
from billing_sync.metadata import CARD_META, KEY_META, PROTECT_META, managed_key, user_metadata
from billing_sync.money import format_amount
from billing_sync.remote.pages import id_of, shared
from billing_sync.resources.base import (
    OBSERVED,
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
    diff_fields,
    field_changes,
    field_values,
    ignore_rules,
    metadata_params,
    plain_specs,
    reachable,
    slug,
)
from billing_sync.resources.coupon import COUPON, CouponState, coupon_discount
from billing_sync.resources.customer import CUSTOMER
from billing_sync.resources.price import (
    PER_MONTH,
    PRICE,
    PriceState,
    charge_for_quantity,
    declared_billing,
    describe_price,
    metered_on,
    monthly,
)
from billing_sync.resources.promotion_code import PROMOTION_CODE, PromotionCodeState
from billing_sync.resources.tax_rate import TAX_RATE

ENDED = frozenset({"canceled", "incomplete_expired"})
DAY = 86_400
# Stripe: a trial end "can be at most two years from billing_cycle_anchor" (API reference,
# subscriptions create/update `trial_end`); checked against the plan's clock.
MAX_TRIAL = 730 * DAY


@dataclass(frozen=True, slots=True)
class ItemState:
    price: str  # price key (desired); existing: the key of the item's price, or its id
    quantity: int
    metadata: Mapping[str, str] = field(default_factory=dict)
    id: str | None = None  # existing only
    price_id: str | None = None  # existing only
    # existing only: the item's period (on items since API 2025-03-31); for `status`, never
    # compared, and left out of the saved plan's fingerprint (a renewal is not a change)
    current_period_end: int | None = field(default=None, compare=False, metadata=OBSERVED)


@dataclass(frozen=True, slots=True)
class SubscriptionState:
    key: str  # "<customer key>/<subscription key>"
    customer: str  # customer key
    items: tuple[ItemState, ...]
    collection_method: str = "charge_automatically"
    days_until_due: int | None = None
    cancel_at_period_end: bool = False
    default_payment_method: str | None = None
    metadata: Mapping[str, str] = field(default_factory=dict)
    protect: bool = False
    trial_period_days: int | None = None
    # desired: `now` or a Unix timestamp (None: no opinion); existing: Stripe's trial_end
    trial_end: int | str | None = None
    proration_behavior: str | None = None  # desired only: how this subscription's changes prorate
    currency: str | None = None
    id: str | None = None  # existing only
    status: str | None = None  # existing only
    customer_id: str | None = None  # existing only: the Stripe customer it bills
    # ({"coupon": key} or {"promotion_code": key}, ...); existing: keys of managed ones, else ids
    discounts: tuple[Mapping[str, str], ...] = ()
    default_tax_rates: tuple[str, ...] = ()  # tax rate keys (existing: a key, else the id)
    # existing only: (field, Stripe id, discount id) of each discount, and the tax rate ids
    discount_ids: tuple[tuple[str, str, str], ...] = ()
    tax_rate_ids: tuple[str, ...] = ()


# An undeclared price (billing.yaml's checks refuse it): not metered, no currency.
_LICENSED = ("", False)


def _quantity(quantity: int) -> dict[str, int]:
    """An item's quantity parameter; none for a metered price ("You cannot set the quantity
    for metered plans", Stripe's answer quoted in pay-rails/pay#193)."""
    return {"quantity": quantity} if quantity else {}


def _quantity_words(quantity: int) -> str:
    return f"quantity {quantity}" if quantity else "metered usage"


def sub_key(customer_key: str, subscription_key: str) -> str:
    return f"{customer_key}/{subscription_key}"


class SubscriptionKind(Kind[SubscriptionState]):
    name = "subscription"
    plural = "subscriptions"
    fields = (
        FieldSpec("items", unset=Unset.REQUIRED, own_rule=True),
        FieldSpec("collection_method", unset=Unset.DEFAULT),
        # Required with send_invoice and refused without it: it is never removed on its own.
        FieldSpec("days_until_due", unset=Unset.REQUIRED),
        FieldSpec("cancel_at_period_end", unset=Unset.DEFAULT),
        # Stripe's update takes no empty string for it (stripe.params types): kept when removed.
        FieldSpec("default_payment_method", unset=Unset.NEVER),
        FieldSpec("metadata", unset=Unset.MERGE),
        # Kept in metadata billing_sync_protect, so a removed protected subscription is caught.
        FieldSpec("protect", unset=Unset.DEFAULT, own_rule=True),
        # Stripe starts a trial from it only at creation; read back from trial_start/trial_end.
        # Compared by `_reachable` (only while trial_end is not declared).
        FieldSpec(
            "trial_period_days",
            mutability=Mutability.CREATE_ONLY,
            unset=Unset.OWN_RULE,
            own_rule=True,
        ),
        # Sets, moves or ends (`now`) the trial of an existing subscription (`_trial`); removing
        # it changes nothing (Stripe cannot take a trial back, only end it: declare `now`).
        FieldSpec("trial_end", unset=Unset.OWN_RULE, own_rule=True),
        # Not stored by Stripe: sent with each item change of this subscription.
        FieldSpec(
            "proration_behavior",
            mutability=Mutability.REQUEST_OPTION,
            unset=Unset.DEFAULT,
            own_rule=True,
        ),
        # Compared by the ids they resolve to (a replaced tax rate moves the subscription); an
        # unchanged discount is kept as it is (its months already counted), not redeemed again.
        FieldSpec("discounts", own_rule=True),
        FieldSpec("default_tax_rates", own_rule=True),
    )
    # Canceled subscriptions are listed only with status=all; discounts are ids unless expanded.
    list_reads = (ListRead("/v1/subscriptions", {"status": "all", "expand": ["data.discounts"]}),)

    # -- billing.yaml ------------------------------------------------------------------------
    def desired(self, config: BillingConfig) -> dict[str, SubscriptionState]:
        prices = declared_billing(config)
        out: dict[str, SubscriptionState] = {}
        for ckey, customer in config.customers.items():
            for skey, sub in customer.subscriptions.items():
                key = sub_key(ckey, skey)
                currency = next((prices[i.price][0] for i in sub.items if i.price in prices), None)
                out[key] = SubscriptionState(
                    key=key,
                    customer=ckey,
                    items=tuple(
                        # A metered price takes no quantity (Stripe bills its meter's usage): 0.
                        ItemState(
                            i.price,
                            0 if prices.get(i.price, _LICENSED)[1] else i.quantity,
                            dict(i.metadata),
                        )
                        for i in sub.items
                    ),
                    collection_method=sub.collection_method,
                    days_until_due=sub.days_until_due,
                    cancel_at_period_end=sub.cancel_at_period_end,
                    default_payment_method=sub.default_payment_method,
                    metadata=dict(sub.metadata),
                    protect=sub.protect,
                    trial_period_days=sub.trial_period_days,
                    trial_end=unix(sub.trial_end),
                    proration_behavior=sub.proration_behavior,
                    currency=currency,
                    discounts=tuple(
                        {"coupon": x.coupon}
                        if x.coupon is not None
                        else {"promotion_code": x.promotion_code or ""}
                        for x in sub.discounts
                    ),
                    default_tax_rates=tuple(sub.default_tax_rates),
                )
        return out

    def ignored(self, config: BillingConfig) -> Mapping[str, Ignore]:
        return ignore_rules(
            config.ignore.subscriptions,
            (
                (sub_key(ckey, skey), s.ignore)
                for ckey, c in config.customers.items()
                for skey, s in c.subscriptions.items()
            ),
        )

    def render(self, state: SubscriptionState) -> tuple[tuple[str, ...], dict[str, Any]]:
        items = []
        for i in state.items:
            item: dict[str, Any] = {"price": i.price, **_quantity(i.quantity)}
            if i.metadata:
                item["metadata"] = dict(i.metadata)
            items.append(item)
        doc: dict[str, Any] = {"items": items}
        if state.collection_method != "charge_automatically":
            doc["collection_method"] = state.collection_method
        for name in ("days_until_due", "default_payment_method", "trial_period_days"):
            if getattr(state, name) is not None:
                doc[name] = getattr(state, name)
        # Not beside trial_period_days (validate refuses both): an imported trial is declared
        # by its length, a declared trial end as written.
        if state.trial_end is not None and state.trial_period_days is None:
            doc["trial_end"] = (
                state.trial_end if state.trial_end == NOW else iso(int(state.trial_end))
            )
        if state.proration_behavior is not None:
            doc["proration_behavior"] = state.proration_behavior
        if state.cancel_at_period_end:
            doc["cancel_at_period_end"] = True
        if state.metadata:
            doc["metadata"] = dict(state.metadata)
        if state.protect:
            doc["protect"] = True
        if state.discounts:
            doc["discounts"] = [dict(x) for x in state.discounts]
        if state.default_tax_rates:
            doc["default_tax_rates"] = list(state.default_tax_rates)
        customer, _, own = state.key.partition("/")
        return ("customers", customer, "subscriptions", own), doc

    # -- Stripe ------------------------------------------------------------------------------
    def read(
        self, objects: Iterable[dict[str, Any]], existing: Existing, pages: Pages
    ) -> Snapshot[SubscriptionState]:
        price_keys = PRICE.keys_by_id(existing)
        price_ids = {i: i for i in price_keys}  # items keep the price's own id string
        customer_keys = {c.id: c.key for c in existing.of(CUSTOMER).managed.values() if c.id}
        refs = _ref_keys(existing)
        managed: dict[str, SubscriptionState] = {}
        ended: list[SubscriptionState] = []
        unmanaged: list[SubscriptionState] = []
        for obj in objects:
            key = managed_key(obj)
            ended_now = obj.get("status") in ENDED
            if key is None and ended_now:
                continue  # an ended subscription of someone else's: nothing to know
            items = _items(obj, pages)
            state = _normalise(
                obj, key or obj["id"], items, price_keys, customer_keys, refs, price_ids
            )
            if key is None:
                unmanaged.append(state)
            elif ended_now:
                ended.append(state)
            elif key not in managed:
                managed[key] = state
            else:  # two live subscriptions claim one key: keep one, report the other as unmanaged
                unmanaged.append(_replace_key(state, state.id or key))
        return Snapshot(managed=managed, others=tuple(ended), unmanaged=tuple(unmanaged))

    def trim(self, obj: dict[str, Any]) -> dict[str, Any]:
        """Each embedded item's price down to its id, and its `plan` (the same price in the
        legacy shape) dropped: Stripe embeds both whole in every item, most of a subscription's
        4.5 KB, and `read` needs only the price's id."""
        items = obj.get("items")
        for item in (items.get("data") or ()) if isinstance(items, dict) else ():
            if isinstance(item, dict):
                item.pop("plan", None)
                price = item.get("price")
                if isinstance(price, dict) and isinstance(price.get("id"), str):
                    item["price"] = price["id"]
        return obj

    def stripe_id(self, state: SubscriptionState) -> str | None:
        return state.id

    def references(self, snapshot: Snapshot[SubscriptionState]) -> Iterator[tuple[str, str]]:
        """(price id, subscription key) for every live subscription, managed or not."""
        for s in (*snapshot.managed.values(), *snapshot.unmanaged):
            for price_id in sorted({i.price_id for i in s.items if i.price_id}):
                yield price_id, s.key

    def ended(self, snapshot: Snapshot[SubscriptionState], key: str) -> SubscriptionState | None:
        return next((s for s in snapshot.others if s.key == key), None)

    # -- import ------------------------------------------------------------------------------
    import_option = "customers"

    def import_key(self, state: SubscriptionState, ids: IdKeys) -> str:
        """`<customer key>/<first item's price key>`: `acme/pro-monthly-usd`."""
        customer = ids.get(CUSTOMER.name, {}).get(state.customer_id or "") or state.customer
        prices = ids.get(PRICE.name, {})
        first = next((prices[i.price_id or ""] for i in state.items if i.price_id in prices), None)
        return sub_key(customer, slug(first, "subscription"))

    def import_state(
        self, state: SubscriptionState, key: str, ids: IdKeys
    ) -> Imported[SubscriptionState]:
        """Under its customer's key, items on the imported price keys. Left out whole when its
        customer or one of its prices is not imported: declaring only some of its items would
        make the plan remove the others."""
        where = f"subscription {state.id}"
        customer = ids.get(CUSTOMER.name, {}).get(state.customer_id or "")
        if customer is None:
            return Imported.skip(f"{where}: its customer {state.customer_id} is not imported")
        prices = ids.get(PRICE.name, {})
        missing = sorted({i.price_id or "?" for i in state.items if i.price_id not in prices})
        if missing:
            return Imported.skip(
                f"{where} of customer {customer}: its price(s) {', '.join(missing)} are not "
                "imported (archived ones need --include-archived); declared without them, the "
                "plan would remove those items"
            )
        items = tuple(replace(i, price=prices[i.price_id or ""]) for i in state.items)
        discounts = []
        for kind_name, stripe_id, _ in state.discount_ids:
            found = ids.get(kind_name, {}).get(stripe_id)
            if found is None:
                return Imported.skip(
                    f"{where} of customer {customer}: its {kind_name.replace('_', ' ')} "
                    f"{stripe_id} is not imported; declared without it, the plan would remove "
                    "that discount"
                )
            discounts.append({kind_name: found})
        rates = []
        for rate_id in state.tax_rate_ids:
            found = ids.get(TAX_RATE.name, {}).get(rate_id)
            if found is None:
                return Imported.skip(
                    f"{where} of customer {customer}: its tax rate {rate_id} is not imported"
                )
            rates.append(found)
        own = key.partition("/")[2]
        return Imported(
            replace(
                state,
                key=sub_key(customer, own),
                customer=customer,
                items=items,
                discounts=tuple(discounts),
                default_tax_rates=tuple(rates),
            )
        )

    # -- comparison --------------------------------------------------------------------------
    def compare(self, context: PlanContext) -> KindPlan:
        snapshot = context.existing.of(self)
        desired = context.desired.of(self)
        ended: dict[str, SubscriptionState] = {}
        for s in snapshot.others:
            ended.setdefault(s.key, s)
        changes: list[Change] = []
        warnings: list[str] = []
        conflicts: list[str] = []
        unreachable: list[str] = []
        existing_prices = PRICE.by_id(context.existing)
        for key, d in desired.items():
            e = snapshot.managed.get(key)
            if e is None:
                gone = ended.get(key)
                if gone is not None:
                    # Drift, not a change: billing-sync never re-creates a subscription that
                    # ended (that would bill the customer again without anyone deciding to).
                    unreachable.append(
                        f"subscription {key} is {gone.status} in Stripe ({gone.id}) and is not "
                        "re-created: remove it from billing.yaml, or give it a new key to "
                        "subscribe the customer again"
                    )
                    continue
                found = self._adoptable(context, d, snapshot)
                if len(found) > 1:
                    conflicts.append(
                        f"subscription {key}: {len(found)} subscriptions billing-sync does not "
                        f"manage bill this customer for these prices ({', '.join(s.id or '' for s in found)}); "
                        "it cannot tell which one to adopt: cancel the extra ones in Stripe"
                    )
                elif found:
                    adopted, notes = self._adopt(context, d, found[0])
                    changes += adopted
                    unreachable += notes
                elif (refused := _trial_at_creation(context, d)) is not None:
                    conflicts.append(refused)
                else:
                    changes += self._create(context, d)
            elif e.status == "incomplete":
                warnings.append(
                    f"subscription {key} ({e.id}) is incomplete (awaiting first payment); "
                    "it is left as it is until it becomes active"
                )
            elif e.currency and d.currency and e.currency != d.currency:
                conflicts.append(
                    f"subscription {key} ({e.id}) is billed in {e.currency.upper()} and "
                    f"billing.yaml puts it on {d.currency.upper()} prices; Stripe cannot change "
                    f"a subscription's currency. Keep its prices in {e.currency.upper()} (declare "
                    f"the {d.currency.upper()} price under a new key), or give the subscription "
                    "a new key: the old one is cancelled per policy and a new one created"
                )
            else:
                d, notes = self._reachable(context, d, e)
                unreachable += notes
                trial = _trial(context, d, e)
                unreachable += trial.unreachable
                changes += self._update(context, d, e, existing_prices, trial)
        for key, e in snapshot.managed.items():
            if key not in desired:
                cancel = self._cancel(context, e)
                if cancel is not None:
                    changes.append(cancel)
        return KindPlan(
            tuple(changes), tuple(warnings), tuple(conflicts), unreachable=tuple(unreachable)
        )

    def _adoptable(
        self,
        context: PlanContext,
        d: SubscriptionState,
        snapshot: Snapshot[SubscriptionState],
    ) -> list[SubscriptionState]:
        """Live unmanaged subscriptions of the declared customer on exactly the declared prices."""
        customer = context.target(CUSTOMER, d.customer)
        prices = {context.target(PRICE, i.price) for i in d.items}
        return [
            u
            for u in snapshot.unmanaged
            if customer is not None
            and u.customer_id == customer
            and {i.price_id for i in u.items} == prices
        ]

    def _reachable(
        self, context: PlanContext, d: SubscriptionState, e: SubscriptionState
    ) -> tuple[SubscriptionState, tuple[str, ...]]:
        """The generic `reachable`, with the trial length compared by its own rule: only when it
        is declared and trial_end is not (trial_end then says what the trial is)."""
        reached, notes = reachable(
            self.name, d.key, e, d, _REACHED_SPECS, context.desired.ignore(self, d.key)
        )
        # A trial length declared without trial_end is compared (a change cannot be sent: said
        # so). Neither declared: nothing is asked of the trial Stripe holds (removing trial_end
        # or trial_period_days changes nothing, as Stripe keeps neither after creation).
        if (
            d.trial_end is None
            and d.trial_period_days is not None
            and d.trial_period_days != e.trial_period_days
        ):
            notes = (
                *notes,
                f"subscription {d.key}: trial_period_days ({_days(e.trial_period_days)} -> "
                f"{_days(d.trial_period_days)}) is used only when a subscription is created; to "
                "change the trial of this one, declare trial_end instead: a date moves it, now "
                "ends it",
            )
        if reached.trial_period_days == e.trial_period_days:
            return reached, notes
        return replace(reached, trial_period_days=e.trial_period_days), notes

    def _adopt(
        self, context: PlanContext, d: SubscriptionState, found: SubscriptionState
    ) -> tuple[list[Change], tuple[str, ...]]:
        """Stamp the ownership metadata, and update quantities and fields in the same write."""
        reached, notes = self._reachable(context, d, found)
        trial = _trial(context, reached, found)
        planned = self._update(context, reached, found, PRICE.by_id(context.existing), trial)
        attach, update = planned[:-1], (planned[-1] if planned else None)
        params = dict(update.request.params) if update is not None else {}
        params["metadata"] = {**params.get("metadata", {}), KEY_META: d.key}
        change = Adopt(
            kind=self.name,
            key=d.key,
            request=Request("post", f"/v1/subscriptions/{found.id}", params),
            stripe_id=found.id,
            fields=(FieldChange(KEY_META, None, d.key), *(update.fields if update else ())),
            summary=_items_words(context, d.items),
            notes=update.notes if update is not None else (),
            protected=update.protected if update is not None else False,
            destructive=update.destructive if update is not None else False,
            needs=update.needs if update is not None else frozenset(),
            provides=frozenset({object_token(self.name, d.key)}),
        )
        return [*attach, change], (*notes, *trial.unreachable)

    def _item_price(self, context: PlanContext, price_key: str) -> tuple[str, frozenset[str]]:
        target = context.target(PRICE, price_key) or price_key
        return target, PRICE.needs_of(price_key)

    def _attach(self, context: PlanContext, d: SubscriptionState) -> tuple[Change, str]:
        """Attach the declared test card token to the customer (Stripe makes a new PaymentMethod
        from it: https://docs.stripe.com/testing); the placeholder is that PaymentMethod's id."""
        token = str(d.default_payment_method)
        customer = context.target(CUSTOMER, d.customer) or d.customer
        change = Create(
            kind=self.name,
            key=d.key,
            request=Request("post", f"/v1/payment_methods/{token}/attach", {"customer": customer}),
            reason=Reason.PAYMENT_METHOD,
            summary=f"{token} to customer {d.customer}",
            notes=(
                "test mode: Stripe makes a new PaymentMethod from the token; it becomes the "
                "subscription's default_payment_method",
            ),
            needs=CUSTOMER.needs_of(d.customer),
        )
        assert change.produces is not None
        return change, change.produces

    def _payment_method(
        self, context: PlanContext, d: SubscriptionState, params: dict[str, Any]
    ) -> tuple[list[Change], dict[str, str]]:
        """A declared test card token becomes an attach and the attached id: returns the attach
        (if any) and the metadata that records which token the id came from."""
        token = params.get("default_payment_method")
        if not is_test_card(token):
            return [], {}
        attach, attached = self._attach(context, d)
        params["default_payment_method"] = attached
        return [attach], {CARD_META: f"{token} {attached}"}

    def _create(self, context: PlanContext, d: SubscriptionState) -> list[Change]:
        customer = context.target(CUSTOMER, d.customer) or d.customer
        needs = set(CUSTOMER.needs_of(d.customer))
        items = []
        for item in d.items:
            price, price_needs = self._item_price(context, item.price)
            needs |= price_needs
            entry: dict[str, Any] = {"price": price, **_quantity(item.quantity)}
            if item.metadata:
                entry["metadata"] = dict(item.metadata)
            items.append(entry)
        params: dict[str, Any] = {
            "customer": customer,
            "items": items,
            "collection_method": d.collection_method,
        }
        if d.collection_method == "send_invoice":
            params["days_until_due"] = d.days_until_due
        notes: list[str] = []
        if d.trial_period_days:
            params["trial_period_days"] = d.trial_period_days
        elif isinstance(d.trial_end, int):  # `now` at creation: no trial, nothing to send
            params["trial_end"] = d.trial_end
            notes.append(_first_charge(context, d, f"on {day(d.trial_end)}, when its trial ends"))
        if d.cancel_at_period_end:
            params["cancel_at_period_end"] = True
        if d.default_payment_method:
            params["default_payment_method"] = d.default_payment_method
        if d.discounts:
            params["discounts"], discount_needs = _discounts_param(context, d, None)
            needs |= discount_needs
        if d.default_tax_rates:
            params["default_tax_rates"], rate_needs = _tax_rates_param(context, d)
            needs |= rate_needs
        attach, card = self._payment_method(context, d, params)
        meta = {**d.metadata, KEY_META: d.key, **card}
        if d.protect:
            meta[PROTECT_META] = "true"
        params["metadata"] = meta
        return [
            *attach,
            Create(
                kind=self.name,
                key=d.key,
                request=Request("post", "/v1/subscriptions", params),
                fields=tuple(
                    FieldChange(f"items.{i.price}.quantity", None, i.quantity or "metered")
                    for i in d.items
                ),
                summary=_items_words(context, d.items),
                notes=tuple(notes),
                needs=frozenset(needs),
                provides=frozenset({object_token(self.name, d.key)}),
            ),
        ]

    def _update(
        self,
        context: PlanContext,
        d: SubscriptionState,
        e: SubscriptionState,
        existing_prices: Mapping[str, PriceState],
        trial: TrialPlan | None = None,
    ) -> list[Change]:
        """The update of one subscription (after the attach of a declared test card, if any);
        empty when nothing differs. `existing_prices` is `PRICE.by_id`, built once per plan by
        the caller (built per subscription, it made planning quadratic)."""
        trial = trial or TrialPlan()
        if _unchanged(context, d, e, trial):
            return []
        changes: list[FieldChange] = []
        items: list[dict[str, Any]] = []
        needs: set[str] = set()
        destructive = False
        stopped: list[str] = []
        unmatched_existing = list(e.items)
        unmatched_desired: list[ItemState] = []
        pairs: list[tuple[ItemState, ItemState]] = []
        for di in d.items:
            match = next((x for x in unmatched_existing if x.price == di.price), None)
            if match is None:
                unmatched_desired.append(di)
            else:
                unmatched_existing.remove(match)
                pairs.append((di, match))
        # A declared item whose price key changed keeps its Stripe item: switch its price.
        while unmatched_desired and unmatched_existing:
            pairs.append((unmatched_desired.pop(0), unmatched_existing.pop(0)))
        price_targets = context.targets.get(PRICE.name, {})
        for di, ei in pairs:
            target = price_targets.get(di.price) or di.price
            entry: dict[str, Any] = {"id": ei.id}
            if target != ei.price_id:
                entry["price"] = target
                # Stripe resets quantity to 1 on a price switch
                entry.update(_quantity(di.quantity))
                needs |= PRICE.needs_of(di.price)
                new_label = (
                    f"{di.price} (new price)" if is_ref(target) else f"{di.price} ({target})"
                )
                changes.append(
                    FieldChange(f"items.{di.price}.price", f"{ei.price} ({ei.price_id})", new_label)
                )
            if di.quantity != ei.quantity and di.quantity:
                entry["quantity"] = di.quantity
                changes.append(FieldChange(f"items.{di.price}.quantity", ei.quantity, di.quantity))
            if di.metadata != ei.metadata:
                entry["metadata"] = metadata_params(ei.metadata, di.metadata)
                changes += field_changes(ei.metadata, di.metadata, f"items.{di.price}.metadata.")
            if len(entry) > 1:
                items.append(entry)
        for di in unmatched_desired:
            target, price_needs = self._item_price(context, di.price)
            needs |= price_needs
            entry = {"price": target, **_quantity(di.quantity)}
            if di.metadata:
                entry["metadata"] = dict(di.metadata)
            items.append(entry)
            changes.append(FieldChange(f"items.{di.price}", None, _quantity_words(di.quantity)))
        for ei in unmatched_existing:
            # An item billing.yaml does not declare (added by hand, or removed from the file):
            # deleting it stops billing that line, so it is destructive and shown as money.
            items.append({"id": ei.id, "deleted": True})
            changes.append(FieldChange(f"items.{ei.price}", _quantity_words(ei.quantity), None))
            destructive = True
            price = existing_prices.get(ei.price_id or "")
            if price is not None and metered_on(price) is not None:
                stopped.append(f"stops billing the metered usage of {ei.price}")
            elif price is not None:
                stopped.append(
                    f"stops billing {ei.quantity} x {ei.price} "
                    f"({format_amount(round(monthly(price, ei.quantity)), price.currency)}/month)"
                    if price.recurring
                    else f"removes {ei.quantity} x {ei.price}"
                )
        params: dict[str, Any] = {}
        if items:
            params["items"] = items
            params["proration_behavior"] = (
                d.proration_behavior or context.policies.proration_behavior
            )
        found = diff_fields(e, d, plain_specs(self.fields))
        params.update({k: v for k, v in sorted(found.params.items()) if k != "metadata"})
        changes += found.changes
        # By key: a discount made from an earlier version of a declared code (or from a coupon
        # since replaced under its id) is kept; Stripe keeps applied discounts on their terms.
        if _pairs(d.discounts) != _pairs(e.discounts):
            params["discounts"], discount_needs = _discounts_param(context, d, e)
            needs |= discount_needs
            changes.append(
                FieldChange(
                    "discounts",
                    [f"{f} {k}" for f, k in _pairs(e.discounts)],
                    [f"{f} {k}" for f, k in _pairs(d.discounts)],
                )
            )
        rate_ids = tuple(context.target(TAX_RATE, k) or k for k in d.default_tax_rates)
        if rate_ids != e.tax_rate_ids:
            params["default_tax_rates"], rate_needs = _tax_rates_param(context, d)
            needs |= rate_needs
            changes.append(
                FieldChange(
                    "default_tax_rates",
                    [
                        _label("tax_rate", k, i)
                        for k, i in zip(e.default_tax_rates, e.tax_rate_ids, strict=False)
                    ],
                    [
                        _label("tax_rate", k, i)
                        for k, i in zip(d.default_tax_rates, rate_ids, strict=True)
                    ],
                )
            )
        meta = dict(found.params.get("metadata", {}))
        attach, card = self._payment_method(context, d, params)
        meta.update(card)
        if "default_payment_method" in params and not card:
            # A payment method declared by id: no test card marker may stay behind, or that
            # id would read back as the token (unsetting an absent key changes nothing).
            meta[CARD_META] = ""
        if d.protect != e.protect:
            meta[PROTECT_META] = "true" if d.protect else ""
            changes.append(FieldChange("protect", e.protect, d.protect))
        if meta:
            params["metadata"] = meta
        if trial.field is not None:
            params.update(trial.params)
            changes.append(trial.field)
            stopped += trial.notes
            destructive = destructive or trial.destructive
        if not params:
            return []
        change = Update(
            kind=self.name,
            key=d.key,
            request=Request("post", f"/v1/subscriptions/{e.id}", params),
            stripe_id=e.id,
            fields=tuple(sorted(changes, key=lambda c: c.path)),
            summary=_items_words(context, d.items),
            notes=tuple(stopped),
            protected=destructive and e.protect,
            destructive=destructive,
            needs=frozenset(needs),
        )
        return [*attach, change]

    def _cancel(self, context: PlanContext, e: SubscriptionState) -> Change | None:
        if context.policies.subscription_removal == "unmanage":
            # Another system (or a person) takes it over: drop the ownership metadata, leave it
            # billing. Not destructive: nothing stops being charged.
            return Update(
                kind=self.name,
                key=e.key,
                request=Request(
                    "post",
                    f"/v1/subscriptions/{e.id}",
                    {"metadata": {KEY_META: "", PROTECT_META: ""} if e.protect else {KEY_META: ""}},
                ),
                stripe_id=e.id,
                reason=Reason.UNMANAGED,
                stage=Stage.DESTROY,
                fields=(FieldChange(KEY_META, e.key, None),),
                notes=("stays active and billing; billing-sync stops managing it",),
            )
        if context.policies.subscription_removal == "cancel_now":
            return Cancel(
                kind=self.name,
                key=e.key,
                request=Request("delete", f"/v1/subscriptions/{e.id}", {}),
                stripe_id=e.id,
                reason=Reason.REMOVED,
                stage=Stage.DESTROY,
                fields=(FieldChange("status", e.status, "canceled"),),
                notes=("cancel now",),
                protected=e.protect,
                destructive=True,
            )
        if e.cancel_at_period_end:
            return None
        return Cancel(
            kind=self.name,
            key=e.key,
            request=Request("post", f"/v1/subscriptions/{e.id}", {"cancel_at_period_end": True}),
            stripe_id=e.id,
            reason=Reason.REMOVED,
            stage=Stage.DESTROY,
            fields=(FieldChange("cancel_at_period_end", False, True),),
            notes=("cancel at period end",),
            protected=e.protect,
            destructive=True,
        )

    # -- money -------------------------------------------------------------------------------
    def monthly_revenue(self, context: PlanContext) -> dict[str, tuple[Decimal, Decimal]]:
        """Monthly recurring revenue of declared subscriptions, before and after, per currency."""
        before: dict[str, Decimal] = defaultdict(Decimal)
        after: dict[str, Decimal] = defaultdict(Decimal)
        desired_prices = context.desired.of(PRICE)
        existing_prices = PRICE.by_id(context.existing)
        desired_coupons = _coupons_by_ref(
            context.desired.of(COUPON), context.desired.of(PROMOTION_CODE), by_id=False
        )
        existing_coupons = _existing_coupons(context.existing)
        rate = _MonthlyRates()
        for s in context.desired.of(self).values():
            priced = [
                (p, item.quantity)
                for item in s.items
                if (p := desired_prices.get(item.price)) is not None
            ]
            refs = [next(iter(x.items())) for x in s.discounts]
            for cur, amount in _net_monthly(priced, refs, desired_coupons, rate).items():
                after[cur] += amount
        for e in context.existing.of(self).managed.values():
            priced = [
                (ep, ei.quantity)
                for ei in e.items
                if (ep := existing_prices.get(ei.price_id or "")) is not None
            ]
            refs = [(f, i) for f, i, _ in e.discount_ids]
            for cur, amount in _net_monthly(priced, refs, existing_coupons, rate).items():
                before[cur] += amount
        return {cur: (before[cur], after[cur]) for cur in sorted(set(before) | set(after))}


@dataclass(frozen=True)
class TrialPlan:
    """What a declared trial_end does to an existing subscription: the update's parameters and
    field change with their money consequence, or why apply cannot do it."""

    params: Mapping[str, Any] = field(default_factory=dict)
    field: FieldChange | None = None
    notes: tuple[str, ...] = ()
    unreachable: tuple[str, ...] = ()
    destructive: bool = False


def _trial(context: PlanContext, d: SubscriptionState, e: SubscriptionState) -> TrialPlan:
    """Stripe's update takes `trial_end`: `now` ends a trial (the first invoice is charged at
    once), a future timestamp moves it, or puts an active subscription on a trial (a credit for
    the paid period it no longer charges, prorated; its billing date moves to the trial end).
    Sources: https://docs.stripe.com/billing/subscriptions/trials ("To end a trial early ...
    setting the trial_end value to a new timestamp, or now"), the API reference of
    subscriptions update `trial_end`, https://stripe.com/docs/subscriptions/billing-cycle
    ("introducing a trial to an existing, paid subscription results in a proration")."""
    want = d.trial_end
    if want is None:
        return TrialPlan()
    trialing = e.status == "trialing"
    old = iso(int(e.trial_end)) if isinstance(e.trial_end, int) else None
    if want == NOW:
        if not trialing:
            return TrialPlan()  # no trial running: nothing to end
        return TrialPlan(
            {"trial_end": NOW},
            FieldChange("trial_end", old, NOW),
            (_first_charge(context, d, "now, when its trial ends"),),
        )
    assert isinstance(want, int)
    if want == e.trial_end:
        return TrialPlan()
    where = f"subscription {d.key} ({e.id})"
    if want <= context.now:
        return TrialPlan(
            unreachable=(
                f"{where}: trial_end {iso(want)} is in the past (Stripe has "
                f"{old or 'no trial end'}); Stripe sets only a future trial end: declare a later "
                "one, or now to end a running trial",
            )
        )
    if want > context.now + MAX_TRIAL:
        return TrialPlan(
            unreachable=(
                f"{where}: trial_end {iso(want)} is more than two years ahead; Stripe accepts a "
                "trial end at most two years away",
            )
        )
    if e.status not in ("trialing", "active"):
        return TrialPlan(
            unreachable=(
                f"{where}: trial_end {iso(want)} is not applied: the subscription is {e.status}, "
                "and billing-sync moves the trial of a trialing or active subscription only",
            )
        )
    change = FieldChange("trial_end", old, iso(want))
    if trialing:
        return TrialPlan(
            {"trial_end": want},
            change,
            (
                _first_charge(
                    context,
                    d,
                    f"on {day(want)} instead of {day(int(e.trial_end or 0))}, when its trial ends",
                ),
            ),
        )
    proration = d.proration_behavior or context.policies.proration_behavior
    credit = (
        "no credit for the paid period (proration_behavior: none)"
        if proration == "none"
        else f"the unused part of the paid period is credited (proration_behavior: {proration})"
    )
    bill = "invoices" if d.collection_method == "send_invoice" else "charges"
    return TrialPlan(
        {"trial_end": want, "proration_behavior": proration},
        change,
        (
            f"puts an active subscription on a trial until {day(want)}: nothing is charged "
            f"until then, when Stripe {bill} {_period_amount(context, d)} and its billing date "
            f"moves to that day; {credit}",
        ),
        # It stops charging a paying customer for a while: guarded like removing an item.
        destructive=True,
    )


def _trial_at_creation(context: PlanContext, d: SubscriptionState) -> str | None:
    """Why Stripe would refuse the declared trial_end of a new subscription, as a conflict: a
    past trial end is refused ("Invalid timestamp: must be an integer Unix timestamp in the
    future", stripe/stripe-go#93), and creating it without the trial would charge at once."""
    want = d.trial_end
    if not isinstance(want, int):
        return None
    if want <= context.now:
        return (
            f"subscription {d.key}: trial_end {iso(want)} is in the past, and Stripe starts a "
            "new subscription's trial only until a future time: declare a later trial_end, or "
            "now to start it without a trial (charged at once)"
        )
    if want > context.now + MAX_TRIAL:
        return (
            f"subscription {d.key}: trial_end {iso(want)} is more than two years ahead; Stripe "
            "accepts a trial end at most two years away"
        )
    return None


def _period_amount(context: PlanContext, d: SubscriptionState) -> str:
    """One billing period of the declared items, in money: `58.00 USD before tax and discounts`."""
    prices = context.desired.of(PRICE)
    total = Decimal(0)
    for item in d.items:
        p = prices.get(item.price)
        if p is not None:
            total += charge_for_quantity(p, item.quantity)
    return f"{format_amount(round(total), d.currency or 'usd')} before tax and discounts"


def _first_charge(context: PlanContext, d: SubscriptionState, when: str) -> str:
    """The money consequence of a trial's end: the first period's amount and who pays how."""
    amount = _period_amount(context, d)
    if d.collection_method == "send_invoice":
        return (
            f"Stripe invoices the first period, {amount}, {when}; due {d.days_until_due} days later"
        )
    return f"the customer is charged for the first period, {amount}, {when}"


def _days(n: int | None) -> str:
    return "none" if n is None else str(n)


def _items_words(context: PlanContext, items: Iterable[ItemState]) -> str:
    prices = context.desired.of(PRICE)
    words = []
    for i in items:
        p = prices.get(i.price)
        count = f"{i.quantity} x " if i.quantity else "usage of "
        words.append(f"{count}{i.price}" + (f" ({describe_price(p)})" if p else ""))
    return ", ".join(words)


def _items(sub: Mapping[str, Any], pages: Pages) -> list[dict[str, Any]]:
    """The embedded items, paged through /v1/subscription_items when Stripe truncated them."""
    embedded = sub.get("items") or {}
    items: list[dict[str, Any]] = list(embedded.get("data") or [])
    if embedded.get("has_more"):
        seen = {i["id"] for i in items}
        for item in pages("/v1/subscription_items", {"subscription": sub["id"]}):
            if item["id"] not in seen:
                items.append(item)
    return items


def _trial_days(obj: Mapping[str, Any]) -> int | None:
    start, end = obj.get("trial_start"), obj.get("trial_end")
    if not start or not end:
        return None
    return max(1, round((int(end) - int(start)) / DAY))


def _ref_keys(existing: Existing) -> dict[str, dict[str, str]]:
    """kind name -> Stripe id -> key, for what a subscription's discounts and taxes point at."""
    out: dict[str, dict[str, str]] = {}
    kinds: tuple[Kind[Any], ...] = (COUPON, PROMOTION_CODE, TAX_RATE)
    for kind in kinds:
        snap = existing.of(kind)
        out[kind.name] = {
            sid: s.key for s in (*snap.managed.values(), *snap.others) if (sid := kind.stripe_id(s))
        }
    return out


def _discount_refs(obj: Mapping[str, Any]) -> tuple[tuple[str, str, str], ...]:
    """(field, Stripe id, discount id) of each discount: a promotion code's, else its coupon's."""
    out = []
    for x in obj.get("discounts") or ():
        if not isinstance(x, Mapping):  # not expanded: nothing to compare
            continue
        promo = id_of(x.get("promotion_code"))
        if promo:
            out.append(("promotion_code", promo, x["id"]))
            continue
        coupon = id_of((x.get("source") or {}).get("coupon")) or id_of(x.get("coupon"))
        if coupon:
            out.append(("coupon", coupon, x["id"]))
    return tuple(out)


def _pairs(discounts: Iterable[Mapping[str, str]]) -> list[tuple[str, str]]:
    return [next(iter(x.items())) for x in discounts]


def _label(field: str, key: str, stripe_id: str) -> str:
    if is_ref(stripe_id):
        return f"{key} (new)"
    return key if key == stripe_id else f"{key} ({stripe_id})"


def _discounts_param(
    context: PlanContext, d: SubscriptionState, e: SubscriptionState | None
) -> tuple[Any, frozenset[str]]:
    """The declared discounts as Stripe takes them: one the subscription has already is kept by
    its discount id (a repeating coupon keeps its months), the others redeemed; none: ""."""
    kept: dict[tuple[str, str], str] = {}
    if e is not None:
        for pair, (_, _, discount_id) in zip(_pairs(e.discounts), e.discount_ids, strict=True):
            kept.setdefault(pair, discount_id)
    kinds: dict[str, Kind[Any]] = {COUPON.name: COUPON, PROMOTION_CODE.name: PROMOTION_CODE}
    entries: list[dict[str, str]] = []
    needs: set[str] = set()
    for field_name, key in _pairs(d.discounts):
        if (field_name, key) in kept:
            entries.append({"discount": kept[(field_name, key)]})
            continue
        kind = kinds[field_name]
        entries.append({field_name: context.target(kind, key) or key})
        needs |= kind.needs_of(key)
    return (entries or ""), frozenset(needs)


def _tax_rates_param(context: PlanContext, d: SubscriptionState) -> tuple[Any, frozenset[str]]:
    ids = [context.target(TAX_RATE, k) or k for k in d.default_tax_rates]
    needs: set[str] = set()
    for k in d.default_tax_rates:
        needs |= TAX_RATE.needs_of(k)
    return (ids or ""), frozenset(needs)


def _coupons_by_ref(
    coupons: Mapping[str, CouponState],
    codes: Mapping[str, PromotionCodeState],
    *,
    by_id: bool,
) -> dict[tuple[str, str], CouponState]:
    """(field, key or id) -> the coupon a discount entry applies."""
    out: dict[tuple[str, str], CouponState] = {}
    by_coupon_key = {c.key: c for c in coupons.values()}
    for key, c in coupons.items():
        out[("coupon", c.id if by_id else key)] = c
    for key, p in codes.items():
        coupon = by_coupon_key.get(p.coupon) or next(
            (c for c in coupons.values() if c.id in (p.coupon, p.coupon_id)), None
        )
        if coupon is not None:
            out[("promotion_code", (p.id or key) if by_id else key)] = coupon
    return out


def _existing_coupons(existing: Existing) -> dict[tuple[str, str], CouponState]:
    csnap = existing.of(COUPON)
    psnap = existing.of(PROMOTION_CODE)
    coupons = {c.id: c for c in (*csnap.managed.values(), *csnap.unmanaged)}
    codes = {p.id or p.key: p for p in (*psnap.managed.values(), *psnap.others, *psnap.unmanaged)}
    return _coupons_by_ref(coupons, codes, by_id=True)


def discount_coupons(sub: SubscriptionState, existing: Existing) -> tuple[CouponState, ...]:
    """The coupons a subscription's discounts apply, in Stripe's order (a discount whose coupon
    was not read, such as a deleted one, is left out)."""
    coupons = _existing_coupons(existing)
    return tuple(c for f, i, _ in sub.discount_ids if (c := coupons.get((f, i))) is not None)


def _net_monthly(
    priced: list[tuple[PriceState, int]],
    refs: Sequence[tuple[str, str]],
    coupons: Mapping[tuple[str, str], CouponState],
    monthly: Callable[[PriceState, int], Decimal] = monthly,
) -> dict[str, Decimal]:
    """A subscription's monthly revenue per currency, net of its recurring discounts (each on
    the items of the products it applies to, one after another)."""
    totals: dict[str, Decimal] = defaultdict(Decimal)
    for p, quantity in priced:
        totals[p.currency] += monthly(p, quantity)
    if not refs:  # most subscriptions: no discount to take off
        return totals
    recurring = next((p.recurring for p, _ in priced if p.recurring), None)
    if not recurring or not totals:
        return dict(totals)
    per_month = PER_MONTH[recurring["interval"]] / int(recurring.get("interval_count") or 1)
    for ref_ in refs:
        coupon = coupons.get(ref_)
        if coupon is None:
            continue
        for cur in totals:
            eligible = sum(
                (
                    monthly(p, q)
                    for p, q in priced
                    if p.currency == cur
                    and (not coupon.applies_to or p.product in coupon.applies_to)
                ),
                Decimal(0),
            )
            base = min(eligible, totals[cur])
            totals[cur] -= coupon_discount(coupon, cur, base, per_month)
    return dict(totals)


def _unchanged(
    context: PlanContext, d: SubscriptionState, e: SubscriptionState, trial: TrialPlan
) -> bool:
    """Whether `SubscriptionKind._update` has nothing to send, decided without building the
    update: the same items in the same order (so `_update` pairs them alike) on the prices
    declared, the same plain fields, discounts, tax rates and protection, no trial change.
    False only means "build the update", which may still find nothing."""
    if trial.field is not None or d.protect != e.protect or len(d.items) != len(e.items):
        return False
    prices = context.targets.get(PRICE.name, {})
    for di, ei in zip(d.items, e.items, strict=True):
        if (
            di.price != ei.price
            or di.quantity != ei.quantity
            or di.metadata != ei.metadata
            or (prices.get(di.price) or di.price) != ei.price_id
        ):
            return False
    plain = field_values(_PLAIN_SPECS)
    return (
        plain(d) == plain(e)
        and _pairs(d.discounts) == _pairs(e.discounts)
        and tuple(context.target(TAX_RATE, k) or k for k in d.default_tax_rates) == e.tax_rate_ids
    )


class _MonthlyRates:
    """`monthly`, remembered for one revenue count: thousands of subscriptions share a few
    prices and quantities, on both sides of the plan."""

    def __init__(self) -> None:
        self.known: dict[tuple[Any, ...], Decimal] = {}

    def __call__(self, price: PriceState, quantity: int) -> Decimal:
        recurring = price.recurring
        if not recurring:
            return _NOTHING  # one-time: no monthly revenue (as `monthly` says)
        key: tuple[Any, ...]
        if price.tiers or price.transform_quantity or price.unit_amount_decimal is not None:
            # By the state's identity (its tiers are dicts, unhashable); all outlive the count.
            key = (id(price), quantity)
        else:
            # A flat amount: what `monthly` reads of it, by value (the same amount and interval
            # on any price, declared or read, is the same revenue).
            key = (
                price.unit_amount,
                recurring["interval"],
                recurring.get("interval_count"),
                recurring.get("meter"),
                quantity,
            )
        found = self.known.get(key)
        if found is None:
            found = self.known[key] = monthly(price, quantity)
        return found


_NOTHING = Decimal(0)


def _payment_method(obj: Mapping[str, Any]) -> str | None:
    """The default payment method's id, or the test card token billing-sync attached it from
    (metadata CARD_META names the token and the attached id: a hand change is still seen)."""
    attached = id_of(obj.get("default_payment_method"))
    token, _, pm_id = str((obj.get("metadata") or {}).get(CARD_META) or "").partition(" ")
    if attached and pm_id == attached and is_test_card(token):
        return token
    return attached


def _normalise(
    obj: Mapping[str, Any],
    key: str,
    items: list[dict[str, Any]],
    price_keys: Mapping[str, str],
    customer_keys: Mapping[str, str],
    refs: Mapping[str, Mapping[str, str]] | None = None,
    price_ids: Mapping[str, str] | None = None,
) -> SubscriptionState:
    customer_id = id_of(obj.get("customer")) or ""
    ids = price_ids or {}
    keys = refs or {}
    rate_ids = tuple(id_of(t) or "" for t in obj.get("default_tax_rates") or ())
    discount_ids = _discount_refs(obj)
    states = []
    for item in items:
        price_id = id_of(item["price"]) or ""
        price_id = ids.get(price_id, price_id)
        states.append(
            ItemState(
                price=price_keys.get(price_id, price_id),
                quantity=int(item.get("quantity") or 0),
                metadata=dict(item.get("metadata") or {}),
                id=item["id"],
                price_id=price_id,
                current_period_end=item.get("current_period_end"),
            )
        )
    return SubscriptionState(
        key=key,
        customer=customer_keys.get(customer_id, key.split("/", 1)[0]),
        items=tuple(states),
        collection_method=shared(obj.get("collection_method") or "charge_automatically"),
        days_until_due=obj.get("days_until_due"),
        cancel_at_period_end=bool(obj.get("cancel_at_period_end")),
        default_payment_method=_payment_method(obj),
        metadata=user_metadata(obj),
        protect=(obj.get("metadata") or {}).get(PROTECT_META) == "true",
        trial_period_days=_trial_days(obj),
        trial_end=obj.get("trial_end"),
        currency=shared(obj.get("currency")),
        id=obj["id"],
        status=shared(obj.get("status")),
        customer_id=customer_id or None,
        discounts=tuple({f: keys.get(f, {}).get(i, i)} for f, i, _ in discount_ids),
        default_tax_rates=tuple(keys.get(TAX_RATE.name, {}).get(i, i) for i in rate_ids),
        discount_ids=discount_ids,
        tax_rate_ids=rate_ids,
    )


def _replace_key(state: SubscriptionState, key: str) -> SubscriptionState:
    from dataclasses import replace

    return replace(state, key=key)


SUBSCRIPTION = SubscriptionKind()
# The fields `reachable` compares: the trial length has its own rule (`_reachable`).
_REACHED_SPECS = tuple(f for f in SUBSCRIPTION.fields if f.name != "trial_period_days")
_PLAIN_SPECS = plain_specs(SUBSCRIPTION.fields)
