"""Errors raised by the authorities layer.

Two families, kept apart on purpose:

- :class:`ProviderUnavailable` — the authority did not *answer* (a timeout, a 5xx,
  a "busy" result code, a rate limit, a per-person daily limit). The verification
  engine must report ``PROVIDER_UNAVAILABLE`` and retry; it must never read one of
  these as a mismatch (DESIGN §4).
- configuration and input errors of the sandbox itself (:class:`FaceEngineMissing`,
  :class:`FixtureError`, :class:`SandboxWorldMissing`).

No message here carries personal data: errors name checks, codes, files and field
paths, never a name, ID number, phone number or card number.
"""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING, Any

from realname.errors import RealnameError

if TYPE_CHECKING:
    from realname.authorities.protocol import Check


class UnavailableReason(StrEnum):
    """Why an authority gave no answer."""

    #: The request got no response in time (no request id, nothing billed).
    TIMEOUT = "timeout"
    #: HTTP 5xx, Tencent ``InternalError``, a "service exception" result code.
    SERVER_ERROR = "server_error"
    #: A "busy" result code (验证中心服务繁忙, 权威比对系统升级中).
    BUSY = "busy"
    #: The account's QPS quota was exceeded (Tencent ``RequestLimitExceeded``).
    RATE_LIMITED = "rate_limited"
    #: The per-person daily limit was reached (认证次数超过当日限制，请次日重试).
    DAILY_LIMIT = "daily_limit"
    #: The platform did not ask: the check's circuit breaker is open after repeated
    #: failures (:mod:`realname.authorities.resilience`).
    CIRCUIT_OPEN = "circuit_open"


class ProviderUnavailable(RealnameError):
    """An authority did not answer; retry later. Never a mismatch.

    ``check`` names the check, ``reason`` says why, ``raw_code`` is the provider's
    code where there was one (``None`` for a timeout) and ``request_id`` the
    provider's request id where the request reached it.
    """

    code = "PROVIDER_UNAVAILABLE"
    http_status = 503
    default_message = "An authority did not answer; the check will be retried."

    def __init__(
        self,
        check: Check,
        reason: UnavailableReason,
        *,
        provider: str,
        raw_code: str | None = None,
        request_id: str | None = None,
        message: str | None = None,
    ) -> None:
        self.check = check
        self.reason = reason
        self.provider = provider
        self.raw_code = raw_code
        self.request_id = request_id
        super().__init__(
            message or f"{provider}: {check.value} did not answer ({reason.value}).",
            check=check.value,
            reason=reason.value,
            provider=provider,
            raw_code=raw_code,
            request_id=request_id,
        )

    @property
    def retryable(self) -> bool:
        """Every unavailability is retryable; a daily limit only from the next day."""
        return True


class FaceEngineMissing(RealnameError):
    """A face check was asked of a sandbox that has no face engine plugged in.

    The sandbox never invents a liveness verdict or a similarity score: without a
    :class:`~realname.authorities.protocol.FaceEngine` it refuses face checks.
    """

    code = "FACE_ENGINE_MISSING"
    http_status = 501
    default_message = (
        "No face engine is configured for the sandbox; face liveness and face "
        "comparison are unavailable."
    )


class SandboxWorldMissing(RealnameError):
    """The sandbox store holds no world (fixture scenario or generated set) of that name."""

    code = "SANDBOX_WORLD_MISSING"
    http_status = 404
    default_message = "The sandbox holds no registry of that name."


class FixtureError(RealnameError):
    """A sandbox fixture file is malformed; nothing of it was loaded.

    ``details`` names the ``file``, the ``scenario`` (its id, or its position when it
    has none) and the ``field`` (a dotted path such as
    ``registry.phones[0].owner``) of the first problem, and ``problems`` lists all of
    them in the same shape.
    """

    code = "FIXTURE_INVALID"
    http_status = 422
    default_message = "The fixture file is invalid."

    def __init__(self, file: str, problems: list[dict[str, Any]]) -> None:
        self.file = file
        self.problems = problems
        first = problems[0] if problems else {"scenario": None, "field": None, "problem": ""}
        where = [file]
        if first.get("scenario") is not None:
            where.append(f"scenario {first['scenario']!r}")
        if first.get("field"):
            where.append(str(first["field"]))
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        super().__init__(
            f"{': '.join(where)}: {first.get('problem', '')}{more}",
            file=file,
            scenario=first.get("scenario"),
            field=first.get("field"),
            problems=problems,
        )
