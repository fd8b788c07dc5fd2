"""How decisions are laid over a stored result: pure, no database."""

from __future__ import annotations

from datetime import timedelta

from realname.ops.config import Decision, Reason
from realname.ops.outcome import ReviewDecision, apply_decisions
from realname.verification.causes import Cause, CauseCode, Severity
from realname.verification.levels import Level
from tests.ops.conftest import T0

IN_USE = Cause(CauseCode.IDENTITY_IN_USE, Severity.BLOCKING)
OTHER_PHONE = Cause(CauseCode.PHONE_OWNED_BY_OTHER, Severity.BLOCKING)


def _decided(decision: Decision, reference: str = "r1") -> ReviewDecision:
    return ReviewDecision(
        reason=Reason.IDENTITY_IN_USE,
        decision=decision,
        code="X",
        reference=reference,
        decided_at=T0,
        level_granted=Level.L2 if decision is Decision.APPROVE else None,
    )


def test_approval_grants_the_level_and_softens_what_it_covered() -> None:
    shown = apply_decisions(
        level=Level.L1,
        needed=Level.L2,
        causes=[IN_USE, OTHER_PHONE],
        result_id="r2",
        result_created_at=T0 + timedelta(days=1),
        decisions=[_decided(Decision.APPROVE)],
    )
    assert shown.level is Level.L2
    severities = {cause.code: cause.severity for cause in shown.causes}
    assert CauseCode.IDENTITY_IN_USE not in severities
    assert severities[CauseCode.PHONE_OWNED_BY_OTHER] is Severity.WARNING
    assert severities[CauseCode.REVIEW_APPROVED] is Severity.INFO
    approved = next(c for c in shown.causes if c.code is CauseCode.REVIEW_APPROVED)
    assert approved.params["cleared"] == ["IDENTITY_IN_USE"]


def test_approval_does_not_carry_over_to_a_result_without_the_problem() -> None:
    shown = apply_decisions(
        level=Level.L0,
        needed=Level.L2,
        causes=[Cause(CauseCode.NAME_ID_MISMATCH, Severity.BLOCKING)],
        result_id="r2",
        result_created_at=T0 + timedelta(days=1),
        decisions=[_decided(Decision.APPROVE)],
    )
    assert shown.level is Level.L0
    assert [c.code for c in shown.causes] == [CauseCode.NAME_ID_MISMATCH]


def test_resubmit_is_answered_by_a_newer_submission_but_reject_stays() -> None:
    newer = {"result_id": "r2", "result_created_at": T0 + timedelta(minutes=5)}
    resubmit = apply_decisions(
        level=Level.L1,
        needed=Level.L2,
        causes=[IN_USE],
        decisions=[_decided(Decision.RESUBMIT)],
        **newer,
    )
    assert CauseCode.RESUBMIT_REQUESTED not in {c.code for c in resubmit.causes}
    reviewed = apply_decisions(
        level=Level.L1,
        needed=Level.L2,
        causes=[IN_USE],
        result_id="r1",
        result_created_at=T0 - timedelta(minutes=5),
        decisions=[_decided(Decision.RESUBMIT)],
    )
    assert CauseCode.RESUBMIT_REQUESTED in {c.code for c in reviewed.causes}
    rejected = apply_decisions(
        level=Level.L2, needed=Level.L2, causes=[], decisions=[_decided(Decision.REJECT)], **newer
    )
    assert rejected.level is Level.L1
    assert [(c.code, c.severity) for c in rejected.causes] == [
        (CauseCode.REVIEW_REJECTED, Severity.BLOCKING)
    ]
