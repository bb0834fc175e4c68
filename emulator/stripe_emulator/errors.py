"""Stripe's error shape: `{"error": {type, code, message, param, doc_url}}` with its HTTP status."""

from __future__ import annotations

from typing import Any


class ApiError(Exception):
    """An error answered to the client as Stripe would answer it.

    `validation=True` marks a request refused before it started executing: its result is never
    stored under an idempotency key (Stripe saves only requests that began executing).
    """

    def __init__(
        self,
        status: int,
        type_: str,
        message: str,
        *,
        code: str | None = None,
        param: str | None = None,
        validation: bool = False,
        extra: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.type = type_
        self.message = message
        self.code = code
        self.param = param
        self.validation = validation
        self.extra = extra or {}
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        err: dict[str, Any] = {"type": self.type, "message": self.message}
        if self.code:
            err["code"] = self.code
            err["doc_url"] = f"https://stripe.com/docs/error-codes/{self.code.replace('_', '-')}"
        if self.param:
            err["param"] = self.param
        err.update(self.extra)
        return {"error": err}

    # -- constructors for the common cases ---------------------------------------------------

    @classmethod
    def invalid(
        cls,
        message: str,
        *,
        param: str | None = None,
        code: str | None = None,
        validation: bool = True,
        status: int = 400,
    ) -> ApiError:
        """400 invalid_request_error; by default a validation failure (not idempotently stored)."""
        return cls(
            status,
            "invalid_request_error",
            message,
            code=code,
            param=param,
            validation=validation,
        )

    @classmethod
    def missing(cls, kind: str, obj_id: str, *, param: str | None = "id") -> ApiError:
        """404 resource_missing: "No such price: 'price_x'"."""
        return cls(
            404,
            "invalid_request_error",
            f"No such {kind}: '{obj_id}'",
            code="resource_missing",
            param=param,
        )

    @classmethod
    def missing_param(cls, kind: str, obj_id: str, *, param: str) -> ApiError:
        """400 resource_missing: an object named in a parameter (not in the URL) does not exist,
        e.g. `customer=cus_x` on a subscription create or an unknown `starting_after` (live
        answers recorded in /work/shared/STRIPE_FACTS.md from stripe-stateful-mock's
        live-verified tests; https://docs.stripe.com/error-codes#resource-missing). A path
        object that does not exist is `missing` (404)."""
        return cls(
            400,
            "invalid_request_error",
            f"No such {kind}: '{obj_id}'",
            code="resource_missing",
            param=param,
            validation=True,
        )

    @classmethod
    def conflict(
        cls, message: str, *, param: str | None = None, code: str | None = None
    ) -> ApiError:
        """400 for a request that is valid but conflicts with the account's state (stored)."""
        return cls(400, "invalid_request_error", message, code=code, param=param)
