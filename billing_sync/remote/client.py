"""Builds the official Stripe client: pinned API version, api base, live-key guard, request counting, retries."""

from __future__ import annotations

import hashlib
import logging
import random
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

import requests
import stripe

from billing_sync.errors import LiveModeError, StripeApiError, UsageError
from billing_sync.remote.ratelimit import header, retry_after

# The API version the emulator and every test run against; stripe 16.1.0 pins the same one.
API_VERSION = "2026-10-28.endive"
DEFAULT_API_BASE = "https://api.stripe.com"
LIVE_PREFIXES = ("sk_live_", "rk_live_")

T = TypeVar("T")
#: Told before each retry: (failed attempt, attempts allowed, delay before the next, error).
RetryHook = Callable[[int, int, float, "stripe.StripeError"], None]


def is_live_key(api_key: str) -> bool:
    return api_key.startswith(LIVE_PREFIXES)


def mask_key(api_key: str) -> str:
    """A form of the key that is safe to print: its prefix and last four characters."""
    prefix = api_key.split("_", 2)
    head = "_".join(prefix[:2]) + "_" if len(prefix) == 3 else ""
    return f"{head}...{api_key[-4:]}" if len(api_key) > 12 else "***"


class CountingHTTPClient(stripe.RequestsClient):
    """stripe's requests-based HTTP client, counting every attempt by method (thread-safe).

    Its sessions read no environment per request: `requests` otherwise scans every environment
    variable for proxies, and looks for a .netrc, on each request (about 0.1 ms each, a tenth
    of a small request's client CPU, more in CI's large environments). The proxies are read
    once instead, for `api_base`, by the function requests itself uses per request
    (`requests.utils.get_environ_proxies`: HTTPS_PROXY, HTTP_PROXY, ALL_PROXY, NO_PROXY), and
    handed to the SDK as its `proxy`. A .netrc entry can no longer replace the API key's
    Authorization header.
    """

    def __init__(self, timeout: float = 30.0, api_base: str | None = None) -> None:
        proxies = requests.utils.get_environ_proxies(api_base) if api_base else {}
        super().__init__(timeout=timeout, proxy=dict(proxies) or None)  # type: ignore[arg-type]
        self.counts: Counter[str] = Counter()
        self._lock = threading.Lock()

    def request(  # type: ignore[override]
        self, method: str, url: str, headers: Mapping[str, str] | None, post_data: Any = None
    ) -> tuple[bytes, int, Mapping[str, str]]:
        with self._lock:
            self.counts[method.upper()] += 1
        local = getattr(self, "_thread_local", None)
        if local is not None and getattr(local, "session", None) is None:
            # The SDK keeps one session per thread in `_thread_local.session` and makes it on
            # first use (stripe 16.1); made here first, without the per-request environment.
            session = requests.Session()
            session.trust_env = False
            local.session = session
        return super().request(method, url, headers, post_data)

    @property
    def total(self) -> int:
        return sum(self.counts.values())


class Observer(Protocol):
    """Who is told, as it happens, what the client does (the CLI's progress display).

    Called from worker threads: implementations must be thread-safe and quick."""

    def objects_read(self, count: int) -> None:
        """A page of `count` objects of a list endpoint has arrived."""

    def retrying(self, what: str, attempt: int, attempts: int, delay: float, reason: str) -> None:
        """Request `what` failed with `reason` (attempt `attempt` of `attempts`); the next try
        starts in `delay` seconds."""


@dataclass
class Remote:
    """A configured connection to one Stripe account (or the emulator)."""

    api_key: str = field(repr=False)
    api_base: str
    client: stripe.StripeClient = field(repr=False)
    http: CountingHTTPClient = field(repr=False)
    observer: Observer | None = field(default=None, repr=False, compare=False)

    def on_retry(self, what: str) -> RetryHook | None:
        """The retry hook for request `what` (`GET /v1/prices`) that tells the observer."""
        observer = self.observer
        if observer is None:
            return None

        def hook(attempt: int, attempts: int, delay: float, err: stripe.StripeError) -> None:
            reason = describe_stripe_error(err, self.api_base)
            status = err.http_status
            if status:
                reason = f"HTTP {status}: {reason}"
            observer.retrying(what, attempt, attempts, delay, reason)

        return hook

    @property
    def account_fingerprint(self) -> str:
        """A stable, non-reversible id of the account's key, for idempotency keys and plans."""
        return hashlib.sha256(f"{self.api_base}|{self.api_key}".encode()).hexdigest()[:16]

    @property
    def livemode(self) -> bool:
        return is_live_key(self.api_key)


def _debug_log_only_when_shown() -> None:
    """Make stripe-python format its debug messages only when something will show them.

    Its requestor formats every request's parameters and every response body for a debug
    message (`stripe._util.log_debug`, stripe 16.1) before it checks whether debug output is on:
    a decode, a regex and a `repr` of the whole body, 2.1 ms for a page of 100 subscriptions
    (445 KB), about 0.07 s of CPU in a 10,000-object plan that nothing ever prints. The
    requestor holds `log_debug` by name; it is wrapped here, once, to check first. Debug output
    is unchanged for whoever asks for it: STRIPE_LOG=debug, `stripe.log = "debug"`, or the
    "stripe" logger enabled for DEBUG. An SDK without these names is left as it is.
    """
    try:
        from stripe import _api_requestor, _util
    except ImportError:
        return
    original = getattr(_api_requestor, "log_debug", None)
    console_level = getattr(_util, "_console_log_level", None)
    logger = getattr(_util, "logger", None)
    if original is None or console_level is None or not isinstance(logger, logging.Logger):
        return
    if getattr(original, "billing_sync_checks_level", False):
        return

    def log_debug(message: str, **params: Any) -> None:
        if console_level() == "debug" or logger.isEnabledFor(logging.DEBUG):
            original(message, **params)

    log_debug.billing_sync_checks_level = True  # type: ignore[attr-defined]
    setattr(_api_requestor, "log_debug", log_debug)  # noqa: B010 (not an exported name)


def connect(
    api_key: str | None,
    api_base: str | None = None,
    *,
    live: bool = False,
    timeout: float = 30.0,
) -> Remote:
    """Validate the credentials locally (no request is made) and build the client."""
    key = (api_key or "").strip()
    if not key:
        raise UsageError("no Stripe API key: pass --api-key or set STRIPE_API_KEY")
    if not key.startswith(("sk_", "rk_")):
        raise UsageError(
            f"the API key {mask_key(key)} is not a secret or restricted key (sk_... or rk_...)"
        )
    if is_live_key(key) and not live:
        raise LiveModeError(
            f"refusing to use live key {mask_key(key)} without --live; "
            "use a test-mode key (sk_test_...) or pass --live deliberately"
        )
    base = (api_base or DEFAULT_API_BASE).rstrip("/")
    if not base.startswith(("http://", "https://")):
        raise UsageError(f"--api-base {base!r} must start with http:// or https://")
    _debug_log_only_when_shown()
    http = CountingHTTPClient(timeout=timeout, api_base=base)
    client = stripe.StripeClient(
        key,
        stripe_version=API_VERSION,
        base_addresses={"api": base},
        # Retries are ours (see with_retries): stripe-python does not retry 429s.
        max_network_retries=0,
        http_client=http,
    )
    return Remote(api_key=key, api_base=base, client=client, http=http)


def _connection_reason(err: stripe.APIConnectionError) -> str:
    text = str(err.user_message or err)
    for needle, reason in (
        ("Connection refused", "connection refused"),
        ("timed out", "timed out"),
        ("Name or service not known", "host not found"),
        ("nodename nor servname", "host not found"),
        ("Connection aborted", "connection closed by the server"),
        ("RemoteDisconnected", "connection closed by the server"),
        ("SSL", "TLS error"),
    ):
        if needle in text:
            return reason
    return "connection failed"


def describe_stripe_error(err: stripe.StripeError, api_base: str | None = None) -> str:
    """One clear line from a Stripe error: message, code and param, never the key."""
    if isinstance(err, stripe.AuthenticationError):
        return "Stripe rejected the API key (authentication failed)"
    if isinstance(err, stripe.APIConnectionError):
        return f"could not reach the Stripe API{f' at {api_base}' if api_base else ''}: {_connection_reason(err)}"
    parts = [err.user_message or str(err) or err.__class__.__name__]
    code = getattr(err, "code", None)
    if code:
        parts.append(f"code={code}")
    param = getattr(err, "param", None)
    if param:
        parts.append(f"param={param}")
    decline = getattr(err, "decline_code", None)
    body = err.json_body if isinstance(err.json_body, dict) else {}
    error_body = body.get("error")
    if not decline and isinstance(error_body, dict):
        decline = error_body.get("decline_code")  # stripe 16 leaves it in the body
    if decline:
        parts.append(f"decline_code={decline}")
    return " ".join(parts[:1]) + (f" ({', '.join(parts[1:])})" if len(parts) > 1 else "")


def is_retryable(err: BaseException) -> bool:
    """429 (rate limit or lock timeout), 409, 5xx and connection errors are worth retrying,
    unless Stripe says otherwise: `Stripe-Should-Retry: false` never retries, `true` always does."""
    if isinstance(err, stripe.APIConnectionError):
        return True
    if isinstance(err, stripe.StripeError):
        hint = header(getattr(err, "headers", None), "Stripe-Should-Retry")
        if hint is not None and hint.lower() in ("true", "false"):
            return hint.lower() == "true"
        status = err.http_status or 0
        return status in (409, 429) or status >= 500
    return False


def with_retries(
    fn: Callable[[], T],
    *,
    attempts: int = 6,
    base_delay: float = 0.25,
    max_delay: float = 4.0,
    sleep: Callable[[float], None] = time.sleep,
    on_retry: RetryHook | None = None,
) -> T:
    """Call fn, retrying retryable Stripe errors with exponential backoff and full jitter, and
    never sooner than a `Retry-After` header asks; `on_retry` is told before each wait.

    Safe for writes only when fn sends the same idempotency key on every attempt.
    """
    for attempt in range(1, attempts + 1):
        try:
            return fn()
        except stripe.StripeError as err:
            if attempt == attempts or not is_retryable(err):
                raise
            delay = min(max_delay, base_delay * 2 ** (attempt - 1))
            wait = max(random.uniform(delay / 2, delay), retry_after(err) or 0.0)
            if on_retry is not None:
                on_retry(attempt, attempts, wait, err)
            sleep(wait)
    raise AssertionError("unreachable")


def wrap_errors(fn: Callable[[], T], api_base: str | None = None) -> T:
    """Run fn and turn any Stripe error into a StripeApiError with one clear line."""
    try:
        return fn()
    except stripe.StripeError as err:
        raise StripeApiError(describe_stripe_error(err, api_base)) from err
