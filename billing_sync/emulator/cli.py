"""`billing-sync emulator serve`: run the Stripe API emulator on a loopback port."""

from __future__ import annotations

import signal
import sys
import threading
from types import FrameType

import click


@click.group()
def emulator() -> None:
    """The local Stripe API emulator (for demos and tests)."""


@emulator.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=12111, show_default=True, type=int, help="0 picks a free port.")
@click.option(
    "--state",
    "state_file",
    default=None,
    metavar="FILE",
    help="Load state from FILE on start; save it atomically after each write.",
)
@click.option("--latency-ms", default=0.0, type=float, show_default=True)
@click.option("--fault-rate", default=0.0, type=click.FloatRange(0, 1), show_default=True)
@click.option(
    "--rate-limit",
    default=0.0,
    type=click.FloatRange(0),
    show_default=True,
    help="Requests per second per API key before 429 (Stripe: 25 in test mode); 0 = off.",
)
def serve(
    host: str,
    port: int,
    state_file: str | None,
    latency_ms: float,
    fault_rate: float,
    rate_limit: float,
) -> None:
    """Serve the emulator until interrupted (SIGINT/SIGTERM exit cleanly)."""
    from billing_sync.emulator.server import Emulator, EmulatorHTTPServer

    if host not in ("127.0.0.1", "localhost"):
        raise click.BadParameter("the emulator only listens on loopback", param_hint="--host")
    try:
        emu = Emulator(
            state_file=state_file,
            latency_ms=latency_ms,
            fault_rate=fault_rate,
            rate_limit=rate_limit,
        )
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise click.ClickException(f"cannot load the state file {state_file}: {err}") from err
    try:
        server = EmulatorHTTPServer((host, port), emu)
    except OSError as err:
        raise click.ClickException(f"cannot listen on {host}:{port}: {err}") from err
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
    click.echo(f"emulator listening on {server.url}")
    sys.stdout.flush()
    try:
        while not stop.wait(0.5):
            pass
    finally:
        server.shutdown()
        server.server_close()
        server.emulator.save_state()
