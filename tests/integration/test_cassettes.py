"""The demo's traffic (plan, apply, plan) replayed from a vcrpy cassette with no server at all.

A change in the request sequence fails here and shows up in review as a cassette diff. Re-record
with `make record`: against the emulator by default, or against a real Stripe test-mode account
when STRIPE_API_KEY=sk_test_... is set (the API key is filtered out of the cassette).
"""

from __future__ import annotations

import contextlib
import os
import re
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import stripe
import vcr

from billing_sync.apply import lock
from billing_sync.cli import main
from billing_sync.demo import DEMO_KEY, running_emulator
from billing_sync.metadata import LOCK_PRODUCT_ID
from tests.helpers import EXAMPLE, EXAMPLE_CREATES, EXAMPLE_WRITES

CASSETTE = Path(__file__).parent / "cassettes" / "demo_plan_apply_plan.yaml"
RECORD = os.environ.get("BILLING_SYNC_RECORD") == "1"
REPLAY_BASE = "http://127.0.0.1:12111"  # never contacted: vcrpy answers every request


def body_but_lock(r1: Any, r2: Any) -> None:
    """Bodies must be equal, except the apply lock's: it names the run, host, pid and time."""
    lock = LOCK_PRODUCT_ID.encode()
    if lock in (r1.body or b"") or LOCK_PRODUCT_ID in r1.path:
        assert lock in (r2.body or b"") or LOCK_PRODUCT_ID in r2.path
        return
    assert r1.body == r2.body


def recorder(mode: str) -> vcr.VCR:
    v = vcr.VCR(
        record_mode=mode,
        match_on=["method", "path", "query", "body_but_lock"],
        filter_headers=["authorization", "x-stripe-client-telemetry", "user-agent"],
        decode_compressed_response=True,
    )
    v.register_matcher("body_but_lock", body_but_lock)
    return v


def cli(*args: str) -> int:
    try:
        main(list(args))
    except SystemExit as exc:
        return int(exc.code or 0)
    return 0


def scenario(api_key: str, api_base: str) -> list[int]:
    # Sequential apply so the request order is deterministic.
    common = ["--api-key", api_key, "--api-base", api_base]
    return [
        cli(*common, "plan", "-c", str(EXAMPLE), "--detailed-exitcode"),
        cli(*common, "apply", "-c", str(EXAMPLE), "--auto-approve", "--parallelism", "1"),
        cli(*common, "plan", "-c", str(EXAMPLE), "--detailed-exitcode"),
    ]


@contextlib.contextmanager
def target() -> Iterator[tuple[str, str]]:
    real_key = os.environ.get("STRIPE_API_KEY", "")
    if real_key.startswith("sk_test_"):
        yield real_key, "https://api.stripe.com"
        return
    with running_emulator() as url:
        yield DEMO_KEY, url


@pytest.mark.skipif(not RECORD, reason="set BILLING_SYNC_RECORD=1 (make record) to re-record")
def test_record_demo_cassette(monkeypatch: pytest.MonkeyPatch) -> None:
    # vcrpy's recorder loses interactions of concurrent requests (the list streams are read
    # several at a time): record them one at a time. Replay keeps the tool's concurrency.
    one_at_a_time = threading.Lock()
    send = stripe.RequestsClient.request

    def serialised(self: stripe.RequestsClient, *args: Any, **kwargs: Any) -> Any:
        with one_at_a_time:
            return send(self, *args, **kwargs)

    monkeypatch.setattr(stripe.RequestsClient, "request", serialised)
    CASSETTE.unlink(missing_ok=True)
    CASSETTE.parent.mkdir(exist_ok=True)
    with target() as (key, base), recorder("all").use_cassette(str(CASSETTE)):
        assert scenario(key, base) == [2, 0, 0]
    assert key not in CASSETTE.read_text()


@pytest.mark.skipif(RECORD, reason="recording")
def test_replay_demo_cassette(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert CASSETTE.exists(), "cassette missing: run `make record`"
    text = CASSETTE.read_text()
    assert "sk_test_" not in text and "sk_live_" not in text
    # The lock's run id is random; replay the recorded one so the recorded lock is "ours".
    recorded = re.search(r"metadata\[run\]=([0-9a-f]+)", text)
    assert recorded is not None, "the recorded apply took no lock"
    monkeypatch.setattr(lock, "new_run_id", lambda: recorded.group(1))
    with recorder("none").use_cassette(str(CASSETTE), allow_playback_repeats=False) as cassette:
        codes = scenario("sk_test_replay_only_not_a_real_key", REPLAY_BASE)
        assert cassette.all_played, "the tool made fewer requests than recorded"
    out = capsys.readouterr()
    assert codes == [2, 0, 0], out.out + out.err
    assert f"Plan: {EXAMPLE_CREATES} to create" in out.out
    assert f"Apply complete: {EXAMPLE_WRITES} done, 0 failed, 0 skipped" in out.out
    assert "No changes" in out.out
