"""Tests for billing_sync.plan.graph: dependencies derived from tokens, broken plans refused when built."""

from __future__ import annotations

import re

import pytest

from billing_sync.changes import Archive, Create, Request, Update, object_token, release_token
from billing_sync.plan.graph import PlanGraphError, dependencies

KINDS = {"product", "price", "customer", "subscription"}


def create(kind: str, key: str, **params: object) -> Create:
    return Create(
        kind=kind,
        key=key,
        request=Request("post", f"/v1/{kind}s", params),
        provides=frozenset({object_token(kind, key)}),
    )


def test_placeholders_and_tokens_become_edges() -> None:
    product = create("product", "pro")
    price = Create(
        kind="price",
        key="m",
        request=Request("post", "/v1/prices", {"product": "pro"}),
        needs=frozenset({object_token("product", "pro")}),
        provides=frozenset({object_token("price", "m")}),
    )
    move = Update(
        kind="product",
        key="pro",
        request=Request("post", "/v1/products/pro", {"default_price": "${price:m}"}),
        provides=frozenset({release_token("price_old")}),
    )
    archive = Archive(
        kind="price",
        key="old",
        request=Request("post", "/v1/prices/price_old", {"active": False}),
        needs=frozenset({release_token("price_old"), object_token("customer", "nobody")}),
    )
    edges = dependencies([product, price, move, archive], KINDS)
    assert edges == {
        "product.create:pro": (),
        "price.create:m": ("product.create:pro",),
        "product.update:pro": ("price.create:m",),
        # A token nobody provides orders nothing (the object already exists).
        "price.archive:old": ("product.update:pro",),
    }


def test_a_placeholder_nothing_creates_is_refused_when_the_plan_is_built() -> None:
    sub = create("subscription", "a/main", customer="${customer:acme}")
    with pytest.raises(
        PlanGraphError, match=r"\$\{customer:acme\}, which no change in the plan creates"
    ):
        dependencies([sub], KINDS)


def test_a_placeholder_of_an_unknown_kind_is_refused() -> None:
    sub = create("subscription", "a/main", coupon="${coupon:launch}")
    with pytest.raises(PlanGraphError, match="no such resource kind"):
        dependencies([sub, create("coupon", "launch")], KINDS)


def test_two_changes_with_one_id_are_refused() -> None:
    with pytest.raises(
        PlanGraphError, match=re.escape("two changes with one id: product.create:pro")
    ):
        dependencies([create("product", "pro"), create("product", "pro", name="x")], KINDS)


def test_a_cycle_is_refused() -> None:
    a = Update(
        kind="product",
        key="a",
        request=Request("post", "/v1/products/a", {}),
        needs=frozenset({"t:b"}),
        provides=frozenset({"t:a"}),
    )
    b = Update(
        kind="product",
        key="b",
        request=Request("post", "/v1/products/b", {}),
        needs=frozenset({"t:a"}),
        provides=frozenset({"t:b"}),
    )
    with pytest.raises(
        PlanGraphError, match=re.escape("wait for each other: product.update:a, product.update:b")
    ):
        dependencies([a, b], KINDS)
