"""How a reviewer's decision changes what a borrower's status says.

The stored verification result is never rewritten: a decision is laid over it when
the status is read (:func:`realname.verification.users.status`), so the engine's own
answer stays auditable and re-derivable. The rules, per decided case:

* **approve** — applies to a result that still carries a cause the case covered
  (or is the result the case was opened on): ``REVIEW_APPROVED`` replaces those
  causes (listing them in ``cleared``), so their remedies — "ask for a review" — are
  no longer offered, and the level becomes at least the level the reviewer granted.
  A result without the covered cause needs no review; the engine stands.
* **reject** — final: every later result shows ``REVIEW_REJECTED`` and cannot reach
  the level needed on its own.
* **resubmit** — retryable: the reviewed result and any up to the decision show
  ``RESUBMIT_REQUESTED``;
  the borrower's next submission (a newer result) is judged afresh.

Only the newest decision per case counts (a supervisor's override replaces it).
Cases about something other than identity (CREDIT_DECLINE_REVIEW) leave the
verification status alone; the module that opened them reads their decision.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from realname.ops.config import Decision, Reason, get_config
from realname.store.models import ReviewCase, VerificationResult
from realname.store.prepared import Prepared
from realname.store.repositories.checks import StoredResult
from realname.store.tables import table_of
from realname.verification.catalogue import Language
from realname.verification.causes import Cause, CauseCode, Severity, ordered
from realname.verification.levels import Level

#: The stored cause codes each kind of case is about.
COVERED: dict[Reason, frozenset[CauseCode]] = {
    Reason.IDENTITY_IN_USE: frozenset({CauseCode.IDENTITY_IN_USE, CauseCode.DUPLICATE_ACCOUNT}),
    Reason.UNDER_REVIEW: frozenset({CauseCode.UNDER_REVIEW}),
    Reason.FACE_LOW_CONFIDENCE: frozenset({CauseCode.FACE_MISMATCH}),
    Reason.REPEATED_FAILURES: frozenset({CauseCode.ATTEMPTS_LOCKED}),
    Reason.CREDIT_DECLINE_REVIEW: frozenset(),
}


@dataclass(frozen=True)
class ReviewDecision:
    """A decided case as the status overlay needs it (no operator, no personal data)."""

    reason: Reason
    decision: Decision
    code: str
    reference: str
    decided_at: datetime
    level_granted: Level | None = None


@dataclass(frozen=True)
class Overlaid:
    level: Level
    causes: list[Cause]


def apply_decisions(
    *,
    level: Level,
    needed: Level,
    causes: Sequence[Cause],
    result_id: str,
    result_created_at: datetime,
    decisions: Sequence[ReviewDecision],
) -> Overlaid:
    """The level and causes a borrower sees once ``decisions`` are laid over a result.

    ``review_reason`` in the added causes is the decision's reason code; the caller
    may replace it with its label in the reader's language.
    """
    shown = list(causes)
    codes = {cause.code for cause in shown}
    rejected = False
    for decided in sorted(decisions, key=lambda d: d.decided_at):
        covered = COVERED[decided.reason]
        if not covered:
            continue  # a credit decline review says nothing about identity
        if decided.decision is Decision.APPROVE:
            if not (codes & covered) and decided.reference != result_id:
                continue
            cleared = sorted(cause.code.value for cause in shown if cause.code in covered)
            shown = [cause for cause in shown if cause.code not in covered]
            level = max(level, decided.level_granted or needed)
            shown.append(
                Cause(
                    CauseCode.REVIEW_APPROVED,
                    Severity.INFO,
                    {"review_reason": decided.code, "level": str(level), "cleared": cleared},
                )
            )
        elif decided.decision is Decision.REJECT:
            rejected = True
            shown.append(
                Cause(CauseCode.REVIEW_REJECTED, Severity.BLOCKING, {"review_reason": decided.code})
            )
        elif decided.reference == result_id or result_created_at <= decided.decided_at:
            shown.append(
                Cause(
                    CauseCode.RESUBMIT_REQUESTED, Severity.BLOCKING, {"review_reason": decided.code}
                )
            )
    if rejected and level >= needed:
        level = Level(max(int(needed) - 1, int(Level.L0)))
    if level >= needed:
        # As the diagnosis does: nothing blocks a user at the level the product needs.
        shown = [
            replace(cause, severity=Severity.WARNING)
            if cause.severity is Severity.BLOCKING
            else cause
            for cause in shown
        ]
    return Overlaid(level=level, causes=ordered(shown))


# Built once, run as Core: every status (and every verification's answer) asks it.
_CASES = table_of(ReviewCase)
_DECIDED = Prepared(
    select(
        _CASES.c.reason,
        _CASES.c.decision,
        _CASES.c.decision_code,
        _CASES.c.reference,
        _CASES.c.decided_at,
        _CASES.c.opened_at,
        _CASES.c.level_granted,
    )
    .where(_CASES.c.account_id == bindparam("account_id"), _CASES.c.state == "decided")
    .order_by(_CASES.c.decided_at, _CASES.c.id)
)


def decisions_for(session: Session, account_id: str) -> list[ReviewDecision]:
    """The decided cases of an account, oldest decision first."""
    rows = _DECIDED.all(session, {"account_id": account_id})
    return [
        ReviewDecision(
            reason=Reason(row.reason),
            decision=Decision(row.decision or "resubmit"),
            code=row.decision_code or "",
            reference=row.reference,
            decided_at=row.decided_at or row.opened_at,
            level_granted=Level.parse(row.level_granted) if row.level_granted else None,
        )
        for row in rows
    ]


def overlay_reviews(
    session: Session, account_id: str, result: VerificationResult | StoredResult
) -> tuple[Level, Level, list[Cause]]:
    """The level reached, the level needed and the causes of ``result``, decisions applied."""
    level, needed = Level.parse(result.level_reached), Level.parse(result.level_needed)
    stored = [
        Cause(code=CauseCode(c.code), severity=Severity(c.severity), params=dict(c.details))
        for c in result.causes
    ]
    decisions = decisions_for(session, account_id)
    if not decisions:
        return level, needed, stored
    overlaid = apply_decisions(
        level=level,
        needed=needed,
        causes=stored,
        result_id=result.id,
        result_created_at=result.created_at,
        decisions=decisions,
    )
    return overlaid.level, needed, overlaid.causes


def explain_review(cause: Cause, language: Language) -> Cause:
    """Put the label of a decision's reason code, in ``language``, into its cause."""
    code = cause.params.get("review_reason")
    if not isinstance(code, str):
        return cause
    label = get_config().code_label(code, language)
    return replace(cause, params={**cause.params, "review_reason": label, "review_code": code})
