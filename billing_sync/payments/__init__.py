"""Payments layer: one-off PaymentIntents and refunds, sharing only the client from remote/."""
