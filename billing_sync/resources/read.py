"""Reads the account kind by kind, in registry order, with list endpoints only (about N/100 requests)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from billing_sync.config.models import BillingConfig, Policies
from billing_sync.remote.client import Remote
from billing_sync.remote.pages import list_all
from billing_sync.resources import KINDS
from billing_sync.resources.base import Desired, Existing


def read_account(remote: Remote) -> Existing:
    """Every kind's list reads, normalised; a kind sees the kinds read before it."""

    def pages(path: str, params: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
        return list_all(remote, path, params)

    existing = Existing()
    for kind in KINDS:
        objects = (obj for read in kind.list_reads for obj in pages(read.path, read.params))
        existing = existing.with_snapshot(kind, kind.read(objects, existing, pages))
    return existing


def desired_state(config: BillingConfig, policies: Policies | None = None) -> Desired:
    """billing.yaml -> Desired, every kind through the registry."""
    return Desired(
        {kind.name: kind.desired(config) for kind in KINDS},
        policies if policies is not None else config.policies,
        {kind.name: ignored for kind in KINDS if (ignored := kind.ignored(config))},
    )
