"""The one paginator: every object of a Stripe list endpoint, 100 per request, each page retried."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from billing_sync.remote.client import Remote, with_retries, wrap_errors

PAGE = 100


def request(remote: Remote, method: str, path: str, **params: Any) -> dict[str, Any]:
    """One API call through the official SDK; returns the decoded JSON body."""
    resp = remote.client.raw_request(method, path, **params)
    data: dict[str, Any] = resp.data
    return data


def list_all(remote: Remote, path: str, params: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
    """Every object of a list endpoint, 100 per request, each page retried on 429/5xx."""
    cursor: str | None = None
    while True:
        page_params = dict(params, limit=PAGE)
        if cursor:
            page_params["starting_after"] = cursor
        page = wrap_errors(
            lambda p=page_params: with_retries(lambda: request(remote, "get", path, **p)),  # type: ignore[misc]
            remote.api_base,
        )
        data = page.get("data") or []
        yield from data
        if not page.get("has_more") or not data:
            return
        cursor = data[-1]["id"]


def id_of(value: Any) -> str | None:
    """The id of an expandable field: the string itself, or the expanded object's `id`."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, Mapping):
        found = value.get("id")
        return str(found) if found is not None else None
    return None
