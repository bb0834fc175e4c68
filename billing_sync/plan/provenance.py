"""Saved-plan provenance in one place: the config hash, and how a plan is saved, loaded and checked."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from billing_sync.errors import StalePlanError, UsageError
from billing_sync.plan.graph import PlanGraphError
from billing_sync.plan.plan import FORMAT_VERSION, Plan
from billing_sync.plan.render import render_json


def config_hash(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def save(plan: Plan, path: str | Path) -> None:
    """Write the plan's JSON document atomically (a reader never sees half a plan)."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(target.name + ".tmp")
    tmp.write_text(render_json(plan), encoding="utf-8")
    tmp.replace(target)


def load(path: str | Path) -> Plan:
    """A saved plan, or one clear UsageError saying why the file is not one."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as err:
        raise UsageError(f"cannot read plan {path}: {err.strerror}") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise UsageError(f"{path} is not a saved plan (invalid JSON: {err})") from None
    if not isinstance(data, dict) or data.get("format_version") != FORMAT_VERSION:
        raise UsageError(f"{path} is not a billing-sync plan of format_version {FORMAT_VERSION}")
    try:
        return Plan.from_data(data)
    except PlanGraphError as err:
        raise UsageError(f"{path} is not a valid saved plan ({err})") from None
    except (KeyError, TypeError, ValueError, AttributeError) as err:
        raise UsageError(
            f"{path} is not a valid saved plan ({type(err).__name__}: {err})"
        ) from None


def check_fresh(saved: Plan, fresh: Plan, plan_file: str, account: str) -> None:
    """Refuse a saved plan made for another account, another config, or an account since changed."""
    if saved.provenance.account != account:
        raise StalePlanError(f"{plan_file} was made for another Stripe account or API base")
    if fresh.provenance.config_hash != saved.provenance.config_hash:
        raise StalePlanError(
            f"{fresh.provenance.config_file} changed since {plan_file} was made; run plan again"
        )
    if fresh.provenance.remote_fingerprint != saved.provenance.remote_fingerprint:
        raise StalePlanError(
            f"the Stripe account changed since {plan_file} was made; run plan again"
        )
