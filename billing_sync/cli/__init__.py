"""The click command line, on top of every layer: parse, call a layer, print, pick the exit code.

- context.py: the root group `cli`, its global options (AppContext) and shared options.
- commands.py: the core commands (validate, schema, plan, drift, apply, ids, status, import).
- payments.py: the `payments` group over billing_sync.payments.
- app.py: `main()`, which registers the `payments` group and maps errors to
  exit codes.
"""

from billing_sync.cli.app import main
from billing_sync.cli.context import AppContext, cli

__all__ = ["AppContext", "cli", "main"]
