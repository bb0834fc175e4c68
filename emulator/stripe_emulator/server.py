"""The emulator's HTTP server: auth, idempotency, request log, faults, latency, test controls."""

from __future__ import annotations

import collections
import contextlib
import hashlib
import importlib
import json
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
    match_route,
    random_token,
)
from stripe_emulator.params import decode_form, validate

API_VERSION = "2026-10-28.endive"
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
MAX_IDEMPOTENCY_KEY = 255


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
        self.request_log: list[dict[str, Any]] = []
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
        allowed = {
            "latency_ms",
            "execution_delay_ms",
            "rate_limit",
            "fault_rate",
            "fault_kinds",
            "fail_nth",
            "fail_kind",
            "seed",
        }
        unknown = set(body) - allowed
        if unknown:
            raise ApiError.invalid(f"Unknown config keys: {sorted(unknown)}")
        with self._meta_lock:
            cfg = self.config
            if "latency_ms" in body:
                cfg.latency_ms = float(body["latency_ms"])
            if "execution_delay_ms" in body:
                cfg.execution_delay_ms = float(body["execution_delay_ms"])
            if "rate_limit" in body:
                cfg.rate_limit = float(body["rate_limit"] or 0)
                if cfg.rate_limit < 0:
                    raise ApiError.invalid("rate_limit must be >= 0 (0 = unlimited)")
            if "fault_rate" in body:
                rate = float(body["fault_rate"])
                if not 0 <= rate <= 1:
                    raise ApiError.invalid("fault_rate must be between 0 and 1")
                cfg.fault_rate = rate
            if "fault_kinds" in body:
                kinds = body["fault_kinds"]
                kinds = [kinds] if isinstance(kinds, str) else list(kinds)
                bad = [k for k in kinds if str(k) not in FAULT_KINDS]
                if bad or not kinds:
                    raise ApiError.invalid(f"fault_kinds must be among {list(FAULT_KINDS)}")
                cfg.fault_kinds = tuple(str(k) for k in kinds)
            if "seed" in body:
                self.rng.seed(body["seed"])
            if "fail_nth" in body:
                kind = str(body.get("fail_kind", "500"))
                if kind not in FAULT_KINDS:
                    raise ApiError.invalid(f"fail_kind must be one of {list(FAULT_KINDS)}")
                nth = body["fail_nth"]
                items: list[tuple[int, str]]
                if isinstance(nth, dict):
                    items = [(int(n), str(k)) for n, k in nth.items()]
                elif isinstance(nth, list):
                    items = [(int(n), kind) for n in nth]
                elif nth is None:
                    cfg.fail_nth.clear()
                    items = []
                else:
                    items = [(int(nth), kind)]
                for n, k in items:
                    if n < 1 or k not in FAULT_KINDS:
                        raise ApiError.invalid("fail_nth must be >= 1 with a known kind")
                    cfg.fail_nth[self.counter + n] = k
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
        except ApiError as err:
            return Response(err.status, err.body())
        except (TypeError, ValueError, KeyError) as err:
            return Response(400, {"error": {"type": "invalid_request_error", "message": str(err)}})
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
        resp.headers.setdefault("Stripe-Version", headers.get("stripe-version") or API_VERSION)
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
        for header in ("stripe-account", "stripe-context"):
            if headers.get(header):
                raise ApiError.invalid(
                    f"The {header.title()} header (Connect) is not supported by the "
                    "billing-sync emulator.",
                    param=header,
                )
        if method in ("GET", "DELETE"):
            raw = decode_form(parse_qsl(query, keep_blank_values=True))
        else:
            ctype = headers.get("content-type", "")
            if body and "json" in ctype:
                raise ApiError.invalid("Invalid request: bodies must be form-encoded.")
            raw = decode_form(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
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


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    server: EmulatorHTTPServer

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _dispatch(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        headers = {k.lower(): v for k, v in self.headers.items()}
        emu = self.server.emulator
        path = urlsplit(self.path).path
        if path.startswith("/_emulator/") or path == "/_emulator":
            payload: dict[str, Any] = {}
            if body:
                if "json" in headers.get("content-type", "") or body.lstrip()[:1] in (b"{", b"["):
                    try:
                        payload = json.loads(body)
                    except ValueError:
                        payload = {}
                else:
                    payload = dict(parse_qsl(body.decode(), keep_blank_values=True))
            resp = emu.control(self.command, path, payload)
        else:
            resp = emu.handle(self.command, self.path, headers, body)
        if resp.drop:
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)
            return
        data = dumps(resp.body)
        self.send_response(resp.status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for k, v in resp.headers.items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    do_GET = _dispatch
    do_POST = _dispatch
    do_DELETE = _dispatch


class EmulatorHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], emulator: Emulator) -> None:
        self.emulator = emulator
        super().__init__(address, _Handler)

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host!s}:{port}"


def make_server(host: str = "127.0.0.1", port: int = 0, **emulator_kw: Any) -> EmulatorHTTPServer:
    return EmulatorHTTPServer((host, port), Emulator(**emulator_kw))


def start_server(
    host: str = "127.0.0.1", port: int = 0, **emulator_kw: Any
) -> tuple[EmulatorHTTPServer, str]:
    """Run an emulator in a background thread of this process; returns (server, url).

    Stop it with `server.shutdown(); server.server_close()`; the state is `server.emulator`.
    """
    server = make_server(host, port, **emulator_kw)
    thread = threading.Thread(target=server.serve_forever, name="stripe-emulator", daemon=True)
    thread.start()
    return server, server.url
