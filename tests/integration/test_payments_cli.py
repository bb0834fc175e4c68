"""`billing-sync payments ...`: the CLI (`main(argv)` in-process) against the emulator over HTTP.
Concurrent runs and stripe's debug log need real processes: tests/e2e."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import CliResult, EmulatorHandle, run_cli


class Cli:
    """Runs `billing-sync --api-base URL --api-key KEY payments ...` in a clean cwd, and checks
    on every run that the API key never appears in the output."""

    def __init__(self, emulator: EmulatorHandle, cwd: Path) -> None:
        self.emulator = emulator
        self.cwd = cwd

    def __call__(
        self, *args: str, env: dict[str, str] | None = None, api_key: str | None = None
    ) -> CliResult:
        key = api_key or self.emulator.api_key
        proc = run_cli(
            None,
            "--api-base",
            self.emulator.url,
            "--api-key",
            key,
            "payments",
            *args,
            cwd=self.cwd,
            env=env,
        )
        assert key not in proc.stdout and key not in proc.stderr, "API key leaked"
        assert "Traceback" not in proc.stderr, proc.stderr
        return proc

    def ok(self, *args: str, **kw: Any) -> CliResult:
        proc = self(*args, **kw)
        assert proc.returncode == 0, proc.stderr
        return proc

    def json(self, *args: str) -> Any:
        return json.loads(self.ok(*args, "--format", "json").stdout)

    def fails(self, *args: str, **kw: Any) -> str:
        """Exit 1 with exactly one line on stderr; returns that line."""
        proc = self(*args, **kw)
        assert proc.returncode == 1, (proc.returncode, proc.stdout, proc.stderr)
        lines = proc.stderr.strip().splitlines()
        assert len(lines) == 1, proc.stderr
        assert lines[0].startswith("error: "), lines[0]
        return lines[0]


@pytest.fixture
def cli(emulator: EmulatorHandle, tmp_path: Path) -> Cli:
    return Cli(emulator, tmp_path)


def _posts(emulator: EmulatorHandle, path: str | None = None) -> list[dict[str, Any]]:
    return [w for w in emulator.writes() if path is None or w["path"] == path]


def _customer(emulator: EmulatorHandle, key: str) -> str:
    c = emulator.client()
    cus = c.v1.customers.create(
        params={"email": f"{key}@example.com", "metadata": {"billing_sync_key": key}}
    )
    return str(cus.id)


# --------------------------------------------------------------------------- the main flow


def test_create_confirm_partial_refunds_and_the_remainder(
    cli: Cli, emulator: EmulatorHandle
) -> None:
    created = cli.ok("create", "--amount", "1999", "--currency", "usd", "--description", "Setup")
    out = created.stdout
    assert out.startswith("created PaymentIntent pi_")
    pi = out.split()[2]
    assert "status:         requires_payment_method" in out
    assert "19.99 USD" in out
    assert f"client_secret:  {pi}_secret_" in out
    # An explicit idempotency key, even without --reference.
    (post,) = _posts(emulator, "/v1/payment_intents")
    assert str(post["idempotency_key"]).startswith("billing-sync-pi-")

    confirmed = cli.ok("confirm", pi, "--payment-method", "pm_card_visa")
    assert "status:         succeeded" in confirmed.stdout
    assert "client_secret" not in confirmed.stdout

    r1 = cli.ok("refund", pi, "--amount", "500", "--reason", "requested_by_customer")
    assert r1.stdout.startswith("refunded 5.00 USD of ch_")
    assert "left to refund: 14.99 USD of 19.99 USD" in r1.stdout
    r2 = cli.ok("refund", pi, "--amount-decimal", "10.00")
    assert "left to refund: 4.99 USD" in r2.stdout

    writes_before = len(emulator.writes())
    line = cli.fails("refund", pi, "--amount", "500")
    assert "refund of 5.00 USD refused" in line
    assert "only 4.99 USD (499 minor units) is left to refund" in line
    assert len(emulator.writes()) == writes_before, "a refused refund must not write"

    rest = cli.json("refund", pi)
    assert rest["amount"] == 499 and rest["left_to_refund"] == 0

    line = cli.fails("refund", pi)
    assert "already fully refunded" in line
    assert len(emulator.writes()) == writes_before + 1

    shown = cli.json("show", pi)
    assert shown["status"] == "succeeded"
    assert shown["charge"]["amount_refunded"] == 1999
    assert shown["charge"]["remaining_refundable"] == 0
    assert [r["amount"] for r in shown["refunds"]] == [499, 1000, 500]
    assert "client_secret" not in shown
    text = cli.ok("show", pi).stdout
    assert "refunded:       19.99 USD of 19.99 USD; left to refund: 0.00 USD" in text


def test_refund_by_charge_id(cli: Cli, emulator: EmulatorHandle) -> None:
    data = cli.json(
        "create", "--amount", "1000", "--currency", "eur", "--confirm-with", "pm_card_visa"
    )
    assert data["status"] == "succeeded"
    charge = data["latest_charge"]
    out = cli.ok("refund", charge, "--amount", "250").stdout
    assert "refunded 2.50 EUR" in out and "left to refund: 7.50 EUR" in out


def test_same_reference_twice_creates_one_payment_intent(
    cli: Cli, emulator: EmulatorHandle
) -> None:
    args = ("create", "--amount", "2500", "--currency", "usd", "--reference", "ORDER-1001")
    first = cli.json(*args)
    # The reference lookup is one bounded list page (created >= now - 90 days), not a scan of
    # the account's history, and never the Search API.
    (lookup,) = [r for r in emulator.requests() if r["method"] == "GET"]
    assert lookup["path"] == "/v1/payment_intents" and "gte" in lookup["params"]["created"]
    second_text = cli.ok(*args).stdout
    second = cli.json(*args)
    assert first["created_now"] is True and second["created_now"] is False
    assert second["id"] == first["id"]
    assert second["client_secret"] == first["client_secret"]
    assert second_text.startswith(f"PaymentIntent {first['id']} already exists for reference")
    assert first["reference"] == "ORDER-1001"
    assert first["metadata"]["billing_sync_reference"] == "ORDER-1001"
    creates = _posts(emulator, "/v1/payment_intents")
    assert len(creates) == 1
    pis = emulator.client().v1.payment_intents.list().data
    assert [p.id for p in pis] == [first["id"]]

    shown = cli.json("show", "--reference", "ORDER-1001")
    assert shown["id"] == first["id"]
    assert not [r for r in emulator.requests() if "search" in r["path"]]


def test_reference_key_is_deterministic(cli: Cli, emulator: EmulatorHandle) -> None:
    """Two emulator resets apart, the same command sends the same idempotency key."""
    args = ("create", "--amount", "2500", "--currency", "usd", "--reference", "ORDER-7")
    cli.ok(*args)
    key1 = _posts(emulator, "/v1/payment_intents")[0]["idempotency_key"]
    emulator.reset()
    cli.ok(*args)
    key2 = _posts(emulator, "/v1/payment_intents")[0]["idempotency_key"]
    assert key1 == key2 and str(key1).startswith("billing-sync-pi-")
    emulator.reset()
    cli.ok("create", "--amount", "2600", "--currency", "usd", "--reference", "ORDER-7")
    assert _posts(emulator, "/v1/payment_intents")[0]["idempotency_key"] != key1


def test_reference_reused_for_another_amount_is_refused(cli: Cli, emulator: EmulatorHandle) -> None:
    pi = cli.json("create", "--amount", "2500", "--currency", "usd", "--reference", "R-9")["id"]
    line = cli.fails("create", "--amount", "9900", "--currency", "usd", "--reference", "R-9")
    assert f"reference 'R-9' is already used by {pi}" in line
    assert len(_posts(emulator)) == 1


def test_refund_by_reference(cli: Cli, emulator: EmulatorHandle) -> None:
    cli.ok(
        "create",
        "--amount",
        "3000",
        "--currency",
        "gbp",
        "--reference",
        "R-2",
        "--confirm-with",
        "pm_card_visa",
    )
    out = cli.ok("refund", "--reference", "R-2", "--amount", "1000").stdout
    assert "refunded 10.00 GBP" in out and "left to refund: 20.00 GBP" in out
    line = cli.fails("refund", "--reference", "R-404")
    assert "no PaymentIntent has reference 'R-404'" in line


def test_create_and_confirm_in_one_command(cli: Cli) -> None:
    out = cli.ok(
        "create",
        "--amount-decimal",
        "19.99",
        "--currency",
        "usd",
        "--confirm-with",
        "pm_card_visa",
        "--metadata",
        "order=42",
        "--metadata",
        "channel=support",
        "--receipt-email",
        "a@example.com",
    ).stdout
    assert "status:         succeeded" in out and "latest_charge:  ch_" in out


# --------------------------------------------------------------------------- refusals


def test_declining_card_is_one_clear_line(cli: Cli, emulator: EmulatorHandle) -> None:
    line = cli.fails(
        "create",
        "--amount",
        "1999",
        "--currency",
        "usd",
        "--confirm-with",
        "pm_card_chargeDeclined",
    )
    assert "card declined" in line and "code=card_declined" in line
    assert "decline_code=generic_decline" in line
    assert "is requires_payment_method" in line
    # The attempt itself is the only write; the intent stays unpaid.
    assert [w["path"] for w in emulator.writes()] == ["/v1/payment_intents"]
    (pi,) = emulator.client().v1.payment_intents.list().data
    assert pi.status == "requires_payment_method"


def test_declining_card_on_confirm(cli: Cli, emulator: EmulatorHandle) -> None:
    pi = cli.json("create", "--amount", "1999", "--currency", "usd")["id"]
    line = cli.fails("confirm", pi, "--payment-method", "pm_card_chargeDeclinedInsufficientFunds")
    assert "decline_code=insufficient_funds" in line
    assert "Your card has insufficient funds." in line
    # show explains why, and a good card then pays it
    assert "last error:     Your card has insufficient funds." in cli.ok("show", pi).stdout
    assert cli.json("confirm", pi, "--payment-method", "pm_card_visa")["status"] == "succeeded"


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (("--amount", "1999", "--currency", "usdd"), "--currency 'usdd' is not a currency"),
        (("--amount", "0", "--currency", "usd"), "--amount must be a positive integer"),
        (("--amount", "-100", "--currency", "usd"), "--amount must be a positive integer"),
        (("--amount", "19.99", "--currency", "usd"), "use --amount-decimal"),
        (("--amount-decimal", "0.00", "--currency", "usd"), "must be positive"),
        (("--amount-decimal", "1.5", "--currency", "jpy"), "JPY takes no decimals"),
        (("--amount", "49", "--currency", "usd"), "below Stripe's minimum charge of 0.50 USD"),
        (("--amount", "29", "--currency", "gbp"), "below Stripe's minimum charge of 0.30 GBP"),
        (("--amount", "49", "--currency", "jpy"), "below Stripe's minimum charge of 50 JPY"),
        (("--amount", "1000001", "--currency", "usd"), "above the max-amount guard"),
        (
            ("--amount", "5000", "--currency", "usd", "--max-amount", "4999"),
            "4999 minor units, --max-amount",
        ),
        (("--amount", "100", "--currency", "usd", "--metadata", "oops"), "key=value"),
        (
            ("--amount", "100", "--currency", "usd", "--confirm-with", "tok_visa"),
            "payment method id",
        ),
        (("--currency", "usd"), "an amount is required"),
    ],
)
def test_refused_before_any_request(
    cli: Cli, emulator: EmulatorHandle, args: tuple[str, ...], fragment: str
) -> None:
    line = cli.fails("create", *args)
    assert fragment in line
    assert emulator.requests() == []


def test_max_amount_guard_can_be_raised(cli: Cli) -> None:
    line = cli.fails("create", "--amount", "1000001", "--currency", "usd")
    assert "10,000.00 USD" in line and "--max-amount" in line and "payments.max_amount" in line
    data = cli.json("create", "--amount", "1000001", "--currency", "usd", "--max-amount", "2000000")
    assert data["amount"] == 1000001


def test_max_amount_from_config(cli: Cli, emulator: EmulatorHandle, tmp_path: Path) -> None:
    cfg = tmp_path / "billing.yaml"
    cfg.write_text("version: 1\npayments:\n  max_amount: 5000\n  max_amount_currency: usd\n")
    line = cli.fails("create", "--amount", "6000", "--currency", "usd")
    assert "payments.max_amount in billing.yaml" in line
    assert emulator.requests() == []
    assert cli.json("create", "--amount", "5000", "--currency", "usd")["amount"] == 5000
    other = tmp_path / "other.yaml"
    other.write_text("version: 1\npayments:\n  max_amount: 100000\n")
    assert (
        cli.json("create", "--amount", "6000", "--currency", "usd", "-c", str(other))["amount"]
        == 6000
    )


def test_unknown_customer_key(cli: Cli, emulator: EmulatorHandle) -> None:
    line = cli.fails("create", "--amount", "1999", "--currency", "usd", "--customer", "nobody")
    assert "unknown customer key 'nobody'" in line
    assert emulator.writes() == []


def test_unknown_customer_key_against_billing_yaml(
    cli: Cli, emulator: EmulatorHandle, tmp_path: Path
) -> None:
    (tmp_path / "billing.yaml").write_text(
        "version: 1\ncustomers:\n  acme: {email: billing@acme.example}\n"
    )
    line = cli.fails("create", "--amount", "1999", "--currency", "usd", "--customer", "nobody")
    assert "billing.yaml declares: acme" in line
    assert emulator.requests() == []
    line = cli.fails("create", "--amount", "1999", "--currency", "usd", "--customer", "acme")
    assert "declared in billing.yaml but not created yet" in line
    assert emulator.writes() == []


def test_unknown_customer_id(cli: Cli, emulator: EmulatorHandle) -> None:
    line = cli.fails("create", "--amount", "1999", "--currency", "usd", "--customer", "cus_nope")
    assert "no such customer: 'cus_nope'" in line
    assert emulator.writes() == []


def test_refund_of_unpaid_payment_is_refused_without_write(
    cli: Cli, emulator: EmulatorHandle
) -> None:
    pi = cli.json("create", "--amount", "1999", "--currency", "usd")["id"]
    before = len(emulator.writes())
    line = cli.fails("refund", pi)
    assert f"PaymentIntent {pi} is requires_payment_method" in line
    assert "no successful charge to refund" in line
    assert len(emulator.writes()) == before


def test_unknown_payment_intent(cli: Cli) -> None:
    line = cli.fails("show", "pi_missing")
    assert "No such payment_intent: 'pi_missing'" in line and "code=resource_missing" in line


def test_live_key_needs_live_flag(cli: Cli, emulator: EmulatorHandle) -> None:
    line = cli.fails(
        "create",
        "--amount",
        "1999",
        "--currency",
        "usd",
        api_key="sk_live_" + "0123456789abcdefghij",
    )
    assert "without --live" in line
    assert emulator.requests() == []


# --------------------------------------------------------------------------- customers and lists


def test_customer_key_resolves_and_lists(cli: Cli, emulator: EmulatorHandle) -> None:
    pytest.importorskip("stripe_emulator.resources.customers")
    acme = _customer(emulator, "acme")
    _customer(emulator, "globex")
    a = cli.json("create", "--amount", "1999", "--currency", "usd", "--customer", "acme")
    assert a["customer"] == acme
    b = cli.json("create", "--amount", "2999", "--currency", "usd", "--customer", acme)
    cli.json("create", "--amount", "999", "--currency", "usd", "--customer", "globex")
    listed = cli.json("list", "--customer", "acme")
    assert [p["id"] for p in listed["data"]] == [b["id"], a["id"]]
    assert len(cli.json("list", "--limit", "2")["data"]) == 2
    text = cli.ok("list", "--customer", acme).stdout
    assert b["id"] in text and "29.99 USD" in text
    assert "_secret_" not in text


# --------------------------------------------------------------------------- retries, races


def test_failure_after_the_write_does_not_charge_twice(cli: Cli, emulator: EmulatorHandle) -> None:
    """The create executes, then the answer is lost (500): the retry, with the same
    idempotency key, gets Stripe's first answer replayed instead of a second PaymentIntent."""
    emulator.configure(fail_nth={"2": "500_after"})  # 1: reference lookup, 2: the create
    data = cli.json("create", "--amount", "1999", "--currency", "usd", "--reference", "R-500")
    creates = _posts(emulator, "/v1/payment_intents")
    assert len(creates) == 2 and creates[0]["idempotency_key"] == creates[1]["idempotency_key"]
    assert [p.id for p in emulator.client().v1.payment_intents.list().data] == [data["id"]]


def test_refund_retry_after_lost_answer_refunds_once(cli: Cli, emulator: EmulatorHandle) -> None:
    pi = cli.json(
        "create", "--amount", "1999", "--currency", "usd", "--confirm-with", "pm_card_visa"
    )
    emulator.configure(fail_nth={"3": "500_after"})  # GET intent, GET charge, POST refund
    out = cli.ok("refund", pi["id"], "--amount", "500").stdout
    assert "left to refund: 14.99 USD" in out
    refunds = _posts(emulator, "/v1/refunds")
    assert len(refunds) == 2 and refunds[0]["idempotency_key"] == refunds[1]["idempotency_key"]
    assert len(emulator.client().v1.refunds.list().data) == 1


def test_declared_email_narrows_the_customer_lookup(
    cli: Cli, emulator: EmulatorHandle, tmp_path: Path
) -> None:
    (tmp_path / "billing.yaml").write_text(
        "version: 1\ncustomers:\n  acme: {email: acme@example.com}\n  globex: {email: g@example.com}\n"
    )
    acme = _customer(emulator, "acme")  # email acme@example.com, like billing.yaml
    for i in range(3):
        emulator.client().v1.customers.create(params={"email": f"other{i}@example.com"})
    before = len(emulator.requests())
    data = cli.json("create", "--amount", "1999", "--currency", "usd", "--customer", "acme")
    assert data["customer"] == acme
    lookups = [r for r in emulator.requests()[before:] if r["path"] == "/v1/customers"]
    assert len(lookups) == 1 and lookups[0]["params"].get("email") == "acme@example.com"


def test_refund_amount_decimal_uses_the_charge_currency(cli: Cli, emulator: EmulatorHandle) -> None:
    pi = cli.json(
        "create", "--amount", "5000", "--currency", "jpy", "--confirm-with", "pm_card_visa"
    )
    before = len(emulator.writes())
    line = cli.fails("refund", pi["id"], "--amount-decimal", "1.5")
    assert "JPY takes no decimals" in line
    assert len(emulator.writes()) == before
    out = cli.ok("refund", pi["id"], "--amount-decimal", "1500").stdout
    assert "refunded 1,500 JPY" in out and "left to refund: 3,500 JPY" in out


def test_missing_explicit_config_is_an_error(
    cli: Cli, emulator: EmulatorHandle, tmp_path: Path
) -> None:
    missing = str(tmp_path / "nope.yaml")
    runs: list[dict[str, Any]] = [{"env": {"BILLING_SYNC_CONFIG": missing}}, {}]
    for kw in runs:
        extra = () if kw else ("-c", missing)
        proc = cli("create", "--amount", "1999", "--currency", "usd", *extra, **kw)
        assert proc.returncode == 1 and "nope.yaml" in proc.stderr
        assert len(proc.stderr.strip().splitlines()) == 1
    assert emulator.requests() == []
