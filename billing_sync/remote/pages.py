"""The one paginator: raw requests through the official SDK and every object of a list endpoint."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from billing_sync.remote.client import Remote, with_retries, wrap_errors
from billing_sync.remote.ratelimit import RateLimiter, limited

PAGE = 100


def request(remote: Remote, method: str, path: str, **params: Any) -> dict[str, Any]:
    """One API call through the official SDK; returns the decoded JSON body."""
    resp = remote.client.raw_request(method, path, **params)
    data: dict[str, Any] = resp.data
    return data


def list_pages(
    remote: Remote,
    path: str,
    params: Mapping[str, Any],
    limiter: RateLimiter | None = None,
) -> Iterator[list[dict[str, Any]]]:
    """Every page of a list endpoint (`starting_after`), each retried on 429/409/5xx (paced by
    `limiter` when given) and its error turned into one clear line.

    Pages hold 100 objects unless `params` asks for a smaller `limit` (a caller that needs
    only the first few objects).
    """
    cursor: str | None = None
    on_retry = remote.on_retry(f"GET {path}")
    while True:
        page_params = dict(params, limit=params.get("limit", PAGE))
        if cursor:
            page_params["starting_after"] = cursor
        page = wrap_errors(
            lambda p=page_params: with_retries(  # type: ignore[misc]
                lambda: limited(limiter, lambda: request(remote, "get", path, **p)),
                on_retry=on_retry,
            ),
            remote.api_base,
        )
        data: list[dict[str, Any]] = page.get("data") or []
        if remote.observer is not None:
            remote.observer.objects_read(len(data))
        if data:
            yield data
        if not page.get("has_more") or not data:
            return
        cursor = data[-1]["id"]


def list_all(
    remote: Remote,
    path: str,
    params: Mapping[str, Any],
    limiter: RateLimiter | None = None,
) -> Iterator[dict[str, Any]]:
    """Every object of a list endpoint, page by page (see `list_pages`)."""
    for page in list_pages(remote, path, params, limiter):
        yield from page


def id_of(value: Any) -> str | None:
    """An expandable field (an id, an expanded object as a dict or a StripeObject, or None) ->
    its id."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, dict):
        return value.get("id")
    found = getattr(value, "id", None)
    return found if isinstance(found, str) else None
