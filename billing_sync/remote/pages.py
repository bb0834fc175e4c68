"""The one paginator: raw requests through the official SDK and every object of a list endpoint."""

from __future__ import annotations

import sys
from collections.abc import Iterator, Mapping
from typing import Any, TypeVar

import orjson

from billing_sync.remote.client import Remote, with_retries, wrap_errors
from billing_sync.remote.ratelimit import RateLimiter, limited

PAGE = 100

T = TypeVar("T")


def request(remote: Remote, method: str, path: str, **params: Any) -> dict[str, Any]:
    """One API call through the official SDK; returns the decoded JSON body."""
    resp = remote.client.raw_request(method, path, **params)
    data: dict[str, Any] = resp.data
    return data


def get_json(remote: Remote, path: str, params: Mapping[str, Any]) -> dict[str, Any]:
    """One GET of a `/v1` endpoint through the official SDK, its body decoded into plain dicts.

    `params` are API parameters only (no request options such as `stripe_account`).
    `StripeClient.raw_request` decodes every body with `object_pairs_hook=OrderedDict`
    (stripe 16.1, `stripe/_stripe_response.py`): for a page of 100 subscriptions (445 KB) that is
    twice the CPU and memory of plain dicts (5.5 ms and 2.4 MB against 2.5 ms and 1.2 MB), and
    list pages are nearly all of what a plan reads. So the request is made, as `raw_request`
    makes it, by the client's requestor (`_requestor.request_raw`: the same URL, headers,
    telemetry and HTTP client), a 2xx body decoded here, and any other answer handed to the
    requestor's own `_interpret_response`, which raises exactly the error `raw_request` raises.
    Those two are private to the SDK: when a future version drops either, this falls back to
    `raw_request` (same results, as OrderedDicts).
    """
    requestor = getattr(remote.client, "_requestor", None)
    request_raw = getattr(requestor, "request_raw", None)
    interpret = getattr(requestor, "_interpret_response", None)
    if request_raw is None or interpret is None or not path.startswith("/v1/"):
        return request(remote, "get", path, **params)
    body, code, headers = request_raw(
        "get",
        path,
        params=dict(params),
        options={},
        base_address="api",
        api_mode="V1",
        usage=["raw_request"],
    )
    if 200 <= code < 300:
        try:
            data = orjson.loads(body)  # half the CPU of json.loads (see pyproject.toml)
        except ValueError:
            pass  # the SDK's own error for a body that is not JSON, below
        else:
            if isinstance(data, dict):
                return data
    resp = interpret(body, code, headers, "V1")  # raises the SDK's error for non-2xx
    decoded: dict[str, Any] = resp.data
    return decoded


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
                lambda: limited(limiter, lambda: get_json(remote, path, p)),
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


def shared(value: T) -> T:
    """One copy of a text value that many objects repeat (a currency, an interval, a status).

    The JSON decoder makes a new string for every occurrence, and the states read from a large
    account keep theirs for the whole run (at 100,000 objects, some 400,000 strings of ~55 bytes
    that say `usd` or `month`). Anything else is returned as it is."""
    if isinstance(value, str) and type(value) is str:
        return sys.intern(value)  # type: ignore[return-value]
    return value
