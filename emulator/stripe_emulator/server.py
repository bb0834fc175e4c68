"""The emulator's HTTP server: auth, idempotency, request log, faults, latency, test controls."""

from __future__ import annotations

import collections
import contextlib
import dataclasses
import hashlib
import importlib
import json
import math
import os
import pkgutil
import random
import re
import socket
import tempfile
import threading
import time
from dataclasses import dataclass, field
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from stripe_emulator.errors import ApiError
from stripe_emulator.framework import (
    Request,
    Store,
    check_expand,
    match_control,
    match_route,
    random_token,
)
from stripe_emulator.params import decode_form, validate

API_VERSION = "2026-10-28.endive"
# Dated API versions: `2024-06-20`, `2026-10-28.endive`.
_VERSION_RE = re.compile(r"^20[0-9]{2}-[01][0-9]-[0-3][0-9](\.[a-z]+)?$")
API_KEY_RE = re.compile(r"^(sk|rk)_test_[A-Za-z0-9_]{1,247}$")
# Injected faults (`fault_kinds`, `fail_nth`), and where each happens relative to idempotency:
# - "429", "lock_timeout", "drop" and "500" (alias "500_before"): before the request starts
#   executing; nothing runs, nothing is stored under its Idempotency-Key.
# - "500_stored": the request starts executing and fails with a 500 without changing anything;
#   Stripe stores that 500 under the key and replays it for 24 h (docs.stripe.com/api/
#   idempotent_requests: "Subsequent requests with the same key return the same result,
#   including 500 errors"; results are saved once an endpoint started executing).
# - "500_stored_applied": the write takes effect, then fails with a 500 that is stored and
#   replayed (the worst case: the object exists, the key answers 500 forever).
# - "lost_response" (alias "500_after"): the write takes effect and its success is stored, but
#   the client gets a 500 (the response was lost); a retry with the key replays the success.
FAULT_KINDS = (
    "429",
    "lock_timeout",
    "drop",
    "500",
    "500_before",
    "500_stored",
    "500_stored_applied",
    "lost_response",
    "500_after",
)
BEFORE_EXECUTION = ("429", "500", "500_before", "drop", "lock_timeout")
IDEMPOTENCY_TTL = 24 * 3600

# Server limits (issue 10, item 7). A body larger than MAX_BODY_BYTES is refused from its
# Content-Length before a byte of it is read; a request whose headers or body do not arrive
# within REQUEST_TIMEOUT_S is dropped; the request log keeps the last MAX_LOG entries.
MAX_BODY_BYTES = 1 << 20
MAX_FORM_FIELDS = 10_000
REQUEST_TIMEOUT_S = 10.0
MAX_LOG = 50_000
MAX_DELAY_MS = 60_000.0
CONFIG_KEYS = frozenset(
    {
        "latency_ms",
        "execution_delay_ms",
        "rate_limit",
        "fault_rate",
        "fault_kinds",
        "fail_nth",
        "fail_kind",
        "seed",
    }
)


def _number(body: dict[str, Any], key: str, low: float, high: float) -> float:
    """A finite JSON number in [low, high] (booleans and strings refused)."""
    value = body[key]
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ApiError.invalid(f"{key} must be a number")
    number = float(value)
    if not math.isfinite(number) or not low <= number <= high:
        raise ApiError.invalid(f"{key} must be a finite number between {low:g} and {high:g}")
    return number


def _count(value: Any, what: str) -> int:
    if isinstance(value, bool):
        raise ApiError.invalid(f"{what} must be an integer >= 1")
    try:
        n = int(value)
    except (TypeError, ValueError):
        raise ApiError.invalid(f"{what} must be an integer >= 1") from None
    if n < 1 or str(n) != str(value).strip():
        raise ApiError.invalid(f"{what} must be an integer >= 1")
    return n


MAX_IDEMPOTENCY_KEY = 255


def _form_pairs(text: str) -> list[tuple[str, str]]:
    """`a=1&b[c]=2` -> pairs; percent-escapes must decode to UTF-8; at most MAX_FORM_FIELDS."""
    try:
        return parse_qsl(
            text, keep_blank_values=True, errors="strict", max_num_fields=MAX_FORM_FIELDS
        )
    except UnicodeDecodeError:
        raise ApiError.invalid("Invalid request: a parameter is not valid UTF-8.") from None
    except ValueError:
        raise ApiError.invalid(
            f"Invalid request: more than {MAX_FORM_FIELDS} parameters."
        ) from None


def load_resources() -> None:
    """Import every module in stripe_emulator.resources (each registers its routes)."""
    from stripe_emulator import resources

    for mod in sorted(pkgutil.iter_modules(resources.__path__), key=lambda m: m.name):
        importlib.import_module(f"{resources.__name__}.{mod.name}")


@dataclass
class Response:
    status: int
    body: Any
    headers: dict[str, str] = field(default_factory=dict)
    drop: bool = False
    # False for a request refused by validation: never stored under an idempotency key.
    executed: bool = True


@dataclass
class _IdemEntry:
    fingerprint: str
    status: int
    body: Any
    created: float
    request_id: str

    def dump(self, slot: tuple[str, str]) -> dict[str, Any]:
        body = self.body.decode() if isinstance(self.body, bytes) else dumps(self.body).decode()
        return {
            "scope": slot[0],
            "key": slot[1],
            "fingerprint": self.fingerprint,
            "status": self.status,
            "body": body,
            "created": self.created,
            "request_id": self.request_id,
        }


def _key_scope(api_key: str) -> str:
    """Idempotency keys are scoped per API key; the state file keeps a digest, not the key."""
    return hashlib.sha256(api_key.encode()).hexdigest()[:32]


@dataclass
class FaultConfig:
    latency_ms: float = 0.0
    # Sleep between reserving an idempotency key and executing (widens races in tests).
    execution_delay_ms: float = 0.0
    # Stripe's rate limit (requests per second, per API key; 0 = unlimited): beyond it, 429.
    rate_limit: float = 0.0
    fault_rate: float = 0.0
    fault_kinds: tuple[str, ...] = ("429", "500")
    fail_nth: dict[int, str] = field(default_factory=dict)  # absolute request number -> kind

    def public(self, counter: int) -> dict[str, Any]:
        return {
            "latency_ms": self.latency_ms,
            "execution_delay_ms": self.execution_delay_ms,
            "rate_limit": self.rate_limit,
            "fault_rate": self.fault_rate,
            "fault_kinds": list(self.fault_kinds),
            "fail_nth": {str(n - counter): k for n, k in sorted(self.fail_nth.items())},
        }


def _json_default(o: Any) -> Any:
    if isinstance(o, Decimal):
        return str(o)
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


def dumps(body: Any) -> bytes:
    """JSON bytes (compact: the C encoder); bytes pass through (already encoded)."""
    if isinstance(body, bytes):
        return body
    return json.dumps(body, default=_json_default, separators=(",", ":")).encode()


class Emulator:
    """All state of one emulator instance; `handle` answers one HTTP request."""

    def __init__(
        self,
        *,
        state_file: str | os.PathLike[str] | None = None,
        latency_ms: float = 0.0,
        fault_rate: float = 0.0,
        rate_limit: float = 0.0,
    ) -> None:
        load_resources()
        self.store = Store()
        self.state_file = Path(state_file) if state_file else None
        self.defaults = FaultConfig(
            latency_ms=latency_ms, fault_rate=fault_rate, rate_limit=rate_limit
        )
        self.config = FaultConfig(
            latency_ms=latency_ms, fault_rate=fault_rate, rate_limit=rate_limit
        )
        self._meta_lock = threading.Lock()
        self._save_lock = threading.Lock()
        self.request_log: collections.deque[dict[str, Any]] = collections.deque(maxlen=MAX_LOG)
        self.counter = 0  # Stripe requests seen since reset
        self.idempotency: dict[tuple[str, str], _IdemEntry] = {}
        self.in_flight: set[tuple[str, str]] = set()
        self.rate_windows: dict[str, collections.deque[float]] = {}
        self.rng = random.Random()
        if self.state_file and self.state_file.exists():
            self.load_state()

    # -- persistence ---------------------------------------------------------------------------

    def load_state(self) -> None:
        assert self.state_file is not None
        data = json.loads(self.state_file.read_text())
        with self.store.lock:
            self.store.load(data)
        now = time.time()
        with self._meta_lock:
            self.idempotency.clear()
            for e in data.get("idempotency", []):
                if now - float(e["created"]) < IDEMPOTENCY_TTL:
                    self.idempotency[(str(e["scope"]), str(e["key"]))] = _IdemEntry(
                        str(e["fingerprint"]),
                        int(e["status"]),
                        str(e["body"]).encode(),
                        float(e["created"]),
                        str(e["request_id"]),
                    )

    def save_state(self) -> None:
        if self.state_file is None:
            return
        # One save at a time, so an older snapshot never replaces a newer one.
        with self._save_lock:
            self._save_locked(self.state_file)

    def _save_locked(self, state_file: Path) -> None:
        with self.store.lock:
            data = self.store.dump()
            with self._meta_lock:
                now = time.time()
                data["idempotency"] = [
                    entry.dump(slot)
                    for slot, entry in self.idempotency.items()
                    if now - entry.created < IDEMPOTENCY_TTL
                ]
            payload = json.dumps(data, default=_json_default)
        directory = state_file.parent
        directory.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".emulator-state-", dir=directory)
        try:
            with os.fdopen(fd, "w") as fh:
                fh.write(payload)
            os.replace(tmp, state_file)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise

    # -- controls ------------------------------------------------------------------------------

    def reset(self) -> None:
        with self.store.lock, self._meta_lock:
            self.store.clear()
            self.request_log.clear()
            self.idempotency.clear()
            self.in_flight.clear()
            self.rate_windows.clear()
            self.counter = 0
            self.config = FaultConfig(
                latency_ms=self.defaults.latency_ms,
                fault_rate=self.defaults.fault_rate,
                rate_limit=self.defaults.rate_limit,
            )
        self.save_state()

    def configure(self, body: dict[str, Any]) -> dict[str, Any]:
        """Apply a config change: every field is checked first, so a refused change stores
        nothing (finite numbers in range, known fault kinds, known fields)."""
        if not isinstance(body, dict):
            raise ApiError.invalid("the config must be a JSON object")
        unknown = set(body) - CONFIG_KEYS
        if unknown:
            raise ApiError.invalid(f"Unknown config keys: {sorted(unknown)}")
        if "seed" in body and not isinstance(body["seed"], int | str | None):
            raise ApiError.invalid("seed must be an integer or a string")
        with self._meta_lock:
            cfg = dataclasses.replace(self.config, fail_nth=dict(self.config.fail_nth))
            if "latency_ms" in body:
                cfg.latency_ms = _number(body, "latency_ms", 0, MAX_DELAY_MS)
            if "execution_delay_ms" in body:
                cfg.execution_delay_ms = _number(body, "execution_delay_ms", 0, MAX_DELAY_MS)
            if "rate_limit" in body:
                if body["rate_limit"] is None:
                    body = {**body, "rate_limit": 0}
                cfg.rate_limit = _number(body, "rate_limit", 0, 1e9)
            if "fault_rate" in body:
                cfg.fault_rate = _number(body, "fault_rate", 0, 1)
            if "fault_kinds" in body:
                kinds = body["fault_kinds"]
                kinds = [kinds] if isinstance(kinds, str) else kinds
                if (
                    not isinstance(kinds, list)
                    or not kinds
                    or any(k not in FAULT_KINDS for k in kinds)
                ):
                    raise ApiError.invalid(f"fault_kinds must be among {list(FAULT_KINDS)}")
                cfg.fault_kinds = tuple(kinds)
            if "fail_nth" in body:
                kind = body.get("fail_kind", "500")
                if kind not in FAULT_KINDS:
                    raise ApiError.invalid(f"fail_kind must be one of {list(FAULT_KINDS)}")
                nth = body["fail_nth"]
                items: list[tuple[int, str]]
                if isinstance(nth, dict):
                    items = [(_count(n, "fail_nth"), k) for n, k in nth.items()]
                elif isinstance(nth, list):
                    items = [(_count(n, "fail_nth"), kind) for n in nth]
                elif nth is None:
                    cfg.fail_nth.clear()
                    items = []
                else:
                    items = [(_count(nth, "fail_nth"), kind)]
                for n, k in items:
                    if k not in FAULT_KINDS:
                        raise ApiError.invalid(f"fail_nth kinds must be among {list(FAULT_KINDS)}")
                    cfg.fail_nth[self.counter + n] = k
            if "seed" in body:
                self.rng.seed(body["seed"])
            self.config = cfg
            return cfg.public(self.counter)

    def requests(self) -> list[dict[str, Any]]:
        with self._meta_lock:
            return list(self.request_log)

    def health(self) -> dict[str, Any]:
        with self.store.lock:
            counts = {name: len(c) for name, c in self.store.collections.items()}
            examined = self.store.list_examined
        return {
            "status": "ok",
            "api_version": API_VERSION,
            "objects": counts,
            "list_objects_examined": examined,
        }

    def control(self, method: str, path: str, body: dict[str, Any]) -> Response:
        name = path[len("/_emulator/") :].strip("/")
        try:
            if (method, name) == ("GET", "health"):
                return Response(200, self.health())
            if (method, name) == ("POST", "reset"):
                self.reset()
                return Response(200, {"reset": True})
            if (method, name) == ("GET", "requests"):
                return Response(200, self.requests())
            if (method, name) == ("GET", "config"):
                with self._meta_lock:
                    return Response(200, self.config.public(self.counter))
            if (method, name) == ("POST", "config"):
                return Response(200, self.configure(body))
            if (method, name) == ("POST", "seed"):
                from stripe_emulator.seed import seed

                with self.store.lock:
                    result = seed(self.store, body)
                self.save_state()
                return Response(200, result)
            registered = match_control(method, name)
            if registered is not None:
                handler, args = registered
                with self.store.lock:
                    result = handler(self.store, args, body, int(time.time()))
                self.save_state()
                return Response(200, result)
        except ApiError as err:
            return Response(err.status, err.body())
        except (TypeError, ValueError, KeyError, AttributeError, OverflowError) as err:
            return Response(400, _error_body(f"Invalid control request: {err}"))
        return Response(
            404, {"error": {"type": "invalid_request_error", "message": "no such control"}}
        )

    # -- Stripe requests -----------------------------------------------------------------------

    def _over_rate_limit(self, api_key_header: str) -> bool:
        """A sliding one-second window per Authorization header (call with _meta_lock held)."""
        limit = self.config.rate_limit
        if limit <= 0:
            return False
        now = time.monotonic()
        window = self.rate_windows.setdefault(api_key_header, collections.deque())
        while window and now - window[0] >= 1.0:
            window.popleft()
        if len(window) >= limit:
            return True
        window.append(now)
        return False

    def _next_fault(self, api_key_header: str = "") -> str | None:
        with self._meta_lock:
            self.counter += 1
            n = self.counter
            kind = self.config.fail_nth.pop(n, None)
            if kind is None and self._over_rate_limit(api_key_header):
                kind = "429"
            if (
                kind is None
                and self.config.fault_rate > 0
                and self.rng.random() < self.config.fault_rate
            ):
                kind = self.rng.choice(self.config.fault_kinds)
            return kind

    def handle(self, method: str, raw_path: str, headers: dict[str, str], body: bytes) -> Response:
        """Answer one request to the Stripe surface (paths under /v1/)."""
        request_id = f"req_{random_token(14)}"
        split = urlsplit(raw_path)
        path = split.path
        idem_key = headers.get("idempotency-key") if method == "POST" else None
        log: dict[str, Any] = {
            "method": method,
            "path": path,
            "params": {},
            "status": 0,
            "idempotency_key": idem_key,
            "request_id": request_id,
            "replayed": False,
        }
        fault = self._next_fault(headers.get("authorization", ""))
        latency = self.config.latency_ms
        if latency > 0:
            time.sleep(latency / 1000.0)
        try:
            resp = self._handle(method, path, split.query, headers, body, fault, log)
        except ApiError as err:
            resp = Response(err.status, err.body(), dict(err.headers))
        except Exception as err:  # a bug in the emulator: answer as Stripe's 500, log it
            import traceback

            traceback.print_exc()
            resp = Response(
                500,
                {"error": {"type": "api_error", "message": f"emulator internal error: {err!r}"}},
            )
        resp.headers["Request-Id"] = request_id
        resp.headers.setdefault("Stripe-Version", API_VERSION)
        if idem_key:
            resp.headers["Idempotency-Key"] = idem_key
        log["status"] = 0 if resp.drop else resp.status
        with self._meta_lock:
            self.request_log.append(log)
        return resp

    def _handle(
        self,
        method: str,
        path: str,
        query: str,
        headers: dict[str, str],
        body: bytes,
        fault: str | None,
        log: dict[str, Any],
    ) -> Response:
        api_key = self._authenticate(headers.get("authorization", ""))
        self._check_version(headers.get("stripe-version"))
        for header in ("stripe-account", "stripe-context"):
            if headers.get(header):
                raise ApiError.invalid(
                    f"The {header.title()} header (Connect) is not supported by the "
                    "billing-sync emulator.",
                    param=header,
                )
        if method in ("GET", "DELETE"):
            raw = decode_form(_form_pairs(query))
        else:
            ctype = headers.get("content-type", "")
            if body and "json" in ctype:
                raise ApiError.invalid("Invalid request: bodies must be form-encoded.")
            try:
                text = body.decode("utf-8")
            except UnicodeDecodeError:
                raise ApiError.invalid(
                    "Invalid request: the body is not valid UTF-8 form data."
                ) from None
            raw = decode_form(_form_pairs(text))
        log["params"] = raw
        found = match_route(method, path)
        if found is None:
            raise ApiError(
                404,
                "invalid_request_error",
                f"Unrecognized request URL ({method}: {path}). Please see https://stripe.com/docs "
                "or we can help at https://support.stripe.com/.",
            )
        route, path_args = found

        if fault in BEFORE_EXECUTION:
            return self._fault_response(fault)

        idem_key = log["idempotency_key"]
        slot: tuple[str, str] | None = None
        fingerprint = ""
        if idem_key is not None:
            if len(idem_key) > MAX_IDEMPOTENCY_KEY:
                raise ApiError.invalid(
                    f"Idempotency keys can be at most {MAX_IDEMPOTENCY_KEY} characters long",
                    param="idempotency_key",
                )
            slot = (_key_scope(api_key), idem_key)
            fingerprint = hashlib.sha256(
                json.dumps([method, path, raw], sort_keys=True).encode()
            ).hexdigest()
            with self._meta_lock:
                entry = self.idempotency.get(slot)
                if entry is not None and time.time() - entry.created > IDEMPOTENCY_TTL:
                    del self.idempotency[slot]
                    entry = None
                if entry is not None:
                    if entry.fingerprint != fingerprint:
                        raise ApiError(
                            400,
                            "idempotency_error",
                            "Keys for idempotent requests can only be used with the same "
                            "parameters they were first used with. Try using a key other than "
                            f"'{idem_key}' if you meant to execute a different request.",
                        )
                    log["replayed"] = True
                    return Response(
                        entry.status,
                        entry.body,
                        {"Idempotent-Replayed": "true", "Original-Request": entry.request_id},
                    )
                if slot in self.in_flight:
                    raise ApiError(
                        409,
                        "invalid_request_error",
                        "There is currently another in-progress request using this "
                        f"Stripe-Idempotency-Key ({idem_key}). Please try again later.",
                        code="idempotency_key_in_use",
                    )
                self.in_flight.add(slot)
        try:
            delay = self.config.execution_delay_ms
            if delay > 0:
                time.sleep(delay / 1000.0)
            resp = self._execute(route, path_args, method, path, raw, api_key, fault)
            if resp.executed and fault in ("500_stored", "500_stored_applied"):
                resp = self._fault_response("500")
            stored = slot is not None and resp.executed
            if stored:
                assert slot is not None
                with self._meta_lock:
                    self.idempotency[slot] = _IdemEntry(
                        fingerprint, resp.status, resp.body, time.time(), log["request_id"]
                    )
        finally:
            if slot is not None:
                with self._meta_lock:
                    self.in_flight.discard(slot)
        if route.write or stored:  # a refused write (a 402 decline) can still change state
            self.save_state()
        if fault in ("lost_response", "500_after"):
            return self._fault_response("500")
        return resp

    def _execute(
        self,
        route: Any,
        path_args: dict[str, str],
        method: str,
        path: str,
        raw: dict[str, Any],
        api_key: str,
        fault: str | None = None,
    ) -> Response:
        try:
            params = validate(route.params_type, route.implemented, raw)
            if fault == "500_stored":  # valid, started executing, failed before any change
                return Response(500, b"")
            expand = params.get("expand") or []
            if expand and route.returns != "raw":
                kind = route.returns.split(":", 1)
                check_expand(route.returns if kind[0] == "list" else kind[-1], expand)
            with self.store.lock:
                req = Request(
                    store=self.store,
                    method=method,
                    path=path,
                    path_args=path_args,
                    params=params,
                    api_key=api_key,
                    route=route,
                )
                result = route.handler(req)
                # Encode under the lock: rendered objects share nested dicts with the store,
                # and the body outlives the lock (idempotent replays are this snapshot).
                if isinstance(result, tuple):
                    result = (result[0], dumps(result[1]))
                else:
                    result = dumps(result)
        except ApiError as err:
            return Response(err.status, err.body(), dict(err.headers), executed=not err.validation)
        if isinstance(result, tuple):
            status, body = result
            return Response(int(status), body)
        return Response(200, result)

    @staticmethod
    def _check_version(version: str | None) -> None:
        """Serve only the pinned API version: an unknown version is refused as Stripe refuses
        it ("Invalid Stripe API version"); an older real one is refused too rather than
        answered in the pinned version's shape (the emulator never pretends to serve it)."""
        if version is None or version == API_VERSION:
            return
        if not _VERSION_RE.match(version):
            raise ApiError.invalid(f"Invalid Stripe API version: {version}", param="stripe-version")
        raise ApiError.invalid(
            f"Stripe-Version {version} is not served by this emulator: it serves only "
            f"{API_VERSION} (the version stripe==16.1.0 pins).",
            param="stripe-version",
            code="parameter_unsupported",
        )

    def authorized(self, header: str) -> bool:
        """Whether the Authorization header carries an accepted test key (nothing logged)."""
        try:
            self._authenticate(header)
        except ApiError:
            return False
        return True

    def _authenticate(self, header: str) -> str:
        scheme, _, token = header.partition(" ")
        token = token.strip()
        if scheme.lower() == "basic" and token:
            import base64
            import binascii

            with contextlib.suppress(binascii.Error, UnicodeDecodeError):
                token = base64.b64decode(token).decode().split(":", 1)[0]
        elif scheme.lower() != "bearer":
            token = ""
        if not token:
            raise ApiError(
                401,
                "invalid_request_error",
                "You did not provide an API key. You need to provide your API key in the "
                "Authorization header, using Bearer auth (e.g. 'Authorization: Bearer "
                "YOUR_SECRET_KEY'). See https://stripe.com/docs/api#authentication for "
                "details, or we can help at https://support.stripe.com/.",
            )
        if not API_KEY_RE.match(token):
            shown = token[:8] + "*" * max(0, len(token) - 12) + token[-4:]
            raise ApiError(
                401,
                "invalid_request_error",
                f"Invalid API Key provided: {shown}",
                code="api_key_invalid" if token.startswith(("sk_", "rk_")) else None,
            )
        return token

    @staticmethod
    def _fault_response(kind: str) -> Response:
        if kind == "drop":
            return Response(0, None, drop=True)
        if kind == "lock_timeout":
            return Response(
                429,
                {
                    "error": {
                        "type": "invalid_request_error",
                        "code": "lock_timeout",
                        "message": "This object cannot be accessed right now because another API "
                        "request or Stripe process is currently accessing it. If you see this "
                        "error intermittently, retry the request.",
                        "doc_url": "https://stripe.com/docs/error-codes/lock-timeout",
                    }
                },
                {"Stripe-Should-Retry": "true"},
            )
        if kind == "429":
            return Response(
                429,
                {
                    "error": {
                        "type": "invalid_request_error",
                        "code": "rate_limit",
                        "message": "Request rate limit exceeded. Learn more about rate limits "
                        "here https://stripe.com/docs/rate-limits.",
                        "doc_url": "https://stripe.com/docs/error-codes/rate-limit",
                    }
                },
            )
        return Response(
            500,
            {
                "error": {
                    "type": "api_error",
                    "message": "An unknown error occurred (injected by the billing-sync emulator).",
                }
            },
        )


_LENGTH_RE = re.compile(r"^[0-9]{1,15}$")
_LOOPBACK_ORIGIN_RE = re.compile(r"^https?://(127\.0\.0\.1|localhost|\[::1\])(:[0-9]+)?$")


def _error_body(message: str, type_: str = "invalid_request_error") -> dict[str, Any]:
    return {"error": {"type": type_, "message": message}}


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    # A socket timeout: a client that stops sending headers or its body is dropped.
    timeout = REQUEST_TIMEOUT_S
    server: EmulatorHTTPServer

    def setup(self) -> None:
        super().setup()
        self.connection.settimeout(self.server.request_timeout)

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def parse_request(self) -> bool:
        if not super().parse_request():
            return False
        if self.request_version == "HTTP/0.9":  # `GET /path` without a version: no headers
            self.send_error(400, "HTTP/0.9 requests are not supported")
            return False
        return True

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """Malformed request lines and headers (the stdlib's own refusals) in Stripe's shape."""
        self.close_connection = True
        if self.request_version == "HTTP/0.9":  # unparsed request line: answer in HTTP/1.1
            self.request_version = "HTTP/1.1"
        with contextlib.suppress(OSError):
            self._send(code if code >= 400 else 400, _error_body(f"Invalid request: {message}"))

    def _send(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        data = dumps(body)
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def _refuse(self, status: int, message: str) -> None:
        """Answer in Stripe's error shape and close: the rest of the request is not read."""
        self.close_connection = True
        self._send(status, _error_body(message))

    def _dispatch(self) -> None:
        try:
            self._dispatch_checked()
        except (TimeoutError, ConnectionError):
            self.close_connection = True
        except Exception:  # a bug in the emulator: answer Stripe's 500 shape, keep serving
            import traceback

            traceback.print_exc()
            self.close_connection = True
            with contextlib.suppress(OSError):
                self._send(500, _error_body("emulator internal error", "api_error"))

    def _body_length(self) -> int | None:
        """The declared body length, or None after refusing the request."""
        if self.headers.get("Transfer-Encoding"):
            self._refuse(
                400, "Invalid request: Transfer-Encoding is not supported; send a Content-Length."
            )
            return None
        lengths = self.headers.get_all("Content-Length") or []
        if not lengths:
            return 0
        if len(set(lengths)) != 1 or not _LENGTH_RE.match(lengths[0].strip()):
            self._refuse(400, "Invalid request: malformed Content-Length header.")
            return None
        length = int(lengths[0])
        if length > MAX_BODY_BYTES:
            self._refuse(413, f"Invalid request: the body exceeds {MAX_BODY_BYTES} bytes.")
            return None
        return length

    def _read_body(self, length: int) -> bytes | None:
        body = self.rfile.read(length) if length else b""
        if len(body) < length:  # the client went away mid-body
            self.close_connection = True
            return None
        return body

    def _dispatch_checked(self) -> None:
        emu = self.server.emulator
        path = urlsplit(self.path).path
        headers = {k.lower(): v for k, v in self.headers.items()}
        length = self._body_length()
        if length is None:
            return
        if path.startswith("/_emulator/") or path == "/_emulator":
            self._control(emu, path, headers, length)
            return
        if length and not emu.authorized(headers.get("authorization", "")):
            # Refused before its body is read: answer the 401 (logged) and close.
            self.close_connection = True
            body = b""
        else:
            read = self._read_body(length)
            if read is None:
                return
            body = read
        resp = emu.handle(self.command, self.path, headers, body)
        if resp.drop:
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)
            return
        self._send(resp.status, resp.body, resp.headers)

    def _control(self, emu: Emulator, path: str, headers: dict[str, str], length: int) -> None:
        origin = headers.get("origin")
        if origin is not None and not _LOOPBACK_ORIGIN_RE.match(origin):
            self._refuse(403, "Cross-site requests to the emulator's controls are refused.")
            return
        body = self._read_body(length)
        if body is None:
            return
        payload: Any = {}
        if self.command == "POST":
            # JSON only: a cross-site HTML form cannot send application/json without a CORS
            # preflight, which the emulator never grants.
            ctype = headers.get("content-type", "").split(";")[0].strip().lower()
            if body and ctype != "application/json":
                self._send(415, _error_body("Controls take a JSON body (application/json)."))
                return
            if not body and ctype not in ("", "application/json"):
                self._send(415, _error_body("Controls take a JSON body (application/json)."))
                return
            if body:
                try:
                    payload = json.loads(body.decode("utf-8"))
                except (UnicodeDecodeError, ValueError):
                    self._send(400, _error_body("Invalid JSON body."))
                    return
                if not isinstance(payload, dict):
                    self._send(400, _error_body("The body must be a JSON object."))
                    return
        resp = emu.control(self.command, path, payload)
        self._send(resp.status, resp.body, resp.headers)

    do_GET = _dispatch
    do_POST = _dispatch
    do_DELETE = _dispatch


class EmulatorHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(
        self,
        address: tuple[str, int],
        emulator: Emulator,
        *,
        request_timeout: float = REQUEST_TIMEOUT_S,
    ) -> None:
        self.emulator = emulator
        self.request_timeout = request_timeout
        super().__init__(address, _Handler)

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host!s}:{port}"


def make_server(
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    request_timeout: float = REQUEST_TIMEOUT_S,
    **emulator_kw: Any,
) -> EmulatorHTTPServer:
    return EmulatorHTTPServer(
        (host, port), Emulator(**emulator_kw), request_timeout=request_timeout
    )


def start_server(
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    request_timeout: float = REQUEST_TIMEOUT_S,
    **emulator_kw: Any,
) -> tuple[EmulatorHTTPServer, str]:
    """Run an emulator in a background thread of this process; returns (server, url).

    Stop it with `server.shutdown(); server.server_close()`; the state is `server.emulator`.
    """
    server = make_server(host, port, request_timeout=request_timeout, **emulator_kw)
    thread = threading.Thread(
        target=server.serve_forever,
        kwargs={"poll_interval": 0.05},
        name="stripe-emulator",
        daemon=True,
    )
    thread.start()
    return server, server.url
