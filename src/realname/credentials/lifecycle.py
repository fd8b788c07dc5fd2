"""Recording issuances and revoking them: by hash, or every credential of an account.

DESIGN §7 and the credentials issue: a credential is revoked on erasure, when the
phone it was bound through is re-issued to someone else, or for fraud. Each
revocation flips the status-list entry and appends a revocation event (a hash, never
personal data) to the ledger, in the caller's transaction.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from realname.credentials import ledger_store, revocation
from realname.credentials.events import EventType, LedgerEvent
from realname.credentials.status_list import RevokeReason
from realname.errors import NotFound
from realname.store.models import CredentialIssuance, CredentialRevocation
from realname.store.repositories import audit

REVOKED_ACTION = "credential.revoked"


def record_issuance(
    session: Session,
    *,
    credential_hash: bytes,
    tenant_id: str,
    account_id: str,
    list_id: str,
    idx: int,
    at: datetime,
) -> None:
    session.add(
        CredentialIssuance(
            credential_hash=credential_hash.hex(),
            tenant_id=tenant_id,
            account_id=account_id,
            list_id=list_id,
            idx=idx,
            issued_at=at,
        )
    )
    session.flush()


def _revoke(
    session: Session, issuance: CredentialIssuance, reason: RevokeReason, at: datetime
) -> int:
    digest = bytes.fromhex(issuance.credential_hash)
    revocation.revoke(
        session, issuance.list_id, issuance.idx, reason=reason, credential_hash=digest, at=at
    )
    [index] = ledger_store.append_many(
        session, [LedgerEvent(EventType.REVOKED, digest, int(at.timestamp()))], at=at
    )
    audit.append(
        session,
        f"tenant:{issuance.tenant_id}",
        REVOKED_ACTION,
        issuance.credential_hash,
        {"reason": RevokeReason(reason).value},
        at=at,
    )
    return index


def revoke_by_hash(
    session: Session, tenant_id: str, credential_hash: bytes, reason: RevokeReason, at: datetime
) -> int:
    """Revoke the tenant's credential ``credential_hash``; the ledger index of the event."""
    issuance = session.get(CredentialIssuance, credential_hash.hex())
    if issuance is None or issuance.tenant_id != tenant_id:
        raise NotFound("No credential with this hash was issued to this tenant.")
    return _revoke(session, issuance, reason, at)


def revoke_account_credentials(
    session: Session, account_id: str, reason: RevokeReason, at: datetime
) -> int:
    """Revoke every live credential issued to ``account_id``; how many were revoked."""
    live = session.scalars(
        select(CredentialIssuance)
        .outerjoin(
            CredentialRevocation,
            (CredentialRevocation.list_id == CredentialIssuance.list_id)
            & (CredentialRevocation.idx == CredentialIssuance.idx),
        )
        .where(
            CredentialIssuance.account_id == account_id,
            CredentialRevocation.idx.is_(None),
        )
        .order_by(CredentialIssuance.issued_at)
    ).all()
    for issuance in live:
        _revoke(session, issuance, reason, at)
    return len(live)
