"""Points in time in billing.yaml (a subscription's `trial_end`): `now`, a date or a date and time, read as UTC unless the value says otherwise."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, WithJsonSchema

NOW = "now"

_EXPECTED = "expected now, a date (2026-12-31) or a date and time (2026-12-31T12:00:00Z)"


def _moment(value: Any) -> Any:
    """`now`, or a timezone-aware datetime: a date is midnight UTC at its start, and a date and
    time without a zone is UTC (as YAML reads it). Numbers are refused: a Unix timestamp and a
    mistyped date look alike."""
    if value == NOW:
        return NOW
    if isinstance(value, str):
        try:
            value = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise ValueError(f"{_EXPECTED}; got {value!r}") from None
    if isinstance(value, dt.datetime):
        return value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)
    if isinstance(value, dt.date):
        return dt.datetime(value.year, value.month, value.day, tzinfo=dt.UTC)
    raise ValueError(f"{_EXPECTED}; got {value!r}")


#: A subscription's trial end as billing.yaml declares it.
Moment = Annotated[
    Literal["now"] | dt.datetime,
    BeforeValidator(_moment),
    WithJsonSchema(
        {
            "anyOf": [
                {"const": NOW},
                {"type": "string", "format": "date"},
                {"type": "string", "format": "date-time"},
            ],
            "description": "now, a date (00:00 UTC that day) or a date and time (UTC if no zone)",
        }
    ),
]


def unix(value: str | dt.datetime | None) -> str | int | None:
    """`now` as is, a datetime as Stripe's Unix timestamp (seconds)."""
    if isinstance(value, dt.datetime):
        return int(value.timestamp())
    return value


def iso(timestamp: int) -> str:
    """A Unix timestamp as people read it in a plan: `2026-12-31T00:00:00Z`."""
    return dt.datetime.fromtimestamp(timestamp, tz=dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def day(timestamp: int) -> str:
    """A Unix timestamp as a UTC date: `2026-12-31`."""
    return dt.datetime.fromtimestamp(timestamp, tz=dt.UTC).strftime("%Y-%m-%d")
