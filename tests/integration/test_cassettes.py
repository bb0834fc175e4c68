"""The demo's traffic (plan, apply, plan) replayed from a vcrpy cassette with no server at all.

A change in the request sequence fails here and shows up in review as a cassette diff. Re-record
with `make record`: against the emulator by default, or against a real Stripe test-mode account
when STRIPE_API_KEY=sk_test_... is set (the API key is filtered out of the cassette).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import vcr

from billing_sync.cli import main
from billing_sync.demo import DEMO_KEY, running_emulator
from tests.helpers import EXAMPLE

CASSETTE = Path(__file__).parent / "cassettes" / "demo_plan_apply_plan.yaml"
RECORD = os.environ.get("BILLING_SYNC_RECORD") == "1"
REPLAY_BASE = "http://127.0.0.1:12111"  # never contacted: vcrpy answers every request


def recorder(mode: str) -> vcr.VCR:
    return vcr.VCR(
        record_mode=mode,
        match_on=["method", "path", "query", "body"],
        filter_headers=["authorization", "x-stripe-client-telemetry", "user-agent"],
        decode_compressed_response=True,
    )


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
def test_record_demo_cassette() -> None:
    CASSETTE.unlink(missing_ok=True)
    CASSETTE.parent.mkdir(exist_ok=True)
    with target() as (key, base), recorder("all").use_cassette(str(CASSETTE)):
        assert scenario(key, base) == [2, 0, 0]
    assert key not in CASSETTE.read_text()


@pytest.mark.skipif(RECORD, reason="recording")
def test_replay_demo_cassette(capsys: pytest.CaptureFixture[str]) -> None:
    assert CASSETTE.exists(), "cassette missing: run `make record`"
    text = CASSETTE.read_text()
    assert "sk_test_" not in text and "sk_live_" not in text
    with recorder("none").use_cassette(str(CASSETTE), allow_playback_repeats=False) as cassette:
        codes = scenario("sk_test_replay_only_not_a_real_key", REPLAY_BASE)
        assert cassette.all_played, "the tool made fewer requests than recorded"
    out = capsys.readouterr()
    assert codes == [2, 0, 0], out.out + out.err
    assert "Plan: 15 to create" in out.out
    assert "Apply complete: 17 done, 0 failed, 0 skipped" in out.out
    assert "No changes" in out.out
