"""The human review an automated credit decline offers (PIPL Art. 24).

A declined applicant may ask a person to look at the decision. Asking opens a
``CREDIT_DECLINE_REVIEW`` case in the operations queue (:mod:`realname.ops.cases`)
with the application as its reference; the reviewer's decision is written back to
the application (approve = the decline is overturned, reject = it stands, resubmit =
apply again with more information). Asking twice is answered with the same case.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from realname.credit.errors import ReviewNotAvailable
from realname.ops.cases import open_case
from realname.ops.config import Reason
from realname.store.models import CreditApplication
from realname.store.repositories.credit_applications import mark_review_requested


def request_review(
    session: Session, application: CreditApplication, *, actor: str, now: datetime
) -> CreditApplication:
    """Queue the application for a reviewer; :class:`ReviewNotAvailable` unless declined."""
    if application.review_state == "requested":
        return application
    if application.review_state != "available":
        raise ReviewNotAvailable(review_state=application.review_state)
    case = open_case(
        session,
        tenant_id=application.tenant_id,
        account_id=application.account_id,
        reason=Reason.CREDIT_DECLINE_REVIEW,
        reference=application.id,
        now=now,
        actor=actor,
    )
    return mark_review_requested(application, case.id, now)
