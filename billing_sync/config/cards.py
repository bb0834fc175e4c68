"""Stripe's test card tokens in billing.yaml (`default_payment_method: pm_card_visa`): test mode only.

Stripe resolves `pm_card_visa` and its siblings (https://docs.stripe.com/testing) only for
test-mode keys; billing-sync refuses them, located in billing.yaml, before it uses a live key.
"""

from __future__ import annotations

from billing_sync.config.models import BillingConfig
from billing_sync.config.source import format_path
from billing_sync.errors import ConfigError, ConfigIssue

TEST_CARD_PREFIX = "pm_card_"


def is_test_card(value: str | None) -> bool:
    """A test card token (`pm_card_visa`), not the id of a PaymentMethod (`pm_1Q...`)."""
    return bool(value) and str(value).startswith(TEST_CARD_PREFIX)


def test_card_issues(config: BillingConfig, filename: str) -> list[ConfigIssue]:
    """Every test card token billing.yaml declares, as an issue for a live-mode key."""
    issues = []
    for ckey, customer in config.customers.items():
        for skey, sub in customer.subscriptions.items():
            token = sub.default_payment_method
            if not is_test_card(token):
                continue
            path = ("customers", ckey, "subscriptions", skey, "default_payment_method")
            file, line, column = config.position(path) or (filename, 1, 1)
            issues.append(
                ConfigIssue(
                    file,
                    line,
                    column,
                    format_path(path),
                    f"{token} is a Stripe test card token, which works only with test-mode keys, "
                    "and this key is live: declare the id of a PaymentMethod attached to the "
                    "customer (pm_...)",
                )
            )
    return issues


def refuse_test_cards(config: BillingConfig, filename: str) -> None:
    """Raise ConfigError when billing.yaml declares test card tokens (for a live-mode key)."""
    issues = test_card_issues(config, filename)
    if issues:
        raise ConfigError(issues)
