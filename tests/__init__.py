"""billing-sync tests: layer tests per module and end-to-end tests against the emulator."""
