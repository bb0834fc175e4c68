"""Shared fixtures and the layer markers.

- Markers: every test is marked by where it lives: `tests/integration/` -> `integration`,
  `tests/e2e/` -> `e2e`, anything else (`tests/unit/` and the planner tests still at the top
  of `tests/`) -> `unit`. `make test-fast` runs `-m "not e2e"`.
- `emulator_server` (session, one per xdist worker): the emulator's HTTP server in a daemon
  thread of the test process, on 127.0.0.1 and a free port; yields its URL.
- `emulator` (function): resets that emulator and returns an `EmulatorHandle` with `.url`,
  `.api_key`, `.reset()`, `.requests()`, `.writes()`, `.configure(**kw)`, `.seed(**kw)`,
  `.health()`, `.client()`.
- `private_emulator` (function): a fresh in-process emulator of the test's own, for a test
  that may leave requests behind (a killed client's) that must not reach the next test.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

from tests.helpers import EmulatorHandle, start_emulator

# No timed assertions (speed lives in `make bench`): Hypothesis's per-example deadline and its
# too-slow health check are timings, which fail on a loaded CI machine and prove nothing.
settings.register_profile(
    "billing-sync", deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile("billing-sync")

TESTS = Path(__file__).resolve().parent
LAYERS = ("unit", "integration", "e2e")


def layer_of(path: Path) -> str:
    parts = path.resolve().relative_to(TESTS).parts
    return parts[0] if len(parts) > 1 and parts[0] in LAYERS else "unit"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        item.add_marker(getattr(pytest.mark, layer_of(item.path)))


@pytest.fixture(scope="session")
def emulator_server() -> Iterator[str]:
    """The URL of this session's (or xdist worker's) in-process emulator."""
    with start_emulator() as url:
        yield url


@pytest.fixture
def emulator(emulator_server: str) -> EmulatorHandle:
    """A freshly reset emulator (state, request log, idempotency keys, faults)."""
    handle = EmulatorHandle(emulator_server)
    handle.reset()
    return handle


@pytest.fixture
def private_emulator() -> Iterator[EmulatorHandle]:
    """An emulator only this test uses, stopped at its end (its stray requests die with it)."""
    with start_emulator() as url:
        yield EmulatorHandle(url)
