"""Trials of existing subscriptions through the CLI: `trial_end: now` ends one (and says what is
charged), a date moves it or puts an active subscription on a trial (guarded), a date Stripe
cannot take is reported, never sent. Stripe's state is read with the official client."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from tests.helpers import EmulatorHandle, run_cli, write_config

DAY = 86_400

BASE = """\
version: 1
products:
  pro:
    name: Pro
    prices:
      pro-monthly: {{unit_amount: 2900, currency: usd, recurring: {{interval: month}}}}
customers:
  acme:
    email: billing@acme.example
    subscriptions:
      main:
        items: [{{price: pro-monthly, quantity: 2}}]
        collection_method: send_invoice
        days_until_due: 30
{trial}
"""


def config(tmp_path: Path, trial: str = "", name: str = "billing.yaml") -> Path:
    return write_config(tmp_path, BASE.format(trial=trial), name)


def in_days(n: int) -> dt.date:
    return dt.datetime.now(tz=dt.UTC).date() + dt.timedelta(days=n)


def midnight(day: dt.date) -> int:
    return int(dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC).timestamp())


def apply_ok(emulator: EmulatorHandle, path: Path, *extra: str) -> str:
    res = run_cli(emulator, "apply", "-c", str(path), "--auto-approve", *extra)
    assert res.returncode == 0, res.stdout + res.stderr
    return res.stdout


def plan(emulator: EmulatorHandle, path: Path) -> tuple[int, str]:
    res = run_cli(emulator, "plan", "-c", str(path), "--detailed-exitcode")
    assert "Traceback" not in res.stderr
    return res.returncode, res.stdout + res.stderr


def writes_since(emulator: EmulatorHandle, mark: int) -> list[dict[str, Any]]:
    """The writes after the first `mark` ones (the request log is never cleared but by reset)."""
    return emulator.writes()[mark:]


def subscription(emulator: EmulatorHandle) -> Any:
    (sub,) = emulator.client().v1.subscriptions.list(params={"status": "all"}).data
    return sub


def test_trial_end_now_ends_a_running_trial_and_says_what_is_charged(
    emulator: EmulatorHandle, tmp_path: Path
) -> None:
    apply_ok(emulator, config(tmp_path, "        trial_period_days: 14"))
    before = subscription(emulator)
    assert before.status == "trialing"

    ended = config(tmp_path, "        trial_end: now", "ended.yaml")
    code, out = plan(emulator, ended)
    assert code == 2, out
    assert f"~ subscription acme/main (update {before.id})" in out
    assert 'trial_end: "' in out and '" -> "now"' in out
    # The money consequence: the first period, invoiced now (send_invoice, due in 30 days).
    assert "Stripe invoices the first period, 58.00 USD before tax and discounts, now" in out
    assert "due 30 days later" in out
    assert "trial_period_days" not in out  # trial_end now says what the trial is

    mark = len(emulator.writes())
    apply_ok(emulator, ended)
    (write,) = [
        w for w in writes_since(emulator, mark) if w["path"] == f"/v1/subscriptions/{before.id}"
    ]
    assert write["params"]["trial_end"] == "now"
    after = subscription(emulator)
    assert after.status == "active"
    assert after.trial_end is not None and after.trial_end < before.trial_end
    assert plan(emulator, ended)[0] == 0  # converged: `now` is met once no trial runs
    assert run_cli(emulator, "drift", "-c", str(ended)).returncode == 0


def test_a_date_moves_a_running_trial(emulator: EmulatorHandle, tmp_path: Path) -> None:
    apply_ok(emulator, config(tmp_path, "        trial_period_days: 14"))
    before = subscription(emulator)
    later = in_days(40)
    moved = config(tmp_path, f"        trial_end: {later.isoformat()}", "moved.yaml")

    code, out = plan(emulator, moved)
    assert code == 2, out
    assert f'-> "{later.isoformat()}T00:00:00Z"' in out
    old_day = dt.datetime.fromtimestamp(before.trial_end, tz=dt.UTC).date().isoformat()
    assert f"on {later.isoformat()} instead of {old_day}, when its trial ends" in out
    assert "destructive" not in out and "UNSAFE" not in out

    apply_ok(emulator, moved)
    after = subscription(emulator)
    assert (after.status, after.trial_end) == ("trialing", midnight(later))
    assert after.trial_start == before.trial_start  # the same trial, longer
    assert after["items"].data[0].current_period_end == midnight(later)
    assert plan(emulator, moved)[0] == 0


def test_a_trial_added_to_an_active_subscription_is_guarded_and_priced(
    emulator: EmulatorHandle, tmp_path: Path
) -> None:
    apply_ok(emulator, config(tmp_path, "        protect: true"))
    assert subscription(emulator).status == "active"
    until = in_days(20)
    trial = config(
        tmp_path, f"        protect: true\n        trial_end: {until.isoformat()}", "trial.yaml"
    )

    code, out = plan(emulator, trial)
    assert code == 3, out  # changes, but refused as they stand: the subscription is protected
    assert (
        f"puts an active subscription on a trial until {until.isoformat()}: nothing is charged"
        in out
    )
    assert "Stripe invoices 58.00 USD before tax and discounts" in out
    assert (
        "the unused part of the paid period is credited (proration_behavior: create_prorations)"
        in out
    )
    assert "UNSAFE: subscription acme/main is protected" in out

    mark = len(emulator.writes())
    refused = run_cli(emulator, "apply", "-c", str(trial), "--auto-approve")
    assert refused.returncode != 0 and "--allow-destroy" in refused.stderr
    assert writes_since(emulator, mark) == []
    assert subscription(emulator).status == "active"

    apply_ok(emulator, trial, "--allow-destroy")
    (write,) = [
        w for w in writes_since(emulator, mark) if w["path"].startswith("/v1/subscriptions/sub_")
    ]
    assert write["params"]["trial_end"] == str(midnight(until))
    assert write["params"]["proration_behavior"] == "create_prorations"
    after = subscription(emulator)
    assert (after.status, after.trial_end, after.billing_cycle_anchor) == (
        "trialing",
        midnight(until),
        midnight(until),
    )
    assert plan(emulator, trial)[0] == 0


def test_a_past_trial_end_is_reported_and_never_sent(
    emulator: EmulatorHandle, tmp_path: Path
) -> None:
    apply_ok(emulator, config(tmp_path, "        trial_period_days: 14"))
    past = config(tmp_path, "        trial_end: 2020-01-31", "past.yaml")
    mark = len(emulator.writes())
    code, out = plan(emulator, past)
    assert code == 0, out  # nothing apply can do
    assert "Differences apply cannot make" in out
    assert "trial_end 2020-01-31T00:00:00Z is in the past" in out
    assert "Stripe sets only a future trial end" in out
    drift = run_cli(emulator, "drift", "-c", str(past))
    assert drift.returncode == 2, drift.stdout + drift.stderr
    apply_ok(emulator, past)
    assert not any(w["path"].startswith("/v1/subscriptions") for w in writes_since(emulator, mark))
    assert subscription(emulator).status == "trialing"


def test_a_new_subscription_takes_a_declared_trial_end_or_is_refused(
    emulator: EmulatorHandle, tmp_path: Path
) -> None:
    past = config(tmp_path, "        trial_end: 2020-01-31", "past.yaml")
    code, out = plan(emulator, past)
    # A conflict: created without its trial it would be charged at once. Exit 3: the plan is
    # made and shown, and apply refuses it as it stands.
    assert code == 3, out
    assert "subscription acme/main: trial_end 2020-01-31T00:00:00Z is in the past" in out
    assert emulator.writes() == []

    until = in_days(10)
    future = config(tmp_path, f"        trial_end: {until.isoformat()}", "future.yaml")
    code, out = plan(emulator, future)
    assert code == 2, out
    assert (
        f"Stripe invoices the first period, 58.00 USD before tax and discounts, on {until}" in out
    )
    apply_ok(emulator, future)
    sub = subscription(emulator)
    assert (sub.status, sub.trial_end) == ("trialing", midnight(until))
    assert plan(emulator, future)[0] == 0


def test_changing_trial_period_days_points_at_trial_end(
    emulator: EmulatorHandle, tmp_path: Path
) -> None:
    apply_ok(emulator, config(tmp_path, "        trial_period_days: 14"))
    longer = config(tmp_path, "        trial_period_days: 30", "longer.yaml")
    code, out = plan(emulator, longer)
    assert code == 0, out
    assert (
        "subscription acme/main: trial_period_days (14 -> 30) is used only when a subscription "
        "is created; to change the trial of this one, declare trial_end instead"
    ) in out
    assert run_cli(emulator, "drift", "-c", str(longer)).returncode == 2
