"""Errors of the risk package, in the project's one hierarchy (``realname.errors``)."""

from __future__ import annotations

from realname.errors import BadRequest, ConfigurationError, Conflict


class PolicyInvalid(ConfigurationError):
    """A risk policy file does not validate; ``details['field']`` names the bad field."""

    code = "RISK_POLICY_INVALID"
    default_message = "The risk policy file is invalid."


class SessionsInvalid(BadRequest):
    """A labelled-sessions file has a malformed line; ``details`` has ``line`` and ``field``."""

    code = "RISK_SESSIONS_INVALID"
    default_message = "The sessions file is malformed."


class RiskError(Conflict):
    """Base of step-up state errors (a challenge that does not fit the request)."""

    code = "RISK_ERROR"


class StepUpInvalid(RiskError):
    """A step-up challenge is unknown, used, or asked for a factor it did not demand."""

    code = "STEP_UP_INVALID"
    default_message = "The step-up challenge is unknown or already used."
