"""RFC 9457 problem details: every error a client sees has a stable machine ``code``.

``type`` is a relative URI (``/problems/<code>``) resolved against the API's own
origin; the clients switch on ``code``.
"""
from __future__ import annotations

from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict

PROBLEM_JSON = "application/problem+json"


class ProblemDetails(BaseModel):
    """The body of every error response."""

    model_config = ConfigDict(extra="forbid")

    type: str
    title: str
    status: int
    code: str
    detail: str | None = None
    instance: str | None = None
    errors: list[dict[str, Any]] | None = None


class Problem(Exception):
    status: ClassVar[int] = 500
    code: ClassVar[str] = "internal"
    title: ClassVar[str] = "Internal error"

    def __init__(
        self,
        detail: str | None = None,
        *,
        headers: dict[str, str] | None = None,
        errors: list[dict[str, Any]] | None = None,
    ) -> None:
        super().__init__(detail or self.title)
        self.detail = detail
        self.headers = headers or {}
        self.errors = errors

    def details(self, instance: str | None = None) -> ProblemDetails:
        return ProblemDetails(
            type=f"/problems/{self.code}",
            title=self.title,
            status=self.status,
            code=self.code,
            detail=self.detail,
            instance=instance,
            errors=self.errors,
        )


def _problem(status: int, code: str, title: str) -> type[Problem]:
    name = "".join(part.capitalize() for part in code.split("-"))
    return type(name, (Problem,), {"status": status, "code": code, "title": title})


MalformedJson = _problem(400, "malformed-json", "The request body is not valid JSON")
InvalidCursor = _problem(400, "invalid-cursor", "The pagination cursor is not valid")
Unauthenticated = _problem(401, "unauthenticated", "A valid Firebase ID token is required")
Forbidden = _problem(403, "forbidden", "You may not do this")
RegistrationRequired = _problem(403, "registration-required", "Register a profile first")
AccountSuspended = _problem(403, "account-suspended", "This account is suspended")
NotFound = _problem(404, "not-found", "No such resource")
MethodNotAllowed = _problem(405, "method-not-allowed", "Method not allowed on this resource")
Conflict = _problem(409, "conflict", "The request conflicts with the current state")
InvalidTransition = _problem(409, "invalid-transition", "That state change is not allowed")
QuotaExceeded = _problem(409, "quota-exceeded", "That would exceed your quota")
PaymentDeclined = _problem(402, "payment-declined", "The payment was not authorised")
PreconditionFailed = _problem(412, "precondition-failed", "The resource changed since you read it")
PayloadTooLarge = _problem(413, "payload-too-large", "The request body is too large")
UnsupportedMediaType = _problem(415, "unsupported-media-type", "Send the body as application/json")
ValidationFailed = _problem(422, "validation-error", "The request is not valid")
SignatureRejected = _problem(400, "signature-rejected", "The signed message was not accepted")
PreconditionRequired = _problem(428, "precondition-required", "Send If-Match with the ETag you read")
TooManyRequests = _problem(429, "rate-limited", "Too many requests")
ServiceUnavailable = _problem(503, "unavailable", "A dependency is unavailable; retry later")
InMaintenance = _problem(503, "maintenance", "The platform is in maintenance: reads work, writes wait")
