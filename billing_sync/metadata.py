"""Stripe metadata facts, defined once for config, state, remote and payments.

A leaf module (it imports nothing), so every layer may import it.
"""

#: Stripe's metadata limits: keys per object, characters per key, characters per value.
METADATA_MAX_KEYS = 50
METADATA_KEY_MAX = 40
METADATA_VALUE_MAX = 500

#: The key that marks an object as managed by billing-sync; its value is the billing.yaml key.
KEY_META = "billing_sync_key"
