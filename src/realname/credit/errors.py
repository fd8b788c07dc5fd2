"""Credit errors, in the package's one hierarchy (:mod:`realname.errors`)."""

from __future__ import annotations

from realname.errors import RealnameError


class StepsIncomplete(RealnameError):
    """The user's verification level is below what the amount needs (policy book)."""

    code = "STEPS_INCOMPLETE"
    http_status = 409
    default_message = "The amount needs a higher verification level; complete the steps first."
