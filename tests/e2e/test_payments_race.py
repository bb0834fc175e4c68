"""Real processes: three `payments create` runs racing with one --reference make one
PaymentIntent (the idempotency key, not process-local state, decides)."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from subprocess import CompletedProcess

from tests.helpers import EmulatorHandle, run_cli_process


def test_concurrent_runs_with_one_reference_create_one_payment_intent(
    emulator: EmulatorHandle, tmp_path: Path
) -> None:
    emulator.configure(execution_delay_ms=400)
    args = (
        "--api-base",
        emulator.url,
        "--api-key",
        emulator.api_key,
        "payments",
        "create",
        "--amount",
        "1999",
        "--currency",
        "usd",
        "--reference",
        "RACE-1",
        "--format",
        "json",
    )

    def run(_: int) -> CompletedProcess[str]:
        return run_cli_process(None, *args, cwd=tmp_path, timeout=60)

    with ThreadPoolExecutor(max_workers=3) as pool:
        procs = list(pool.map(run, range(3)))
    for p in procs:
        assert emulator.api_key not in p.stdout + p.stderr, "API key leaked"
        assert "Traceback" not in p.stderr, p.stderr
    assert [p.returncode for p in procs] == [0, 0, 0], [p.stderr for p in procs]
    ids = {json.loads(p.stdout)["id"] for p in procs}
    assert len(ids) == 1
    assert len(emulator.client().v1.payment_intents.list().data) == 1
