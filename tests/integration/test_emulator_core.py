"""Contract tests of the emulator's cross-cutting behaviour: auth, strict params, errors,
idempotency, pagination, expand, faults, the request log, seeding and concurrency."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import requests
import stripe

from tests.helpers import EmulatorHandle


@pytest.fixture
def client(emulator: EmulatorHandle) -> stripe.StripeClient:
    return emulator.client()


def _raw(
    emulator: Any, method: str, path: str, key: str | None = "default", **kw: Any
) -> requests.Response:
    headers = kw.pop("headers", {})
    if key == "default":
        key = emulator.api_key
    if key is not None:
        headers["Authorization"] = f"Bearer {key}"
    return requests.request(method, emulator.url + path, headers=headers, timeout=10, **kw)


# -- authentication, errors ------------------------------------------------------------------


def test_missing_and_invalid_api_key(emulator: EmulatorHandle) -> None:
    r = _raw(emulator, "GET", "/v1/products", key=None)
    assert r.status_code == 401
    assert r.json()["error"]["type"] == "invalid_request_error"
    assert "did not provide an API key" in r.json()["error"]["message"]
    assert r.headers["Request-Id"].startswith("req_")
    bad = emulator.client(api_key="sk_test_not valid!")
    with pytest.raises(stripe.AuthenticationError) as exc:
        bad.v1.products.list()
    assert exc.value.http_status == 401
    live = emulator.client(api_key="sk_live_" + "abcdef123456")
    with pytest.raises(stripe.AuthenticationError):
        live.v1.products.list()


def test_error_shape_and_request_id(emulator: EmulatorHandle) -> None:
    r = _raw(emulator, "GET", "/v1/prices/price_missing")
    assert r.status_code == 404
    body = r.json()
    assert body == {
        "error": {
            "type": "invalid_request_error",
            "code": "resource_missing",
            "doc_url": "https://stripe.com/docs/error-codes/resource-missing",
            "message": "No such price: 'price_missing'",
            "param": "id",
        }
    }
    assert r.headers["Request-Id"].startswith("req_")
    assert r.headers["Content-Type"] == "application/json"
    unknown = _raw(emulator, "GET", "/v1/nothing_here")
    assert unknown.status_code == 404
    assert "Unrecognized request URL (GET: /v1/nothing_here)" in unknown.json()["error"]["message"]


def test_unknown_parameter(client: stripe.StripeClient) -> None:
    with pytest.raises(stripe.InvalidRequestError) as exc:
        client.v1.products.create(params={"name": "x", "colour": "red"})  # type: ignore[typeddict-unknown-key]
    assert exc.value.http_status == 400
    assert exc.value.param == "colour"
    assert exc.value.user_message == "Received unknown parameter: colour"
    with pytest.raises(stripe.InvalidRequestError) as nested:
        client.v1.prices.create(
            params={
                "product": "p",
                "currency": "usd",
                "unit_amount": 1,
                "recurring": {"interval": "month", "foo": "1"},  # type: ignore[typeddict-unknown-key]
            }
        )
    assert nested.value.param == "recurring[foo]"


def test_known_but_unsupported_parameter(client: stripe.StripeClient) -> None:
    with pytest.raises(stripe.InvalidRequestError) as exc:
        client.v1.products.create(
            params={
                "name": "x",
                "package_dimensions": {"height": 1, "length": 1, "weight": 1, "width": 1},
            }
        )
    assert exc.value.http_status == 400
    assert exc.value.param == "package_dimensions"
    assert "not supported by the billing-sync emulator" in str(exc.value.user_message)
    with pytest.raises(stripe.InvalidRequestError) as exc2:
        client.v1.subscriptions.create(
            params={
                "customer": "c",
                "items": [
                    {
                        "price_data": {
                            "currency": "usd",
                            "product": "p",
                            "recurring": {"interval": "month"},
                        }
                    }
                ],
            }
        )
    assert exc2.value.param == "items[0][price_data]"


def test_type_coercion_errors(emulator: EmulatorHandle) -> None:
    r = _raw(emulator, "GET", "/v1/products", params={"limit": "ten"})
    assert r.status_code == 400
    assert r.json()["error"]["message"] == "Invalid integer: ten"
    assert r.json()["error"]["param"] == "limit"
    r2 = _raw(emulator, "GET", "/v1/products", params={"active": "yes"})
    assert r2.json()["error"]["message"] == "Invalid boolean: yes"
    r3 = _raw(emulator, "GET", "/v1/products", params={"limit": "101"})
    assert r3.status_code == 400 and r3.json()["error"]["param"] == "limit"
    # `expand[]=` and bracketed hashes decode as Stripe's form encoding.
    r4 = _raw(
        emulator,
        "POST",
        "/v1/products",
        data={"name": "P", "metadata[a]": "1", "expand[]": "default_price"},
    )
    assert r4.status_code == 200, r4.text
    assert r4.json()["metadata"] == {"a": "1"}


def test_expand_errors(client: stripe.StripeClient) -> None:
    p = client.v1.products.create(params={"name": "x"})
    with pytest.raises(stripe.InvalidRequestError) as exc:
        client.v1.products.retrieve(p.id, params={"expand": ["name"]})
    assert exc.value.param == "expand"
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.prices.list(params={"expand": ["tiers"]})  # lists need the data. prefix


# -- idempotency -------------------------------------------------------------------------------


def test_idempotent_replay_and_mismatch(
    emulator: EmulatorHandle, client: stripe.StripeClient
) -> None:
    opts: Any = {"idempotency_key": "create-pro-1"}
    a = client.v1.products.create(params={"name": "Pro"}, options=opts)
    b = client.v1.products.create(params={"name": "Pro"}, options=opts)
    assert a.id == b.id
    assert b.last_response is not None
    assert b.last_response.headers.get("Idempotent-Replayed") == "true"
    assert len(client.v1.products.list().data) == 1
    with pytest.raises(stripe.IdempotencyError) as exc:
        client.v1.products.create(params={"name": "Other"}, options=opts)
    assert exc.value.http_status == 400
    assert "same parameters" in str(exc.value.user_message)
    # Keys are scoped per API key.
    other = emulator.client(api_key="sk_test_other_account_key")
    c = other.v1.products.create(params={"name": "Other"}, options=opts)
    assert c.id != a.id
    log = emulator.requests()
    assert [r["idempotency_key"] for r in log if r["method"] == "POST"] == ["create-pro-1"] * 4


def test_errors_replayed_but_validation_failures_not_stored(client: stripe.StripeClient) -> None:
    opts: Any = {"idempotency_key": "k-1"}
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.products.create(params={"name": "x", "bogus": "1"}, options=opts)  # type: ignore[typeddict-unknown-key]
    # Not stored: the same key now works with other parameters.
    ok = client.v1.products.create(params={"name": "x"}, options=opts)
    assert ok.name == "x"
    # An error raised while executing is stored and replayed.
    opts2: Any = {"idempotency_key": "k-2"}
    for _ in range(2):
        with pytest.raises(stripe.InvalidRequestError) as exc:
            client.v1.products.create(params={"id": ok.id, "name": "dup"}, options=opts2)
        assert exc.value.code == "resource_already_exists"


def test_concurrent_same_key_creates_one_object(
    emulator: EmulatorHandle, client: stripe.StripeClient
) -> None:
    emulator.configure(execution_delay_ms=300)
    results: list[Any] = []

    def create() -> None:
        try:
            results.append(
                client.v1.products.create(
                    params={"name": "Once"}, options={"idempotency_key": "same"}
                )
            )
        except stripe.StripeError as err:
            results.append(err)

    threads = [threading.Thread(target=create) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    emulator.configure(execution_delay_ms=0)
    errors = [r for r in results if isinstance(r, stripe.StripeError)]
    assert len(errors) == 1
    assert errors[0].http_status == 409
    body = errors[0].json_body
    assert isinstance(body, dict)
    assert body["error"]["code"] == "idempotency_key_in_use"
    assert len(client.v1.products.list().data) == 1


def test_eight_threads_lose_and_duplicate_nothing(client: stripe.StripeClient) -> None:
    def create(i: int) -> str:
        return client.v1.customers.create(params={"email": f"c{i}@example.test"}).id

    with ThreadPoolExecutor(8) as pool:
        ids = list(pool.map(create, range(160)))
    assert len(set(ids)) == 160
    listed = [c.id for c in client.v1.customers.list(params={"limit": 100}).auto_paging_iter()]
    assert sorted(listed) == sorted(ids)
    assert len(listed) == 160


# -- pagination --------------------------------------------------------------------------------


def test_pagination_over_250_objects(emulator: EmulatorHandle, client: stripe.StripeClient) -> None:
    seeded = emulator.seed(products=250, prices_per_product=1)
    assert len(seeded["products"]) == 250
    page = client.v1.products.list(params={"limit": 100})
    assert len(page.data) == 100 and page.has_more is True
    assert page.data[0].id == seeded["products"][-1]  # newest first
    everything = [p.id for p in page.auto_paging_iter()]
    assert everything == list(reversed(seeded["products"]))
    before = client.v1.products.list(params={"ending_before": seeded["products"][100], "limit": 3})
    assert [p.id for p in before.data] == list(reversed(seeded["products"][101:104]))
    assert before.has_more is True
    last = client.v1.products.list(params={"starting_after": seeded["products"][1]})
    assert [p.id for p in last.data] == [seeded["products"][0]]
    assert last.has_more is False
    prices = list(client.v1.prices.list(params={"expand": ["data.product"]}).auto_paging_iter())
    assert len(prices) == 250
    assert all(isinstance(p.product, stripe.Product) for p in prices)
    with pytest.raises(stripe.InvalidRequestError) as exc:
        client.v1.products.list(params={"starting_after": "prod_nope"})
    assert exc.value.param == "starting_after"


# -- faults, latency, the request log ----------------------------------------------------------


def test_injected_faults_before_execution(
    emulator: EmulatorHandle, client: stripe.StripeClient
) -> None:
    emulator.configure(fail_nth=1, fail_kind="429")
    with pytest.raises(stripe.RateLimitError) as exc:
        client.v1.products.create(params={"name": "x"})
    assert exc.value.http_status == 429
    emulator.configure(fail_nth=1, fail_kind="500")
    with pytest.raises(stripe.APIError) as exc500:
        client.v1.products.create(params={"name": "x"})
    assert exc500.value.http_status == 500
    emulator.configure(fail_nth=1, fail_kind="drop")
    with pytest.raises(stripe.APIConnectionError):
        client.v1.products.create(params={"name": "x"})
    assert client.v1.products.list().data == []  # no fault executed the write
    statuses = [r["status"] for r in emulator.requests()]
    assert statuses == [429, 500, 0, 200]


def test_response_lost_then_idempotent_retry(
    emulator: EmulatorHandle, client: stripe.StripeClient
) -> None:
    emulator.configure(fail_nth=1, fail_kind="500_after")
    opts: Any = {"idempotency_key": "lost-1"}
    with pytest.raises(stripe.APIError):
        client.v1.products.create(params={"name": "Lost"}, options=opts)
    assert len(client.v1.products.list().data) == 1  # the write happened
    retry = client.v1.products.create(params={"name": "Lost"}, options=opts)
    assert retry.last_response is not None
    assert retry.last_response.headers.get("Idempotent-Replayed") == "true"
    assert len(client.v1.products.list().data) == 1
    posts = [r for r in emulator.writes() if r["path"] == "/v1/products"]
    assert [(r["status"], r["replayed"]) for r in posts] == [(500, False), (200, True)]


def test_lock_timeout_fault_says_retry(emulator: EmulatorHandle) -> None:
    emulator.configure(fail_nth=1, fail_kind="lock_timeout")
    r = _raw(emulator, "POST", "/v1/products", data={"name": "x"})
    assert r.status_code == 429
    assert r.json()["error"]["code"] == "lock_timeout"
    assert r.headers["Stripe-Should-Retry"] == "true"


def test_fail_nth_counts_from_now_and_fault_rate(
    emulator: EmulatorHandle, client: stripe.StripeClient
) -> None:
    emulator.configure(fail_nth=3, fail_kind="500")
    client.v1.products.list()
    client.v1.products.list()
    with pytest.raises(stripe.APIError):
        client.v1.products.list()
    client.v1.products.list()
    emulator.configure(fault_rate=1.0, fault_kinds=["429"])
    with pytest.raises(stripe.RateLimitError):
        client.v1.products.list()
    # Controls are never faulted.
    assert emulator.health()["status"] == "ok"
    emulator.configure(fault_rate=0)
    client.v1.products.list()


def test_latency(emulator: EmulatorHandle, client: stripe.StripeClient) -> None:
    emulator.configure(latency_ms=150)
    t0 = time.monotonic()
    client.v1.products.list()
    assert time.monotonic() - t0 >= 0.15
    emulator.configure(latency_ms=0)


def test_request_log_and_writes(emulator: EmulatorHandle, client: stripe.StripeClient) -> None:
    p = client.v1.products.create(params={"name": "Logged", "metadata": {"k": "v"}})
    client.v1.products.retrieve(p.id)
    client.v1.products.delete(p.id)
    log = emulator.requests()
    assert [(r["method"], r["path"], r["status"]) for r in log] == [
        ("POST", "/v1/products", 200),
        ("GET", f"/v1/products/{p.id}", 200),
        ("DELETE", f"/v1/products/{p.id}", 200),
    ]
    assert log[0]["params"] == {"name": "Logged", "metadata": {"k": "v"}}
    assert log[0]["idempotency_key"]  # stripe-python adds one to every POST
    assert [w["method"] for w in emulator.writes()] == ["POST", "DELETE"]
    emulator.reset()
    assert emulator.requests() == []


def test_controls_validation(emulator: EmulatorHandle) -> None:
    r = requests.post(emulator.url + "/_emulator/config", json={"nonsense": 1}, timeout=10)
    assert r.status_code == 400
    r2 = requests.post(
        emulator.url + "/_emulator/config", json={"fail_nth": 1, "fail_kind": "teapot"}, timeout=10
    )
    assert r2.status_code == 400
    r3 = requests.post(emulator.url + "/_emulator/seed", json={"products": -1}, timeout=10)
    assert r3.status_code == 400


def test_seed_managed_catalog_with_subscriptions(
    emulator: EmulatorHandle, client: stripe.StripeClient
) -> None:
    out = emulator.seed(
        products=3,
        prices_per_product=2,
        metadata={"managed_by": "billing-sync"},
        customers=4,
        subscriptions_per_customer=2,
    )
    assert len(out["prices"]) == 6 and len(out["subscriptions"]) == 8
    prod = client.v1.products.retrieve(out["products"][0])
    assert prod.metadata["billing_sync_key"] == "product-0"
    assert prod.metadata["managed_by"] == "billing-sync"
    assert prod.default_price == out["prices"][0]
    price = client.v1.prices.list(params={"lookup_keys": ["product-1-price-1"]}).data[0]
    assert price.id == out["prices"][3]
    subs = list(client.v1.subscriptions.list(params={"limit": 100}).auto_paging_iter())
    assert len(subs) == 8
    assert all(s.status == "active" for s in subs)
    assert emulator.health()["objects"]["subscriptions"] == 8


def test_replay_is_a_snapshot_not_the_live_object(client: stripe.StripeClient) -> None:
    opts: Any = {"idempotency_key": "snap-1"}
    cus = client.v1.customers.create(params={"email": "s@example.test"}, options=opts)
    pm = client.v1.payment_methods.attach("pm_card_visa", params={"customer": cus.id})
    client.v1.customers.update(
        cus.id, params={"invoice_settings": {"default_payment_method": pm.id}}
    )
    replay = client.v1.customers.create(params={"email": "s@example.test"}, options=opts)
    assert replay.invoice_settings is not None
    assert replay.invoice_settings.default_payment_method is None
    assert replay.last_response is not None
    assert replay.last_response.headers["Original-Request"] == cus.last_response.request_id  # type: ignore[union-attr]


def test_connect_headers_are_refused_not_ignored(emulator: EmulatorHandle) -> None:
    r = _raw(emulator, "GET", "/v1/products", headers={"Stripe-Account": "acct_123"})
    assert r.status_code == 400
    assert "not supported by the billing-sync emulator" in r.json()["error"]["message"]


def test_rate_limit_per_api_key(emulator: EmulatorHandle, client: stripe.StripeClient) -> None:
    emulator.configure(rate_limit=5)
    outcomes: list[int | None] = []
    for _ in range(8):
        try:
            client.v1.products.list()
            outcomes.append(200)
        except stripe.RateLimitError as err:
            outcomes.append(err.http_status)
    assert outcomes.count(200) == 5 and outcomes.count(429) == 3
    emulator.client(api_key="sk_test_another_key").v1.products.list()  # its own window
    time.sleep(1.05)
    client.v1.products.list()  # the window slid
    emulator.configure(rate_limit=0)


# --------------------------------------------------------------------------- issue 10 item 5


@pytest.mark.parametrize("value", ["abc", "1.5", "1_000", " 7", "٣"])
def test_non_integer_is_parameter_invalid_integer(emulator: EmulatorHandle, value: str) -> None:
    # https://docs.stripe.com/error-codes#parameter-invalid-integer
    r = requests.get(
        f"{emulator.url}/v1/products",
        params={"limit": value},
        headers={"Authorization": f"Bearer {emulator.api_key}"},
        timeout=10,
    )
    assert r.status_code == 400
    err = r.json()["error"]
    assert err["code"] == "parameter_invalid_integer" and err["param"] == "limit"
    assert err["type"] == "invalid_request_error"


def test_objects_named_in_parameters_are_400(emulator: EmulatorHandle) -> None:
    c = emulator.client()
    cases: list[tuple[Any, str]] = [
        (lambda: c.v1.products.list(params={"starting_after": "prod_nope"}), "starting_after"),
        (lambda: c.v1.products.list(params={"ending_before": "prod_nope"}), "ending_before"),
        (
            lambda: c.v1.prices.create(
                params={"product": "prod_nope", "currency": "usd", "unit_amount": 100}
            ),
            "product",
        ),
        (lambda: c.v1.payment_methods.list(params={"customer": "cus_nope"}), "customer"),
        (
            lambda: c.v1.payment_methods.attach("pm_card_visa", params={"customer": "cus_nope"}),
            "customer",
        ),
        (lambda: c.v1.customers.create(params={"payment_method": "pm_nope"}), "payment_method"),
        (lambda: c.v1.subscription_items.list(params={"subscription": "sub_nope"}), "subscription"),
    ]
    for call, param in cases:
        with pytest.raises(stripe.InvalidRequestError) as exc:
            call()
        assert exc.value.http_status == 400, param
        assert exc.value.code == "resource_missing" and exc.value.param == param


def test_objects_in_the_path_are_404(emulator: EmulatorHandle) -> None:
    c = emulator.client()
    cus = c.v1.customers.create().id
    for call in (
        lambda: c.v1.customers.retrieve("cus_nope"),
        lambda: c.v1.payment_methods.attach("pm_nope", params={"customer": cus}),
        lambda: c.v1.customers.payment_methods.list("cus_nope"),
    ):
        with pytest.raises(stripe.InvalidRequestError) as exc:
            call()
        assert exc.value.http_status == 404 and exc.value.code == "resource_missing"
