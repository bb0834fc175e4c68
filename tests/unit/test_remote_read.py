"""Tests for billing_sync.remote: Stripe objects normalise to the desired shape; client guards."""

from __future__ import annotations

import pytest
import stripe

from billing_sync.config.loader import load_text
from billing_sync.errors import LiveModeError, UsageError
from billing_sync.remote.client import (
    connect,
    describe_stripe_error,
    is_retryable,
    mask_key,
    with_retries,
)
from billing_sync.resources import PRICE
from billing_sync.resources.base import values
from billing_sync.resources.price import normalise_price
from billing_sync.resources.read import desired_state

CONFIG = """
version: 1
products:
  pro:
    name: Pro
    prices:
      flat: {amount: "19.99", currency: usd, recurring: {interval: month}, currency_options: {eur: {amount: "18.00"}}}
      free: {unit_amount: 0, currency: usd, recurring: {interval: month}}
      tiered:
        currency: usd
        recurring: {interval: month, interval_count: 3}
        tiers_mode: volume
        tiers: [{up_to: 5, unit_amount: 500, flat_amount: 100}, {up_to: inf, unit_amount: 400}]
"""


def compared(price: object) -> dict[str, object]:
    """Every field the planner compares (the declared ones, both sides alike)."""
    return values(price, [s for s in PRICE.fields if s.name != "product"])


def stripe_price(**overrides: object) -> dict[str, object]:
    """A price as Stripe returns it, with its echoes."""
    base: dict[str, object] = {
        "id": "price_1",
        "object": "price",
        "active": True,
        "billing_scheme": "per_unit",
        "currency": "usd",
        "lookup_key": "flat",
        "metadata": {"billing_sync_key": "flat"},
        "nickname": None,
        "product": "pro",
        "recurring": {
            "interval": "month",
            "interval_count": 1,
            "usage_type": "licensed",
            "meter": None,
        },
        "tax_behavior": "unspecified",
        "tiers_mode": None,
        "transform_quantity": None,
        "type": "recurring",
        "unit_amount": 1999,
        "unit_amount_decimal": "1999",
        "currency_options": {
            "usd": {
                "unit_amount": 1999,
                "unit_amount_decimal": "1999",
                "tax_behavior": "unspecified",
            },
            "eur": {
                "unit_amount": 1800,
                "unit_amount_decimal": "1800",
                "tax_behavior": "unspecified",
            },
        },
    }
    base.update(overrides)
    return base


def test_stripe_echoes_normalise_to_the_desired_shape() -> None:
    desired = desired_state(load_text(CONFIG)).of(PRICE)
    flat = normalise_price(stripe_price(), "pro")
    assert compared(flat) == compared(desired["flat"])
    free = normalise_price(
        stripe_price(
            id="price_2",
            unit_amount=0,
            unit_amount_decimal="0",
            lookup_key="free",
            metadata={"billing_sync_key": "free"},
            currency_options=None,
        ),
        "pro",
    )
    assert compared(free) == compared(desired["free"])
    tiered = normalise_price(
        stripe_price(
            id="price_3",
            billing_scheme="tiered",
            tiers_mode="volume",
            unit_amount=None,
            unit_amount_decimal=None,
            lookup_key="tiered",
            metadata={"billing_sync_key": "tiered"},
            recurring={"interval": "month", "interval_count": 3},
            currency_options=None,
            tiers=[
                {
                    "up_to": 5,
                    "unit_amount": 500,
                    "unit_amount_decimal": "500",
                    "flat_amount": 100,
                    "flat_amount_decimal": "100",
                },
                {
                    "up_to": None,
                    "unit_amount": 400,
                    "unit_amount_decimal": "400",
                    "flat_amount": None,
                    "flat_amount_decimal": None,
                },
            ],
        ),
        "pro",
    )
    assert compared(tiered) == compared(desired["tiered"])


def test_a_real_difference_is_not_normalised_away() -> None:
    desired = desired_state(load_text(CONFIG)).of(PRICE)
    other = normalise_price(stripe_price(unit_amount=2099, unit_amount_decimal="2099"), "pro")
    assert compared(other) != compared(desired["flat"])
    assert other.unit_amount == 2099
    eur = normalise_price(stripe_price(currency_options={"eur": {"unit_amount": 1900}}), "pro")
    assert compared(eur) != compared(desired["flat"])
    assert eur.currency_options == {
        "eur": {"unit_amount": 1900, "tiers": None, "tax_behavior": "unspecified"}
    }


def test_owned_metadata_is_not_user_metadata() -> None:
    p = normalise_price(
        stripe_price(metadata={"billing_sync_key": "flat", "team": "growth"}), "pro"
    )
    assert p.key == "flat"
    assert p.metadata == {"team": "growth"}


def test_connect_guards_keys_before_any_request() -> None:
    with pytest.raises(LiveModeError, match="without --live"):
        connect("sk_live_" + "a" * 20)
    with pytest.raises(LiveModeError):
        connect("rk_live_" + "a" * 20)
    assert connect("sk_live_" + "a" * 20, live=True).livemode
    with pytest.raises(UsageError, match="no Stripe API key"):
        connect("")
    with pytest.raises(UsageError, match="not a secret or restricted key"):
        connect("pk_test_abcdefghijklmnop")
    with pytest.raises(UsageError, match="must start with http"):
        connect("sk_test_abcdefghijklmnop", "127.0.0.1:1234")


def test_mask_key_never_shows_the_secret() -> None:
    key = "sk_test_51ABCDEFsecretsecretsecret1234"
    assert mask_key(key) == "sk_test_...1234"
    assert "secret" not in mask_key(key)


def test_retry_policy_and_error_lines() -> None:
    assert is_retryable(stripe.RateLimitError("slow down", http_status=429))
    assert is_retryable(stripe.APIError("boom", http_status=500))
    assert is_retryable(stripe.APIConnectionError("down"))  # type: ignore[no-untyped-call]
    bad = stripe.InvalidRequestError("bad", param="x", http_status=400)  # type: ignore[no-untyped-call]
    assert not is_retryable(bad)
    card = stripe.CardError(  # type: ignore[no-untyped-call]
        "Your card was declined.", param="", code="card_declined", http_status=402
    )
    assert describe_stripe_error(card) == "Your card was declined. (code=card_declined)"
    calls: list[float] = []
    attempts = iter(
        [stripe.RateLimitError("slow", http_status=429), stripe.APIError("x", http_status=502)]
    )

    def flaky() -> str:
        err = next(attempts, None)
        if err is not None:
            raise err
        return "ok"

    assert with_retries(flaky, sleep=calls.append) == "ok"
    assert len(calls) == 2 and calls[0] <= calls[1] * 2
    with pytest.raises(stripe.InvalidRequestError):
        with_retries(
            lambda: (_ for _ in ()).throw(
                stripe.InvalidRequestError("no", param="p")  # type: ignore[no-untyped-call]
            ),
            sleep=calls.append,
        )
    assert len(calls) == 2  # 4xx is not retried


def test_decline_code_is_read_from_the_error_body() -> None:
    err = stripe.CardError(  # type: ignore[no-untyped-call]
        "Your card was declined.",
        param="",
        code="card_declined",
        http_status=402,
        json_body={"error": {"code": "card_declined", "decline_code": "generic_decline"}},
    )
    assert describe_stripe_error(err) == (
        "Your card was declined. (code=card_declined, decline_code=generic_decline)"
    )


def fresh(text: str) -> str:
    """An equal string that is a new object, as the JSON decoder makes one per occurrence."""
    return "".join(list(text))


def test_repeated_values_are_kept_once_and_keys_shared() -> None:
    from billing_sync.remote.pages import shared

    assert shared(fresh("usd")) is shared(fresh("usd"))
    assert shared(None) is None and shared(12) == 12
    one = normalise_price(stripe_price(currency=fresh("usd"), tax_behavior=fresh("exclusive")), "p")
    two = normalise_price(
        stripe_price(id="price_2", currency=fresh("usd"), tax_behavior=fresh("exclusive")), "p"
    )
    assert one.currency is two.currency and one.tax_behavior is two.tax_behavior
    assert one.recurring is not None and two.recurring is not None
    assert one.recurring["interval"] is two.recurring["interval"]
    assert one.lookup_key is one.key  # equal texts: one object
    other = normalise_price(stripe_price(lookup_key=fresh("not-the-key")), "p")
    assert (other.key, other.lookup_key) == ("flat", "not-the-key")  # values unchanged


def test_subscription_items_keep_the_prices_own_id() -> None:
    from billing_sync.resources.subscription import _normalise

    price_id = fresh("price_1")
    sub = {
        "id": "sub_1",
        "customer": "cus_1",
        "status": fresh("active"),
        "currency": fresh("usd"),
        "metadata": {"billing_sync_key": "acme/main"},
    }
    items = [{"id": "si_1", "price": {"id": fresh("price_1")}, "quantity": 2}]
    state = _normalise(sub, "acme/main", items, {price_id: "flat"}, {}, None, {price_id: price_id})
    assert state.items[0].price_id is price_id and state.items[0].price == "flat"
    assert state.status == "active" and state.status is shared_text("active")
    unknown = [{"id": "si_2", "price": "price_other", "quantity": 1}]
    assert _normalise(sub, "k", unknown, {}, {}).items[0].price_id == "price_other"


def shared_text(text: str) -> str:
    from billing_sync.remote.pages import shared

    return shared(fresh(text))
