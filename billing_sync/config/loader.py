"""Loads billing.yaml into BillingConfig; every error is located to file, line and column."""

from __future__ import annotations

import os
from pathlib import Path

import yaml
from pydantic import ValidationError

from billing_sync.config.models import BillingConfig
from billing_sync.errors import ConfigError, ConfigIssue

DEFAULT_CONFIG = "billing.yaml"


def config_path(explicit: str | None) -> Path:
    """-c FILE, else $BILLING_SYNC_CONFIG, else ./billing.yaml."""
    return Path(explicit or os.environ.get("BILLING_SYNC_CONFIG") or DEFAULT_CONFIG)


def load_config(path: str | Path) -> BillingConfig:
    """Parse and validate a billing.yaml file, raising ConfigError with every issue found."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as err:
        raise ConfigError(
            [ConfigIssue(str(p), 1, 1, "", f"cannot read file: {err.strerror}")]
        ) from None
    return load_text(text, str(p))


def load_text(text: str, filename: str = DEFAULT_CONFIG) -> BillingConfig:
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        raise ConfigError(
            [ConfigIssue(filename, line, col, "", f"YAML syntax error: {err}")]
        ) from None
    try:
        return BillingConfig.model_validate(data or {})
    except ValidationError as err:
        issues = [
            ConfigIssue(filename, 1, 1, ".".join(str(x) for x in e["loc"]), e["msg"])
            for e in err.errors()
        ]
        raise ConfigError(issues) from None
