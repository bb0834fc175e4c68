"""One apply per account at a time: a lock held in the Stripe account itself (billing-sync has no state file).

The lock is an inactive product with a reserved id (`metadata.LOCK_PRODUCT_ID`): creating a
product with a given id is atomic in Stripe (a second create answers `resource_already_exists`),
and its metadata records who holds it, since when and until when (a lease, renewed while the
apply runs). A lock is stale when its lease ran out, or when it was taken on this host by a
process that is gone (kill -9) or by a run of this very process that has ended. A stale lock is
taken over with an update whose idempotency key names the stale run: Stripe accepts one set of
parameters per key, so of two processes taking over the same stale lock exactly one succeeds
(the other gets `idempotency_error`, or 409 while the first is in flight). See
docs/architecture.md, "The apply lock".
"""

from __future__ import annotations

import contextlib
import getpass
import os
import secrets
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import stripe

from billing_sync.errors import BillingSyncError, StripeApiError
from billing_sync.metadata import LOCK_PRODUCT_ID
from billing_sync.remote.client import Remote, describe_stripe_error, with_retries
from billing_sync.remote.pages import request

LEASE_SECONDS = 60
RENEW_EVERY = 20
# After taking over from a process that died on this host, wait this long: requests it had in
# flight may still land (a dead client does not cancel what the server is executing).
DEAD_HOLDER_GRACE = 3.0
PATH = f"/v1/products/{LOCK_PRODUCT_ID}"

# Runs of this process that hold (or are taking) a lock right now.
_ACTIVE: set[str] = set()
_ACTIVE_LOCK = threading.Lock()


class LockHeldError(BillingSyncError):
    """Another apply holds the account's lock."""


@dataclass(frozen=True)
class Holder:
    """Who holds a lock, read from the lock product's metadata."""

    run: str
    who: str
    host: str
    pid: int
    since: int
    lease_until: int

    def describe(self) -> str:
        started = datetime.fromtimestamp(self.since, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
        return f"run {self.run} by {self.who} on {self.host} (pid {self.pid}) since {started}"

    @classmethod
    def of(cls, product: dict[str, Any]) -> Holder:
        meta = product.get("metadata") or {}

        def number(name: str) -> int:
            try:
                return int(meta.get(name) or 0)
            except ValueError:
                return 0

        return cls(
            run=str(meta.get("run") or ""),
            who=str(meta.get("who") or "unknown"),
            host=str(meta.get("host") or ""),
            pid=number("pid"),
            since=number("since"),
            lease_until=number("lease_until"),
        )


def _pid_alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, someone else's
        return True
    return True


def is_stale(holder: Holder, now: float) -> bool:
    if holder.lease_until < now:
        return True
    if holder.host == socket.gethostname():
        if holder.pid == os.getpid():
            with _ACTIVE_LOCK:
                return holder.run not in _ACTIVE
        return not _pid_alive(holder.pid)
    return False


class AccountLock:
    """The lock of one account for one run; use `hold()`."""

    def __init__(
        self,
        remote: Remote,
        *,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
        lease_seconds: int = LEASE_SECONDS,
    ) -> None:
        self.remote = remote
        self.clock = clock
        self.sleep = sleep
        self.lease_seconds = lease_seconds
        self.run = new_run_id()
        self._attempt = 0
        self._stop = threading.Event()

    def _metadata(self, since: int) -> dict[str, str]:
        return {
            "run": self.run,
            "who": _user(),
            "host": socket.gethostname(),
            "pid": str(os.getpid()),
            "since": str(since),
            "lease_until": str(int(self.clock()) + self.lease_seconds),
        }

    def _call(
        self, method: str, path: str, key: str | None = None, **params: Any
    ) -> dict[str, Any]:
        if key is not None:
            params["idempotency_key"] = key
        return with_retries(
            lambda: request(self.remote, method, path, **params),
            attempts=4,
            on_retry=self.remote.on_retry(f"{method.upper()} {path} (apply lock)"),
        )

    def _try_create(self) -> bool:
        self._attempt += 1
        try:
            self._call(
                "post",
                "/v1/products",
                f"billing-sync-lock-create-{self.run}-{self._attempt}",
                id=LOCK_PRODUCT_ID,
                name="billing-sync apply lock",
                active=False,
                metadata=self._metadata(int(self.clock())),
            )
            return True
        except stripe.InvalidRequestError as err:
            if err.code == "resource_already_exists":
                return False
            raise

    def _current(self) -> Holder | None:
        try:
            return Holder.of(self._call("get", PATH))
        except stripe.InvalidRequestError as err:
            if err.http_status == 404:
                return None
            raise

    def _try_takeover(self, stale: Holder) -> bool:
        try:
            self._call(
                "post",
                PATH,
                f"billing-sync-lock-takeover-{stale.run}",
                metadata=self._metadata(int(self.clock())),
            )
        except stripe.StripeError as err:
            if isinstance(err, stripe.IdempotencyError) or err.http_status in (400, 404, 409):
                return False  # another process took it over first, or it was released
            raise
        current = self._current()
        return current is not None and current.run == self.run

    def acquire(self, timeout: float = 0.0) -> None:
        """Take the lock, waiting up to `timeout` seconds while another live apply holds it."""
        deadline = self.clock() + timeout
        with _ACTIVE_LOCK:
            _ACTIVE.add(self.run)
        try:
            while True:
                if self._try_create():
                    return
                holder = self._current()
                if holder is None:
                    continue  # released between our create and our read: try again
                if is_stale(holder, self.clock()) and self._try_takeover(holder):
                    if holder.lease_until >= self.clock() and holder.pid != os.getpid():
                        self.sleep(DEAD_HOLDER_GRACE)
                    return
                if self.clock() >= deadline:
                    raise LockHeldError(
                        f"another apply holds the lock on this account: {holder.describe()}. "
                        "Wait and run again (or pass --lock-timeout SECONDS to wait); if that "
                        f"apply died on another machine, run `billing-sync force-unlock {holder.run}`"
                    )
                self.sleep(min(1.0, max(0.0, deadline - self.clock())))
        except stripe.StripeError as err:
            with _ACTIVE_LOCK:
                _ACTIVE.discard(self.run)
            raise StripeApiError(
                "could not take the apply lock: " + describe_stripe_error(err, self.remote.api_base)
            ) from err
        except BaseException:
            with _ACTIVE_LOCK:
                _ACTIVE.discard(self.run)
            raise

    def _renew(self) -> None:
        while not self._stop.wait(RENEW_EVERY):
            # A failed renewal is retried at the next one; the lease covers a few misses.
            with contextlib.suppress(stripe.StripeError):
                self._call(
                    "post",
                    PATH,
                    f"billing-sync-lock-renew-{self.run}-{secrets.token_hex(4)}",
                    metadata={"lease_until": str(int(self.clock()) + self.lease_seconds)},
                )

    def release(self) -> None:
        """Delete the lock if this run still holds it (best effort: a lost lock goes stale)."""
        self._stop.set()
        try:
            current = self._current()
            if current is not None and current.run == self.run:
                self._call("delete", PATH, f"billing-sync-lock-release-{self.run}")
        except stripe.StripeError:
            pass
        finally:
            with _ACTIVE_LOCK:
                _ACTIVE.discard(self.run)

    @contextmanager
    def hold(self, timeout: float = 0.0) -> Iterator[AccountLock]:
        self.acquire(timeout)
        renewer = threading.Thread(target=self._renew, name="apply-lock", daemon=True)
        renewer.start()
        try:
            yield self
        finally:
            self.release()
            renewer.join(timeout=5)


def force_unlock(remote: Remote, run: str) -> Holder:
    """Delete the lock held by `run` (after its apply died); refuses if another run holds it."""
    try:
        product = request(remote, "get", PATH)
    except stripe.InvalidRequestError as err:
        if err.http_status == 404:
            raise BillingSyncError("the account is not locked") from None
        raise StripeApiError(describe_stripe_error(err, remote.api_base)) from err
    holder = Holder.of(product)
    if holder.run != run:
        raise BillingSyncError(
            f"the lock is held by {holder.describe()}, not by run {run}; nothing was changed"
        )
    try:
        request(remote, "delete", PATH)
    except stripe.StripeError as err:
        raise StripeApiError(describe_stripe_error(err, remote.api_base)) from err
    return holder


def new_run_id() -> str:
    """A fresh id for one apply's hold of the lock."""
    return secrets.token_hex(6)


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"
