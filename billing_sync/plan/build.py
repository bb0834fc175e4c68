"""Makes a Plan from a config file and an account: load, read, diff (read-only)."""

from __future__ import annotations

import hashlib
from pathlib import Path

from billing_sync.config.loader import load_config
from billing_sync.plan.diff import diff
from billing_sync.plan.ops import Plan
from billing_sync.remote.client import Remote
from billing_sync.remote.read import read_account
from billing_sync.state import desired_state


def config_hash(path: str | Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def build_plan(remote: Remote, config_file: str) -> Plan:
    """Validate the config first (no request on bad input), then read the account and diff."""
    cfg = load_config(config_file)
    desired = desired_state(cfg)
    existing = read_account(remote)
    return diff(
        desired,
        existing,
        cfg.policies,
        config_file=config_file,
        config_hash=config_hash(config_file),
        account=remote.account_fingerprint,
    )
