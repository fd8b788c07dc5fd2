"""Credit applications as decided: record one, read it back, and track its review.

The review an automated decline offers (PIPL Art. 24) moves ``available`` →
``requested`` (a case is opened in the operations queue) → ``decided`` (the
reviewer's outcome is written back). Only a decline offers one.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from realname.credit.errors import ApplicationNotFound
from realname.store.models import CreditApplication
from realname.store.types import new_id


def record_application(
    session: Session,
    *,
    tenant_id: str,
    account_id: str,
    product: str,
    amount_fen: int,
    term_months: int,
    decision: str,
    limit_fen: int,
    score: int,
    pd_bp: int,
    level: str,
    level_required: str,
    reasons: list[str],
    model_version: str,
    review_available: bool,
    at: datetime,
) -> CreditApplication:
    application = CreditApplication(
        id=new_id(),
        tenant_id=tenant_id,
        account_id=account_id,
        created_at=at,
        product=product,
        amount_fen=amount_fen,
        term_months=term_months,
        decision=decision,
        limit_fen=limit_fen,
        score=score,
        pd_bp=pd_bp,
        level=level,
        level_required=level_required,
        reasons=reasons,
        model_version=model_version,
        review_state="available" if review_available else "not_offered",
    )
    session.add(application)
    session.flush()
    return application


def get_application(session: Session, tenant_id: str, application_id: str) -> CreditApplication:
    """The tenant's application; another tenant's id is as unknown as a made-up one."""
    application = session.scalar(
        select(CreditApplication).where(
            CreditApplication.id == application_id, CreditApplication.tenant_id == tenant_id
        )
    )
    if application is None:
        raise ApplicationNotFound()
    return application


def mark_review_requested(
    application: CreditApplication, case_id: str, at: datetime
) -> CreditApplication:
    """Record that the review was asked for and which case carries it.

    Whether a review may be asked for is the caller's rule
    (:func:`realname.credit.reviews.request_review`).
    """
    application.review_state = "requested"
    application.review_requested_at = at
    application.review_case_id = case_id
    return application


def record_review_outcome(session: Session, case_id: str, outcome: str) -> int:
    """Write a reviewer's outcome back to the applications the case was opened for.

    One open review case covers an account's declines (the queue keeps one open case
    per account and reason), so the answer goes to each of them; returns how many.
    """
    applications = session.scalars(
        select(CreditApplication).where(CreditApplication.review_case_id == case_id)
    ).all()
    for application in applications:
        application.review_state = "decided"
        application.review_outcome = outcome
    return len(applications)


def list_applications(session: Session, account_id: str) -> list[CreditApplication]:
    return list(
        session.scalars(
            select(CreditApplication)
            .where(CreditApplication.account_id == account_id)
            .order_by(CreditApplication.created_at.desc())
        )
    )


__all__ = [
    "get_application",
    "list_applications",
    "mark_review_requested",
    "record_application",
    "record_review_outcome",
]
