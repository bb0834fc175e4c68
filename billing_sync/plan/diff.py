"""Builds the Plan: compares desired with existing state and emits operations, notes and conflicts."""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal
from typing import Any

from deepdiff import DeepDiff

from billing_sync.config.models import Policies
from billing_sync.plan.money import describe_price, monthly
from billing_sync.plan.ops import FieldChange, Operation, Plan, ref
from billing_sync.state import (
    KEY_META,
    PROTECT_META,
    Existing,
    ItemState,
    PriceState,
    ProductState,
    State,
    SubscriptionState,
)

# Defaults not worth a line in a create's listing.
QUIET_DEFAULTS = {
    ("billing_scheme", "per_unit"),
    ("billing_scheme", "tiered"),
    ("tax_behavior", "unspecified"),
    ("active", True),
}


def _quiet(name: str, value: Any) -> bool:
    return isinstance(value, (str, bool)) and (name, value) in QUIET_DEFAULTS


# Phases: the order apply runs operations in, dependencies permitting.
PH_PRODUCT, PH_PRICE, PH_DEFAULT, PH_CUSTOMER, PH_SUB, PH_CLEANUP, PH_DESTROY = range(1, 8)


def field_changes(old: dict[str, Any], new: dict[str, Any], prefix: str = "") -> list[FieldChange]:
    """Field-level differences via deepdiff, as dotted paths (`metadata.tier`, `tiers.1.unit_amount`)."""
    diff = DeepDiff(old, new, view="tree", verbose_level=2)
    changes = []
    for report in diff.values():
        for level in report:
            path = ".".join(str(p) for p in level.path(output_format="list"))
            o = level.t1 if _present(level.t1) else None
            n = level.t2 if _present(level.t2) else None
            changes.append(FieldChange(prefix + path, o, n))
    return sorted(changes, key=lambda c: c.path)


def _present(value: Any) -> bool:
    return type(value).__name__ != "NotPresent"


def top_fields(changes: list[FieldChange], prefix: str = "") -> set[str]:
    return {c.path[len(prefix) :].split(".", 1)[0] for c in changes}


def metadata_params(old: dict[str, str], new: dict[str, str]) -> dict[str, str]:
    """Stripe merges metadata: send changed keys, and "" to unset removed ones."""
    params = {k: v for k, v in new.items() if old.get(k) != v}
    params.update({k: "" for k in old if k not in new})
    return params


def _unset(value: Any) -> Any:
    """Stripe unsets a field when it is sent as an empty string."""
    if value is None or value == []:
        return ""
    return value


def product_params(fields: dict[str, Any], names: set[str] | None = None) -> dict[str, Any]:
    names = set(fields) if names is None else names
    params: dict[str, Any] = {}
    for name in sorted(names):
        value = fields[name]
        if name == "metadata":
            continue
        if name == "marketing_features":
            value = [{"name": f} for f in value] if value else ""
        params[name] = _unset(value)
    return params


def price_create_params(d: PriceState, product_id: str) -> dict[str, Any]:
    im, mu = d.immutable, d.mutable
    params: dict[str, Any] = {"product": product_id, "currency": im["currency"]}
    if im["tiers"]:
        params["billing_scheme"] = "tiered"
        params["tiers_mode"] = im["tiers_mode"]
        params["tiers"] = [_tier_param(t) for t in im["tiers"]]
    else:
        params["unit_amount"] = im["unit_amount"]
    if im["recurring"]:
        params["recurring"] = dict(im["recurring"])
    if im["transform_quantity"]:
        params["transform_quantity"] = dict(im["transform_quantity"])
    if mu["nickname"] is not None:
        params["nickname"] = mu["nickname"]
    if mu["tax_behavior"] != "unspecified":
        params["tax_behavior"] = mu["tax_behavior"]
    if mu["currency_options"]:
        params["currency_options"] = _currency_options_param(mu["currency_options"])
    params["lookup_key"] = d.lookup_key
    params["metadata"] = {**mu["metadata"], KEY_META: d.key}
    if not d.active:
        params["active"] = False
    return params


def _tier_param(t: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"up_to": t["up_to"], "unit_amount": t["unit_amount"]}
    if t["flat_amount"]:
        out["flat_amount"] = t["flat_amount"]
    return out


def _currency_options_param(options: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for cur, opt in options.items():
        if opt["tiers"]:
            out[cur] = {"tiers": [_tier_param(t) for t in opt["tiers"]]}
        else:
            out[cur] = {"unit_amount": opt["unit_amount"]}
    return out


class Planner:
    """One diff run; collects operations, then hands them to a Plan."""

    def __init__(self, desired: State, existing: Existing, policies: Policies) -> None:
        self.d = desired
        self.e = existing
        self.policies = policies
        self.ops: list[Operation] = []
        self.conflicts: list[str] = []
        self.warnings: list[str] = []
        self.grandfathered: dict[str, int] = {}
        # price key -> the id (or ref) subscriptions and default_price should point at
        self.price_target: dict[str, str] = {}
        # price key -> id of the operation that makes that target usable
        self.price_op: dict[str, str] = {}
        # price id -> ids of operations that must run before that price may be archived
        self.before_archive: dict[str, list[str]] = defaultdict(list)
        self.prices_by_id = {p.id: p for p in existing.all_prices if p.id}
        # indexes, so planning stays linear in the size of the account
        self.prices_by_key: dict[str, list[PriceState]] = defaultdict(list)
        self.lookup_holders: dict[str, list[PriceState]] = defaultdict(list)
        for p in existing.all_prices:
            self.prices_by_key[p.key].append(p)
            if p.lookup_key:
                self.lookup_holders[p.lookup_key].append(p)
        self.product_ops: dict[str, list[str]] = defaultdict(list)
        # archive operations and the price id each archives; wired to before_archive at the end
        self.archives: list[tuple[Operation, str]] = []

    def add(self, op: Operation) -> Operation:
        self.ops.append(op)
        if op.resource == "product" and op.action in ("create", "reactivate"):
            self.product_ops[op.key].append(op.id)
        return op

    # -- products ---------------------------------------------------------------------------
    def products(self) -> None:
        for key, d in self.d.products.items():
            e = self.e.products.get(key)
            if e is None:
                if d.id in self.e.unmanaged_product_ids:
                    self.conflicts.append(
                        f"product {key}: a product with id {d.id!r} exists but is not managed by "
                        "billing-sync (no billing_sync_key metadata); set `id:` to another id"
                    )
                    continue
                params = {"id": d.id, **product_params(d.fields)}
                params = {k: v for k, v in params.items() if v != ""}
                params["metadata"] = {**d.fields["metadata"], KEY_META: key}
                self.add(
                    Operation(
                        "create",
                        "product",
                        key,
                        "post",
                        "/v1/products",
                        params,
                        stripe_id=d.id,
                        phase=PH_PRODUCT,
                        summary=str(d.fields["name"]),
                        changes=[
                            FieldChange(k, None, v)
                            for k, v in d.fields.items()
                            if v not in (None, [], {}) and not _quiet(k, v)
                        ],
                    )
                )
                continue
            changes = field_changes(e.fields, d.fields)
            if not changes:
                continue
            action = "update"
            if d.fields["active"] and not e.fields["active"]:
                action = "reactivate"
            elif e.fields["active"] and not d.fields["active"]:
                action = "archive"
            params = product_params(d.fields, top_fields(changes))
            if "metadata" in top_fields(changes):
                params["metadata"] = metadata_params(e.fields["metadata"], d.fields["metadata"])
            self.add(
                Operation(
                    action,
                    "product",
                    key,
                    "post",
                    f"/v1/products/{e.id}",
                    params,
                    stripe_id=e.id,
                    phase=PH_PRODUCT,
                    changes=changes,
                    summary=str(d.fields["name"]),
                    destructive=action == "archive",
                )
            )

    def removed_products(self) -> None:
        for key, e in self.e.products.items():
            if key in self.d.products or not e.fields["active"]:
                continue
            params: dict[str, Any] = {"active": False}
            if e.default_price:
                params["default_price"] = ""
            op = self.add(
                Operation(
                    "archive",
                    "product",
                    key,
                    "post",
                    f"/v1/products/{e.id}",
                    params,
                    stripe_id=e.id,
                    phase=PH_DESTROY - 1,
                    destructive=True,
                    summary=str(e.fields["name"]),
                    changes=[FieldChange("active", True, False)],
                )
            )
            if e.default_price:
                self.before_archive[e.default_price].append(op.id)

    def _product_id(self, product_key: str) -> str:
        """The Stripe id of a product: the existing one's (ids never change), else the desired."""
        ep = self.e.products.get(product_key)
        if ep is not None:
            return ep.id
        dp = self.d.products.get(product_key)
        return dp.id if dp is not None else product_key

    def _product_dep(self, product_key: str) -> list[str]:
        """The operations that must run before a price of this product is created or used."""
        return list(self.product_ops.get(product_key, []))

    # -- prices -----------------------------------------------------------------------------
    def prices(self) -> None:
        for key, d in self.d.prices.items():
            self._price(key, d)

    def _lookup_holder(self, lookup_key: str | None, exclude: str | None) -> PriceState | None:
        for p in self.lookup_holders.get(lookup_key or "", []):
            if p.id != exclude:
                return p
        return None

    def _same_immutable(self, p: PriceState, d: PriceState) -> bool:
        """Whether p can become d by updates alone (else it must be replaced)."""
        tax_ok = p.mutable["tax_behavior"] in ("unspecified", d.mutable["tax_behavior"])
        # Stripe can add or change a currency option in place, but not remove one.
        options_ok = set(p.mutable["currency_options"]) <= set(d.mutable["currency_options"])
        return (
            p.immutable == d.immutable
            and p.product_id == self._product_id(d.product)
            and tax_ok
            and options_ok
        )

    def _price(self, key: str, d: PriceState) -> None:
        lk = d.lookup_key
        if lk and lk in self.e.unmanaged_lookup_keys:
            self.conflicts.append(
                f"price {key}: lookup_key {lk!r} belongs to price "
                f"{self.e.unmanaged_lookup_keys[lk]}, which is not managed by billing-sync"
            )
            return
        cur = self.e.prices.get(key)
        product_id = self._product_id(d.product)
        deps = self._product_dep(d.product)
        summary = describe_price(d.immutable)
        if cur is not None and self._same_immutable(cur, d):
            self.price_target[key] = cur.id or ""
            self._price_in_place(key, cur, d, deps, summary)
            self._archive_stale(key, keep=cur.id)
            return
        match = next(
            (
                p
                for p in self.prices_by_key.get(key, [])
                if p is not cur and self._same_immutable(p, d)
            ),
            None,
        )
        if match is not None:
            # Reverting to an archived price: reactivate it and move the lookup key back.
            params = self._mutable_params(match, d)
            params["active"] = True
            params["lookup_key"] = lk
            params["transfer_lookup_key"] = True
            op = self.add(
                Operation(
                    "reactivate",
                    "price",
                    key,
                    "post",
                    f"/v1/prices/{match.id}",
                    params,
                    stripe_id=match.id,
                    phase=PH_PRICE,
                    depends_on=deps,
                    summary=summary,
                    changes=[
                        FieldChange("active", False, True),
                        *field_changes(match.mutable, d.mutable),
                    ],
                    notes=[f"reverts to archived price {match.id}"],
                )
            )
            self.price_target[key] = match.id or ""
            self.price_op[key] = op.id
            if cur is not None and cur.active:
                self._archive_replaced(key, cur, op.id)
            self._archive_stale(key, keep=match.id, also_keep=cur.id if cur else None)
            return
        params = price_create_params(d, product_id)
        holder = self._lookup_holder(lk, None)
        if holder is not None:
            params["transfer_lookup_key"] = True
        if cur is None:
            op = self.add(
                Operation(
                    "create",
                    "price",
                    key,
                    "post",
                    "/v1/prices",
                    params,
                    phase=PH_PRICE,
                    depends_on=deps,
                    produces=ref("price", key),
                    summary=summary,
                    changes=[
                        FieldChange(k, None, v)
                        for k, v in {**d.immutable, **d.mutable}.items()
                        if v not in (None, {}, []) and not _quiet(k, v)
                    ],
                )
            )
            self.price_target[key] = ref("price", key)
            self.price_op[key] = op.id
            self._archive_stale(key, keep=None)
            return
        # Immutable change: create the replacement, move everything declared, archive the old.
        moving = sum(
            1
            for s in self.d.subscriptions.values()
            if (es := self.e.subscriptions.get(s.key)) is not None
            and any(i.price_id == cur.id for i in es.items)
            and any(i.price == key for i in s.items)
        )
        total = self.e.subscriptions_per_price.get(cur.id or "", 0)
        stay = max(total - moving, 0)
        if stay:
            self.grandfathered[key] = stay
        old_desc = describe_price(cur.immutable)
        changes = field_changes(cur.immutable, d.immutable)
        if cur.product_id != product_id:
            changes.append(FieldChange("product", cur.product_id, product_id))
        removed = sorted(set(cur.mutable["currency_options"]) - set(d.mutable["currency_options"]))
        if removed:
            changes.append(FieldChange("currency_options (removed)", removed, None))
        if cur.mutable["tax_behavior"] not in ("unspecified", d.mutable["tax_behavior"]):
            changes.append(
                FieldChange("tax_behavior", cur.mutable["tax_behavior"], d.mutable["tax_behavior"])
            )
        changes += field_changes(cur.mutable, d.mutable)
        op = self.add(
            Operation(
                "replace",
                "price",
                key,
                "post",
                "/v1/prices",
                params,
                stripe_id=cur.id,
                phase=PH_PRICE,
                depends_on=deps,
                produces=ref("price", key),
                summary=f"{old_desc} -> {summary}",
                changes=changes,
                notes=[
                    f"{moving} declared subscription(s) move, "
                    f"{stay} other subscription(s) stay on the old price"
                ],
            )
        )
        self.price_target[key] = ref("price", key)
        self.price_op[key] = op.id
        if cur.active:
            self._archive_replaced(key, cur, op.id)
        self._archive_stale(key, keep=cur.id)

    def _mutable_params(self, cur: PriceState, d: PriceState) -> dict[str, Any]:
        changed = top_fields(field_changes(cur.mutable, d.mutable))
        params: dict[str, Any] = {}
        for name in sorted(changed):
            if name == "metadata":
                params["metadata"] = metadata_params(cur.mutable["metadata"], d.mutable["metadata"])
            elif name == "currency_options":
                # Stripe replaces per-currency entries given; absent ones are kept, so only
                # additions and changes can be expressed in place.
                params["currency_options"] = _currency_options_param(d.mutable["currency_options"])
            elif name == "lookup_key":
                params["lookup_key"] = _unset(d.lookup_key)
                if self._lookup_holder(d.lookup_key, cur.id) is not None:
                    params["transfer_lookup_key"] = True
            else:
                params[name] = _unset(d.mutable[name])
        return params

    def _price_in_place(
        self, key: str, cur: PriceState, d: PriceState, deps: list[str], summary: str
    ) -> None:
        changes = field_changes(cur.mutable, d.mutable)
        params = self._mutable_params(cur, d)
        action = "update"
        if d.active != cur.active:
            params["active"] = d.active
            changes.insert(0, FieldChange("active", cur.active, d.active))
            action = "reactivate" if d.active else "archive"
        if not changes:
            return
        op = self.add(
            Operation(
                action,
                "price",
                key,
                "post",
                f"/v1/prices/{cur.id}",
                params,
                stripe_id=cur.id,
                phase=PH_DESTROY if action == "archive" else PH_PRICE,
                depends_on=deps,
                changes=changes,
                summary=summary,
                destructive=action == "archive",
            )
        )
        if action == "reactivate":
            self.price_op[key] = op.id
        if action == "archive" and cur.id:
            self._defer_archive(op, cur.id)

    def _archive_price(
        self,
        key: str,
        price: PriceState,
        *,
        step: str,
        phase: int,
        depends_on: list[str] | None = None,
        destructive: bool = False,
        note: str | None = None,
    ) -> None:
        """Archive one Stripe price (never delete: Stripe keeps prices forever)."""
        op = self.add(
            Operation(
                "archive",
                "price",
                key,
                "post",
                f"/v1/prices/{price.id}",
                {"active": False},
                stripe_id=price.id,
                step=step,
                phase=phase,
                depends_on=depends_on or [],
                destructive=destructive,
                changes=[FieldChange("active", True, False)],
                summary=describe_price(price.immutable),
                notes=[note] if note else [],
            )
        )
        if price.id:
            self._defer_archive(op, price.id)

    def _archive_replaced(self, key: str, old: PriceState, after: str) -> None:
        self._archive_price(
            key,
            old,
            step="old",
            phase=PH_CLEANUP,
            depends_on=[after],
            note="the replaced price is archived; subscriptions still on it keep it",
        )

    def _archive_stale(self, key: str, keep: str | None, also_keep: str | None = None) -> None:
        """Other active prices with this key (left by an interrupted replace) are archived."""
        for p in self.prices_by_key.get(key, []):
            if not p.active or p.id in (keep, also_keep):
                continue
            cur = self.e.prices.get(key)
            if cur is not None and p.id == cur.id:
                continue
            self._archive_price(
                key,
                p,
                step=f"stale.{p.id}",
                phase=PH_CLEANUP,
                depends_on=[self.price_op[key]] if key in self.price_op else [],
                note="an older active price with the same key (left by an interrupted apply)",
            )

    def _defer_archive(self, op: Operation, price_id: str) -> None:
        self.archives.append((op, price_id))

    def removed_prices(self) -> None:
        for key in sorted(self.prices_by_key):
            if key in self.d.prices:
                continue
            for p in self.prices_by_key[key]:
                if not p.active:
                    continue
                self._archive_price(
                    key,
                    p,
                    step="" if p is self.e.prices.get(key) else f"stale.{p.id}",
                    phase=PH_DESTROY,
                    destructive=True,
                )

    # -- default prices ---------------------------------------------------------------------
    def default_prices(self) -> None:
        archived = {pid for _, pid in self.archives}
        for key, d in self.d.products.items():
            e = self.e.products.get(key)
            current = e.default_price if e else None
            target: str | None = None
            price_key = d.default_price
            if price_key is not None:
                target = self.price_target.get(price_key)
            elif current is not None and current in archived:
                # The default points at a price this plan archives: follow its replacement or unset.
                price_key = self.e.price_keys.get(current)
                target = self.price_target.get(price_key or "", "")
            if target is None or target == current or (target == "" and current is None):
                continue
            deps = list(self._product_dep(key))
            if price_key in self.price_op:
                deps.append(self.price_op[price_key])
            op = self.add(
                Operation(
                    "update",
                    "product",
                    key,
                    "post",
                    f"/v1/products/{self._product_id(key)}",
                    {"default_price": target},
                    stripe_id=self._product_id(key),
                    step="default_price",
                    phase=PH_DEFAULT,
                    depends_on=deps,
                    changes=[
                        FieldChange(
                            "default_price",
                            self._price_label(current),
                            self._price_label(target, price_key),
                        )
                    ],
                )
            )
            if current:
                self.before_archive[current].append(op.id)

    def _price_label(self, target: str | None, key: str | None = None) -> str | None:
        """`pro-monthly (price_123)` or `pro-monthly (new price)` for plan listings."""
        if not target:
            return None
        key = key or self.e.price_keys.get(target, target)
        return f"{key} (new price)" if target.startswith("${") else f"{key} ({target})"

    # -- customers --------------------------------------------------------------------------
    def customers(self) -> None:
        for key, d in self.d.customers.items():
            e = self.e.customers.get(key)
            if e is None:
                params = {k: v for k, v in d.fields.items() if v is not None and k != "metadata"}
                params["metadata"] = {**d.fields["metadata"], KEY_META: key}
                self.add(
                    Operation(
                        "create",
                        "customer",
                        key,
                        "post",
                        "/v1/customers",
                        params,
                        phase=PH_CUSTOMER,
                        produces=ref("customer", key),
                        summary=str(d.fields.get("name") or d.fields.get("email") or ""),
                        changes=[
                            FieldChange(k, None, v)
                            for k, v in d.fields.items()
                            if v not in (None, {})
                        ],
                    )
                )
                continue
            changes = field_changes(e.fields, d.fields)
            if not changes:
                continue
            params = {}
            for name in sorted(top_fields(changes)):
                if name == "metadata":
                    params["metadata"] = metadata_params(e.fields["metadata"], d.fields["metadata"])
                else:
                    params[name] = _unset(d.fields[name])
            self.add(
                Operation(
                    "update",
                    "customer",
                    key,
                    "post",
                    f"/v1/customers/{e.id}",
                    params,
                    stripe_id=e.id,
                    phase=PH_CUSTOMER,
                    changes=changes,
                )
            )
        for key in self.e.customers:
            if key not in self.d.customers:
                self.warnings.append(
                    f"customer {key} is no longer declared; billing-sync never deletes "
                    "customers (left as it is)"
                )

    def _customer_target(self, key: str) -> tuple[str, list[str]]:
        e = self.e.customers.get(key)
        if e is not None and e.id:
            return e.id, []
        return ref("customer", key), [f"customer.create:{key}"]

    # -- subscriptions ----------------------------------------------------------------------
    def subscriptions(self) -> None:
        for key, d in self.d.subscriptions.items():
            e = self.e.subscriptions.get(key)
            if e is None:
                ended = self.e.ended_subscriptions.get(key)
                if ended is not None:
                    self.warnings.append(
                        f"subscription {key} is {ended.status} in Stripe ({ended.id}) and is not "
                        "re-created: remove it from billing.yaml or give it a new key"
                    )
                    continue
                self._create_subscription(key, d)
            elif e.status == "incomplete":
                self.warnings.append(
                    f"subscription {key} ({e.id}) is incomplete (awaiting first payment); "
                    "it is left as it is until it becomes active"
                )
            else:
                self._update_subscription(key, d, e)
        for key, e in self.e.subscriptions.items():
            if key not in self.d.subscriptions:
                self._cancel_subscription(key, e)

    def _item_price(self, price_key: str) -> tuple[str, list[str]]:
        target = self.price_target.get(price_key, price_key)
        return target, [self.price_op[price_key]] if price_key in self.price_op else []

    def _create_subscription(self, key: str, d: SubscriptionState) -> None:
        customer, deps = self._customer_target(d.customer)
        items = []
        for item in d.items:
            price, pdeps = self._item_price(item.price)
            deps += pdeps
            entry: dict[str, Any] = {"price": price, "quantity": item.quantity}
            if item.metadata:
                entry["metadata"] = dict(item.metadata)
            items.append(entry)
        f = d.fields
        params: dict[str, Any] = {
            "customer": customer,
            "items": items,
            "collection_method": f["collection_method"],
        }
        if f["collection_method"] == "send_invoice":
            params["days_until_due"] = f["days_until_due"]
        if d.trial_period_days:
            params["trial_period_days"] = d.trial_period_days
        if f["cancel_at_period_end"]:
            params["cancel_at_period_end"] = True
        if f["default_payment_method"]:
            params["default_payment_method"] = f["default_payment_method"]
        meta = {**f["metadata"], KEY_META: key}
        if d.protect:
            meta[PROTECT_META] = "true"
        params["metadata"] = meta
        self.add(
            Operation(
                "create",
                "subscription",
                key,
                "post",
                "/v1/subscriptions",
                params,
                phase=PH_SUB,
                depends_on=sorted(set(deps)),
                produces=ref("subscription", key),
                summary=self._items_words(d.items),
                changes=[
                    FieldChange(f"items.{i.price}.quantity", None, i.quantity) for i in d.items
                ],
            )
        )

    def _items_words(self, items: list[ItemState]) -> str:
        words = []
        for i in items:
            p = self.d.prices.get(i.price)
            words.append(
                f"{i.quantity} x {i.price}" + (f" ({describe_price(p.immutable)})" if p else "")
            )
        return ", ".join(words)

    def _update_subscription(self, key: str, d: SubscriptionState, e: SubscriptionState) -> None:
        changes: list[FieldChange] = []
        items: list[dict[str, Any]] = []
        deps: list[str] = []
        destructive = False
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
        for di, ei in pairs:
            target, pdeps = self._item_price(di.price)
            entry: dict[str, Any] = {"id": ei.id}
            if target != ei.price_id:
                entry["price"] = target
                entry["quantity"] = di.quantity  # Stripe resets quantity to 1 on a price switch
                deps += pdeps
                new_label = (
                    f"{di.price} (new price)"
                    if target.startswith("${")
                    else f"{di.price} ({target})"
                )
                changes.append(
                    FieldChange(f"items.{di.price}.price", f"{ei.price} ({ei.price_id})", new_label)
                )
            if di.quantity != ei.quantity:
                entry["quantity"] = di.quantity
                changes.append(FieldChange(f"items.{di.price}.quantity", ei.quantity, di.quantity))
            if di.metadata != ei.metadata:
                entry["metadata"] = metadata_params(ei.metadata, di.metadata)
                changes += field_changes(ei.metadata, di.metadata, f"items.{di.price}.metadata.")
            if len(entry) > 1:
                items.append(entry)
        for di in unmatched_desired:
            target, pdeps = self._item_price(di.price)
            deps += pdeps
            entry = {"price": target, "quantity": di.quantity}
            if di.metadata:
                entry["metadata"] = dict(di.metadata)
            items.append(entry)
            changes.append(FieldChange(f"items.{di.price}", None, f"quantity {di.quantity}"))
        for ei in unmatched_existing:
            items.append({"id": ei.id, "deleted": True})
            changes.append(FieldChange(f"items.{ei.price}", f"quantity {ei.quantity}", None))
            destructive = destructive or e.protect
        params: dict[str, Any] = {}
        if items:
            params["items"] = items
            params["proration_behavior"] = d.proration_behavior or self.policies.proration_behavior
        field_diff = field_changes(e.fields, d.fields)
        for name in sorted(top_fields(field_diff)):
            if name == "metadata":
                continue
            params[name] = _unset(d.fields[name])
        changes += field_diff
        meta = metadata_params(e.fields["metadata"], d.fields["metadata"])
        if d.protect != e.protect:
            meta[PROTECT_META] = "true" if d.protect else ""
            changes.append(FieldChange("protect", e.protect, d.protect))
        if meta:
            params["metadata"] = meta
        if not params:
            return
        notes = ["protected"] if destructive else []
        self.add(
            Operation(
                "update",
                "subscription",
                key,
                "post",
                f"/v1/subscriptions/{e.id}",
                params,
                stripe_id=e.id,
                phase=PH_SUB,
                depends_on=sorted(set(deps)),
                changes=sorted(changes, key=lambda c: c.path),
                destructive=destructive,
                notes=notes,
                summary=self._items_words(d.items),
            )
        )

    def _cancel_subscription(self, key: str, e: SubscriptionState) -> None:
        notes = ["protected"] if e.protect else []
        if self.policies.subscription_removal == "cancel_now":
            op = Operation(
                "cancel",
                "subscription",
                key,
                "delete",
                f"/v1/subscriptions/{e.id}",
                {},
                stripe_id=e.id,
                phase=PH_DESTROY,
                destructive=True,
                notes=[*notes, "cancel now"],
                changes=[FieldChange("status", e.status, "canceled")],
            )
        elif not e.fields["cancel_at_period_end"]:
            op = Operation(
                "cancel",
                "subscription",
                key,
                "post",
                f"/v1/subscriptions/{e.id}",
                {"cancel_at_period_end": True},
                stripe_id=e.id,
                phase=PH_DESTROY,
                destructive=True,
                notes=[*notes, "cancel at period end"],
                changes=[FieldChange("cancel_at_period_end", False, True)],
            )
        else:
            return
        self.add(op)

    # -- the whole plan ---------------------------------------------------------------------
    def run(self) -> list[Operation]:
        self.products()
        self.prices()
        self.removed_prices()
        self.removed_products()
        self.default_prices()
        self.customers()
        self.subscriptions()
        for op, price_id in self.archives:
            op.depends_on = sorted(set(op.depends_on) | set(self.before_archive.get(price_id, [])))
        return self.ops

    def mrr(self) -> dict[str, list[int]]:
        """Monthly recurring revenue of declared subscriptions, before and after, per currency."""
        before: dict[str, Decimal] = defaultdict(Decimal)
        after: dict[str, Decimal] = defaultdict(Decimal)
        for key, s in self.d.subscriptions.items():
            for item in s.items:
                p = self.d.prices.get(item.price)
                if p is not None:
                    after[p.immutable["currency"]] += monthly(p.immutable, item.quantity)
            e = self.e.subscriptions.get(key)
            if e is None:
                continue
            for ei in e.items:
                ep = self.prices_by_id.get(ei.price_id or "")
                if ep is not None:
                    before[ep.immutable["currency"]] += monthly(ep.immutable, ei.quantity)
        for key, e in self.e.subscriptions.items():
            if key in self.d.subscriptions:
                continue
            for ei in e.items:
                ep = self.prices_by_id.get(ei.price_id or "")
                if ep is not None:
                    before[ep.immutable["currency"]] += monthly(ep.immutable, ei.quantity)
        return {
            cur: [round(before[cur]), round(after[cur])] for cur in sorted(set(before) | set(after))
        }


def managed_count(existing: Existing) -> int:
    live_prices = sum(1 for p in existing.prices.values() if p.active)
    live_products = sum(1 for p in existing.products.values() if p.fields["active"])
    return live_products + live_prices + len(existing.customers) + len(existing.subscriptions)


def diff(
    desired: State,
    existing: Existing,
    policies: Policies,
    *,
    config_file: str = "",
    config_hash: str = "",
    account: str = "",
) -> Plan:
    """Compare desired with existing and return the Plan (nothing is written)."""
    planner = Planner(desired, existing, policies)
    ops = planner.run()
    return Plan(
        operations=ops,
        config_file=config_file,
        config_hash=config_hash,
        remote_fingerprint=existing.fingerprint(),
        account=account,
        managed_count=managed_count(existing),
        max_destroy_percent=policies.max_destroy_percent,
        unmanaged=dict(existing.unmanaged),
        warnings=planner.warnings,
        conflicts=planner.conflicts,
        mrr=planner.mrr(),
        grandfathered=planner.grandfathered,
    )


__all__ = ["ProductState", "diff", "field_changes"]
