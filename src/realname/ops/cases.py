"""Review cases: intake from verification results, the SLA queue, claims and decisions.

Intake never touches the verification write path: :func:`sync_review_cases` reads
the results written since a stored watermark and opens a case for each cause that
needs a person (:func:`reasons_for`). It re-reads a short overlap before the
watermark, because a transaction that began earlier can commit later; opening is
idempotent twice over — one case per ``(reason, reference)`` for ever and one open
case per account and reason — so re-reading is harmless. Other modules open cases
directly with :func:`open_case` (the credit decline review does).

Every change — opening, claiming, reassigning, deciding, unmasking — is written to
the hash-chained audit log (:mod:`realname.store.repositories.audit`) in the same
transaction. Roles are enforced here, not only in the pages: an auditor cannot
change anything, only a supervisor reassigns or overrides.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from realname.ops.config import Decision, Reason, ReviewConfig, get_config
from realname.ops.errors import (
    CaseAlreadyDecided,
    CaseAssignedElsewhere,
    CaseNotFound,
    CaseWithdrawn,
    InvalidDecision,
    InvalidReason,
    NotPermitted,
)
from realname.ops.operators import DECIDERS, Principal, Role
from realname.store.models import (
    Account,
    AuditEntry,
    Cause,
    Operator,
    OpsWatermark,
    ReviewCase,
    VerificationResult,
)
from realname.store.repositories import audit
from realname.store.repositories.credit_applications import record_review_outcome
from realname.store.types import new_id
from realname.verification.levels import Level

INTAKE_WATERMARK = "review_intake"
#: How far before the watermark each scan re-reads (commit order differs from time order).
OVERLAP = timedelta(minutes=10)
#: Results read per scan at most; the next scan continues from the new watermark.
BATCH = 500
INTAKE_ACTOR = "system:review-intake"
OPEN_STATES = ("open", "assigned")


def reasons_for(
    causes: Iterable[tuple[str, Mapping[str, Any]]], config: ReviewConfig
) -> list[Reason]:
    """Which review reasons a result's causes (code, details) call for, in queue order.

    A face mismatch is a case only inside the grey band below the pass threshold
    (``face_grey_band`` in review.yaml); a clear mismatch needs no person.
    """
    found: list[Reason] = []
    for code, details in causes:
        reason: Reason | None = None
        if code == "IDENTITY_IN_USE":
            reason = Reason.IDENTITY_IN_USE
        elif code == "UNDER_REVIEW":
            reason = Reason.UNDER_REVIEW
        elif code == "ATTEMPTS_LOCKED":
            reason = Reason.REPEATED_FAILURES
        elif code == "FACE_MISMATCH":
            similarity = details.get("similarity")
            if (
                isinstance(similarity, int | float)
                and config.grey_min <= similarity < config.grey_pass
            ):
                reason = Reason.FACE_LOW_CONFIDENCE
        if reason is not None and reason not in found:
            found.append(reason)
    return found


def _open_key(account_id: str, reason: Reason) -> str:
    return f"{account_id}:{reason.value}"


def open_case(
    session: Session,
    *,
    tenant_id: str,
    account_id: str,
    reason: Reason | str,
    reference: str,
    now: datetime,
    actor: str = INTAKE_ACTOR,
) -> ReviewCase:
    """Open a case, or return the one that already covers it.

    Returns the existing case when this ``(reason, reference)`` was seen before, or
    when the account already has an open case for ``reason``. The SLA deadline is
    ``now`` plus the reason's ``sla_hours``. Call inside the caller's transaction.
    """
    case, _new = _open(
        session,
        tenant_id=tenant_id,
        account_id=account_id,
        reason=reason,
        reference=reference,
        now=now,
        actor=actor,
    )
    return case


def _open(
    session: Session,
    *,
    tenant_id: str,
    account_id: str,
    reason: Reason | str,
    reference: str,
    now: datetime,
    actor: str,
    opened_at: datetime | None = None,
) -> tuple[ReviewCase, bool]:
    try:
        chosen = Reason(reason)
    except ValueError:
        raise InvalidReason(reason=str(reason)[:64]) from None
    # The SLA runs from when the borrower got stuck, not from when intake noticed.
    opened = opened_at or now
    existing = session.scalar(
        select(ReviewCase).where(
            ReviewCase.reason == chosen.value, ReviewCase.reference == reference
        )
    ) or session.scalar(
        select(ReviewCase).where(ReviewCase.open_key == _open_key(account_id, chosen))
    )
    if existing is not None:
        return existing, False
    case = ReviewCase(
        id=new_id(),
        tenant_id=tenant_id,
        account_id=account_id,
        reason=chosen.value,
        reference=reference[:128],
        open_key=_open_key(account_id, chosen),
        state="open",
        opened_at=opened,
        due_at=opened + get_config().sla[chosen],
    )
    try:
        with session.begin_nested():
            session.add(case)
            session.flush()
    except IntegrityError:
        # Another transaction opened it first: answer with that one.
        again = session.scalar(
            select(ReviewCase).where(
                (ReviewCase.open_key == _open_key(account_id, chosen))
                | ((ReviewCase.reason == chosen.value) & (ReviewCase.reference == reference))
            )
        )
        if again is None:
            raise
        return again, False
    audit.append(
        session,
        actor,
        "ops.case.opened",
        f"review_case:{case.id}",
        {"account_id": account_id, "reason": chosen.value, "reference": case.reference},
        at=now,
    )
    return case, True


def sync_review_cases(session: Session, now: datetime) -> int:
    """Open cases for results written since the last scan; returns how many were opened.

    A later result of the same account that no longer calls for an open case's reason
    (the borrower linked the other account, passed the face check, was unlocked)
    withdraws that case: nobody needs to decide what has resolved itself.
    """
    config = get_config()
    mark = session.get(OpsWatermark, INTAKE_WATERMARK)
    since = (mark.at - OVERLAP) if mark is not None else None
    query = (
        select(VerificationResult.id, VerificationResult.created_at, Account.id, Account.tenant_id)
        .join(Account, Account.id == VerificationResult.account_id)
        .order_by(VerificationResult.created_at, VerificationResult.id)
        .limit(BATCH)
    )
    if since is not None:
        query = query.where(VerificationResult.created_at > since)
    rows = session.execute(query).all()
    if not rows:
        return 0
    ids = [row[0] for row in rows]
    causes: dict[str, list[tuple[str, Mapping[str, Any]]]] = {}
    for cause in session.scalars(
        select(Cause).where(Cause.result_id.in_(ids)).order_by(Cause.result_id, Cause.ordinal)
    ):
        causes.setdefault(cause.result_id, []).append((cause.code, cause.details))
    pending = _open_identity_cases(session, {row[2] for row in rows})
    opened = 0
    for result_id, created_at, account_id, tenant_id in rows:
        wanted = reasons_for(causes.get(result_id, []), config)
        for case in pending.get(account_id, []):
            if (
                case.state in OPEN_STATES
                and case.reason not in wanted
                and created_at > case.opened_at
                and case.reference != result_id
            ):
                _withdraw(session, case, result_id, created_at, now)
        for reason in wanted:
            _case, new = _open(
                session,
                tenant_id=tenant_id,
                account_id=account_id,
                reason=reason,
                reference=result_id,
                now=now,
                actor=INTAKE_ACTOR,
                opened_at=min(created_at, now),
            )
            opened += new
            if new and _case not in pending.setdefault(account_id, []):
                pending[account_id].append(_case)
    newest = rows[-1][1]
    if mark is None:
        try:
            with session.begin_nested():
                session.add(OpsWatermark(name=INTAKE_WATERMARK, at=newest))
        except IntegrityError:
            pass  # a concurrent first scan wrote it; the next scan moves it on
    elif newest > mark.at:
        mark.at = newest
    session.flush()
    return opened


def _open_identity_cases(session: Session, account_ids: set[str]) -> dict[str, list[ReviewCase]]:
    """Undecided cases about the identity of these accounts (a credit review is not)."""
    found: dict[str, list[ReviewCase]] = {}
    for case in session.scalars(
        select(ReviewCase).where(
            ReviewCase.account_id.in_(account_ids),
            ReviewCase.state.in_(OPEN_STATES),
            ReviewCase.reason != Reason.CREDIT_DECLINE_REVIEW.value,
        )
    ):
        found.setdefault(case.account_id, []).append(case)
    return found


def _withdraw(
    session: Session, case: ReviewCase, result_id: str, cleared_at: datetime, now: datetime
) -> None:
    case.state, case.open_key = "withdrawn", None
    case.decided_at = cleared_at
    audit.append(
        session,
        INTAKE_ACTOR,
        "ops.case.withdrawn",
        _target(case),
        {"account_id": case.account_id, "reason": case.reason, "cleared_by": result_id},
        at=now,
    )


# -- the queue -------------------------------------------------------------------------------


@dataclass(frozen=True)
class QueueItem:
    id: str
    reason: str
    account_id: str
    tenant_id: str
    state: str
    opened_at: datetime
    due_at: datetime
    assignee: str | None
    #: Seconds until the SLA deadline; negative once overdue.
    seconds_left: int


def list_queue(session: Session, *, now: datetime, reason: str | None = None) -> list[QueueItem]:
    """Undecided cases, the earliest SLA deadline first."""
    query = (
        select(ReviewCase, Operator.username)
        .outerjoin(Operator, Operator.id == ReviewCase.assignee_id)
        .where(ReviewCase.state.in_(OPEN_STATES))
        .order_by(ReviewCase.due_at, ReviewCase.opened_at, ReviewCase.id)
    )
    if reason:
        query = query.where(ReviewCase.reason == Reason(reason).value)
    return [
        QueueItem(
            id=case.id,
            reason=case.reason,
            account_id=case.account_id,
            tenant_id=case.tenant_id,
            state=case.state,
            opened_at=case.opened_at,
            due_at=case.due_at,
            assignee=username,
            seconds_left=int((case.due_at - now).total_seconds()),
        )
        for case, username in session.execute(query)
    ]


def get_case(session: Session, case_id: str) -> ReviewCase:
    case = session.get(ReviewCase, case_id)
    if case is None:
        raise CaseNotFound()
    return case


def require_role(principal: Principal, roles: Iterable[Role]) -> None:
    if principal.role not in frozenset(roles):
        raise NotPermitted()


def _target(case: ReviewCase) -> str:
    return f"review_case:{case.id}"


def _refuse_closed(case: ReviewCase) -> None:
    if case.state == "withdrawn":
        raise CaseWithdrawn()


def claim(session: Session, principal: Principal, case_id: str, *, now: datetime) -> ReviewCase:
    """Take an open case. Claiming your own case again is harmless (double submits)."""
    require_role(principal, DECIDERS)
    case = get_case(session, case_id)
    _refuse_closed(case)
    if case.state == "decided":
        raise CaseAlreadyDecided()
    if case.assignee_id == principal.id:
        return case
    if case.assignee_id is not None and principal.role is not Role.SUPERVISOR:
        raise CaseAssignedElsewhere()
    case.assignee_id, case.state = principal.id, "assigned"
    audit.append(
        session, principal.actor, "ops.case.claimed", _target(case), {"reason": case.reason}, at=now
    )
    return case


def reassign(
    session: Session, principal: Principal, case_id: str, username: str, *, now: datetime
) -> ReviewCase:
    """A supervisor gives an undecided case to another reviewer or supervisor."""
    require_role(principal, {Role.SUPERVISOR})
    case = get_case(session, case_id)
    _refuse_closed(case)
    if case.state == "decided":
        raise CaseAlreadyDecided()
    target = session.scalar(select(Operator).where(Operator.username == username))
    if target is None or target.disabled_at is not None or Role(target.role) not in DECIDERS:
        raise InvalidDecision("Cases can be given only to an active reviewer or supervisor.")
    previous = case.assignee_id
    case.assignee_id, case.state = target.id, "assigned"
    audit.append(
        session,
        principal.actor,
        "ops.case.reassigned",
        _target(case),
        {"from": previous, "to": target.id},
        at=now,
    )
    return case


def decide(
    session: Session,
    principal: Principal,
    case_id: str,
    *,
    decision: Decision | str,
    code: str,
    level_granted: str | None = None,
    now: datetime,
) -> ReviewCase:
    """Record a decision with its reason code; a supervisor may override a decided case.

    A reviewer decides only a case that is theirs or nobody's (deciding claims it).
    ``level_granted`` (approve only) defaults to the level the product needs.
    """
    require_role(principal, DECIDERS)
    try:
        chosen = Decision(decision)
    except ValueError:
        raise InvalidDecision() from None
    config = get_config()
    if not config.code_allowed(chosen, code):
        raise InvalidDecision("This reason code does not belong to the decision.", code=code)
    case = get_case(session, case_id)
    _refuse_closed(case)
    if (
        case.state == "decided"
        and case.decided_by == principal.id
        and (case.decision, case.decision_code) == (chosen.value, code)
    ):
        return case  # the same decision submitted twice changes nothing
    supervisor = principal.role is Role.SUPERVISOR
    if case.state == "decided" and not supervisor:
        raise CaseAlreadyDecided()
    if case.assignee_id not in (None, principal.id) and not supervisor:
        raise CaseAssignedElsewhere()
    granted: str | None = None
    credit_review = case.reason == Reason.CREDIT_DECLINE_REVIEW.value
    if chosen is Decision.APPROVE and not credit_review:
        granted = _granted_level(session, case, level_granted)
    previous = (
        {"previous": case.decision, "previous_code": case.decision_code}
        if case.state == "decided"
        else {}
    )
    case.state, case.open_key = "decided", None
    case.assignee_id = case.assignee_id or principal.id
    case.decision, case.decision_code, case.level_granted = chosen.value, code, granted
    case.decided_by, case.decided_at = principal.id, now
    if credit_review:
        # The applicant reads the reviewer's answer on their application (PIPL Art. 24).
        record_review_outcome(session, case.id, chosen.value)
    session.flush()
    audit.append(
        session,
        principal.actor,
        "ops.case.overridden" if previous else "ops.case.decided",
        _target(case),
        {
            "account_id": case.account_id,
            "reason": case.reason,
            "decision": chosen.value,
            "code": code,
            "level_granted": granted,
            **previous,
        },
        at=now,
    )
    return case


def _granted_level(session: Session, case: ReviewCase, wanted: str | None) -> str:
    if wanted:
        try:
            level = Level.parse(wanted)
        except ValueError:
            raise InvalidDecision("The level granted must be L1, L2 or L3.") from None
        if level is Level.L0:
            raise InvalidDecision("An approval grants at least L1.")
        return str(level)
    needed = session.scalar(
        select(VerificationResult.level_needed)
        .where(VerificationResult.account_id == case.account_id)
        .order_by(VerificationResult.created_at.desc(), VerificationResult.id.desc())
        .limit(1)
    )
    return needed or str(Level.L2)


def operators_for_reassignment(session: Session) -> list[str]:
    return list(
        session.scalars(
            select(Operator.username)
            .where(Operator.role.in_([r.value for r in DECIDERS]), Operator.disabled_at.is_(None))
            .order_by(Operator.username)
        )
    )


def case_audit(session: Session, case: ReviewCase) -> list[AuditEntry]:
    """The audit entries about this case and its unmasking, oldest first."""
    return list(
        session.scalars(
            select(AuditEntry).where(AuditEntry.target == _target(case)).order_by(AuditEntry.seq)
        )
    )
