"""The emulator is an independent oracle: its source names nothing from billing_sync (the same
rule as the `emulator-independent` import-linter contract, checked here on the source text so
that a lazy or dynamic import cannot slip past)."""

from __future__ import annotations

import re
from pathlib import Path

import stripe_emulator

IMPORT_RE = re.compile(r"^\s*(from|import)\s+billing_sync\b|import_module\(\s*['\"]billing_sync")


def test_emulator_source_imports_nothing_from_billing_sync() -> None:
    package = Path(stripe_emulator.__file__).resolve().parent
    sources = sorted(package.rglob("*.py"))
    assert len(sources) > 10
    offenders = [
        f"{path.relative_to(package)}:{n}: {line.strip()}"
        for path in sources
        for n, line in enumerate(path.read_text().splitlines(), 1)
        if IMPORT_RE.search(line)
    ]
    assert offenders == []


def test_emulator_is_its_own_distribution() -> None:
    package = Path(stripe_emulator.__file__).resolve().parent
    assert package.parent.name == "emulator"
    assert (package.parent / "pyproject.toml").is_file()
