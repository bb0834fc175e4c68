"""remote/pages.py: the one paginator and id_of, shared by reads and payments."""

from __future__ import annotations

from typing import Any

import pytest
import stripe

from billing_sync.remote.client import connect
from billing_sync.remote.pages import id_of, list_all


def test_id_of_reads_ids_strings_dicts_and_stripe_objects() -> None:
    assert id_of(None) is None
    assert id_of("cus_1") == "cus_1"
    assert id_of({"id": "prod_1", "object": "product"}) == "prod_1"
    assert id_of(stripe.StripeObject.construct_from({"id": "pi_1"}, "sk_test_x")) == "pi_1"
    assert id_of(object()) is None


@pytest.mark.e2e
def test_list_all_pages_with_starting_after_and_honours_a_smaller_limit(emulator: Any) -> None:
    emulator.seed(products=250)
    remote = connect(emulator.api_key, emulator.url)
    ids = [p["id"] for p in list_all(remote, "/v1/products", {})]
    assert len(ids) == len(set(ids)) == 250
    gets = [r for r in emulator.requests() if r["path"] == "/v1/products"]
    assert [r["params"].get("limit") for r in gets] == ["100", "100", "100"]
    assert [r["params"].get("starting_after") for r in gets] == [None, ids[99], ids[199]]

    first = next(iter(list_all(remote, "/v1/products", {"limit": 5})))
    assert first["id"] == ids[0]
    last = [r for r in emulator.requests() if r["path"] == "/v1/products"][-1]
    assert last["params"]["limit"] == "5"
