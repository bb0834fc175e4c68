"""Usage reports for metered prices: one Stripe meter event per call, deduplicated by its identifier."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from typing import Any

import stripe

from billing_sync.errors import StripeApiError, UsageError
from billing_sync.payments.service import _error_line, _list
from billing_sync.remote.client import Remote, with_retries

#: A meter event's value: Stripe takes the payload as strings; a plain decimal number,
#: negative to correct earlier usage ("You can also fix incorrectly recorded usage data by
#: recording negative quantities", docs.stripe.com/billing/subscriptions/usage-based/meters/
#: configure).
_VALUE = re.compile(r"-?[0-9]+(?:\.[0-9]+)?\Z")
#: Stripe's answer to an identifier it already holds (400, no code, verified against live
#: Stripe in public code in 2026): the event is already recorded, once.
_DUPLICATE = re.compile(r"already exists with identifier", re.IGNORECASE)
MAX_IDENTIFIER = 100


@dataclass(frozen=True)
class MeterRef:
    """An active meter as Stripe has it: what its events must carry."""

    id: str
    event_name: str
    customer_key: str
    value_key: str


@dataclass(frozen=True)
class UsageReport:
    meter: MeterRef
    customer: str
    value: str
    identifier: str
    timestamp: int | None
    already_recorded: bool = False

    def data(self) -> dict[str, Any]:
        return {
            "meter": self.meter.id,
            "event_name": self.meter.event_name,
            "customer": self.customer,
            "value": self.value,
            "identifier": self.identifier,
            "timestamp": self.timestamp,
            "already_recorded": self.already_recorded,
        }


def check_value(raw: str) -> str:
    text = raw.strip()
    if not _VALUE.match(text):
        raise UsageError(f"--value {raw!r} is not a number (e.g. 25 or 1.5; negative corrects)")
    return text


def check_identifier(raw: str | None) -> str:
    """The event's identifier: given (a retry reuses it), or a new UUID."""
    if raw is None:
        return str(uuid.uuid4())
    if not raw or len(raw) > MAX_IDENTIFIER or any(c.isspace() for c in raw):
        raise UsageError(
            f"--identifier must be 1-{MAX_IDENTIFIER} characters without spaces, got {raw!r}"
        )
    return raw


def find_meter(remote: Remote, event_name: str) -> MeterRef:
    """The active meter of `event_name` (one list read), or a clear refusal."""
    meters = list(_list(remote, "/v1/billing/meters", {"status": "active"}))
    for m in meters:
        if m.event_name == event_name:
            return MeterRef(
                m.id,
                m.event_name,
                m.customer_mapping.event_payload_key,
                m.value_settings.event_payload_key,
            )
    active = ", ".join(sorted(m.event_name for m in meters)) or "none"
    raise UsageError(
        f"no active meter with event name {event_name!r} in this account (active: {active}); "
        "declare it under meters: and run `billing-sync apply`"
    )


def report_usage(
    remote: Remote,
    meter: MeterRef,
    customer: str,
    value: str,
    identifier: str,
    timestamp: int | None = None,
) -> UsageReport:
    """Send one meter event. Retries send the same idempotency key; a later run with the same
    identifier is refused by Stripe as a duplicate, which means it was recorded once."""
    params: dict[str, Any] = {
        "event_name": meter.event_name,
        "identifier": identifier,
        "payload": {meter.customer_key: customer, meter.value_key: value},
    }
    if timestamp is not None:
        params["timestamp"] = timestamp
    key = f"billing-sync-usage-{remote.account_fingerprint}-{identifier}"
    report = UsageReport(meter, customer, value, identifier, timestamp)
    try:
        event = with_retries(
            lambda: remote.client.v1.billing.meter_events.create(
                params,  # type: ignore[arg-type]  # built from the typed fields above
                {"idempotency_key": key},
            )
        )
    except stripe.InvalidRequestError as err:
        if err.http_status == 400 and _DUPLICATE.search(str(err.user_message or "")):
            return UsageReport(meter, customer, value, identifier, timestamp, True)
        raise StripeApiError(f"meter event: {_error_line(err)}") from err
    except stripe.StripeError as err:
        raise StripeApiError(f"meter event: {_error_line(err)}") from err
    # A run that repeats an identifier within Stripe's 24 hours sends the same idempotency
    # key: Stripe answers with the first response, marked as a replay.
    response = getattr(event, "last_response", None)
    headers = getattr(response, "headers", None) or {}
    if str(headers.get("Idempotent-Replayed", "")).lower() == "true":
        return UsageReport(meter, customer, value, identifier, timestamp, True)
    return report
