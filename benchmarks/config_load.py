"""CPU to load a generated billing.yaml of 10,000 products (20,000 prices): `make bench` prints it.

Printed, never asserted: the YAML pass (`source.parse`) and the whole `load_config`
(parse + pydantic + cross-object checks) are timed separately, with the parser in use.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from billing_sync.config import source
from billing_sync.config.loader import load_config, read_source


def generated_config(products: int) -> str:
    """`products` products with a monthly and a yearly price each (~150 bytes per product)."""
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


def bench_config_load(products: int = 10_000) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "billing.yaml"
        path.write_text(generated_config(products), encoding="utf-8")
        size = path.stat().st_size
        text = read_source(path)[1]
        cpu = time.process_time()
        source.parse(text, str(path))
        parse_cpu = time.process_time() - cpu
        cpu = time.process_time()
        cfg = load_config(path)
        load_cpu = time.process_time() - cpu
    parser = source.PARSER
    print(
        f"config load of {len(cfg.products)} products / {2 * len(cfg.products)} prices "
        f"({size / 1e6:.1f} MB, {parser} YAML parser): YAML pass {parse_cpu:5.2f} s CPU, "
        f"load_config {load_cpu:5.2f} s CPU"
    )


if __name__ == "__main__":
    bench_config_load()
