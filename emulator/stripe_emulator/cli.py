"""`stripe-emulator serve`: run the Stripe API emulator on a loopback port."""

from __future__ import annotations

import argparse
import math
import signal
import sys
import threading
from collections.abc import Sequence
from types import FrameType


def _non_negative(text: str) -> float:
    value = float(text)
    if not math.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError(f"must be a finite number >= 0, not {text}")
    return value


def _fraction(text: str) -> float:
    value = _non_negative(text)
    if value > 1:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1, not {text}")
    return value


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(
        prog="stripe-emulator", description="A local, stateful Stripe API emulator."
    )
    sub = top.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="serve the emulator until SIGINT/SIGTERM")
    serve.add_argument("--host", default="127.0.0.1", help="loopback only (default 127.0.0.1)")
    serve.add_argument("--port", default=12111, type=int, help="0 picks a free port")
    serve.add_argument(
        "--state",
        dest="state_file",
        default=None,
        metavar="FILE",
        help="load state from FILE on start; save it atomically after each write",
    )
    serve.add_argument("--latency-ms", default=0.0, type=_non_negative)
    serve.add_argument("--fault-rate", default=0.0, type=_fraction)
    serve.add_argument(
        "--rate-limit",
        default=0.0,
        type=_non_negative,
        help="requests per second per API key before 429 (Stripe: 25 in test mode); 0 = off",
    )
    return top


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    return serve(
        host=args.host,
        port=args.port,
        state_file=args.state_file,
        latency_ms=args.latency_ms,
        fault_rate=args.fault_rate,
        rate_limit=args.rate_limit,
    )


def serve(
    *,
    host: str,
    port: int,
    state_file: str | None,
    latency_ms: float,
    fault_rate: float,
    rate_limit: float,
) -> int:
    """Serve until interrupted (SIGINT/SIGTERM exit cleanly, 0); 2 on a refused setting."""
    from stripe_emulator.server import Emulator, EmulatorHTTPServer

    if host not in ("127.0.0.1", "localhost"):
        print(
            "stripe-emulator: error: --host: the emulator only listens on loopback", file=sys.stderr
        )
        return 2
    try:
        emu = Emulator(
            state_file=state_file,
            latency_ms=latency_ms,
            fault_rate=fault_rate,
            rate_limit=rate_limit,
        )
    except (OSError, ValueError, KeyError, TypeError) as err:
        print(
            f"stripe-emulator: error: cannot load the state file {state_file}: {err}",
            file=sys.stderr,
        )
        return 1
    try:
        server = EmulatorHTTPServer((host, port), emu)
    except OSError as err:
        print(f"stripe-emulator: error: cannot listen on {host}:{port}: {err}", file=sys.stderr)
        return 1
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    thread = threading.Thread(
        target=server.serve_forever,
        kwargs={"poll_interval": 0.1},
        name="stripe-emulator",
        daemon=True,
    )
    thread.start()
    print(f"emulator listening on {server.url}", flush=True)
    try:
        while not stop.wait(0.5):
            pass
    finally:
        server.shutdown()
        server.server_close()
        server.emulator.save_state()
    return 0
