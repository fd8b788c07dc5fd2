"""Credit errors, in the package's one hierarchy (:mod:`realname.errors`)."""

from __future__ import annotations

from realname.errors import RealnameError


class StepsIncomplete(RealnameError):
    """The user's verification level is below what the amount needs (policy book)."""

    code = "STEPS_INCOMPLETE"
    http_status = 409
    default_message = "The amount needs a higher verification level; complete the steps first."


class ApplicationNotFound(RealnameError):
    """No application with this id for the tenant (another tenant's ids look the same)."""

    code = "APPLICATION_NOT_FOUND"
    http_status = 404
    default_message = "No such credit application."


class ReviewNotAvailable(RealnameError):
    """Only an automated decline offers a human review (PIPL Art. 24)."""

    code = "REVIEW_NOT_AVAILABLE"
    http_status = 409
    default_message = "This decision does not offer a human review."
