"""The operations console's errors: each a stable code and a safe message."""

from __future__ import annotations

from realname.accounts.errors import RecordedRefusal
from realname.errors import BadRequest, Conflict, Forbidden, NotFound, RealnameError


class OpsError(RealnameError):
    """Base of the console's errors."""


class LoginFailed(RecordedRefusal, OpsError):
    """Wrong username or password; which one is never said (no user enumeration)."""

    code = "OPS_LOGIN_FAILED"
    http_status = 401
    default_message = "The username or password is not correct."


class LoginRateLimited(OpsError):
    code = "OPS_LOGIN_RATE_LIMITED"
    http_status = 429
    default_message = "Too many failed logins; wait a few minutes."


class NotPermitted(Forbidden, OpsError):
    code = "OPS_NOT_PERMITTED"
    default_message = "Your role does not allow this action."


class CaseNotFound(NotFound, OpsError):
    code = "OPS_CASE_NOT_FOUND"
    default_message = "There is no such review case."


class CaseAlreadyDecided(Conflict, OpsError):
    code = "OPS_CASE_DECIDED"
    default_message = "This case has already been decided."


class CaseWithdrawn(Conflict, OpsError):
    """The borrower's own later result cleared the cause before anyone decided."""

    code = "OPS_CASE_WITHDRAWN"
    default_message = "This case was closed: the cause it was opened for has cleared."


class CaseAssignedElsewhere(Conflict, OpsError):
    code = "OPS_CASE_ASSIGNED"
    default_message = "This case is assigned to another reviewer."


class InvalidDecision(BadRequest, OpsError):
    code = "OPS_INVALID_DECISION"
    default_message = "The decision or its reason code is not valid."


class UnmaskReasonRequired(BadRequest, OpsError):
    code = "OPS_UNMASK_REASON_REQUIRED"
    default_message = "Unmasking needs a written reason."


class InvalidOperator(BadRequest, OpsError):
    code = "OPS_INVALID_OPERATOR"
    default_message = "The username, role or password is not acceptable."


class InvalidReason(BadRequest, OpsError):
    code = "OPS_INVALID_REASON"
    default_message = "There is no such review reason."
