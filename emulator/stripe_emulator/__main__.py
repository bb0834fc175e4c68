"""`python -m stripe_emulator serve ...` (same as the `stripe-emulator` script)."""

import sys

from stripe_emulator.cli import main

sys.exit(main())
