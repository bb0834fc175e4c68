"""A local, stateful, strict Stripe API emulator served over HTTP for the demo and tests."""
