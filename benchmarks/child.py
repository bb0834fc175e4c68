"""One measured run in its own process (so CPU and peak memory are the process's own): prints
one JSON line. Run by benchmarks/run.py through `python -m benchmarks.child MODE ...`.

- `plan URL CONFIG [CONCURRENCY]`: the no-op plan as `billing-sync plan` makes it, phase by phase
  (then the account's fingerprint, which `plan --out` and `--format json` add).
- `cli URL CONFIG`: `billing-sync plan --detailed-exitcode` itself, in this process (the CPU
  and memory of the command users run, start-up and output included).
- `per-object URL THREADS`: the same account read one GET per object (the Terraform providers'
  pattern: list nothing, GET each object in state), with THREADS at once (Terraform's default
  -parallelism is 10). The ids come from a list read made first, not counted.
"""

from __future__ import annotations

import json
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from billing_sync.demo import DEMO_KEY
from billing_sync.gcpause import command_heap


def plan_run(url: str, config: str, concurrency: int) -> dict[str, Any]:
    from billing_sync.plan.plan import Provenance
    from billing_sync.plan.planner import Prepared, Source, plan
    from billing_sync.remote.client import connect
    from billing_sync.resources.read import read_account

    phases: dict[str, dict[str, float]] = {}
    wall0 = time.perf_counter()

    def timed(name: str, fn: Any) -> Any:
        wall, cpu = time.perf_counter(), time.process_time()
        out = fn()
        phases[name] = {
            "wall_s": round(time.perf_counter() - wall, 3),
            "cpu_s": round(time.process_time() - cpu, 3),
        }
        return out

    # As `billing-sync plan` makes it (planner.build_plan): billing.yaml's models are dropped
    # once its desired state is built, before the read.
    loaded = [timed("config_load", lambda: Source.read(config))]
    remote = connect(DEMO_KEY, url)
    prepared = timed("desired", lambda: Prepared.of(remote, loaded.pop()))
    existing = timed("read", lambda: read_account(remote, concurrency=concurrency))

    def diff() -> Any:
        # Without the account's fingerprint, which only a saved or JSON plan needs (timed apart
        # below).
        return plan(
            prepared.desired,
            existing,
            provenance=Provenance(
                config_file=config,
                config_hash=prepared.config_hash,
                account=remote.account_fingerprint,
            ),
        )

    result = timed("plan", diff)
    timed("fingerprint", existing.fingerprint)  # what `plan --out` and `--format json` add
    return {
        "requests": remote.http.total,
        "changes": len(result.changes),
        # a no-op plan has none of these either (the benchmark checks)
        "differences": len(result.warnings) + len(result.conflicts) + len(result.unreachable),
        "managed": result.managed_count,
        "wall_s": round(time.perf_counter() - wall0, 3),
        "phases": phases,
    }


def cli_run(url: str, config: str) -> dict[str, Any]:
    """`billing-sync plan --config CONFIG` as a user runs it (click, the terminal output, the
    entry point's end of process), in this process; its output is counted, not printed."""
    import contextlib
    import io
    import os

    from billing_sync.cli.app import main as cli_main

    os.environ.update(STRIPE_API_BASE=url, STRIPE_API_KEY=DEMO_KEY)
    out, err = io.StringIO(), io.StringIO()
    wall = time.perf_counter()
    code: Any = 0
    # The process's own entry point (no argv: sys.argv), as the `billing-sync` script calls it,
    # so the process ends as the command's does (gcpause.before_exit).
    sys.argv = ["billing-sync", "plan", "--config", config, "--detailed-exitcode"]
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            cli_main()
        except SystemExit as exit_:
            code = exit_.code
    return {
        "exit_code": code,
        "output_lines": len(out.getvalue().splitlines()),
        "stderr": err.getvalue()[-2000:],
        "wall_s": round(time.perf_counter() - wall, 3),
    }


def per_object_run(url: str, threads: int) -> dict[str, Any]:
    from billing_sync.remote.client import connect
    from billing_sync.remote.pages import list_all, request

    lister = connect(DEMO_KEY, url)
    paths = []
    for path, params in (
        ("/v1/products", {}),
        ("/v1/prices", {"active": "true"}),
        ("/v1/customers", {}),
        ("/v1/subscriptions", {"status": "all"}),
    ):
        paths += [f"{path}/{obj['id']}" for obj in list_all(lister, path, params)]
    remote = connect(DEMO_KEY, url)
    wall, cpu = time.perf_counter(), time.process_time()
    with ThreadPoolExecutor(threads) as pool:
        for _ in pool.map(lambda p: request(remote, "get", p), paths, chunksize=64):
            pass
    return {
        "requests": remote.http.total,
        "objects": len(paths),
        "wall_s": round(time.perf_counter() - wall, 3),
        "cpu_s": round(time.process_time() - cpu, 3),
    }


def peak_rss_mb() -> float | None:
    """This process's peak resident memory (VmHWM). Not the rusage of the child seen by its
    parent: Linux carries the parent's peak across fork and exec into ru_maxrss."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            lines = status.read().splitlines()
        for line in lines:
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    return None


def main(argv: list[str]) -> None:
    mode = argv[0]
    if mode == "plan":
        with command_heap():  # as the CLI runs a command
            out = plan_run(argv[1], argv[2], int(argv[3]) if len(argv) > 3 else 4)
    elif mode == "cli":
        out = cli_run(argv[1], argv[2])
    elif mode == "per-object":
        out = per_object_run(argv[1], int(argv[2]))
    else:
        raise SystemExit(f"unknown mode {mode}")
    out["peak_rss_mb"] = peak_rss_mb()
    print(json.dumps(out))


if __name__ == "__main__":
    main(sys.argv[1:])
