"""`make bench`: requests per plan, planner CPU and memory, and apply throughput against the emulator."""

from __future__ import annotations

import json
import math
import tempfile
import time
import tracemalloc
import urllib.request
from pathlib import Path
from typing import Any

from benchmarks.config_load import bench_config_load
from billing_sync.apply.execute import Executor
from billing_sync.config.loader import load_config
from billing_sync.config.models import Policies
from billing_sync.demo import DEMO_KEY, running_emulator
from billing_sync.plan.planner import build_plan
from billing_sync.plan.planner import plan as make_plan
from billing_sync.remote.client import connect
from billing_sync.resources.read import desired_state, read_account


def control(url: str, name: str, body: dict[str, Any] | None = None) -> Any:
    req = urllib.request.Request(
        f"{url}/_emulator/{name}",
        data=json.dumps(body or {}).encode(),
        method="POST",
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(req, timeout=600) as resp:
        return json.loads(resp.read())


def bench_read(url: str, products: int, prices_per_product: int, customers: int) -> None:
    control(url, "reset")
    control(
        url,
        "seed",
        {
            "products": products,
            "prices_per_product": prices_per_product,
            "customers": customers,
            "subscriptions_per_customer": 1,
        },
    )
    n_prices = products * prices_per_product
    managed = products + n_prices + 2 * customers
    remote = connect(DEMO_KEY, url)
    wall, cpu = time.perf_counter(), time.process_time()
    existing = read_account(remote)
    read_wall, read_cpu = time.perf_counter() - wall, time.process_time() - cpu
    cfg = load_config("billing.yaml")
    policies = Policies(max_destroy_percent=100)
    cpu = time.process_time()
    plan = make_plan(desired_state(cfg, policies), existing)
    diff_cpu = time.process_time() - cpu
    # Memory in a second pass: tracemalloc slows what it watches, so CPU is measured without it.
    tracemalloc.start()
    make_plan(desired_state(cfg, policies), read_account(connect(DEMO_KEY, url)))
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    expected = (
        math.ceil(products / 100)
        + math.ceil(n_prices / 100)
        + 1  # archived prices: none
        + math.ceil(customers / 100)
        + math.ceil(customers / 100)
    )
    print(
        f"plan of {managed:>6} managed objects: {remote.http.total:>4} requests "
        f"(expected ~{expected}; one GET per object would be {managed}), "
        f"read {read_wall:6.2f} s wall / {read_cpu:5.2f} s CPU, "
        f"diff {diff_cpu * 1000:7.1f} ms CPU for {len(plan.changes)} operations, "
        f"peak memory (read + diff) {peak / 1e6:6.1f} MB"
    )


def generated_config(products: int) -> str:
    """A catalog of `products` products with a monthly and a yearly price each."""
    lines = ["version: 1", "products:"]
    for i in range(products):
        lines += [
            f"  p{i}:",
            f"    name: Product {i}",
            "    prices:",
            f"      p{i}-monthly: {{unit_amount: {1000 + i}, currency: usd, recurring: {{interval: month}}}}",
            f"      p{i}-yearly: {{unit_amount: {10000 + i}, currency: usd, recurring: {{interval: year}}}}",
        ]
    return "\n".join(lines) + "\n"


def bench_apply(url: str, config: str, parallelism: int, rate: float) -> None:
    control(url, "reset")
    remote = connect(DEMO_KEY, url)
    plan = build_plan(remote, config)
    reads = remote.http.total
    wall = time.perf_counter()
    report = Executor(remote, parallelism=parallelism, rate_limit=rate).run(plan)
    elapsed = time.perf_counter() - wall
    n = len(report.results)
    print(
        f"apply of {config} ({n} operations, parallelism {parallelism}, rate limit {rate:g}/s): "
        f"{elapsed:5.2f} s, {n / elapsed:6.1f} operations/s, "
        f"{remote.http.total - reads} write requests, ok={report.ok}"
    )


def bench_latency_apply(url: str) -> None:
    control(url, "reset")
    control(url, "config", {"latency_ms": 50})
    for parallelism in (1, 4):
        remote = connect(DEMO_KEY, url)
        control(url, "reset")
        control(url, "config", {"latency_ms": 50})
        plan = build_plan(remote, "billing.yaml")
        wall = time.perf_counter()
        report = Executor(remote, parallelism=parallelism, rate_limit=1000).run(plan)
        elapsed = time.perf_counter() - wall
        print(
            f"apply with 50 ms latency per request, parallelism {parallelism}: {elapsed:5.2f} s "
            f"for {len(report.results)} operations"
        )
    control(url, "config", {"latency_ms": 0})


def main() -> None:
    with running_emulator() as url:
        print(f"billing-sync benchmarks against the emulator at {url}\n")
        bench_config_load(10_000)
        for products, ppp, customers in ((200, 4, 300), (1000, 4, 1000), (2500, 3, 1000)):
            bench_read(url, products, ppp, customers)
        print()
        with tempfile.TemporaryDirectory() as tmp:
            big = Path(tmp) / "catalog-100.yaml"
            big.write_text(generated_config(100))
            bench_apply(url, str(big), parallelism=1, rate=1000)
            bench_apply(url, str(big), parallelism=4, rate=1000)
            bench_apply(url, str(big), parallelism=4, rate=20)
        bench_latency_apply(url)


if __name__ == "__main__":
    main()
