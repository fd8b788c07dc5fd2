"""One exception hierarchy for the whole package.

Every error carries a stable ``code`` (an API, like an HTTP status: add codes, never
rename them) and a message written for a human that never echoes personal data. The
HTTP layer turns any :class:`RealnameError` into an ``application/problem+json``
answer with the same code, so a caller sees one error model everywhere.
"""

from __future__ import annotations

from typing import Any, ClassVar


class RealnameError(Exception):
    """Base of every error realname raises on purpose.

    ``code`` is stable; ``message`` is safe to show (no personal data, no internals);
    ``details`` holds extra machine-readable fields (for example which part of an ID
    number is wrong), again without personal data.
    """

    code: ClassVar[str] = "INTERNAL_ERROR"
    http_status: ClassVar[int] = 500
    default_message: ClassVar[str] = "An internal error occurred."

    def __init__(self, message: str | None = None, **details: Any) -> None:
        self.message = message or self.default_message
        self.details: dict[str, Any] = details
        super().__init__(self.message)

    def diagnostics(self) -> str:
        """A one-line human explanation: the code and the safe message."""
        return f"{self.code}: {self.message}"


class BadRequest(RealnameError):
    """The request is malformed in a way no more specific error names."""

    code = "BAD_REQUEST"
    http_status = 400
    default_message = "The request is malformed."


class NotFound(RealnameError):
    code = "NOT_FOUND"
    http_status = 404
    default_message = "The requested resource does not exist."


class Unauthorized(RealnameError):
    code = "UNAUTHORIZED"
    http_status = 401
    default_message = "A valid API key is required."


class Forbidden(RealnameError):
    code = "FORBIDDEN"
    http_status = 403
    default_message = "The API key lacks the scope this action needs."


class Conflict(RealnameError):
    code = "CONFLICT"
    http_status = 409
    default_message = "The request conflicts with the current state."


class ConfigurationError(RealnameError):
    """Settings are missing or inconsistent (for example an unreadable key file)."""

    code = "CONFIGURATION_ERROR"
    http_status = 500
    default_message = "realname is not configured correctly."
