"""Unit tests for billing_sync.payments.validation: every check runs before any request."""

from __future__ import annotations

import pytest

from billing_sync.errors import UsageError
from billing_sync.payments.validation import (
    DEFAULT_MAX_AMOUNT,
    REFERENCE_METADATA_KEY,
    STRIPE_MAX_AMOUNT,
    AmountLimit,
    check_charge_amount,
    check_max_amount,
    check_payment_method,
    check_reference,
    check_refund_amount,
    create_idempotency_key,
    minimum_charge,
    normalize_currency,
    parse_amount,
    parse_metadata,
    random_idempotency_key,
    redact_secrets,
    resolve_max_amount,
)


@pytest.mark.parametrize(("raw", "norm"), [("usd", "usd"), ("EUR", "eur"), (" jpy ", "jpy")])
def test_normalize_currency(raw: str, norm: str) -> None:
    assert normalize_currency(raw) == norm


@pytest.mark.parametrize("raw", ["usdd", "xyz", "", "us"])
def test_invalid_currency_is_refused(raw: str) -> None:
    with pytest.raises(UsageError, match="not a currency Stripe supports"):
        normalize_currency(raw)


@pytest.mark.parametrize(
    ("amount", "decimal", "cur", "minor"),
    [
        ("1999", None, "usd", 1999),
        ("1_000", None, "usd", 1000),
        (None, "19.99", "usd", 1999),
        (None, "500", "jpy", 500),
        (None, "1.250", "kwd", 1250),
        ("1250", None, "kwd", 1250),
    ],
)
def test_parse_amount(amount: str | None, decimal: str | None, cur: str, minor: int) -> None:
    assert parse_amount(amount, decimal, cur) == minor


@pytest.mark.parametrize(
    ("amount", "decimal", "cur", "fragment"),
    [
        ("0", None, "usd", "positive integer"),
        ("-5", None, "usd", "positive integer"),
        ("19.99", None, "usd", "use --amount-decimal"),
        ("abc", None, "usd", "positive integer"),
        ("", None, "usd", "positive integer"),
        (None, "0", "usd", "must be positive"),
        (None, "0.00", "usd", "must be positive"),
        (None, "19.999", "usd", "too many decimals"),
        (None, "1.5", "jpy", "JPY takes no decimals"),
        (None, "-1", "usd", "negative"),
        (None, "abc", "usd", "not a decimal amount"),
        (None, "1e1000000", "usd", "too large"),
        ("1255", None, "kwd", "must end in 0"),
        ("1", "1", "usd", "not both"),
        (None, None, "usd", "an amount is required"),
    ],
)
def test_parse_amount_refuses(
    amount: str | None, decimal: str | None, cur: str, fragment: str
) -> None:
    with pytest.raises(UsageError, match=fragment):
        parse_amount(amount, decimal, cur)


@pytest.mark.parametrize(
    ("cur", "minimum"), [("usd", 50), ("eur", 50), ("gbp", 30), ("jpy", 50), ("huf", 17500)]
)
def test_minimum_charge_table(cur: str, minimum: int) -> None:
    assert minimum_charge(cur) == minimum
    check_charge_amount(minimum, cur)
    with pytest.raises(UsageError, match="below Stripe's minimum charge"):
        check_charge_amount(minimum - 1, cur)


def test_minimum_message_is_in_money_terms() -> None:
    with pytest.raises(UsageError) as info:
        check_charge_amount(49, "usd")
    assert "0.49 USD" in str(info.value) and "0.50 USD" in str(info.value)


def test_unlisted_currency_has_no_local_minimum() -> None:
    assert minimum_charge("krw") is None
    check_charge_amount(1, "krw")


def test_stripe_maximum() -> None:
    check_charge_amount(STRIPE_MAX_AMOUNT, "usd")
    with pytest.raises(UsageError, match="above Stripe's maximum"):
        check_charge_amount(STRIPE_MAX_AMOUNT + 1, "usd")


def test_max_amount_flag_wins() -> None:
    limit = resolve_max_amount("5000", "usd", config_max=100, config_currency="usd")
    assert limit == AmountLimit(5000, "--max-amount")


def test_max_amount_from_config_same_currency() -> None:
    limit = resolve_max_amount(None, "usd", 20000, "usd", "billing.yaml")
    assert limit.amount == 20000 and "payments.max_amount in billing.yaml" in limit.source


def test_max_amount_config_other_currency_falls_back_to_default() -> None:
    assert resolve_max_amount(None, "jpy", 20000, "usd").amount == DEFAULT_MAX_AMOUNT


def test_max_amount_default() -> None:
    assert resolve_max_amount(None, "usd") == AmountLimit(DEFAULT_MAX_AMOUNT, "built-in default")


def test_max_amount_flag_must_be_positive() -> None:
    with pytest.raises(UsageError, match="--max-amount must be a positive integer"):
        resolve_max_amount("0", "usd")


def test_check_max_amount_says_how_to_raise_it() -> None:
    limit = resolve_max_amount(None, "usd")
    check_max_amount(DEFAULT_MAX_AMOUNT, "usd", limit)
    with pytest.raises(UsageError) as info:
        check_max_amount(DEFAULT_MAX_AMOUNT + 1, "usd", limit)
    msg = str(info.value)
    assert "10,000.00 USD" in msg and "--max-amount" in msg and "payments.max_amount" in msg


def test_parse_metadata() -> None:
    assert parse_metadata(["a=1", "b=x=y", "c="]) == {"a": "1", "b": "x=y", "c": ""}


@pytest.mark.parametrize(
    ("pairs", "fragment"),
    [
        (["novalue"], "key=value"),
        (["=v"], "key=value"),
        (["k" * 41 + "=v"], "at most 40"),
        (["a[b]=v"], "square brackets"),
        (["k=" + "v" * 501], "longer than 500"),
        ([f"{REFERENCE_METADATA_KEY}=x"], "use --reference"),
        (["a=1", "a=2"], "given twice"),
    ],
)
def test_parse_metadata_refuses(pairs: list[str], fragment: str) -> None:
    with pytest.raises(UsageError, match=fragment):
        parse_metadata(pairs)


def test_check_reference() -> None:
    assert check_reference(" ORDER-1 ") == "ORDER-1"
    for bad in ["", "  ", "x" * 501, "a\nb"]:
        with pytest.raises(UsageError):
            check_reference(bad)


def test_check_payment_method() -> None:
    assert check_payment_method("pm_card_visa", "--confirm-with") == "pm_card_visa"
    with pytest.raises(UsageError, match="payment method id"):
        check_payment_method("tok_visa", "--confirm-with")


PARAMS = {"amount": 1999, "currency": "usd", "metadata": {"billing_sync_reference": "R1"}}


def test_create_key_is_deterministic_and_bounded() -> None:
    k1 = create_idempotency_key("fp1", "R1", PARAMS)
    k2 = create_idempotency_key("fp1", "R1", dict(reversed(list(PARAMS.items()))))
    assert k1 == k2
    assert k1.startswith("billing-sync-pi-") and len(k1) <= 255


@pytest.mark.parametrize(
    ("fp", "ref", "params"),
    [
        ("fp2", "R1", PARAMS),
        ("fp1", "R2", PARAMS),
        ("fp1", "R1", {**PARAMS, "amount": 2000}),
        ("fp1", "R1", {**PARAMS, "currency": "eur"}),
        ("fp1", "R1", {**PARAMS, "customer": "cus_1"}),
    ],
)
def test_create_key_changes_with_each_input(fp: str, ref: str, params: dict[str, object]) -> None:
    assert create_idempotency_key(fp, ref, params) != create_idempotency_key("fp1", "R1", PARAMS)


def test_create_key_does_not_leak_inputs() -> None:
    key = create_idempotency_key("sk_test_secretfingerprint", "ORDER-42", PARAMS)
    assert "ORDER-42" not in key and "sk_test" not in key


def test_random_keys_differ() -> None:
    a, b = random_idempotency_key("refund"), random_idempotency_key("refund")
    assert a != b and a.startswith("billing-sync-refund-")


@pytest.mark.parametrize(
    ("requested", "amount", "refunded", "expected"),
    [(None, 1999, 0, 1999), (None, 1999, 500, 1499), (500, 1999, 0, 500), (1499, 1999, 500, 1499)],
)
def test_refund_amount(requested: int | None, amount: int, refunded: int, expected: int) -> None:
    assert check_refund_amount(requested, amount, refunded, "usd", "ch_1") == expected


def test_refund_beyond_remainder_says_what_is_left() -> None:
    with pytest.raises(UsageError) as info:
        check_refund_amount(1500, 1999, 500, "usd", "ch_1")
    msg = str(info.value)
    assert "15.00 USD" in msg and "14.99 USD" in msg and "1499 minor units" in msg


def test_refund_of_fully_refunded_charge() -> None:
    with pytest.raises(UsageError, match="already fully refunded"):
        check_refund_amount(None, 1999, 1999, "usd", "ch_1")


def test_redact_secrets() -> None:
    text = 'body={"client_secret": "pi_3Abc_secret_XyZ123"} pi_3Abc'
    out = redact_secrets(text)
    assert "XyZ123" not in out and "pi_3Abc_secret_[redacted]" in out and out.endswith("pi_3Abc")
