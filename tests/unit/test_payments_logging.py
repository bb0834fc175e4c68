"""The client secret must never reach a log: stripe's debug output is capped, records redacted."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
import stripe

from billing_sync.cli.payments import _guard_stripe_logs, _RedactSecrets


def current_log() -> str | None:
    """stripe.log, read afresh (mypy would keep the value assigned before the call)."""
    return stripe.log


@pytest.fixture(autouse=True)
def _restore_stripe_log() -> Iterator[None]:
    saved = stripe.log
    logger = logging.getLogger("stripe")
    filters = list(logger.filters)
    yield
    stripe.log = saved
    logger.filters[:] = filters


def test_debug_console_logging_is_capped_at_info(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STRIPE_LOG", "debug")
    stripe.log = None
    _guard_stripe_logs()
    assert stripe.log == "info"


def test_explicit_debug_is_capped_too() -> None:
    stripe.log = "debug"
    _guard_stripe_logs()
    assert current_log() == "info"


def test_other_levels_are_left_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("STRIPE_LOG", raising=False)
    stripe.log = None
    _guard_stripe_logs()
    assert stripe.log is None


def test_logger_records_are_redacted(caplog: pytest.LogCaptureFixture) -> None:
    _guard_stripe_logs()
    _guard_stripe_logs()  # idempotent: one filter
    logger = logging.getLogger("stripe")
    assert sum(isinstance(f, _RedactSecrets) for f in logger.filters) == 1
    with caplog.at_level(logging.DEBUG, logger="stripe"):
        logger.debug("API response body %s", '{"client_secret": "pi_123_secret_abcDEF"}')
    assert "abcDEF" not in caplog.text
    assert "pi_123_secret_[redacted]" in caplog.text
