"""The desk's one error hierarchy; the web glue maps each class to an HTTP status."""

from __future__ import annotations

from typing import Any


class HelpdeskError(Exception):
    """Base of every error the desk raises on purpose; `code` is machine-readable."""

    code = "error"

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.details = details


class ValidationError(HelpdeskError):
    """Input that is well-formed but wrong: `errors` maps a field path to a reason."""

    code = "invalid_input"

    def __init__(self, message: str, errors: dict[str, str] | None = None) -> None:
        super().__init__(message, errors=errors or {})
        self.errors = errors or {}


class MalformedRequestError(HelpdeskError):
    code = "malformed_request"


class AuthenticationError(HelpdeskError):
    code = "unauthenticated"


class ForbiddenError(HelpdeskError):
    code = "forbidden"


class NotFoundError(HelpdeskError):
    code = "not_found"


class ConflictError(HelpdeskError):
    code = "conflict"


class StaleVersionError(ConflictError):
    code = "stale_version"


class TransitionNotAllowedError(ConflictError):
    code = "transition_not_allowed"


class StatusInUseError(ConflictError):
    code = "status_in_use"


class PayloadTooLargeError(HelpdeskError):
    code = "payload_too_large"


class RateLimitedError(HelpdeskError):
    code = "rate_limited"
