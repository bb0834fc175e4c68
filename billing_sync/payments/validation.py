"""Pure checks for payments: amounts, currencies, Stripe's minimums, the max-amount guard,
metadata and idempotency keys. Nothing here talks to Stripe, so every check runs before any
request is made."""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

from billing_sync.errors import UsageError
from billing_sync.metadata import METADATA_KEY_MAX, METADATA_MAX_KEYS, METADATA_VALUE_MAX
from billing_sync.money import CURRENCIES, THREE_DECIMAL, format_amount, to_minor

# Stripe's minimum charge amounts in minor units, from
# https://docs.stripe.com/currencies#minimum-and-maximum-charge-amounts. For a currency not
# listed here Stripe requires "the equivalent of 0.50 USD", which needs an exchange rate: the
# local check is skipped and Stripe (or the emulator) decides.
MINIMUM_CHARGE: Mapping[str, int] = {
    "usd": 50,
    "aed": 200,
    "aud": 50,
    "bgn": 100,
    "brl": 50,
    "cad": 50,
    "chf": 50,
    "czk": 1500,
    "dkk": 250,
    "eur": 50,
    "gbp": 30,
    "hkd": 400,
    "huf": 17500,
    "inr": 50,
    "jpy": 50,
    "mxn": 1000,
    "myr": 200,
    "nok": 300,
    "nzd": 50,
    "pln": 200,
    "ron": 200,
    "sek": 300,
    "sgd": 50,
    "thb": 1000,
}

# Stripe's largest amount: eight digits in minor units (999,999.99 USD).
STRIPE_MAX_AMOUNT = 99_999_999

# The guard against fat-finger charges when neither --max-amount nor payments.max_amount says
# otherwise: 1,000,000 minor units (10,000.00 USD, 1,000,000 JPY).
DEFAULT_MAX_AMOUNT = 1_000_000

REFERENCE_METADATA_KEY = "billing_sync_reference"
REFUND_REASONS = ("duplicate", "fraudulent", "requested_by_customer")
_SECRET_RE = re.compile(r"(pi|seti)_([A-Za-z0-9]+)_secret_[A-Za-z0-9]+")


def redact_secrets(text: str) -> str:
    """Replace any PaymentIntent/SetupIntent client secret in text with a redacted form."""
    return _SECRET_RE.sub(r"\1_\2_secret_[redacted]", text)


def normalize_currency(currency: str) -> str:
    """Lower-case ISO code that Stripe accepts, or a UsageError naming the bad value."""
    c = currency.strip().lower()
    if c not in CURRENCIES:
        raise UsageError(
            f"--currency {currency!r} is not a currency Stripe supports "
            "(a three-letter ISO code such as usd, eur, gbp, jpy)"
        )
    return c


def parse_minor_amount(raw: str, option: str = "--amount") -> int:
    """A strictly positive integer of minor units, as typed by the user."""
    text = raw.strip().replace("_", "")
    if not re.fullmatch(r"[0-9]+", text):
        raise UsageError(
            f"{option} must be a positive integer in minor units, e.g. 1999 for 19.99 USD "
            f"(got {raw!r}; use --amount-decimal for a decimal amount)"
        )
    value = int(text)
    if value <= 0:
        raise UsageError(f"{option} must be a positive integer in minor units (got {raw!r})")
    return value


def parse_amount(amount: str | None, amount_decimal: str | None, currency: str) -> int:
    """Exactly one of --amount (minor units) or --amount-decimal (major units) -> minor units."""
    if amount is not None and amount_decimal is not None:
        raise UsageError("give either --amount (minor units) or --amount-decimal, not both")
    if amount is None and amount_decimal is None:
        raise UsageError("an amount is required: --amount 1999 or --amount-decimal 19.99")
    if amount is not None:
        minor = parse_minor_amount(amount)
    else:
        assert amount_decimal is not None
        try:
            minor = to_minor(amount_decimal, currency)
        except ValueError as err:
            raise UsageError(f"--amount-decimal: {err}") from None
        if minor <= 0:
            raise UsageError(f"--amount-decimal must be positive (got {amount_decimal!r})")
    if currency in THREE_DECIMAL and minor % 10 != 0:
        raise UsageError(
            f"{currency.upper()} amounts in minor units must end in 0 (got {minor}); "
            "Stripe charges three-decimal currencies to two decimals"
        )
    return minor


def minimum_charge(currency: str) -> int | None:
    """Stripe's minimum charge in minor units, when Stripe publishes a fixed one."""
    return MINIMUM_CHARGE.get(currency.lower())


def check_charge_amount(amount: int, currency: str) -> None:
    """Refuse amounts below Stripe's minimum for the currency or above its maximum."""
    minimum = minimum_charge(currency)
    if minimum is not None and amount < minimum:
        raise UsageError(
            f"amount {format_amount(amount, currency)} is below Stripe's minimum charge of "
            f"{format_amount(minimum, currency)} ({minimum} minor units)"
        )
    if amount > STRIPE_MAX_AMOUNT:
        raise UsageError(
            f"amount {format_amount(amount, currency)} is above Stripe's maximum of "
            f"{format_amount(STRIPE_MAX_AMOUNT, currency)}"
        )


@dataclass(frozen=True)
class AmountLimit:
    """The max-amount guard that applies to one charge, and where it came from."""

    amount: int
    source: str  # "--max-amount", "payments.max_amount in FILE", or "built-in default"


def resolve_max_amount(
    flag: str | None,
    currency: str,
    config_max: int | None = None,
    config_currency: str | None = None,
    config_file: str | None = None,
) -> AmountLimit:
    """--max-amount, else the config's payments.max_amount (same currency), else the default.

    payments.max_amount is in minor units of payments.max_amount_currency; without exchange
    rates it cannot guard another currency, so the built-in default applies there.
    """
    if flag is not None:
        return AmountLimit(parse_minor_amount(flag, "--max-amount"), "--max-amount")
    if config_max is not None and (config_currency or "usd").lower() == currency:
        where = f" in {config_file}" if config_file else ""
        return AmountLimit(config_max, f"payments.max_amount{where}")
    return AmountLimit(DEFAULT_MAX_AMOUNT, "built-in default")


def check_max_amount(amount: int, currency: str, limit: AmountLimit) -> None:
    if amount <= limit.amount:
        return
    raise UsageError(
        f"amount {format_amount(amount, currency)} is above the max-amount guard of "
        f"{format_amount(limit.amount, currency)} ({limit.amount} minor units, {limit.source}); "
        "if the charge is intended, pass --max-amount N (minor units) or set "
        f"payments.max_amount (with max_amount_currency: {currency}) in billing.yaml"
    )


def parse_metadata(pairs: Iterable[str]) -> dict[str, str]:
    """`k=v` pairs -> dict, with Stripe's metadata limits checked locally."""
    out: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        key = key.strip()
        if not sep or not key:
            raise UsageError(f"--metadata {pair!r} must look like key=value")
        if len(key) > METADATA_KEY_MAX or "[" in key or "]" in key:
            raise UsageError(
                f"--metadata key {key!r} must be at most {METADATA_KEY_MAX} characters "
                "without square brackets"
            )
        if len(value) > METADATA_VALUE_MAX:
            raise UsageError(
                f"--metadata value for {key!r} is longer than {METADATA_VALUE_MAX} characters"
            )
        if key == REFERENCE_METADATA_KEY:
            raise UsageError(f"use --reference instead of --metadata {REFERENCE_METADATA_KEY}=...")
        if key in out:
            raise UsageError(f"--metadata key {key!r} is given twice")
        out[key] = value
    if len(out) > METADATA_MAX_KEYS - 1:
        raise UsageError(f"at most {METADATA_MAX_KEYS - 1} --metadata keys are allowed")
    return out


def check_reference(reference: str) -> str:
    ref = reference.strip()
    if not ref:
        raise UsageError("--reference must not be empty")
    if len(ref) > METADATA_VALUE_MAX:
        raise UsageError(f"--reference must be at most {METADATA_VALUE_MAX} characters")
    if any(ord(ch) < 32 for ch in ref):
        raise UsageError("--reference must not contain control characters")
    return ref


def check_url(url: str, option: str) -> str:
    """An absolute http(s) URL with a host, as Stripe takes for Checkout's redirects. Stripe
    fills in `{CHECKOUT_SESSION_ID}` in it, so that placeholder is allowed."""
    value = url.strip()
    parts = urlsplit(value)
    if (
        parts.scheme not in ("http", "https")
        or not parts.hostname
        or any(ch.isspace() or ord(ch) < 32 for ch in value)
    ):
        raise UsageError(
            f"{option} {url!r} is not an absolute http(s) URL, e.g. https://example.com/thanks"
        )
    return value


def check_payment_method(pm: str, option: str) -> str:
    value = pm.strip()
    if not value.startswith("pm_"):
        raise UsageError(f"{option} must be a payment method id such as pm_card_visa (got {pm!r})")
    return value


def canonical_json(params: Mapping[str, object]) -> str:
    return json.dumps(params, sort_keys=True, separators=(",", ":"), ensure_ascii=True)


def create_idempotency_key(
    account_fingerprint: str, reference: str, params: Mapping[str, object], kind: str = "pi"
) -> str:
    """The deterministic key of `payments create --reference` (kind `pi`) and `payments
    checkout --reference` (kind `cs`): same account, reference and parameters -> same key, so a
    rerun (or a retry after a timeout) replays the first response instead of writing twice."""
    what = "payment_intent" if kind == "pi" else kind
    material = "\x00".join([f"billing-sync/{what}/v1", account_fingerprint, reference])
    digest = hashlib.sha256(f"{material}\x00{canonical_json(params)}".encode()).hexdigest()
    return f"billing-sync-{kind}-{digest[:48]}"


def random_idempotency_key(kind: str) -> str:
    """An explicit key for one invocation, reused on every retry of that invocation."""
    return f"billing-sync-{kind}-{uuid.uuid4().hex}"


def remaining_to_refund(amount: int, amount_refunded: int) -> int:
    return max(0, amount - amount_refunded)


def check_refund_amount(
    requested: int | None, amount: int, amount_refunded: int, currency: str, charge_id: str
) -> int:
    """The amount to refund (the whole remainder when none is asked), or a UsageError that
    says how much is left."""
    left = remaining_to_refund(amount, amount_refunded)
    if left == 0:
        raise UsageError(
            f"charge {charge_id} is already fully refunded "
            f"({format_amount(amount_refunded, currency)} of {format_amount(amount, currency)})"
        )
    if requested is None:
        return left
    if requested > left:
        raise UsageError(
            f"refund of {format_amount(requested, currency)} refused: only "
            f"{format_amount(left, currency)} ({left} minor units) is left to refund on "
            f"{charge_id} ({format_amount(amount_refunded, currency)} of "
            f"{format_amount(amount, currency)} already refunded)"
        )
    return requested
