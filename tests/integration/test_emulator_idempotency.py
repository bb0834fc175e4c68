"""Idempotency as Stripe has it (issue 10, item 2): a request that started executing stores its
response under its key, 500s included, and replays it; faults before execution store nothing;
keys survive a restart with --state."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import stripe
from stripe_emulator import start_server

from tests.helpers import EmulatorHandle


def _opts(key: str) -> Any:
    return {"idempotency_key": key}


def test_stored_500_is_replayed_and_changes_nothing(emulator: EmulatorHandle) -> None:
    client = emulator.client()
    emulator.configure(fail_nth=1, fail_kind="500_stored")
    for _ in range(3):
        with pytest.raises(stripe.APIError) as exc:
            client.v1.products.create(params={"name": "Wedged"}, options=_opts("k-500"))
        assert exc.value.http_status == 500
    assert client.v1.products.list().data == []  # it failed before changing anything
    posts = [r for r in emulator.writes() if r["path"] == "/v1/products"]
    assert [(r["status"], r["replayed"]) for r in posts] == [
        (500, False),
        (500, True),
        (500, True),
    ]
    # Another key is another request.
    client.v1.products.create(params={"name": "Wedged"}, options=_opts("k-other"))
    assert len(client.v1.products.list().data) == 1


def test_stored_500_after_the_write_took_effect(emulator: EmulatorHandle) -> None:
    client = emulator.client()
    emulator.configure(fail_nth=1, fail_kind="500_stored_applied")
    for _ in range(2):
        with pytest.raises(stripe.APIError):
            client.v1.customers.create(params={"email": "a@x.test"}, options=_opts("k-applied"))
    assert len(client.v1.customers.list().data) == 1  # exists, yet its key answers 500


def test_stored_500_retried_by_the_sdk_stays_500(emulator: EmulatorHandle) -> None:
    client = emulator.client(max_network_retries=2)
    emulator.configure(fail_nth=1, fail_kind="500_stored")
    with pytest.raises(stripe.APIError):
        client.v1.products.create(params={"name": "x"}, options=_opts("k-sdk"))
    statuses = [(r["status"], r["replayed"]) for r in emulator.writes()]
    assert statuses == [(500, False), (500, True), (500, True)]


def test_500_before_execution_is_not_stored(emulator: EmulatorHandle) -> None:
    client = emulator.client()
    emulator.configure(fail_nth=1, fail_kind="500_before")
    with pytest.raises(stripe.APIError):
        client.v1.products.create(params={"name": "x"}, options=_opts("k-before"))
    product = client.v1.products.create(params={"name": "x"}, options=_opts("k-before"))
    assert product.last_response is not None
    assert product.last_response.headers.get("Idempotent-Replayed") is None


def test_lost_response_replays_the_success(emulator: EmulatorHandle) -> None:
    client = emulator.client()
    emulator.configure(fail_nth=1, fail_kind="lost_response")
    with pytest.raises(stripe.APIError):
        client.v1.products.create(params={"name": "x"}, options=_opts("k-lost"))
    retry = client.v1.products.create(params={"name": "x"}, options=_opts("k-lost"))
    assert retry.last_response is not None
    assert retry.last_response.headers.get("Idempotent-Replayed") == "true"
    assert len(client.v1.products.list().data) == 1


def test_validation_failure_is_not_stored(emulator: EmulatorHandle) -> None:
    client = emulator.client()
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.products.create(params={"name": "x", "bogus": "1"}, options=_opts("k-v"))  # type: ignore[typeddict-unknown-key]
    # Same key, other (valid) parameters: not an idempotency_error, nothing was stored.
    client.v1.products.create(params={"name": "x"}, options=_opts("k-v"))


def test_keys_persist_with_state(tmp_path: Path) -> None:
    state = tmp_path / "state.json"
    server, url = start_server("127.0.0.1", 0, state_file=state)
    handle = EmulatorHandle(url)
    try:
        handle.configure(fail_nth=1, fail_kind="500_stored")
        with pytest.raises(stripe.APIError):
            handle.client().v1.products.create(params={"name": "x"}, options=_opts("k-keep"))
        first = handle.client().v1.products.create(params={"name": "y"}, options=_opts("k-y"))
    finally:
        server.shutdown()
        server.server_close()
    saved = json.loads(state.read_text())
    assert handle.api_key not in state.read_text()  # keys are scoped by a digest
    assert {e["key"] for e in saved["idempotency"]} == {"k-keep", "k-y"}
    server, url = start_server("127.0.0.1", 0, state_file=state)
    handle = EmulatorHandle(url)
    try:
        with pytest.raises(stripe.APIError) as exc:
            handle.client().v1.products.create(params={"name": "x"}, options=_opts("k-keep"))
        assert exc.value.http_status == 500
        again = handle.client().v1.products.create(params={"name": "y"}, options=_opts("k-y"))
        assert again.id == first.id
        assert again.last_response is not None
        assert again.last_response.headers.get("Idempotent-Replayed") == "true"
    finally:
        server.shutdown()
        server.server_close()


def test_unknown_parameter_code(emulator: EmulatorHandle) -> None:
    with pytest.raises(stripe.InvalidRequestError) as exc:
        emulator.client().v1.products.create(params={"name": "x", "colour": "red"})  # type: ignore[typeddict-unknown-key]
    assert exc.value.code == "parameter_unknown"
    assert exc.value.param == "colour"
