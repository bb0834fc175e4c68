"""billing-sync tests: unit/ (in-process), integration/ (CLI main(argv) and the emulator over
HTTP, both in-process), e2e/ (a few real processes). Shared helpers: tests/helpers.py."""
