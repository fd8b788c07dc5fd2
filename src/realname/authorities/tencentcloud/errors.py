"""Errors of the Tencent Cloud adapter that are neither an answer nor an unavailability.

A Tencent call ends in one of four ways: an answer (a documented ``Result`` code), no
answer (:class:`~realname.authorities.errors.ProviderUnavailable`: timeouts,
``InternalError``, ``RequestLimitExceeded``, busy and daily-limit result codes), or
one of the two errors here, which retrying does not cure:

- :class:`TencentCloudAuthError` — the account is misconfigured (``AuthFailure.*``:
  wrong or unknown key, clock skew; ``UnauthorizedOperation.*``: service not
  activated, account in arrears);
- :class:`TencentCloudRequestRejected` — Tencent refused the request itself
  (``InvalidParameter``, ``MissingParameter``, ``InvalidAction`` …): a bug or a
  missing input, never a statement about the person.

:class:`CheckNotOffered` is raised for the checks Tencent Cloud has no API for
(carrier lookup, re-issued numbers, SIM swap) and the face checks the adapter does
not implement yet; :class:`~realname.authorities.composite.CompositeProvider` routes
those to another provider.
"""

from __future__ import annotations

from realname.authorities.protocol import Check
from realname.errors import ConfigurationError, RealnameError


class TencentCloudAuthError(ConfigurationError):
    """Tencent Cloud refused the credentials or the account (not a mismatch, no retry)."""

    code = "PROVIDER_AUTH_FAILED"
    default_message = "The Tencent Cloud credentials or account were refused."

    def __init__(
        self,
        message: str | None = None,
        *,
        raw_code: str | None = None,
        request_id: str | None = None,
    ) -> None:
        self.raw_code = raw_code
        self.request_id = request_id
        super().__init__(message, raw_code=raw_code, request_id=request_id)


class TencentCloudRequestRejected(RealnameError):
    """Tencent Cloud rejected the request as malformed (``InvalidParameter`` …)."""

    code = "PROVIDER_REQUEST_REJECTED"
    http_status = 502
    default_message = "The authority rejected the request as malformed."

    def __init__(
        self,
        check: Check,
        message: str | None = None,
        *,
        raw_code: str | None = None,
        request_id: str | None = None,
    ) -> None:
        self.check = check
        self.raw_code = raw_code
        self.request_id = request_id
        super().__init__(message, check=check.value, raw_code=raw_code, request_id=request_id)


class CheckNotOffered(RealnameError):
    """The provider has no API for this check; compose it with one that has."""

    code = "CHECK_NOT_OFFERED"
    http_status = 501
    default_message = "The configured authority does not offer this check."

    def __init__(self, check: Check, *, provider: str) -> None:
        self.check = check
        self.provider = provider
        super().__init__(
            f"{provider} does not offer {check.value}; route it to another provider.",
            check=check.value,
            provider=provider,
        )
