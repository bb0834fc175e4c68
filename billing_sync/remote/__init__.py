"""Remote layer: the Stripe client (pinned version, guards, counting) and reading the account."""
