"""Saved-plan provenance in one place: the config hash, and how a plan is saved, loaded and checked.

A saved plan is a review artifact, never an instruction: `apply --plan` plans again from the
same config bytes and the live account, and applies only when the recomputed operations are
identical to the saved ones. Nothing in the file (its operations, flags, thresholds, conflicts
or its own checksum) is trusted; every safety input is recomputed.
"""

from __future__ import annotations

import hashlib
import json
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from billing_sync.errors import StalePlanError, UsageError
from billing_sync.plan.plan import FORMAT_VERSION, Plan, Provenance, operations_checksum
from billing_sync.plan.render import render_json

# A plan of 100,000 changes is about 150 MB of JSON; a larger file is not one of ours.
MAX_PLAN_BYTES = 512 * 1024 * 1024


def config_hash(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@dataclass(frozen=True)
class SavedPlan:
    """What a saved plan file says it was made from, and the checksum of its operations."""

    path: str
    provenance: Provenance
    checksum: str  # computed from the file's operations, never read from the file


def save(plan: Plan, path: str | Path) -> None:
    """Write the plan's JSON document atomically (a reader never sees half a plan)."""
    if not plan.provenance.remote_fingerprint:
        # A programming error, not a user's: a saved plan must pin the account it was made from.
        raise ValueError("a plan made without the account's fingerprint (pin=False) is not saved")
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(target.name + ".tmp")
    tmp.write_text(render_json(plan), encoding="utf-8")
    tmp.replace(target)


def _document(path: str | Path) -> dict[str, Any]:
    """The JSON document of a saved plan file, its version and provenance checked."""
    p = Path(path)
    try:
        info = p.stat()
        if not stat.S_ISREG(info.st_mode):
            raise UsageError(f"{path} is not a saved plan (not a regular file)")
        if info.st_size > MAX_PLAN_BYTES:
            raise UsageError(f"{path} is not a saved plan (larger than {MAX_PLAN_BYTES} bytes)")
        data: Any = json.loads(p.read_bytes().decode("utf-8"))
    except OSError as err:
        raise UsageError(f"cannot read plan {path}: {err.strerror or err}") from None
    except (ValueError, RecursionError) as err:  # JSONDecodeError and UnicodeDecodeError included
        reason = "nested too deeply" if isinstance(err, RecursionError) else f"invalid JSON: {err}"
        raise UsageError(f"{path} is not a saved plan ({reason})") from None
    if not isinstance(data, dict) or data.get("format_version") != FORMAT_VERSION:
        raise UsageError(f"{path} is not a billing-sync plan of format_version {FORMAT_VERSION}")
    fields = ("config_file", "config_hash", "remote_fingerprint", "account")
    if not all(isinstance(data.get(f), str) for f in fields):
        raise UsageError(f"{path} is not a valid saved plan (its provenance is not text)")
    if not isinstance(data.get("operations"), list):
        raise UsageError(f"{path} is not a valid saved plan (no list of operations)")
    return data


def load(path: str | Path) -> SavedPlan:
    """A saved plan's provenance and operations checksum, or one clear UsageError."""
    data = _document(path)
    fields = ("config_file", "config_hash", "remote_fingerprint", "account")
    try:
        checksum = operations_checksum(data["operations"])
    except (ValueError, RecursionError):
        raise UsageError(f"{path} is not a valid saved plan (unreadable operations)") from None
    return SavedPlan(str(path), Provenance(*(data[f] for f in fields)), checksum)


def read(path: str | Path) -> Plan:
    """The whole saved plan, for `show` (no API needed), or one clear UsageError.

    The file must re-render to itself: a saved plan edited anywhere, even in a field apply
    recomputes, is refused here as apply would refuse its operations."""
    data = _document(path)
    try:
        return Plan.from_data(data)
    except (ValueError, RecursionError) as err:
        raise UsageError(
            f"{path} is not a plan as billing-sync saved it ({err}): it was edited, or made "
            "by another billing-sync version; run plan again"
        ) from None


def check_fresh(saved: SavedPlan, fresh: Plan, account: str) -> None:
    """Refuse a saved plan made for another account or config, or whose operations are not
    exactly those the config and the account give now."""
    if saved.provenance.account != account:
        raise StalePlanError(f"{saved.path} was made for another Stripe account or API base")
    if fresh.provenance.config_hash != saved.provenance.config_hash:
        raise StalePlanError(
            f"{fresh.provenance.config_file} changed since {saved.path} was made; run plan again"
        )
    if fresh.provenance.remote_fingerprint != saved.provenance.remote_fingerprint:
        raise StalePlanError(
            f"the Stripe account changed since {saved.path} was made; run plan again"
        )
    if fresh.checksum != saved.checksum:
        raise StalePlanError(
            f"the operations in {saved.path} are not the ones billing.yaml and the account give "
            "now (the file was edited, or made by another billing-sync version); nothing was "
            "applied: run plan again and review the new plan"
        )
