"""Helpers shared by every test layer (unit, integration, e2e).

- `EmulatorHandle`: talks to a running emulator over HTTP (control endpoints and a client).
- `start_emulator()`: the emulator server in a daemon thread of this process (port 0).
- `run_cli(...)`: the CLI's `main(argv)` called in-process, output captured; returns a
  `CliResult` shaped like `subprocess.CompletedProcess` (`.returncode`, `.stdout`, `.stderr`).
- `run_cli_process(...)`: the same command as a real `python -m billing_sync` subprocess
  (e2e only: real exit codes, kill -9, concurrent processes, env read at import time).
- `everything`, `duplicates`: inspect the emulator's account.
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import os
import subprocess
import sys
import threading
import traceback
import urllib.request
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import stripe

from billing_sync.config.loader import load_config
from billing_sync.metadata import LOCK_PRODUCT_ID
from billing_sync.plan.plan import Plan
from billing_sync.plan.planner import plan
from billing_sync.remote.client import API_VERSION
from billing_sync.resources import KINDS
from billing_sync.resources.base import Existing
from billing_sync.resources.read import desired_state

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "billing.yaml"
BAD_CONFIGS = ROOT / "tests" / "fixtures" / "config" / "bad"
EMULATOR_API_KEY = "sk_test_emulator_0000000000000000"

# Variables a CLI run must not inherit from the developer's shell or CI.
_SCRUBBED_PREFIXES = ("STRIPE_", "BILLING_SYNC_")


# --------------------------------------------------------------------------- the emulator


def _control(url: str, method: str, name: str, body: dict[str, Any] | None = None) -> Any:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(
        f"{url}/_emulator/{name}",
        data=data if method == "POST" else None,
        method=method,
        headers={"Content-Type": "application/json"},
    )
    if method == "POST" and data is None:
        req.data = b"{}"
    with urllib.request.urlopen(req, timeout=30) as resp:
        return json.loads(resp.read())


@dataclass
class EmulatorHandle:
    url: str
    api_key: str = EMULATOR_API_KEY

    def reset(self) -> None:
        _control(self.url, "POST", "reset", {})

    def requests(self) -> list[dict[str, Any]]:
        """Every Stripe request since the last reset: method, path, params, status, key."""
        result: list[dict[str, Any]] = _control(self.url, "GET", "requests")
        return result

    def writes(self) -> list[dict[str, Any]]:
        return [r for r in self.requests() if r["method"] in ("POST", "DELETE")]

    def configure(self, **kw: Any) -> dict[str, Any]:
        """latency_ms, fault_rate, fault_kinds, fail_nth (int, list or {n: kind}), fail_kind, seed."""
        result: dict[str, Any] = _control(self.url, "POST", "config", kw)
        return result

    def seed(self, **kw: Any) -> dict[str, Any]:
        result: dict[str, Any] = _control(self.url, "POST", "seed", kw)
        return result

    def control(self, name: str, body: dict[str, Any] | None = None) -> Any:
        """POST /_emulator/NAME (a test control, e.g. `checkout_sessions/cs_.../complete`);
        a refusal raises urllib.error.HTTPError."""
        return _control(self.url, "POST", name, body or {})

    def health(self) -> dict[str, Any]:
        result: dict[str, Any] = _control(self.url, "GET", "health")
        return result

    def client(self, api_key: str | None = None, **kw: Any) -> stripe.StripeClient:
        return stripe.StripeClient(
            api_key or self.api_key,
            stripe_version=API_VERSION,
            base_addresses={"api": self.url},
            max_network_retries=kw.pop("max_network_retries", 0),
            **kw,
        )


@contextlib.contextmanager
def start_emulator() -> Iterator[str]:
    """The emulator's HTTP server on 127.0.0.1 (port 0) in a daemon thread; yields its URL.

    Same HTTP as `stripe-emulator serve`, without a process start.
    """
    from stripe_emulator.server import start_server

    server, url = start_server("127.0.0.1", 0)
    try:
        yield url
    finally:
        server.shutdown()
        server.server_close()


# --------------------------------------------------------------------------- running the CLI


@dataclass(frozen=True)
class CliResult:
    """What `subprocess.run(..., text=True, capture_output=True)` would have returned."""

    args: list[str]
    returncode: int
    stdout: str
    stderr: str


def cli_env(
    emulator: EmulatorHandle | None,
    *,
    api_key: str | None = None,
    api_base: str | None = None,
    env: dict[str, str] | None = None,
) -> dict[str, str]:
    """The environment of a CLI run: ours without STRIPE_*/BILLING_SYNC_*, plus the emulator's
    key and base (when given) and `env`."""
    full = {k: v for k, v in os.environ.items() if not k.startswith(_SCRUBBED_PREFIXES)}
    if emulator is not None:
        full["STRIPE_API_KEY"] = api_key or emulator.api_key
        full["STRIPE_API_BASE"] = api_base or emulator.url
        # Applies are paced from their first write (20/s by default in test mode): tests that
        # are not about the rate limit run at 1,000/s (tests/integration/test_rate_limit.py is).
        full["BILLING_SYNC_RATE_LIMIT"] = "1000"
    full.update(env or {})
    return full


class _Text(io.StringIO):
    """A captured text stream that, like a pipe, is not a terminal and has an encoding."""

    encoding = "utf-8"

    def isatty(self) -> bool:
        return False


_cli_lock = threading.Lock()


def _exit_code(code: object, stderr: io.StringIO) -> int:
    """The process exit status Python gives `sys.exit(code)`."""
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    stderr.write(f"{code}\n")
    return 1


def run_cli(
    emulator: EmulatorHandle | None,
    *args: str,
    cwd: Path | None = None,
    api_key: str | None = None,
    api_base: str | None = None,
    env: dict[str, str] | None = None,
) -> CliResult:
    """`billing-sync ARGS` in this process: `billing_sync.cli.main(argv)` with the environment of
    `cli_env`, `cwd` (default: the repository root), stdin that is not a terminal (and empty),
    and stdout/stderr captured.

    The exit code is the one the `billing-sync` script would exit with (`sys.exit(main())`); an
    unexpected exception becomes exit 1 with its traceback on stderr, as in a real process.
    Process-wide state is swapped for the call, so it is not thread-safe: concurrent runs belong
    in e2e (`run_cli_process`).
    """
    full_env = cli_env(emulator, api_key=api_key, api_base=api_base, env=env)
    if "STRIPE_LOG" in full_env:
        raise ValueError(
            "stripe reads STRIPE_LOG once, when it is imported: use run_cli_process for it"
        )
    from billing_sync.cli import main

    argv = list(args)
    out, err = _Text(), _Text()
    if not _cli_lock.acquire(blocking=False):
        raise RuntimeError("run_cli is not reentrant: use run_cli_process for concurrent runs")
    saved_env = dict(os.environ)
    saved_cwd = os.getcwd()
    saved_streams = sys.stdin, sys.stdout, sys.stderr
    try:
        os.environ.clear()
        os.environ.update(full_env)
        os.chdir(cwd or ROOT)
        sys.stdin, sys.stdout, sys.stderr = _Text(), out, err
        try:
            returned = main(argv)
            code = _exit_code(returned, err)
        except SystemExit as exc:
            code = _exit_code(exc.code, err)
        except Exception:
            traceback.print_exc(file=err)
            code = 1
    finally:
        sys.stdin, sys.stdout, sys.stderr = saved_streams
        os.chdir(saved_cwd)
        os.environ.clear()
        os.environ.update(saved_env)
        _cli_lock.release()
    return CliResult(argv, code, out.getvalue(), err.getvalue())


def run_cli_process(
    emulator: EmulatorHandle | None,
    *args: str,
    cwd: Path | None = None,
    api_key: str | None = None,
    api_base: str | None = None,
    timeout: float = 120,
    env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """`python -m billing_sync ARGS` as a real process (stdin /dev/null), environment as in
    `run_cli`."""
    return subprocess.run(
        [sys.executable, "-m", "billing_sync", *args],
        cwd=cwd or ROOT,
        env=cli_env(emulator, api_key=api_key, api_base=api_base, env=env),
        text=True,
        capture_output=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
        check=False,
    )


def write_config(tmp_path: Path, text: str, name: str = "billing.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


# --------------------------------------------------------------------------- the account


def everything(emulator: EmulatorHandle) -> dict[str, list[dict[str, Any]]]:
    """Every object of every kind the registry lists (kind plural -> objects), read with its
    list reads (active and archived prices and features, subscriptions of any status), through
    the raw client; a kind listed per parent object (product features) is left out."""
    client = emulator.client()

    def all_of(path: str, params: Mapping[str, Any]) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        cursor = None
        while True:
            p = {k: v for k, v in params.items() if k != "expand"} | {"limit": 100}
            if cursor:
                p["starting_after"] = cursor
            page = client.raw_request("get", path, **p).data
            out += page["data"]
            if not page["has_more"]:
                return out
            cursor = page["data"][-1]["id"]

    return {
        kind.plural: [o for read in kind.list_reads for o in all_of(read.path, read.params)]
        for kind in KINDS
        if kind.list_reads
    }


def duplicates(emulator: EmulatorHandle) -> dict[str, list[str]]:
    """Managed keys that more than one live object claims (must always be empty). A meter has
    no metadata: its key is its event name."""
    found: dict[str, list[str]] = {}
    objs = everything(emulator)
    for kind, items in objs.items():
        live = [
            o
            for o in items
            if o.get("active", True)
            and o.get("status") not in ("canceled", "incomplete_expired", "inactive")
        ]
        keys = Counter(
            o["event_name"]
            if kind == "meters"
            else (o.get("metadata") or {}).get("billing_sync_key")
            for o in live
        )
        dup = [k for k, n in keys.items() if k and n > 1]
        if dup:
            found[kind] = dup
    return found


# --------------------------------------------------------------------------- the example


def _example_plan() -> Plan:
    """The example planned in-process against an empty account (no request is made)."""
    return plan(EXAMPLE_DESIRED, Existing())


EXAMPLE_DESIRED = desired_state(load_config(EXAMPLE))
# Objects the example declares, per kind (the registry's plural: the keys of validate's JSON).
EXAMPLE_COUNTS: dict[str, int] = {k.plural: len(EXAMPLE_DESIRED.of(k)) for k in KINDS}
# On an empty account every declared object is created once: the plan's "N to create".
EXAMPLE_CREATES = sum(EXAMPLE_COUNTS.values())
EXAMPLE_PLAN = _example_plan()
# Writes the example needs on an empty account: one per change of its plan (the creates and the
# products' default prices), the lock's create and release not counted.
EXAMPLE_WRITES = len(EXAMPLE_PLAN.changes)
# The list reads of one account read (the registry's: one request each on an empty account, and
# a kind listed per parent object, product features, reads nothing when there is no parent).
LIST_READS: tuple[tuple[str, tuple[tuple[str, str], ...]], ...] = tuple(
    (read.path, tuple(sorted((k, str(v)) for k, v in read.params.items())))
    for kind in KINDS
    for read in kind.list_reads
)
# Requests before the first catalog write of an apply on an empty account: the plan's reads,
# the lock's create, the same reads again.
READS_BEFORE_FIRST_WRITE = len(LIST_READS) + 1 + len(LIST_READS)


def expected_list_requests(seeded: Mapping[str, int]) -> Counter[str]:
    """Requests per path that one account read costs through the registry's list reads, 100
    objects a page: the first read of a path finds `seeded[path]` objects (active ones), any
    further read of the same path (archived ones) none; an empty list is still one request."""
    out: Counter[str] = Counter()
    for kind in KINDS:
        for read in kind.list_reads:
            found = 0 if read.path in out else seeded.get(read.path, 0)
            out[read.path] += max(1, math.ceil(found / 100))
    return out


def validate_summary(counts: Mapping[str, int]) -> str:
    """validate's count list for `counts` (kind plural -> number; 0 when absent), every kind of
    the registry in its order: `1 product, 0 meters, 2 prices, ...`."""
    words = []
    for kind in KINDS:
        n = counts.get(kind.plural, 0)
        words.append(f"{n} {(kind.name if n == 1 else kind.plural).replace('_', ' ')}")
    return ", ".join(words)


def converged(emulator: EmulatorHandle) -> None:
    """The example billing.yaml is fully applied: plan is empty, nothing is duplicated."""
    res = run_cli(emulator, "plan", "-c", str(EXAMPLE), "--detailed-exitcode")
    assert res.returncode == 0, res.stdout + res.stderr
    assert duplicates(emulator) == {}
    objs = everything(emulator)
    # An apply cut off before releasing its lock leaves it; the next apply takes it over.
    objs["products"] = [p for p in objs["products"] if p["id"] != LOCK_PRODUCT_ID]
    # Exactly the declared objects, counted in the emulator (archived ones included: a cut-off
    # apply must never leave a stray version behind).
    assert {kind: len(found) for kind, found in objs.items()} == {
        kind: EXAMPLE_COUNTS[kind] for kind in objs
    }


# --------------------------------------------------------------------------- config fixtures


def expected_messages() -> dict[str, list[str]]:
    """`expected.txt`: `== NAME.yaml` followed by the exact message lines of that fixture."""
    table: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in (BAD_CONFIGS / "expected.txt").read_text(encoding="utf-8").splitlines():
        if line.startswith("== "):
            current = table.setdefault(line[3:], [])
        elif line and not line.startswith("#") and current is not None:
            current.append(line)
    return table
