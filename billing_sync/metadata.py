"""Stripe metadata facts, defined once: its limits and the keys that mark what billing-sync manages.

A leaf module (it imports nothing of billing_sync), so every layer may import it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

#: Stripe's metadata limits: keys per object, characters per key, characters per value.
METADATA_MAX_KEYS = 50
METADATA_KEY_MAX = 40
METADATA_VALUE_MAX = 500

#: Every object billing-sync creates carries its billing.yaml key here; objects without it are
#: unmanaged and never changed.
KEY_META = "billing_sync_key"
#: "true" on subscriptions declared with `protect: true`, so removing them from billing.yaml is caught.
PROTECT_META = "billing_sync_protect"
#: On a subscription whose default payment method billing-sync attached from a test card token
#: (`pm_card_visa`): "<token> <attached pm_... id>", so the next plan knows that id is the token.
CARD_META = "billing_sync_card"
OWN_META = frozenset({KEY_META, PROTECT_META, CARD_META})
#: Prefix of every metadata key billing-sync owns (declaring one in billing.yaml is an error).
RESERVED_PREFIX = "billing_sync_"

#: The id of the product that holds the per-account apply lock (see billing_sync.apply.lock);
#: it is not part of the catalog: never read as a product, never planned.
LOCK_PRODUCT_ID = "billing_sync_apply_lock"


def managed_key(obj: Mapping[str, Any]) -> str | None:
    """The billing-sync key of a Stripe object, or None when billing-sync does not manage it."""
    key = (obj.get("metadata") or {}).get(KEY_META)
    return str(key) if key else None


def user_metadata(obj: Mapping[str, Any]) -> dict[str, str]:
    """The object's metadata without the keys billing-sync owns."""
    return {k: v for k, v in (obj.get("metadata") or {}).items() if k not in OWN_META}
