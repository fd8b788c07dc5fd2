"""Review cases: idempotent intake, SLA order, roles enforced, audited unmask and decisions."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from realname.ops import cases
from realname.ops.config import Decision, Reason, get_config
from realname.ops.errors import (
    CaseAlreadyDecided,
    CaseAssignedElsewhere,
    InvalidDecision,
    InvalidReason,
    NotPermitted,
    UnmaskReasonRequired,
)
from realname.ops.operators import Role
from realname.ops.unmask import unmask
from realname.store.models import AuditEntry, ReviewCase
from realname.store.repositories.audit import verify_chain
from realname.verification import users
from tests.ops.conftest import ID_NUMBER, NAME, T0, VAULT, borrower, operator, result

pytestmark = pytest.mark.storage


def test_intake_opens_one_case_per_account_and_reason(
    session_factory: sessionmaker[Session],
) -> None:
    with session_factory() as session:
        account = borrower(session)
        first = result(session, account, "IDENTITY_IN_USE", "PHONE_OWNED_BY_OTHER")
        assert cases.sync_review_cases(session, T0) == 1
        assert cases.sync_review_cases(session, T0) == 0  # the same result again
        result(session, account, "IDENTITY_IN_USE")  # the cause repeats while open
        assert cases.sync_review_cases(session, T0) == 0
        opened = session.scalars(select(ReviewCase)).all()
        assert [(c.reason, c.reference, c.state) for c in opened] == [
            ("IDENTITY_IN_USE", first.id, "open")
        ]
        assert opened[0].due_at == T0 + get_config().sla[Reason.IDENTITY_IN_USE]
        again = cases.open_case(
            session,
            tenant_id=account.tenant_id,
            account_id=account.id,
            reason="IDENTITY_IN_USE",
            reference="credit:42",
            now=T0,
        )
        assert again.id == opened[0].id
        entries = session.scalars(select(AuditEntry).where(AuditEntry.action == "ops.case.opened"))
        assert len(list(entries)) == 1


def test_a_face_mismatch_is_a_case_only_in_the_grey_band() -> None:
    config = get_config()
    assert cases.reasons_for([("FACE_MISMATCH", {"similarity": 65.2})], config) == [
        Reason.FACE_LOW_CONFIDENCE
    ]
    assert cases.reasons_for([("FACE_MISMATCH", {"similarity": 31.0})], config) == []
    assert cases.reasons_for([("ATTEMPTS_LOCKED", {}), ("UNDER_REVIEW", {})], config) == [
        Reason.REPEATED_FAILURES,
        Reason.UNDER_REVIEW,
    ]


def test_the_queue_is_ordered_by_sla_deadline(session_factory: sessionmaker[Session]) -> None:
    with session_factory() as session:
        slow, fast = borrower(session), borrower(session)
        result(session, slow, "ATTEMPTS_LOCKED")  # 48 h
        result(session, fast, "UNDER_REVIEW")  # 8 h
        cases.sync_review_cases(session, T0)
        queue = cases.list_queue(session, now=T0 + timedelta(hours=9))
        assert [item.reason for item in queue] == ["UNDER_REVIEW", "REPEATED_FAILURES"]
        assert queue[0].seconds_left == -3600  # overdue by an hour
        only = cases.list_queue(session, now=T0, reason="REPEATED_FAILURES")
        assert [item.account_id for item in only] == [slow.id]


def _one_case(session: Session) -> ReviewCase:
    account = borrower(session)
    result(session, account, "IDENTITY_IN_USE")
    cases.sync_review_cases(session, T0)
    case = session.scalar(select(ReviewCase))
    assert case is not None
    return case


def test_an_auditor_cannot_claim_unmask_or_decide(session_factory: sessionmaker[Session]) -> None:
    with session_factory() as session:
        case = _one_case(session)
        auditor = operator(session, "audra", Role.AUDITOR)
        with pytest.raises(NotPermitted):
            cases.claim(session, auditor, case.id, now=T0)
        with pytest.raises(NotPermitted):
            unmask(session, VAULT, auditor, case.id, reason="checking the documents", now=T0)
        with pytest.raises(NotPermitted):
            cases.decide(
                session, auditor, case.id, decision="approve", code="DOCUMENTS_VERIFIED", now=T0
            )
        assert case.state == "open"


def test_a_reviewer_cannot_reassign_or_take_anothers_case(
    session_factory: sessionmaker[Session],
) -> None:
    with session_factory() as session:
        case = _one_case(session)
        alice = operator(session, "alice", Role.REVIEWER)
        bob = operator(session, "bob", Role.REVIEWER)
        boss = operator(session, "boss", Role.SUPERVISOR)
        cases.claim(session, alice, case.id, now=T0)
        cases.claim(session, alice, case.id, now=T0)  # a double submit is harmless
        with pytest.raises(NotPermitted):
            cases.reassign(session, alice, case.id, "bob", now=T0)
        with pytest.raises(CaseAssignedElsewhere):
            cases.claim(session, bob, case.id, now=T0)
        with pytest.raises(CaseAssignedElsewhere):
            cases.decide(session, bob, case.id, decision="reject", code="FORGED_DOCUMENTS", now=T0)
        cases.reassign(session, boss, case.id, "bob", now=T0)
        assert case.assignee_id == bob.id
        actions = [e.action for e in session.scalars(select(AuditEntry).order_by(AuditEntry.seq))]
        assert actions == ["ops.case.opened", "ops.case.claimed", "ops.case.reassigned"]


def test_unmask_needs_a_written_reason_and_is_audited(
    session_factory: sessionmaker[Session],
) -> None:
    with session_factory() as session:
        case = _one_case(session)
        alice = operator(session, "alice", Role.REVIEWER)
        with pytest.raises(UnmaskReasonRequired):
            unmask(session, VAULT, alice, case.id, reason="  because ", now=T0)
        assert session.scalar(select(AuditEntry).where(AuditEntry.action == "ops.unmasked")) is None
        shown = unmask(
            session, VAULT, alice, case.id, reason="compare with the ID card photo", now=T0
        )
        assert (shown.values["name"], shown.values["id_number"]) == (NAME, ID_NUMBER)
        entry = session.scalar(select(AuditEntry).where(AuditEntry.seq == shown.audit_seq))
        assert entry is not None
        assert (entry.actor, entry.action, entry.target) == (
            "operator:alice",
            "ops.unmasked",
            f"review_case:{case.id}",
        )
        assert entry.details["reason"] == "compare with the ID card photo"
        assert ID_NUMBER not in str(entry.details)
        assert verify_chain(session).ok


def test_decisions_need_a_matching_code_and_only_a_supervisor_overrides(
    session_factory: sessionmaker[Session],
) -> None:
    with session_factory() as session:
        case = _one_case(session)
        alice = operator(session, "alice", Role.REVIEWER)
        boss = operator(session, "boss", Role.SUPERVISOR)
        with pytest.raises(InvalidDecision):
            cases.decide(
                session, alice, case.id, decision="approve", code="FORGED_DOCUMENTS", now=T0
            )
        with pytest.raises(InvalidDecision):
            cases.decide(session, alice, case.id, decision="maybe", code="FORGED_DOCUMENTS", now=T0)
        cases.decide(
            session, alice, case.id, decision=Decision.RESUBMIT, code="BLURRY_PHOTO", now=T0
        )
        assert (case.state, case.open_key, case.assignee_id) == ("decided", None, alice.id)
        with pytest.raises(CaseAlreadyDecided):
            cases.decide(
                session, alice, case.id, decision="approve", code="DOCUMENTS_VERIFIED", now=T0
            )
        cases.decide(
            session, boss, case.id, decision="approve", code="SAME_PERSON_CONFIRMED", now=T0
        )
        entry = session.scalar(select(AuditEntry).order_by(AuditEntry.seq.desc()).limit(1))
        assert entry is not None
        assert entry.action == "ops.case.overridden"
        assert entry.details["previous"] == "resubmit"
        assert (case.decision, case.level_granted) == ("approve", "L2")


def test_a_decision_changes_what_the_borrower_sees(session_factory: sessionmaker[Session]) -> None:
    with session_factory() as session:
        case = _one_case(session)
        account_id = case.account_id
        alice = operator(session, "alice", Role.REVIEWER)
        account = users.user_account(session, case.tenant_id, account_id)
        before = users.status(session, account, "en")
        assert (before.level, before.verified) == ("L1", False)
        cases.decide(
            session, alice, case.id, decision="approve", code="SAME_PERSON_CONFIRMED", now=T0
        )
        after = users.status(session, account, "en")
        assert (after.level, after.verified) == ("L2", True)
        shown = {c["code"]: c for c in after.causes}
        assert "IDENTITY_IN_USE" not in shown
        assert "Confirmed the same person" in shown["REVIEW_APPROVED"]["message"]
        zh = users.status(session, account, "zh-CN")
        assert any("核实为本人" in c["message"] for c in zh.causes)


def test_reject_is_final_and_resubmit_asks_for_a_new_submission(
    session_factory: sessionmaker[Session],
) -> None:
    with session_factory() as session:
        case = _one_case(session)
        boss = operator(session, "boss", Role.SUPERVISOR)
        account = users.user_account(session, case.tenant_id, case.account_id)
        cases.decide(session, boss, case.id, decision="resubmit", code="BLURRY_PHOTO", now=T0)
        codes = [c["code"] for c in users.status(session, account, "en").causes]
        assert "RESUBMIT_REQUESTED" in codes
        cases.decide(
            session, boss, case.id, decision="reject", code="IDENTITY_THEFT_SUSPECTED", now=T0
        )
        view = users.status(session, account, "en")
        rejected = [c for c in view.causes if c["code"] == "REVIEW_REJECTED"]
        assert rejected
        assert rejected[0]["severity"] == "blocking"
        assert "final" in rejected[0]["message"]
        assert not view.verified


def test_other_modules_open_cases_directly(session_factory: sessionmaker[Session]) -> None:
    with session_factory() as session:
        account = borrower(session)
        first = cases.open_case(
            session,
            tenant_id=account.tenant_id,
            account_id=account.id,
            reason=Reason.CREDIT_DECLINE_REVIEW,
            reference="credit_application:42",
            now=T0,
        )
        again = cases.open_case(
            session,
            tenant_id=account.tenant_id,
            account_id=account.id,
            reason="CREDIT_DECLINE_REVIEW",
            reference="credit_application:42",
            now=T0 + timedelta(minutes=1),
        )
        assert again.id == first.id
        assert first.due_at == T0 + timedelta(hours=72)
        with pytest.raises(InvalidReason):
            cases.open_case(
                session,
                tenant_id=account.tenant_id,
                account_id=account.id,
                reason="NOT_A_REASON",
                reference="x",
                now=T0,
            )


def test_a_case_whose_cause_clears_on_a_later_result_is_withdrawn(
    session_factory: sessionmaker[Session],
) -> None:
    from realname.ops.errors import CaseWithdrawn

    with session_factory() as session:
        account = borrower(session)
        result(session, account, "IDENTITY_IN_USE")
        credit = cases.open_case(
            session,
            tenant_id=account.tenant_id,
            account_id=account.id,
            reason="CREDIT_DECLINE_REVIEW",
            reference="application-1",
            now=T0,
        )
        assert cases.sync_review_cases(session, T0) == 1
        (identity,) = [c for c in session.scalars(select(ReviewCase)) if c.id != credit.id]
        # The borrower linked the other account: the next result no longer has the cause.
        cleared = result(session, account, level="L2")
        assert cases.sync_review_cases(session, T0) == 0
        assert identity.state == "withdrawn"
        assert credit.state == "open"  # a credit review is not about identity
        assert [item.id for item in cases.list_queue(session, now=T0)] == [credit.id]
        entry = session.scalar(select(AuditEntry).where(AuditEntry.action == "ops.case.withdrawn"))
        assert entry is not None
        assert entry.details["cleared_by"] == cleared.id
        alice = operator(session, "alice", Role.REVIEWER)
        with pytest.raises(CaseWithdrawn):
            cases.claim(session, alice, identity.id, now=T0)
        with pytest.raises(CaseWithdrawn):
            cases.decide(
                session,
                alice,
                identity.id,
                decision="approve",
                code="SAME_PERSON_CONFIRMED",
                now=T0,
            )
        # The cause coming back opens a fresh case.
        result(session, account, "IDENTITY_IN_USE")
        assert cases.sync_review_cases(session, T0) == 1
