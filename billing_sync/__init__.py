"""billing-sync: plan/apply for Stripe billing (products, prices, subscriptions) and one-off payments."""

__version__ = "0.1.0"
