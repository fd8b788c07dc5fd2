"""One review case as its page shows it: the case, the masked account file, its audit trail."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from realname.ops.accountfile import AccountFile, account_file
from realname.ops.cases import case_audit, get_case, operators_for_reassignment
from realname.ops.config import Reason, get_config
from realname.privacy.vault import Vault
from realname.store.models import Account, CreditApplication, Operator, ReviewCase
from realname.verification.catalogue import Language


@dataclass(frozen=True)
class CaseFile:
    case: ReviewCase
    reason_label: str
    assignee: str | None
    decided_by: str | None
    decision_label: str | None
    seconds_left: int
    account: AccountFile | None
    audit: list[dict[str, Any]]
    #: Usernames a supervisor may reassign the case to.
    assignable: list[str]
    #: decision -> [(code, label)] in the reader's language.
    codes: dict[str, list[tuple[str, str]]]
    #: The application a CREDIT_DECLINE_REVIEW case reviews (its reference).
    credit: CreditApplication | None = None


def _username(session: Session, operator_id: str | None) -> str | None:
    if operator_id is None:
        return None
    return session.scalar(select(Operator.username).where(Operator.id == operator_id))


def case_file(
    session: Session, vault: Vault, case_id: str, language: Language, *, now: datetime
) -> CaseFile:
    config = get_config()
    case = get_case(session, case_id)
    account = session.get(Account, case.account_id)
    credit = (
        session.get(CreditApplication, case.reference)
        if case.reason == Reason.CREDIT_DECLINE_REVIEW.value
        else None
    )
    return CaseFile(
        case=case,
        reason_label=config.reason_label(case.reason, language),
        assignee=_username(session, case.assignee_id),
        decided_by=_username(session, case.decided_by),
        decision_label=config.code_label(case.decision_code, language)
        if case.decision_code
        else None,
        seconds_left=int((case.due_at - now).total_seconds()),
        account=account_file(session, vault, account, language) if account else None,
        audit=[
            {
                "seq": entry.seq,
                "at": entry.at,
                "actor": entry.actor,
                "action": entry.action,
                "details": {
                    key: ", ".join(map(str, value)) if isinstance(value, list) else value
                    for key, value in entry.details.items()
                    if key != "account_id"
                },
            }
            for entry in case_audit(session, case)
        ],
        assignable=operators_for_reassignment(session),
        codes={
            decision.value: [(code, labels[language]) for code, labels in codes.items()]
            for decision, codes in config.codes.items()
        },
        credit=credit,
    )
