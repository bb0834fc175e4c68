"""Integration: list pages decode into plain dicts through the SDK, with the SDK's own errors (on
both paths: the requestor's and `raw_request`'s), and the concurrent reader's bounded streams end
promptly when a read fails or normalisation raises. No timed assertions."""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, replace
from typing import Any

import pytest
import stripe

from billing_sync.errors import StripeApiError
from billing_sync.remote.client import Remote, connect
from billing_sync.remote.pages import get_json, list_pages
from billing_sync.resources import PRODUCT
from tests.helpers import EmulatorHandle

SUBSCRIPTIONS = ("/v1/subscriptions", {"status": "all", "expand": ["data.discounts"]})


@dataclass
class _OnlyRawRequest:
    """A client as an SDK without the private requestor would be: only `raw_request`."""

    client: stripe.StripeClient

    def raw_request(self, method: str, path: str, **params: Any) -> Any:
        return self.client.raw_request(method, path, **params)


def without_requestor(remote: Remote) -> Remote:
    return replace(remote, client=_OnlyRawRequest(remote.client))  # type: ignore[arg-type]


def containers(value: Any) -> Iterator[Any]:
    """Every dict and list in a decoded body."""
    if isinstance(value, dict):
        yield value
        for v in value.values():
            yield from containers(v)
    elif isinstance(value, list):
        yield value
        for v in value:
            yield from containers(v)


def test_list_pages_are_plain_dicts_equal_to_the_sdks(emulator: EmulatorHandle) -> None:
    emulator.seed(products=3, prices_per_product=2, customers=120, subscriptions_per_customer=1)
    remote = connect(emulator.api_key, emulator.url)
    path, params = SUBSCRIPTIONS
    pages = list(list_pages(remote, path, params))
    assert [len(p) for p in pages] == [100, 20]
    types = {type(c) for page in pages for c in containers(page)}
    assert types == {dict, list}  # no OrderedDict anywhere, nested objects included
    # The same objects, in the same order, as the SDK's raw_request decodes them.
    fallback = list(list_pages(without_requestor(remote), path, params))
    assert fallback == pages
    assert {type(o) for page in fallback for o in page} == {OrderedDict}  # that path was taken
    first = remote.client.raw_request("get", path, **params, limit=100).data
    assert first["data"] == pages[0]
    assert list(first["data"][0]) == list(pages[0][0])  # key order kept


def failure(call: Callable[[], Any]) -> stripe.StripeError:
    with pytest.raises(stripe.StripeError) as caught:
        call()
    return caught.value


def described(err: stripe.StripeError) -> tuple[Any, ...]:
    """Everything a caller sees of an error, but the request id (each request has its own)."""
    headers = err.headers or {}

    def unique(text: Any) -> str:
        return re.sub(r"req_[A-Za-z0-9]+", "req_*", str(text))

    return (
        type(err),
        unique(err),
        err.http_status,
        err.code,
        getattr(err, "param", None),
        unique(err.json_body),
        headers.get("Stripe-Should-Retry"),
    )


@pytest.mark.parametrize(
    "case", ["unknown parameter", "missing object", "bad key", "429", "lock_timeout", "500"]
)
def test_errors_are_the_sdks_own_on_both_paths(emulator: EmulatorHandle, case: str) -> None:
    remote = connect(emulator.api_key, emulator.url)
    path, params = "/v1/products", dict[str, Any](limit=10)
    if case == "unknown parameter":
        params = {"limit": 10, "colour": "blue"}
    elif case == "missing object":
        path, params = "/v1/products/prod_missing", {}
    elif case == "bad key":
        remote = connect("sk_test_not!a!key!shape", emulator.url)

    def attempt(r: Remote) -> stripe.StripeError:
        if case in ("429", "lock_timeout", "500"):
            emulator.configure(fail_nth={1: case})
        return failure(lambda: get_json(r, path, params))

    fast, slow = attempt(remote), attempt(without_requestor(remote))
    assert described(fast) == described(slow)
    assert (
        fast.http_status
        == {
            "unknown parameter": 400,
            "missing object": 404,
            "bad key": 401,
            "429": 429,
            "lock_timeout": 429,
            "500": 500,
        }[case]
    )


def test_a_2xx_body_that_is_not_json_is_the_sdks_error() -> None:
    """The decode failure path hands the body to the SDK, which raises its APIError."""

    class Requestor:
        def request_raw(self, *args: Any, **kw: Any) -> tuple[bytes, int, dict[str, str]]:
            return b"<html>proxy says hi</html>", 200, {}

        def _interpret_response(self, body: Any, code: int, headers: Any, mode: str) -> Any:
            return stripe.StripeClient("sk_test_x")._requestor._interpret_response(
                body,
                code,
                headers,
                mode,  # type: ignore[arg-type]
            )

    @dataclass
    class Client:
        _requestor: Requestor

    remote = replace(connect("sk_test_abcdefghijklmnop"), client=Client(Requestor()))  # type: ignore[arg-type]
    err = failure(lambda: get_json(remote, "/v1/products", {}))
    assert isinstance(err, stripe.APIError)
    assert "Invalid response body from API" in str(err)


# -- the concurrent reader's bounded streams --------------------------------------------------
def run_guarded(fn: Callable[[], Any]) -> BaseException | None:
    """Run fn on a thread; fail (instead of hanging the suite) if it never returns."""
    outcome: list[BaseException | None] = []

    def target() -> None:
        try:
            fn()
            outcome.append(None)
        except BaseException as err:
            outcome.append(err)

    runner = threading.Thread(target=target, daemon=True)
    runner.start()
    runner.join(timeout=300)
    assert not runner.is_alive(), "the read never ended"
    return outcome[0]


def read_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("read")]


@pytest.fixture
def full_streams(monkeypatch: pytest.MonkeyPatch) -> threading.Event:
    """One page ahead for the stream being read and one for all the others; the event is set
    once a fetching thread has to wait for room."""
    import billing_sync.resources.read as read_module

    saw_full = threading.Event()

    class Watched(read_module._Shelf):
        def put(self, n: int, item: Any, *, last: bool = False) -> bool:
            with self._changed:
                if not last and not self._has_room(n):
                    saw_full.set()
            return super().put(n, item, last=last)

    monkeypatch.setattr(read_module, "PAGES_AHEAD", 1)
    monkeypatch.setattr(read_module, "PAGES_BUDGET", 1)
    monkeypatch.setattr(read_module, "_Shelf", Watched)
    return saw_full


def test_normalisation_raising_while_streams_are_full_ends_the_read(
    emulator: EmulatorHandle, monkeypatch: pytest.MonkeyPatch, full_streams: threading.Event
) -> None:
    from billing_sync.resources.read import read_account

    emulator.seed(products=350, prices_per_product=2, customers=350, subscriptions_per_customer=1)
    real = PRODUCT.read

    def failing(objects: Iterable[dict[str, Any]], existing: Any, pages: Any) -> Any:
        next(iter(objects))
        assert full_streams.wait(timeout=300)  # every later stream now waits on a full queue
        raise RuntimeError("normalisation failed")

    monkeypatch.setattr(PRODUCT, "read", failing)
    err = run_guarded(lambda: read_account(connect(emulator.api_key, emulator.url)))
    assert isinstance(err, RuntimeError) and str(err) == "normalisation failed"
    assert read_threads() == []  # every fetching thread gave up its wait and ended
    # Stopped early: each stream fetched at most a page or two ahead (and the one in flight).
    stopped = len(emulator.requests())
    monkeypatch.setattr(PRODUCT, "read", real)
    read_account(connect(emulator.api_key, emulator.url))
    assert stopped < len(emulator.requests()) - stopped


def test_a_stream_failing_behind_a_full_queue_fails_the_read(
    emulator: EmulatorHandle, monkeypatch: pytest.MonkeyPatch, full_streams: threading.Event
) -> None:
    import billing_sync.resources.read as read_module

    emulator.seed(products=250, prices_per_product=1, customers=350, subscriptions_per_customer=1)

    def pages(remote: Any, path: str, params: Any, limiter: Any = None) -> Iterator[Any]:
        real = list_pages(remote, path, params, limiter)
        if path != "/v1/customers":
            return real

        def failing() -> Iterator[Any]:
            yield next(real)
            yield next(real)  # waits: the reader is still on products
            raise StripeApiError("customers: refused")

        return failing()

    monkeypatch.setattr(read_module, "list_pages", pages)
    err = run_guarded(lambda: read_module.read_account(connect(emulator.api_key, emulator.url)))
    assert isinstance(err, StripeApiError) and str(err) == "customers: refused"
    assert full_streams.is_set()
    assert read_threads() == []


def waiting_put(shelf: Any, n: int, item: str, results: list[bool]) -> threading.Thread:
    putter = threading.Thread(target=lambda: results.append(shelf.put(n, item)))
    putter.start()
    putter.join(timeout=0.2)
    return putter


def test_the_shelf_bounds_streams_and_gives_up_waiting_once_closed() -> None:
    from billing_sync.resources.read import _END, _Shelf

    shelf = _Shelf(ahead=2, budget=1)
    first, second, third = shelf.stream(), shelf.stream(), shelf.stream()
    assert shelf.put(first, "a1") and shelf.put(first, "a2")  # the stream being read: 2 ahead
    assert shelf.put(second, "b1")  # the others: 1 together
    results: list[bool] = []
    blocked = waiting_put(shelf, third, "c1", results)
    assert blocked.is_alive() and results == []  # no room: it waits
    assert shelf.put(second, _END, last=True)  # a stream's end never waits
    for expected in ("a1", "a2"):
        assert shelf.get(first) == expected
    assert blocked.is_alive()  # reading the first stream freed none of the others' room
    assert shelf.get(second) == "b1"  # the second is being read: its pages leave the budget
    blocked.join(timeout=300)
    assert results == [True]
    assert shelf.get(second) is _END
    results.clear()
    blocked = waiting_put(shelf, first, "a3", results)  # no longer read: "c1" fills the budget
    assert blocked.is_alive()
    shelf.close()
    blocked.join(timeout=300)
    assert not blocked.is_alive() and results == [False]
    assert not shelf.put(third, "c3")


def test_trimmed_subscriptions_read_to_the_same_states(
    emulator: EmulatorHandle, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Kind.trim (a subscription's embedded prices down to their ids, on the fetching threads)
    changes what waits in memory, not what the read makes of it."""
    from billing_sync.resources import SUBSCRIPTION
    from billing_sync.resources.base import Kind
    from billing_sync.resources.read import read_account

    emulator.seed(
        products=30,
        prices_per_product=2,
        customers=120,
        subscriptions_per_customer=1,
        items_per_subscription=2,
    )
    trimmed = read_account(connect(emulator.api_key, emulator.url))
    seen: list[dict[str, Any]] = []
    real_trim = type(SUBSCRIPTION).trim

    def watched(self: Any, obj: dict[str, Any]) -> dict[str, Any]:
        out = real_trim(self, obj)
        seen.append(out)
        return out

    monkeypatch.setattr(type(SUBSCRIPTION), "trim", watched)
    read_account(connect(emulator.api_key, emulator.url))
    assert len(seen) == 120  # every subscription went through it, on the fetching threads
    assert all(
        isinstance(i["price"], str) and "plan" not in i for s in seen for i in s["items"]["data"]
    )
    monkeypatch.setattr(type(SUBSCRIPTION), "trim", Kind.trim)  # no trim: objects as sent
    whole = read_account(connect(emulator.api_key, emulator.url))
    assert whole.of(SUBSCRIPTION) == trimmed.of(SUBSCRIPTION)
    assert len(trimmed.of(SUBSCRIPTION).managed) == 120


def _formatted_bodies(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The response bodies stripe-python formats for its log (what `logfmt` is handed)."""
    from stripe import _util

    bodies: list[str] = []
    original: Callable[[dict[str, Any]], str] = _util.logfmt

    def recording(props: dict[str, Any]) -> str:
        if "body" in props:
            bodies.append(str(props["body"]))
        return original(props)

    monkeypatch.setattr(_util, "logfmt", recording)
    monkeypatch.setattr(_util, "STRIPE_LOG", None)
    monkeypatch.setattr(stripe, "log", None)
    return bodies


def test_response_bodies_are_not_formatted_for_a_debug_log_nobody_shows(
    emulator: EmulatorHandle, monkeypatch: pytest.MonkeyPatch
) -> None:
    emulator.seed(products=2, prices_per_product=1)
    bodies = _formatted_bodies(monkeypatch)
    remote = connect(emulator.api_key, emulator.url)
    page = get_json(remote, "/v1/products", {"limit": 10})
    assert len(page["data"]) == 2
    assert bodies == []


def test_debug_output_still_shows_response_bodies_when_asked_for(
    emulator: EmulatorHandle,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    emulator.seed(products=1, prices_per_product=1)
    bodies = _formatted_bodies(monkeypatch)
    remote = connect(emulator.api_key, emulator.url)
    product_id = get_json(remote, "/v1/products", {"limit": 1})["data"][0]["id"]
    assert bodies == []
    monkeypatch.setattr(stripe, "log", "debug")  # STRIPE_LOG=debug, as the SDK documents it
    get_json(remote, "/v1/products", {"limit": 1})
    shown = capsys.readouterr().err
    assert "API response body" in shown and product_id in shown
    monkeypatch.setattr(stripe, "log", None)  # and through `logging`, the "stripe" logger
    with caplog.at_level("DEBUG", logger="stripe"):
        get_json(remote, "/v1/products", {"limit": 1})
    assert any("API response body" in r.getMessage() for r in caplog.records)
    assert product_id not in capsys.readouterr().err
    assert len(bodies) == 2


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _proxy_env(monkeypatch: pytest.MonkeyPatch, **values: str) -> None:
    """Only these proxy variables (either case) in the environment."""
    for name in ("http_proxy", "https_proxy", "all_proxy", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.upper(), raising=False)
    for name, value in values.items():
        monkeypatch.setenv(name, value)


def test_proxies_are_read_from_the_environment_once_with_no_proxy_honoured(
    emulator: EmulatorHandle, monkeypatch: pytest.MonkeyPatch
) -> None:
    emulator.seed(products=1, prices_per_product=1)
    dead_proxy = f"http://127.0.0.1:{_free_port()}"
    _proxy_env(monkeypatch, HTTP_PROXY=dead_proxy)
    through_proxy = connect(emulator.api_key, emulator.url)
    with pytest.raises(stripe.APIConnectionError, match="Unable to connect to proxy"):
        get_json(through_proxy, "/v1/products", {})
    assert emulator.requests() == []  # nothing reached the API around the proxy
    _proxy_env(monkeypatch, HTTP_PROXY=dead_proxy, NO_PROXY="127.0.0.1")
    direct = connect(emulator.api_key, emulator.url)
    assert len(get_json(direct, "/v1/products", {})["data"]) == 1
    _proxy_env(monkeypatch)  # read at connect: a later change of the environment is not seen
    with pytest.raises(stripe.APIConnectionError, match="Unable to connect to proxy"):
        get_json(through_proxy, "/v1/products", {})


def test_a_netrc_entry_does_not_replace_the_api_key(
    emulator: EmulatorHandle, monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    emulator.seed(products=1, prices_per_product=1)
    netrc = tmp_path / "netrc"
    netrc.write_text("machine 127.0.0.1 login intruder password nope\n")
    netrc.chmod(0o600)
    monkeypatch.setenv("NETRC", str(netrc))
    remote = connect(emulator.api_key, emulator.url)
    assert len(get_json(remote, "/v1/products", {})["data"]) == 1
