"""A local, stateful, strict Stripe API emulator served over HTTP for the demo and tests.

Layout:
- `server.py`: the HTTP server (stdlib ThreadingHTTPServer): API keys, idempotency, the
  request log, injected latency/faults, `/_emulator/` controls, `--state` persistence;
  `start_server(host, port) -> (server, url)` runs one in-process (benchmarks).
- `framework.py`: how to add a resource (read its docstring): `register_type`, `@route`,
  strict params, the store and its lock, ids, `ApiError`, list/pagination/expand helpers.
- `params.py`: Stripe's bracket form encoding and validation against `stripe.params` types.
- `resources/`: one module per Stripe resource, imported automatically.
- `seed.py`: `POST /_emulator/seed` (a large account without HTTP per object).
- `cli.py`: `stripe-emulator serve` (also `python -m stripe_emulator serve`).
"""

from __future__ import annotations

from typing import Any

__all__ = ["start_server"]


def __getattr__(name: str) -> Any:
    if name == "start_server":
        from stripe_emulator.server import start_server

        return start_server
    raise AttributeError(name)
