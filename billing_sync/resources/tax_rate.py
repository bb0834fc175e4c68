"""Tax rates: names and labels updated in place, percentage and inclusive fixed (a new rate replaces
the old, which is archived), removal archives; adopted by matching terms (no custom id in Stripe)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from billing_sync.config.models import BillingConfig
from billing_sync.metadata import KEY_META, managed_key, user_metadata
from billing_sync.resources.base import (
    Existing,
    FieldSpec,
    IdKeys,
    ListRead,
    Mutability,
    Pages,
    PlanContext,
    Snapshot,
    Unset,
    slug,
)
from billing_sync.resources.versioned import VersionedKind


def percent_text(value: Any) -> str:
    """A percentage as its shortest decimal text: 19.0 -> '19', '7.50' -> '7.5'."""
    number = Decimal(str(value))
    text = format(number.normalize(), "f")
    return text


def percent_value(text: str) -> int | Decimal:
    """A percentage as billing.yaml writes it: 19, 7.25 (a number, exactly as compared)."""
    number = Decimal(text)
    return int(number) if number == number.to_integral_value() else number


@dataclass(frozen=True, slots=True)
class TaxRateState:
    key: str
    display_name: str
    percentage: str  # decimal text, e.g. "19" or "7.25"
    inclusive: bool
    active: bool = True
    description: str | None = None
    jurisdiction: str | None = None
    country: str | None = None
    state: str | None = None
    tax_type: str | None = None
    metadata: Mapping[str, str] = field(default_factory=dict)
    id: str | None = None  # existing only
    created: int = 0  # existing only


class TaxRateKind(VersionedKind[TaxRateState]):
    name = "tax_rate"
    plural = "tax_rates"
    path = "/v1/tax_rates"
    # Stripe's tax rate update takes no empty string for its text fields (stripe.params types):
    # a removed one keeps its value, and the plan says so.
    fields = (
        FieldSpec("display_name", unset=Unset.REQUIRED),
        FieldSpec("percentage", mutability=Mutability.REPLACE, unset=Unset.REQUIRED),
        FieldSpec("inclusive", mutability=Mutability.REPLACE, unset=Unset.REQUIRED),
        FieldSpec("active", unset=Unset.DEFAULT),
        FieldSpec("description", unset=Unset.NEVER),
        FieldSpec("jurisdiction", unset=Unset.NEVER),
        FieldSpec("country", unset=Unset.NEVER),
        FieldSpec("state", unset=Unset.NEVER),
        FieldSpec("tax_type", unset=Unset.NEVER),
        FieldSpec("metadata", unset=Unset.MERGE),
    )
    # Archived rates are listed too (no `active` filter): a revert reactivates one.
    list_reads = (ListRead("/v1/tax_rates"),)

    def desired(self, config: BillingConfig) -> dict[str, TaxRateState]:
        return {
            key: TaxRateState(
                key=key,
                display_name=t.display_name,
                percentage=percent_text(t.percentage),
                inclusive=t.inclusive,
                active=t.active,
                description=t.description,
                jurisdiction=t.jurisdiction,
                country=t.country,
                state=t.state,
                tax_type=t.tax_type,
                metadata=dict(t.metadata),
            )
            for key, t in config.tax_rates.items()
        }

    def render(self, state: TaxRateState) -> tuple[tuple[str, ...], dict[str, Any]]:
        doc: dict[str, Any] = {
            "display_name": state.display_name,
            "percentage": percent_value(state.percentage),
            "inclusive": state.inclusive,
        }
        if not state.active:
            doc["active"] = False
        for name in ("description", "jurisdiction", "country", "state", "tax_type"):
            if getattr(state, name) is not None:
                doc[name] = getattr(state, name)
        if state.metadata:
            doc["metadata"] = dict(state.metadata)
        return ("tax_rates", state.key), doc

    def read(
        self, objects: Iterable[dict[str, Any]], existing: Existing, pages: Pages
    ) -> Snapshot[TaxRateState]:
        managed: list[TaxRateState] = []
        unmanaged: list[TaxRateState] = []
        for obj in objects:
            if obj.get("rate_type") == "flat_amount":  # not a percentage: not billing-sync's
                continue
            key = managed_key(obj)
            state = TaxRateState(
                key=key or obj["id"],
                display_name=obj.get("display_name") or "",
                percentage=percent_text(obj.get("percentage") or 0),
                inclusive=bool(obj.get("inclusive")),
                active=bool(obj.get("active")),
                description=obj.get("description"),
                jurisdiction=obj.get("jurisdiction"),
                country=obj.get("country"),
                state=obj.get("state"),
                tax_type=obj.get("tax_type"),
                metadata=user_metadata(obj),
                id=obj["id"],
                created=int(obj.get("created") or 0),
            )
            (unmanaged if key is None else managed).append(state)
        return self.group(managed, unmanaged)

    def describe(self, state: TaxRateState) -> str:
        where = "/".join(p for p in (state.country, state.state) if p)
        words = f"{state.percentage}% {state.display_name}"
        words += f" {where}" if where else ""
        return words + (" (inclusive)" if state.inclusive else " (exclusive)")

    def adoptable(self, d: TaxRateState, snapshot: Snapshot[TaxRateState]) -> list[TaxRateState]:
        """Stripe has no custom id or lookup key for tax rates, so a declared rate adopts the one
        active unmanaged rate with its display name (ignoring case), percentage, inclusive flag,
        country and state."""
        name = d.display_name.casefold()
        return sorted(
            (
                u
                for u in snapshot.unmanaged
                if u.active
                and u.display_name.casefold() == name
                and u.percentage == d.percentage
                and u.inclusive == d.inclusive
                and u.country == d.country
                and u.state == d.state
            ),
            key=lambda u: u.id or "",
        )

    def create_params(
        self, context: PlanContext, d: TaxRateState
    ) -> tuple[dict[str, Any], frozenset[str]]:
        params: dict[str, Any] = {
            "display_name": d.display_name,
            "percentage": d.percentage,
            "inclusive": d.inclusive,
        }
        if not d.active:
            params["active"] = False
        for name in ("description", "jurisdiction", "country", "state", "tax_type"):
            if getattr(d, name) is not None:
                params[name] = getattr(d, name)
        params["metadata"] = {**d.metadata, KEY_META: d.key}
        return params, frozenset()

    # -- import ------------------------------------------------------------------------------
    def import_key(self, state: TaxRateState, ids: IdKeys) -> str:
        """`vat-de-19`: display name, country and percentage."""
        parts = [state.display_name, state.country or "", state.percentage]
        return slug("-".join(p for p in parts if p), "tax-rate")


TAX_RATE = TaxRateKind()
