"""The one error hierarchy: the CLI turns any BillingSyncError into one clear line and exit 1."""

from __future__ import annotations

from dataclasses import dataclass


class BillingSyncError(Exception):
    """A foreseeable failure with a message fit for the user; never shown as a traceback."""

    exit_code = 1


@dataclass(frozen=True, order=True)
class ConfigIssue:
    """One problem in billing.yaml, located to file, line and column (1-based)."""

    file: str
    line: int
    column: int
    path: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}:{self.column}"
        return f"{where}: {self.path}: {self.message}" if self.path else f"{where}: {self.message}"


class ConfigError(BillingSyncError):
    """billing.yaml is invalid; carries every issue found, not only the first."""

    def __init__(self, issues: list[ConfigIssue]) -> None:
        self.issues = sorted(issues)
        super().__init__("\n".join(str(i) for i in self.issues))


class UsageError(BillingSyncError):
    """A command was called with options that cannot work together."""


class StripeApiError(BillingSyncError):
    """Stripe (or the emulator) refused a request or could not be reached."""


class LiveModeError(BillingSyncError):
    """A live key was given without --live."""


class RefusedPlanError(BillingSyncError):
    """The plan was computed, but apply refuses it as it stands (exit 3, told apart from errors)."""

    exit_code = 3


class UnsafePlanError(RefusedPlanError):
    """The plan goes beyond a threshold or touches protected objects and its flag was not given."""


class ConflictsError(RefusedPlanError):
    """The plan has conflicts with objects billing-sync does not manage."""


class StalePlanError(BillingSyncError):
    """A saved plan no longer matches billing.yaml or the account it was made from."""
