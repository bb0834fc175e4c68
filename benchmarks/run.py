"""`make bench`: the figures of issue 14, printed and saved as JSON under benchmarks/results/.

    python -m benchmarks.run [--sizes 1000,10000,100000] [--only noop,apply,...] [--out FILE]

- noop: the no-op plan (nothing to change: PR checks, drift jobs) of about N managed objects,
  each run in its own process (CPU and peak RSS of the process, not tracemalloc): requests,
  wall at 0 and 30 ms latency, CPU per phase; and the same account read one GET per object
  (the Terraform providers' pattern) for the request and wall ratio.
- apply: creates with no rate limit and at 20/s and 100/s, with and without 10% injected 429s
  (achieved / configured rate, 429s, failures, duplicates), the rate 8 plain client threads get
  from the emulator, and applies at 20/50/100/s against an account enforcing 25/s.
- scheduler: the executor's own CPU per operation over 100,000 operations (requests stubbed).
- config: validate (load_config) CPU of the no-op benchmark's billing.yaml at the largest size.

Printed and recorded, never asserted: speed does not belong in tests.
"""

from __future__ import annotations

import argparse
import datetime
import itertools
import json
import math
import os
import platform
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from benchmarks.account import Shape, config_text, control, seed, synthetic_ids
from benchmarks.config_load import generated_config
from billing_sync.apply.execute import Executor, Result
from billing_sync.changes import Change
from billing_sync.config.loader import MAX_CONFIG_ENV, load_text, max_config_bytes
from billing_sync.demo import DEMO_KEY, running_emulator
from billing_sync.plan.planner import build_plan
from billing_sync.plan.planner import plan as make_plan
from billing_sync.remote.client import connect
from billing_sync.resources.base import Existing
from billing_sync.resources.read import desired_state

RESULTS = Path(__file__).resolve().parent / "results"
ROOT = Path(__file__).resolve().parent.parent


def child(*args: str, env: dict[str, str] | None = None) -> dict[str, Any]:
    """Run benchmarks.child in its own process; its JSON plus its rusage (CPU, peak RSS)."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "benchmarks.child", *args],
        stdout=subprocess.PIPE,
        cwd=ROOT,
        env={**os.environ, **(env or {})},
    )
    assert proc.stdout is not None
    out = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise RuntimeError(f"benchmarks.child {' '.join(args)} exited {proc.returncode}")
    result: dict[str, Any] = json.loads(out)
    result["process"] = {
        "user_cpu_s": round(usage.ru_utime, 2),
        "sys_cpu_s": round(usage.ru_stime, 2),
        "peak_rss_mb": result.pop("peak_rss_mb"),  # the child's VmHWM (see child.py)
    }
    return result


def requests_log(url: str) -> list[dict[str, Any]]:
    with __import__("urllib.request").request.urlopen(f"{url}/_emulator/requests") as resp:
        log: list[dict[str, Any]] = json.loads(resp.read())
        return log


# -- the no-op plan ------------------------------------------------------------------------------
def build_account(url: str, shape: Shape, config: Path) -> dict[str, Any]:
    """Seed the emulator, write the billing.yaml that declares it to `config`, then create the
    tiered prices and subscriptions with one apply."""
    wall = time.perf_counter()
    config.write_text(config_text(shape, seed(url, shape)), encoding="utf-8")
    remote = connect(DEMO_KEY, url)
    plan = build_plan(remote, str(config))
    report = Executor(remote, parallelism=8, rate_limit=math.inf).run(plan)
    if not report.ok:
        raise RuntimeError(f"building the account failed: {report.count('failed')} failed")
    return {
        "setup_wall_s": round(time.perf_counter() - wall, 1),
        "setup_creates": len(plan.changes),
    }


def process_cpu(run: dict[str, Any]) -> float:
    """User and system CPU of a child's process (see `child`)."""
    return float(run["process"]["user_cpu_s"] + run["process"]["sys_cpu_s"])


def cli_runs(
    url: str, config: Path, n: int, env: dict[str, str]
) -> tuple[dict[str, Any], list[float]]:
    """`billing-sync plan --detailed-exitcode` in processes of its own, several times (five up
    to 10,000 objects, three above): the run of median CPU, and every run's CPU in order. One
    run's CPU varies by a few percent from one run to the next on a VM."""
    runs = []
    for _ in range(5 if n <= 10_000 else 3):
        run = child("cli", url, str(config), env=env)
        if run["exit_code"] != 0:  # --detailed-exitcode: 0 is "no changes"
            raise RuntimeError(f"billing-sync plan exited {run['exit_code']}: {run['stderr']}")
        runs.append(run)
    cpus = [round(process_cpu(run), 2) for run in runs]
    return sorted(runs, key=process_cpu)[len(runs) // 2], cpus


def bench_noop(url: str, n: int, tmp: Path, per_object_max: int) -> dict[str, Any]:
    shape = Shape.of(n)
    config = tmp / f"noop-{n}.yaml"
    # The size limit is raised for the largest sizes (the file's size is known once it is
    # written, with the seeded ids; a sample with ids of the same length sizes it first).
    sample = config_text(shape, synthetic_ids(shape))
    env = {MAX_CONFIG_ENV: str(max(len(sample.encode()) + 1, max_config_bytes()))}
    os.environ.update(env)  # this process builds the account from the same file
    out: dict[str, Any] = {
        "managed_objects": shape.managed,
        "expected_list_requests": shape.list_requests(),
        **build_account(url, shape, config),
        "config_bytes": config.stat().st_size,
    }
    for latency in (0, 30):
        control(url, "config", {"latency_ms": latency})
        run = child("plan", url, str(config), env=env)
        if run["changes"] or run["differences"]:
            raise RuntimeError(
                f"the no-op plan of {n} has {run['changes']} changes and "
                f"{run['differences']} warnings, conflicts or unreachable differences"
            )
        out[f"plan_latency_{latency}ms"] = run
        if latency == 0:
            out["plan_sequential_read_latency_0ms"] = child("plan", url, str(config), "1", env=env)
            out["cli_plan_latency_0ms"], out["cli_plan_cpu_s_runs"] = cli_runs(url, config, n, env)
        else:
            out["plan_sequential_read_latency_30ms"] = child("plan", url, str(config), "1", env=env)
        if n <= per_object_max:
            out[f"per_object_latency_{latency}ms"] = child("per-object", url, "10")
    control(url, "config", {"latency_ms": 0})
    p0 = out["plan_latency_0ms"]
    cpu = p0["process"]["user_cpu_s"] + p0["process"]["sys_cpu_s"]
    out["cpu_per_object_ms"] = round(1000 * cpu / shape.managed, 4)
    line = (
        f"no-op plan of {shape.managed:>7,} objects: {p0['requests']:>5} requests "
        f"(expected {shape.list_requests()}), CPU {cpu:6.2f} s "
        f"({out['cpu_per_object_ms']:.3f} ms/object), peak RSS {p0['process']['peak_rss_mb']:6.1f} MB, "
        f"wall {p0['wall_s']:6.2f} s at 0 ms / {out['plan_latency_30ms']['wall_s']:6.2f} s at 30 ms "
        f"(sequential read: {out['plan_sequential_read_latency_30ms']['phases']['read']['wall_s']:.2f} s "
        f"vs concurrent {out['plan_latency_30ms']['phases']['read']['wall_s']:.2f} s at 30 ms)"
    )
    print(line, flush=True)
    print(f"    phases at 0 ms: {json.dumps(p0['phases'])}", flush=True)
    cli, cpus = out["cli_plan_latency_0ms"], out["cli_plan_cpu_s_runs"]
    print(
        f"    billing-sync plan --detailed-exitcode (the command itself, median of {len(cpus)} "
        f"runs): CPU {process_cpu(cli):.2f} s (runs: {', '.join(f'{c:.2f}' for c in cpus)}), "
        f"peak RSS {cli['process']['peak_rss_mb']:.1f} MB, wall {cli['wall_s']:.2f} s, exit 0",
        flush=True,
    )
    if "per_object_latency_0ms" in out:
        g0, g30 = out["per_object_latency_0ms"], out["per_object_latency_30ms"]
        print(
            f"    one GET per object (10 threads): {g0['requests']:,} requests "
            f"({g0['requests'] / p0['requests']:.0f}x), wall {g0['wall_s']:.2f} s at 0 ms / "
            f"{g30['wall_s']:.2f} s at 30 ms",
            flush=True,
        )
    return out


# -- apply ----------------------------------------------------------------------------------------
def apply_creates(
    url: str, tmp: Path, creates: int, rate: float, fault_rate: float
) -> dict[str, Any]:
    """Apply `creates` creates (products with two prices each) from an empty account."""
    products = math.ceil(creates / 3)
    config = tmp / f"apply-{products}.yaml"
    if not config.exists():
        config.write_text(generated_config(products), encoding="utf-8")
    control(url, "reset")
    remote = connect(DEMO_KEY, url)
    plan = build_plan(remote, str(config))
    control(url, "config", {"fault_rate": fault_rate, "fault_kinds": ["429"], "seed": 14})
    executor = Executor(remote, parallelism=8, rate_limit=rate)
    wall, cpu = time.perf_counter(), time.process_time()
    report = executor.run(plan)
    elapsed, cpu = time.perf_counter() - wall, time.process_time() - cpu
    control(url, "config", {"fault_rate": 0})
    statuses = Counter(r["status"] for r in requests_log(url) if r["method"] == "POST")
    again = build_plan(connect(DEMO_KEY, url), str(config))
    health = json.loads(
        __import__("urllib.request").request.urlopen(f"{url}/_emulator/health").read()
    )
    ops = len(plan.changes)
    achieved = ops / elapsed
    result = {
        "operations": ops,
        "configured_rate": None if math.isinf(rate) else rate,
        "injected_429_rate": fault_rate,
        "wall_s": round(elapsed, 2),
        "client_cpu_s": round(cpu, 2),
        "achieved_ops_per_s": round(achieved, 1),
        "achieved_over_configured": None if math.isinf(rate) else round(achieved / rate, 3),
        "http_429": statuses.get(429, 0),
        "write_requests": sum(statuses.values()),
        "failed": report.count("failed") + report.count("skipped"),
        "left_to_do_after": len(again.changes),
        "duplicates": health["objects"].get("products", 0)
        - products
        + health["objects"].get("prices", 0)
        - 2 * products,
        "limiter_halvings": executor.limiter.decreases,
    }
    shown = "none" if math.isinf(rate) else f"{rate:g}/s"
    print(
        f"apply of {ops:>6,} creates, limit {shown:>6}, {fault_rate:.0%} 429s injected: "
        f"{achieved:7.1f} ops/s"
        + ("" if math.isinf(rate) else f" ({achieved / rate:.1%} of the limit)")
        + f", {result['http_429']} x 429, {result['failed']} failed, "
        f"{result['duplicates']} duplicates, client CPU {cpu:.2f} s",
        flush=True,
    )
    return result


def apply_against_enforced(url: str, tmp: Path, rate: float, enforced: float) -> dict[str, Any]:
    products = 100
    config = tmp / "enforced.yaml"
    config.write_text(generated_config(products), encoding="utf-8")
    control(url, "reset")
    remote = connect(DEMO_KEY, url)
    plan = build_plan(remote, str(config))
    control(url, "config", {"rate_limit": enforced})
    executor = Executor(remote, parallelism=8, rate_limit=rate)
    wall = time.perf_counter()
    report = executor.run(plan)
    elapsed = time.perf_counter() - wall
    log = requests_log(url)
    control(url, "config", {"rate_limit": 0})
    writes = [r for r in log if r["method"] == "POST"]
    result = {
        "operations": len(plan.changes),
        "configured_rate": rate,
        "enforced_rate": enforced,
        "wall_s": round(elapsed, 2),
        "achieved_ops_per_s": round(len(plan.changes) / elapsed, 1),
        "http_429": sum(1 for r in writes if r["status"] == 429),
        "failed": report.count("failed") + report.count("skipped"),
        "limiter_halvings": executor.limiter.decreases,
    }
    print(
        f"apply of {len(plan.changes)} creates at {rate:g}/s against an account enforcing "
        f"{enforced:g}/s: {result['achieved_ops_per_s']} ops/s, {result['http_429']} x 429, "
        f"{result['failed']} failed",
        flush=True,
    )
    return result


def plain_threads(url: str, threads: int = 8, total: int = 4000) -> dict[str, Any]:
    """What the emulator serves to `threads` plain client threads creating products."""
    control(url, "reset")
    client = connect(DEMO_KEY, url)
    counter = iter(range(total))
    lock = threading.Lock()

    def work() -> None:
        while True:
            with lock:
                n = next(counter, None)
            if n is None:
                return
            client.client.raw_request("post", "/v1/products", name=f"plain {n}")

    wall = time.perf_counter()
    workers = [threading.Thread(target=work) for _ in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    rate = total / (time.perf_counter() - wall)
    print(f"{threads} plain client threads creating products: {rate:.1f} requests/s", flush=True)
    return {"threads": threads, "requests": total, "requests_per_s": round(rate, 1)}


def bench_apply(url: str, tmp: Path, creates: int) -> dict[str, Any]:
    out: dict[str, Any] = {"plain_8_threads": plain_threads(url)}
    runs = []
    for fault in (0.0, 0.1):
        runs.append(apply_creates(url, tmp, creates, math.inf, fault))
        # At 20/s, 10,000 creates take 8 minutes: the limited runs use 60 s worth of creates.
        runs.append(apply_creates(url, tmp, min(creates, 1200), 20, fault))
        runs.append(apply_creates(url, tmp, min(creates, 6000), 100, fault))
    out["creates"] = runs
    unlimited = runs[0]["achieved_ops_per_s"]
    out["unlimited_over_plain_8_threads"] = round(
        unlimited / out["plain_8_threads"]["requests_per_s"], 3
    )
    print(
        f"no-limit apply / 8 plain threads: {out['unlimited_over_plain_8_threads']:.0%}", flush=True
    )
    out["enforced_25"] = [apply_against_enforced(url, tmp, r, 25) for r in (20, 50, 100)]
    return out


# -- the scheduler ---------------------------------------------------------------------------------
class StubExecutor(Executor):
    """No request: every change succeeds at once, so only scheduling (and the pool) costs CPU."""

    def _call(self, change: Change) -> Result:
        stripe_id = f"id_{change.key}"
        produces = change.produces
        if produces:
            with self.ids_lock:
                self.ids[produces] = stripe_id
        return Result(change, "done", stripe_id=stripe_id)


class InlinePool:
    """A stand-in for the executor's thread pool that runs each call at once: what is left is
    the scheduler's own work (ready heap, dependency counters, results)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        pass

    def __enter__(self) -> InlinePool:
        return self

    def __exit__(self, *exc: object) -> None:
        pass

    def submit(self, fn: Any, *args: Any) -> None:
        fn(*args)  # the executor's workers report on its queue; it never reads the future


def bench_scheduler(operations: int) -> dict[str, Any]:
    import billing_sync.apply.execute as execute

    products = math.ceil(operations / 3)
    cpu = time.process_time()
    plan = make_plan(desired_state(load_text(generated_config(products))), Existing())
    plan_cpu = time.process_time() - cpu
    remote = connect(DEMO_KEY, "http://127.0.0.1:9")
    n = len(plan.changes)
    out: dict[str, Any] = {"operations": n, "plan_cpu_s": round(plan_cpu, 2)}
    # The executor's pool is swapped for the inline one by name, as a test double would be.
    for name, pool in (("thread_pool", ThreadPoolExecutor), ("inline", InlinePool)):
        setattr(execute, "ThreadPoolExecutor", pool)  # noqa: B010
        try:
            wall, cpu = time.perf_counter(), time.process_time()
            report = StubExecutor(remote, parallelism=4, rate_limit=math.inf).run(plan)
            run_cpu, run_wall = time.process_time() - cpu, time.perf_counter() - wall
        finally:
            setattr(execute, "ThreadPoolExecutor", ThreadPoolExecutor)  # noqa: B010
        assert report.ok
        out[name] = {
            "cpu_s": round(run_cpu, 3),
            "wall_s": round(run_wall, 3),
            "cpu_us_per_operation": round(1e6 * run_cpu / n, 2),
        }
    print(
        f"scheduler: {n:,} operations, requests stubbed: {out['inline']['cpu_s']:.2f} s CPU "
        f"({out['inline']['cpu_us_per_operation']:.1f} us/operation) for the scheduling alone, "
        f"{out['thread_pool']['cpu_s']:.2f} s with the 4-thread pool's hand-offs; planning "
        f"those creates took {plan_cpu:.2f} s CPU",
        flush=True,
    )
    return out


# -- config -----------------------------------------------------------------------------------------
def bench_config(n: int, tmp: Path) -> dict[str, Any]:
    shape = Shape.of(n)
    config = tmp / f"validate-{n}.yaml"
    config.write_text(config_text(shape, synthetic_ids(shape)), encoding="utf-8")
    size = config.stat().st_size
    code = (
        "import sys, time; from billing_sync.config.loader import load_config; "
        "c = time.process_time(); load_config(sys.argv[1]); "
        "print(time.process_time() - c)"
    )

    def validate(env: dict[str, str]) -> tuple[int, str]:
        proc = subprocess.run(
            [sys.executable, "-c", code, str(config)],
            capture_output=True,
            text=True,
            env={**os.environ, **env},
            cwd=ROOT,
        )
        return proc.returncode, (proc.stdout.strip() or proc.stderr.strip().splitlines()[-1])

    default_rc, default_out = validate({})
    raised_rc, raised_out = validate({MAX_CONFIG_ENV: str(size + 1)})
    result = {
        "managed_objects": shape.managed,
        "config_bytes": size,
        "default_limit_accepts": default_rc == 0,
        "default_limit_message": None if default_rc == 0 else default_out,
        "load_config_cpu_s": round(float(raised_out), 2) if raised_rc == 0 else None,
    }
    print(
        f"validate of a {shape.managed:,}-object billing.yaml ({size / 2**20:.1f} MiB): "
        f"{result['load_config_cpu_s']} s CPU with {MAX_CONFIG_ENV}; default limit "
        + ("accepts it" if default_rc == 0 else f"refuses it: {default_out}"),
        flush=True,
    )
    return result


# -- main --------------------------------------------------------------------------------------------
def machine() -> dict[str, Any]:
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
        mem_kb = int(Path("/proc/meminfo").read_text().split()[1])
    except OSError:
        mem_kb = 0
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=ROOT
    ).stdout.strip()
    return {
        "host": socket.gethostname(),
        "cpu": model,
        "cores": os.cpu_count(),
        "memory_gib": round(mem_kb / 2**20, 1),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "commit": commit,
    }


def marginal_cpu(runs: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """CPU per object between successive sizes of the command itself (median runs): what each
    further object costs once the fixed part (interpreter start-up and imports, ~0.3 s) is
    paid. Flat from 1,000 to 100,000 objects is the issue's target; the CPU of one run divided
    by its objects hides it at small sizes."""

    def cpu(run: dict[str, Any]) -> float:
        return process_cpu(run["cli_plan_latency_0ms"])

    ordered = sorted(runs.values(), key=lambda r: r["managed_objects"])
    out = []
    for small, large in itertools.pairwise(ordered):
        objects = large["managed_objects"] - small["managed_objects"]
        ms = round(1000 * (cpu(large) - cpu(small)) / objects, 4)
        out.append(
            {"from": small["managed_objects"], "to": large["managed_objects"], "ms_per_object": ms}
        )
        print(
            f"no-op plan, CPU per further object from {small['managed_objects']:,} to "
            f"{large['managed_objects']:,} objects: {ms:.3f} ms",
            flush=True,
        )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000,100000")
    parser.add_argument("--only", default="noop,apply,scheduler,config")
    parser.add_argument("--creates", type=int, default=10_000)
    parser.add_argument("--per-object-max", type=int, default=10_000)
    parser.add_argument("--scheduler-operations", type=int, default=100_000)
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",") if s]
    only = set(args.only.split(","))
    started = datetime.datetime.now(datetime.UTC)
    results: dict[str, Any] = {
        "date": started.isoformat(timespec="seconds"),
        "command": " ".join(["python -m benchmarks.run", *sys.argv[1:]]),
        "machine": machine(),
    }
    with tempfile.TemporaryDirectory() as tmp_name, running_emulator() as url:
        tmp = Path(tmp_name)
        print(f"billing-sync benchmarks against the emulator at {url}\n", flush=True)
        if "scheduler" in only:
            results["scheduler"] = bench_scheduler(args.scheduler_operations)
        if "config" in only:
            results["config"] = bench_config(max(sizes), tmp)
        if "noop" in only:
            results["noop_plan"] = {
                str(n): bench_noop(url, n, tmp, args.per_object_max) for n in sizes
            }
            results["noop_marginal_cpu"] = marginal_cpu(results["noop_plan"])
        if "apply" in only:
            results["apply"] = bench_apply(url, tmp, args.creates)
    results["total_wall_s"] = round(
        (datetime.datetime.now(datetime.UTC) - started).total_seconds(), 1
    )
    out = (
        Path(args.out)
        if args.out
        else RESULTS / f"{started.strftime('%Y%m%dT%H%M%SZ')}-{results['machine']['host']}.json"
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    print(f"\nresults: {out}")


if __name__ == "__main__":
    main()
