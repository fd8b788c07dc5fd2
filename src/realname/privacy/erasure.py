"""Erasing a user on request (PIPL Art. 47), everywhere their data lives.

Crypto-shredding makes every ciphertext of the person unreadable; this module also
removes what is not a ciphertext but still points at them: the blind indexes of
their phones (accounts, bindings, results), their sessions, SMS challenges and phone
proofs — and it revokes the credentials issued to them, so partners stop accepting
a verification whose subject asked to be forgotten (DESIGN §7). Everything happens in
the caller's transaction and is audited without personal data.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from realname.accounts.service import erase_account_traces
from realname.credentials.lifecycle import revoke_account_credentials
from realname.credentials.status_list import RevokeReason
from realname.errors import NotFound
from realname.privacy.vault import Vault
from realname.store.models import (
    Account,
    FaceSession,
    Person,
    PhoneBinding,
    VerificationResult,
)
from realname.store.repositories.people import erase_person


@dataclass(frozen=True)
class Erased:
    person_id: str
    accounts: int
    elements_deleted: int
    credentials_revoked: int


def erase_user(
    session: Session, vault: Vault, account: Account, *, actor: str, now: datetime
) -> Erased:
    """Erase the person behind ``account`` and every trace of them on all their accounts."""
    person = session.get(Person, account.person_id) if account.person_id else None
    if person is None or person.shredded_at is not None:
        raise NotFound("This user's data has already been erased.")
    account_ids = list(session.scalars(select(Account.id).where(Account.person_id == person.id)))
    revoked = sum(
        revoke_account_credentials(session, account_id, RevokeReason.ERASURE, now)
        for account_id in account_ids
    )
    for account_id in account_ids:
        erase_account_traces(session, account_id)
    session.execute(
        delete(PhoneBinding)
        .where(PhoneBinding.account_id.in_(account_ids))
        .execution_options(synchronize_session=False)
    )
    # Face sessions: retained frames (biometric data) and their measurements go too.
    session.execute(
        delete(FaceSession)
        .where(FaceSession.account_id.in_(account_ids))
        .execution_options(synchronize_session=False)
    )
    session.execute(
        update(VerificationResult)
        .where(VerificationResult.account_id.in_(account_ids))
        .values(bound_phone_index=None)
        .execution_options(synchronize_session=False)
    )
    report = erase_person(session, vault, person, actor=actor)
    return Erased(
        person_id=person.id,
        accounts=len(account_ids),
        elements_deleted=report.elements_deleted,
        credentials_revoked=revoked,
    )
