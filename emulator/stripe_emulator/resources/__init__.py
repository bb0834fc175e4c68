"""Emulated Stripe resources: every module here is imported by the server and registers routes."""
