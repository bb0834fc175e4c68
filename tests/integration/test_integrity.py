"""Integrity: a saved plan is exactly what was reviewed, one apply per account, no stale replays.

Each attack goes through the CLI against the emulator and checks the exit code, the message and,
through the official stripe client, that nothing was written to the catalog.
"""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from billing_sync.apply.lock import AccountLock, Holder, is_stale
from billing_sync.metadata import LOCK_PRODUCT_ID
from billing_sync.remote.client import connect
from tests.helpers import (
    READS_BEFORE_FIRST_WRITE,
    EmulatorHandle,
    duplicates,
    everything,
    run_cli,
    write_config,
)
from tests.integration.test_plan_apply import SMALL, apply_ok, assert_no_changes

Doc = dict[str, Any]


def catalog(emulator: EmulatorHandle) -> dict[str, list[str]]:
    """Ids of every catalog object (the apply lock is not one)."""
    return {
        kind: sorted(o["id"] for o in objs if o["id"] != LOCK_PRODUCT_ID)
        for kind, objs in everything(emulator).items()
    }


def saved_plan(emulator: EmulatorHandle, tmp_path: Path, config: str = SMALL) -> tuple[Path, Path]:
    cfg = write_config(tmp_path, config)
    out = tmp_path / "plans" / "p.json"
    res = run_cli(emulator, "plan", "-c", str(cfg), "--out", str(out))
    assert res.returncode == 0, res.stderr
    return cfg, out


def edit_ops(path: Path, edit: Callable[[list[Doc]], None]) -> None:
    doc = json.loads(path.read_text())
    edit(doc["operations"])
    path.write_text(json.dumps(doc))


def cheaper_price(ops: list[Doc]) -> None:
    price = next(o for o in ops if o["id"] == "price.create:pro-monthly")
    price["request"]["params"]["unit_amount"] = 1  # the text still says 29.00


def extra_operation(ops: list[Doc]) -> None:
    ops.append(
        {
            **ops[0],
            "id": "payment.create:x",
            "kind": "payment_intent",
            "request": {
                "method": "post",
                "path": "/v1/payment_intents",
                "params": {"amount": 99999999, "currency": "usd"},
            },
        }
    )


def dropped_operation(ops: list[Doc]) -> None:
    del ops[-1]


@pytest.mark.parametrize("edit", [cheaper_price, extra_operation, dropped_operation])
def test_an_edited_saved_plan_is_refused_and_writes_nothing(
    emulator: EmulatorHandle, tmp_path: Path, edit: Callable[[list[Doc]], None]
) -> None:
    _, out = saved_plan(emulator, tmp_path)
    edit_ops(out, edit)
    res = run_cli(emulator, "apply", "--plan", str(out), "--auto-approve")
    assert res.returncode == 1, res.stdout + res.stderr
    assert "are not the ones billing.yaml and the account give now" in res.stderr
    assert "Traceback" not in res.stderr
    assert emulator.writes() == []
    assert all(ids == [] for ids in catalog(emulator).values())


def test_safety_inputs_of_a_saved_plan_are_recomputed_not_read(
    emulator: EmulatorHandle, tmp_path: Path
) -> None:
    """A destructive plan edited to look safe (flags, threshold, conflicts) is still refused."""
    protected = SMALL.replace("days_until_due: 30\n", "days_until_due: 30\n        protect: true\n")
    assert protected != SMALL
    cfg, _ = saved_plan(emulator, tmp_path, protected)
    apply_ok(emulator, cfg)
    cfg.write_text(
        SMALL.split("customers:")[0]
        + "customers:\n  acme:\n    email: billing@acme.example\n    name: Acme\n    metadata: {crm: A-1, segment: smb}\n"
    )
    out = tmp_path / "plans" / "destroy.json"
    # plan saves it, and exits 3: apply would refuse it as it stands.
    assert run_cli(emulator, "plan", "-c", str(cfg), "--out", str(out)).returncode == 3
    doc = json.loads(out.read_text())
    assert doc["unsafe"] == ["subscription acme/main is protected (protect: true)"]
    doc.update(
        unsafe=[],
        max_destroy_percent=100,
        max_update_percent=100,
        min_objects_for_thresholds=1_000,
        conflicts=[],
    )
    out.write_text(json.dumps(doc))
    writes = len(emulator.writes())
    res = run_cli(emulator, "apply", "--plan", str(out), "--auto-approve")
    assert res.returncode == 3 and "refusing an unsafe plan" in res.stderr, res.stderr

    # Clearing the flags inside the operations changes their checksum: refused as edited.
    def look_safe(ops: list[Doc]) -> None:
        for op in ops:
            op["destructive"] = False

    edit_ops(out, look_safe)
    res = run_cli(emulator, "apply", "--plan", str(out), "--auto-approve")
    assert res.returncode == 1 and "are not the ones" in res.stderr, res.stderr
    assert len(emulator.writes()) == writes


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("not json", "invalid JSON"),
        ("[" * 100_000 + "]" * 100_000, "nested too deeply"),
        ('{"format_version": 1, "operations": []}', "not a billing-sync plan of format_version 2"),
        ('{"format_version": 2, "operations": {}}', "its provenance is not text"),
        (
            '{"format_version": 2, "config_file": "b", "config_hash": "", "remote_fingerprint": "",'
            ' "account": "", "operations": "x"}',
            "no list of operations",
        ),
        ('{"format_version": 2, "phase": 1e999}', "its provenance is not text"),
    ],
)
def test_a_malformed_plan_file_is_one_clear_line(
    emulator: EmulatorHandle, tmp_path: Path, content: str, message: str
) -> None:
    plan = tmp_path / "bad.json"
    plan.write_text(content)
    res = run_cli(emulator, "apply", "--plan", str(plan), "--auto-approve")
    assert res.returncode == 1
    assert message in res.stderr and "Traceback" not in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1, res.stderr
    assert emulator.requests() == []


def test_a_plan_file_that_is_not_a_regular_file_is_refused(
    emulator: EmulatorHandle, tmp_path: Path
) -> None:
    res = run_cli(emulator, "apply", "--plan", str(tmp_path), "--auto-approve")
    assert res.returncode == 1 and "not a regular file" in res.stderr
    assert emulator.requests() == []


# -- the lock -------------------------------------------------------------------------------------
def hold_lock(emulator: EmulatorHandle, *, host: str, lease: int, pid: int = 4242) -> str:
    """A lock as another apply would have taken it."""
    run = "0ther0run0001"
    emulator.client().v1.products.create(
        {
            "id": LOCK_PRODUCT_ID,
            "name": "billing-sync apply lock",
            "active": False,
            "metadata": {
                "run": run,
                "who": "ci",
                "host": host,
                "pid": str(pid),
                "since": str(int(time.time()) - 30),
                "lease_until": str(int(time.time()) + lease),
            },
        }
    )
    return run


def test_a_second_apply_is_refused_while_another_holds_the_lock(
    emulator: EmulatorHandle, tmp_path: Path
) -> None:
    cfg = write_config(tmp_path, SMALL)
    run = hold_lock(emulator, host="build-agent-7", lease=600)
    res = run_cli(emulator, "apply", "-c", str(cfg), "--auto-approve")
    assert res.returncode == 1, res.stdout + res.stderr
    assert (
        f"another apply holds the lock on this account: run {run} by ci on build-agent-7"
        in res.stderr
    )
    assert f"billing-sync force-unlock {run}" in res.stderr
    assert catalog(emulator)["products"] == []
    # force-unlock names the run it releases, and refuses another.
    res = run_cli(emulator, "force-unlock", "someoneelse")
    assert res.returncode == 1 and f"held by run {run}" in res.stderr
    res = run_cli(emulator, "force-unlock", run)
    assert res.returncode == 0 and f"Released the apply lock of run {run}" in res.stdout
    apply_ok(emulator, cfg)
    assert LOCK_PRODUCT_ID not in [p["id"] for p in everything(emulator)["products"]]
    assert_no_changes(emulator, cfg)


def test_an_expired_lock_is_taken_over(emulator: EmulatorHandle, tmp_path: Path) -> None:
    cfg = write_config(tmp_path, SMALL)
    hold_lock(emulator, host="build-agent-7", lease=-1)
    apply_ok(emulator, cfg)
    assert LOCK_PRODUCT_ID not in [p["id"] for p in everything(emulator)["products"]]


def test_a_lock_left_on_this_host_by_a_dead_process_is_taken_over(
    emulator: EmulatorHandle, tmp_path: Path
) -> None:
    cfg = write_config(tmp_path, SMALL)
    hold_lock(emulator, host=socket.gethostname(), lease=600, pid=2**22 + 12345)
    apply_ok(emulator, cfg)


def test_lock_timeout_waits_for_the_lock(emulator: EmulatorHandle, tmp_path: Path) -> None:
    cfg = write_config(tmp_path, SMALL)
    hold_lock(emulator, host="build-agent-7", lease=2)
    res = run_cli(emulator, "apply", "-c", str(cfg), "--auto-approve", "--lock-timeout", "20")
    assert res.returncode == 0, res.stdout + res.stderr


def test_of_two_takeovers_of_one_stale_lock_exactly_one_wins(emulator: EmulatorHandle) -> None:
    hold_lock(emulator, host="build-agent-7", lease=-1)
    remote = connect(emulator.api_key, emulator.url)
    stale = Holder.of(emulator.client().v1.products.retrieve(LOCK_PRODUCT_ID).to_dict())
    assert is_stale(stale, time.time())
    first, second = AccountLock(remote), AccountLock(remote)
    assert first._try_takeover(stale) is True
    assert second._try_takeover(stale) is False  # same key, other parameters: refused by Stripe
    first.release()
    assert LOCK_PRODUCT_ID not in [p["id"] for p in everything(emulator)["products"]]


def test_an_account_change_after_the_plan_was_shown_stops_the_apply(
    emulator: EmulatorHandle, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What was confirmed is what is applied: the plan made under the lock must be identical."""
    cfg = write_config(tmp_path, SMALL)
    original = AccountLock.acquire

    def someone_else_writes_first(self: AccountLock, timeout: float = 0.0) -> None:
        emulator.client().v1.customers.create(
            {"email": "x@example.com", "metadata": {"billing_sync_key": "acme"}}
        )
        original(self, timeout)

    monkeypatch.setattr(AccountLock, "acquire", someone_else_writes_first)
    res = run_cli(emulator, "apply", "-c", str(cfg), "--auto-approve")
    assert res.returncode == 1, res.stdout + res.stderr
    assert "the Stripe account changed after this plan was made" in res.stderr
    assert catalog(emulator)["products"] == []
    assert LOCK_PRODUCT_ID not in [p["id"] for p in everything(emulator)["products"]]


# -- replays --------------------------------------------------------------------------------------
def test_a_hand_deleted_customer_is_created_again(emulator: EmulatorHandle, tmp_path: Path) -> None:
    cfg = write_config(tmp_path, SMALL.split("    subscriptions:")[0])
    apply_ok(emulator, cfg)
    (customer,) = everything(emulator)["customers"]
    emulator.client().v1.customers.delete(customer["id"])
    out = apply_ok(emulator, cfg)
    assert "done     customer.create:acme" in out or "1 done" in out
    (again,) = everything(emulator)["customers"]
    assert again["id"] != customer["id"]
    assert_no_changes(emulator, cfg)
    assert duplicates(emulator) == {}


# -- ids --------------------------------------------------------------------------------------------
def test_ids_env_refuses_keys_that_would_share_a_variable(
    emulator: EmulatorHandle, tmp_path: Path
) -> None:
    cfg = write_config(
        tmp_path,
        """\
version: 1
products:
  pro:
    name: Pro
    prices:
      pro-monthly: {unit_amount: 2900, currency: usd, recurring: {interval: month}}
      pro_monthly: {unit_amount: 2900, currency: usd, recurring: {interval: month}}
""",
    )
    apply_ok(emulator, cfg)
    res = run_cli(emulator, "ids", "--format", "env")
    assert res.returncode == 1
    assert (
        "price keys 'pro-monthly' and 'pro_monthly' both map to BILLING_SYNC_PRICE_PRO_MONTHLY"
        in res.stderr
    )
    assert json.loads(run_cli(emulator, "ids").stdout)["prices"].keys() == {
        "pro-monthly",
        "pro_monthly",
    }


@pytest.mark.parametrize("kind", ["500_stored", "500_stored_applied"])
def test_a_stored_500_fails_its_run_only_and_a_rerun_converges(
    emulator: EmulatorHandle, tmp_path: Path, kind: str
) -> None:
    """Stripe replays a stored 500 to every retry with the same key: the change fails in this
    run (its retries cannot get past it), and the next run, with keys of its own, finishes it."""
    cfg = write_config(tmp_path, SMALL)
    first_catalog_write = READS_BEFORE_FIRST_WRITE + 1  # plan reads, lock, reads again, writes
    emulator.configure(fail_nth={str(first_catalog_write): kind})
    res = run_cli(
        emulator,
        "apply",
        "-c",
        str(cfg),
        "--auto-approve",
        "--max-retries",
        "2",
        "--parallelism",
        "1",
    )
    assert res.returncode == 1, res.stdout + res.stderr
    assert "failed: product.create:pro" in res.stderr
    replays = [
        r for r in emulator.requests() if r["path"] == "/v1/products" and r["method"] == "POST"
    ]
    assert len({r["idempotency_key"] for r in replays if "lock" not in str(r["params"])}) == 1
    emulator.configure(fail_nth=None)
    apply_ok(emulator, cfg)
    assert_no_changes(emulator, cfg)
    assert duplicates(emulator) == {}
    assert catalog(emulator)["products"] == ["pro"]
