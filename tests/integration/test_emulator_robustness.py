"""The emulator as a server under bad input (issue 10, item 7): every malformed request gets a
Stripe-shaped 4xx (or the connection is closed), nothing hangs, nothing breaks later requests,
and the controls validate their input. Ends with a fuzz test of raw malformed HTTP."""

from __future__ import annotations

import json
import random
import socket
import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests
import stripe
from stripe_emulator import start_server
from stripe_emulator.server import MAX_BODY_BYTES, MAX_LOG

from tests.helpers import EmulatorHandle

KEY = "sk_test_robustness"


@pytest.fixture
def served() -> Iterator[EmulatorHandle]:
    """A private emulator with a short request timeout (half-sent requests end quickly)."""
    server, url = start_server("127.0.0.1", 0, request_timeout=1.0)
    try:
        yield EmulatorHandle(url, api_key=KEY)
    finally:
        server.shutdown()
        server.server_close()


def _addr(handle: EmulatorHandle) -> tuple[str, int]:
    host, port = handle.url.removeprefix("http://").rsplit(":", 1)
    return host, int(port)


def _exchange(handle: EmulatorHandle, raw: bytes, *, wait: float = 5.0) -> bytes:
    """Send raw bytes, half-close, read until the server closes (or `wait` passes)."""
    with socket.create_connection(_addr(handle), timeout=wait) as sock:
        sock.sendall(raw)
        sock.shutdown(socket.SHUT_WR)
        chunks = []
        try:
            while chunk := sock.recv(65536):
                chunks.append(chunk)
        except (TimeoutError, ConnectionResetError):
            pass
    return b"".join(chunks)


def _status_and_body(reply: bytes) -> tuple[int, dict[str, Any]]:
    head, _, body = reply.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    return status, json.loads(body) if body else {}


def _post(path: str, body: bytes, headers: dict[str, str] | None = None) -> bytes:
    lines = [f"POST {path} HTTP/1.1", "Host: 127.0.0.1", f"Authorization: Bearer {KEY}"]
    lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
    if not any(k.lower() in ("content-length", "transfer-encoding") for k in headers or {}):
        lines.append(f"Content-Length: {len(body)}")
    lines.append("Content-Type: application/x-www-form-urlencoded")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def _healthy(handle: EmulatorHandle) -> None:
    client = stripe.StripeClient(KEY, base_addresses={"api": handle.url}, max_network_retries=0)
    product = client.v1.products.create(params={"name": "still here"})
    assert client.v1.products.retrieve(product.id).name == "still here"
    assert isinstance(handle.requests(), list)
    assert handle.health()["status"] == "ok"


@pytest.mark.parametrize(
    ("raw", "status"),
    [
        (_post("/v1/products", b"name=x", {"Content-Length": "abc"}), 400),
        (_post("/v1/products", b"name=x", {"Content-Length": "-1"}), 400),
        (_post("/v1/products", b"name=x", {"Content-Length": "6", "content-length": "7"}), 400),
        (_post("/v1/products", b"", {"Content-Length": str(MAX_BODY_BYTES + 1)}), 413),
        (_post("/v1/products", b"6\r\nname=x\r\n0\r\n\r\n", {"Transfer-Encoding": "chunked"}), 400),
        (_post("/v1/products", b"name=" + bytes([0xFF, 0xFE])), 400),
        (_post("/v1/products", b"name=%FF%FE"), 400),
        (_post("/v1/products", b"name=x&metadata" + b"[a]" * 1000 + b"=1"), 400),
        (_post("/v1/products", b"&".join(b"metadata[k%d]=v" % i for i in range(10_001))), 400),
        (
            b"GET /v1/products?expand[]=%FF HTTP/1.1\r\nAuthorization: Bearer "
            + KEY.encode()
            + b"\r\n\r\n",
            400,
        ),
        (b"NONSENSE\r\n\r\n", 400),
        (b"GET /v1/products\r\n\r\n", 400),
        (b"GET /v1/products HTTP/9.9\r\n\r\n", 505),
    ],
    ids=[
        "length-abc",
        "length-negative",
        "length-conflicting",
        "body-too-large",
        "chunked",
        "non-utf8-body",
        "non-utf8-escape",
        "1000-deep-brackets",
        "too-many-fields",
        "non-utf8-query",
        "bad-request-line",
        "http-0.9",
        "bad-version",
    ],
)
def test_malformed_request_is_a_stripe_shaped_4xx(
    served: EmulatorHandle, raw: bytes, status: int
) -> None:
    reply = _exchange(served, raw)
    got, body = _status_and_body(reply)
    assert got == status, reply[:300]
    assert body["error"]["type"] == "invalid_request_error"
    assert body["error"]["message"]
    _healthy(served)


def test_unauthenticated_body_is_not_read(served: EmulatorHandle) -> None:
    # Declares a large body and sends none: the 401 comes back without waiting for it.
    head = b"POST /v1/products HTTP/1.1\r\nContent-Length: 500000\r\n\r\n"
    start = time.monotonic()
    with socket.create_connection(_addr(served), timeout=5) as sock:
        sock.sendall(head)
        reply = sock.recv(65536)
    assert time.monotonic() - start < 0.9  # before the 1 s request timeout
    assert _status_and_body(reply)[0] == 401
    _healthy(served)


def test_half_sent_request_is_dropped_after_the_timeout(served: EmulatorHandle) -> None:
    with socket.create_connection(_addr(served), timeout=5) as sock:
        sock.sendall(_post("/v1/products", b"name=x", {"Content-Length": "100"})[:-2])
        start = time.monotonic()
        assert sock.recv(65536) == b""  # closed by the server, no answer
        assert time.monotonic() - start < 4
    _healthy(served)
    assert served.health()["objects"].get("products") == 1  # only _healthy's


def test_controls_validate_and_store_nothing_refused(served: EmulatorHandle) -> None:
    before = requests.get(served.url + "/_emulator/config", timeout=5).json()
    refused = [
        b'{"latency_ms": 1e400}',
        b'{"latency_ms": -1}',
        b'{"latency_ms": "5"}',
        b'{"latency_ms": 10, "fault_rate": 2}',
        b'{"fault_rate": 0.5, "nonsense": 1}',
        b'{"fail_nth": {"1": "teapot"}}',
        b'{"fail_nth": true}',
        b'{"fail_nth": "1e3"}',
        b'{"execution_delay_ms": NaN}',
        b"[1, 2]",
        b"{not json",
        b'"\xff"',
    ]
    for body in refused:
        r = requests.post(
            served.url + "/_emulator/config",
            data=body,
            headers={"Content-Type": "application/json"},
            timeout=5,
        )
        assert r.status_code == 400, (body, r.text)
        assert r.json()["error"]["type"] == "invalid_request_error"
    assert requests.get(served.url + "/_emulator/config", timeout=5).json() == before
    r = requests.post(
        served.url + "/_emulator/seed", json={"products": 2, "currency": "zzz"}, timeout=5
    )
    assert r.status_code == 400
    assert served.health()["objects"].get("products", 0) == 0  # a refused seed stores nothing


def test_controls_refuse_cross_site_posts(served: EmulatorHandle) -> None:
    # What an HTML form on another site can send: form-encoded, with its Origin.
    r = requests.post(served.url + "/_emulator/reset", data={"x": "1"}, timeout=5)
    assert r.status_code == 415
    r = requests.post(
        served.url + "/_emulator/config",
        json={"latency_ms": 5},
        headers={"Origin": "https://evil.example"},
        timeout=5,
    )
    assert r.status_code == 403
    assert requests.get(served.url + "/_emulator/config", timeout=5).json()["latency_ms"] == 0


def test_request_log_is_bounded() -> None:
    assert 1000 <= MAX_LOG <= 1_000_000


def test_fuzz_malformed_http_then_a_normal_request(served: EmulatorHandle) -> None:
    rng = random.Random(10)
    pieces = [
        b"GET ",
        b"POST ",
        b"DELETE ",
        b"/v1/products",
        b"/_emulator/config",
        b"/_emulator/requests",
        b"?limit=",
        b"[[[",
        b"]]",
        b"%",
        b"%FF",
        b"\x00",
        b"\xff\xfe",
        b" HTTP/1.1\r\n",
        b"Content-Length: ",
        b"-5",
        b"99999999999999999999",
        b"Transfer-Encoding: chunked\r\n",
        b"Authorization: Bearer sk_test_x\r\n",
        b"Content-Type: application/json\r\n",
        b"\r\n",
        b"\r\n\r\n",
        b"name=x&",
        b'{"latency_ms": 1e999}',
        b"metadata[a][b][c]=",
    ]
    for _ in range(150):
        raw = b"".join(rng.choice(pieces) for _ in range(rng.randint(1, 14)))
        if rng.random() < 0.2:
            raw = bytes(rng.randrange(256) for _ in range(rng.randint(1, 300)))
        reply = _exchange(served, raw, wait=3.0)
        if reply:
            assert reply.startswith(b"HTTP/1."), reply[:200]
            status = int(reply.split(b" ", 2)[1])
            assert status != 500, reply[:500]
    _healthy(served)
    assert served.configure()["latency_ms"] == 0


def test_stripe_version_pinned_unknown_and_old(emulator: EmulatorHandle) -> None:
    from stripe_emulator.server import API_VERSION

    def get(version: str | None) -> requests.Response:
        headers = {"Authorization": f"Bearer {emulator.api_key}"}
        if version is not None:
            headers["Stripe-Version"] = version
        return requests.get(emulator.url + "/v1/products", headers=headers, timeout=5)

    for ok in (None, API_VERSION):
        r = get(ok)
        assert r.status_code == 200
        assert r.headers["Stripe-Version"] == API_VERSION
    unknown = get("not-a-version")
    assert unknown.status_code == 400
    assert unknown.json()["error"]["message"] == "Invalid Stripe API version: not-a-version"
    old = get("2020-08-27")
    assert old.status_code == 400
    assert API_VERSION in old.json()["error"]["message"]
