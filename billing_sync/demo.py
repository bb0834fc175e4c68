"""`make demo`: validate, plan, apply and re-plan the example billing.yaml against a private emulator."""

from __future__ import annotations

import os
import re
import select
import subprocess
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import IO

DEMO_KEY = "sk_test_demo_billing_sync_emulator"
URL_RE = re.compile(r"listening on (http://\S+)")


@contextmanager
def running_emulator(
    extra: Sequence[str] = (), *, log: IO[str] | None = None, start_timeout: float = 60
) -> Iterator[str]:
    """Start `stripe-emulator serve --port 0` on 127.0.0.1 and yield its URL.

    Its stderr goes to `log` when given (else it follows its first line on stdout). Used by the
    demo, the benchmarks and the test fixtures alike.
    """
    proc = subprocess.Popen(
        [sys.executable, "-m", "stripe_emulator", "serve", "--port", "0", *extra],
        stdout=subprocess.PIPE,
        stderr=log if log is not None else subprocess.STDOUT,
        text=True,
    )
    try:
        assert proc.stdout is not None
        ready, _, _ = select.select([proc.stdout], [], [], start_timeout)
        line = proc.stdout.readline() if ready else ""
        match = URL_RE.search(line)
        if not match:
            proc.kill()
            rest = "" if log is not None else proc.stdout.read()
            where = f"; see {log.name}" if log is not None else ""
            raise RuntimeError(f"the emulator did not start: {line!r}{rest}{where}")
        yield match.group(1)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def run(step: str, args: list[str], env: dict[str, str], ok: Sequence[int] = (0,)) -> str:
    print(f"\n$ billing-sync {' '.join(args)}    # {step}", flush=True)
    proc = subprocess.run(
        [sys.executable, "-m", "billing_sync", *args],
        env=env,
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,  # progress (stderr) and results (stdout) in the order they came
        check=False,
    )
    sys.stdout.write(proc.stdout)
    sys.stdout.flush()
    if proc.returncode not in ok:
        raise SystemExit(f"demo step failed ({step}): exit {proc.returncode}")
    return proc.stdout


def main() -> None:
    config = os.environ.get("BILLING_SYNC_CONFIG", "billing.yaml")
    if not Path(config).exists():
        raise SystemExit(f"{config} not found: run the demo from the repository root")
    with running_emulator() as url:
        print(
            f"Started the Stripe API emulator at {url} (test-mode key, nothing leaves this machine)"
        )
        env = dict(os.environ, STRIPE_API_KEY=DEMO_KEY, STRIPE_API_BASE=url)
        run("validate the config", ["validate", "-c", config], env)
        run("plan against the empty account", ["plan", "-c", config], env)
        run("apply it", ["apply", "-c", config, "--auto-approve"], env)
        run(
            "plan again: there must be nothing left to do",
            ["plan", "-c", config, "--detailed-exitcode"],
            env,
        )
        run(
            "every declared subscription in Stripe (exit 3 if one were past due, unpaid or missing)",
            ["status", "-c", config, "--fail-on", "past_due,unpaid,missing"],
            env,
        )
        out = run(
            "a one-off payment (idempotent by --reference)",
            [
                "payments",
                "create",
                "--amount-decimal",
                "49.00",
                "--currency",
                "usd",
                "--customer",
                "acme",
                "--reference",
                "demo-order-1",
                "--description",
                "Demo: onboarding workshop",
                "--confirm-with",
                "pm_card_visa",
                "--format",
                "json",
                "-c",
                config,
            ],
            env,
        )
        pi = re.search(r'"id":\s*"(pi_[^"]+)"', out)
        if pi is None:
            raise SystemExit("demo: the payment did not return a PaymentIntent id")
        run("partial refund", ["payments", "refund", pi.group(1), "--amount", "1500"], env)
    print(
        "\nDemo complete: validated, planned, applied, re-planned with no changes, charged and refunded."
    )


if __name__ == "__main__":
    main()
