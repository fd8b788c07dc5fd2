"""Issuers' status lists in the database: allocate entries, revoke, publish tokens.

Each issuer holds one or more Token Status Lists (see
:mod:`~realname.credentials.status_list`). Entries are handed out in order; a
revocation sets the entry to INVALID and records a reason code and the credential's
hash (never who it was issued to). Publishing signs the current list as a Status
List Token for verifiers to fetch.
"""

from __future__ import annotations

from datetime import datetime

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import select
from sqlalchemy.orm import Session

from realname.credentials.status_list import (
    STATUS_INVALID,
    STATUS_VALID,
    RevokeReason,
    StatusList,
    StatusListInvalid,
    sign_status_list_token,
)
from realname.errors import Conflict, NotFound
from realname.store.models import CredentialRevocation, CredentialStatusList

__all__ = [
    "DEFAULT_CAPACITY",
    "allocate_index",
    "create_status_list",
    "publish_status_list",
    "reinstate",
    "revoke",
    "status_at",
]

#: 131,072 one-bit entries: 16 KiB uncompressed, a few hundred bytes compressed.
DEFAULT_CAPACITY = 131_072


def create_status_list(
    session: Session,
    issuer_did: str,
    uri: str,
    *,
    capacity: int = DEFAULT_CAPACITY,
    bits: int = 1,
    at: datetime,
) -> CredentialStatusList:
    """A new all-VALID list of ``issuer_did`` published at ``uri``."""
    statuses = StatusList.empty(capacity, bits)
    row = CredentialStatusList(
        issuer_did=issuer_did,
        uri=uri,
        bits=bits,
        capacity=capacity,
        next_index=0,
        statuses=bytes(statuses.data),
        updated_at=at,
    )
    session.add(row)
    session.flush()
    return row


def _list(session: Session, list_id: str, *, lock: bool = False) -> CredentialStatusList:
    query = select(CredentialStatusList).where(CredentialStatusList.id == list_id)
    row = session.scalar(query.with_for_update() if lock else query)
    if row is None:
        raise NotFound("No such status list.")
    return row


def allocate_index(session: Session, list_id: str) -> int:
    """The next unused entry of the list (row-locked on PostgreSQL)."""
    row = _list(session, list_id, lock=True)
    if row.next_index >= row.capacity:
        raise Conflict("The status list is full; create a new one.")
    index = row.next_index
    row.next_index = index + 1
    session.flush()
    return index


def _set(session: Session, row: CredentialStatusList, idx: int, status: int, at: datetime) -> None:
    statuses = StatusList(row.bits, bytearray(row.statuses))
    if not 0 <= idx < row.next_index:
        raise NotFound("No credential holds this status entry.")
    statuses.set(idx, status)
    row.statuses = bytes(statuses.data)
    row.updated_at = at


def revoke(
    session: Session,
    list_id: str,
    idx: int,
    *,
    reason: RevokeReason,
    credential_hash: bytes,
    at: datetime,
) -> CredentialRevocation:
    """Set entry ``idx`` to INVALID and record why. Revoking twice is a conflict."""
    row = _list(session, list_id, lock=True)
    if session.get(CredentialRevocation, (list_id, idx)) is not None:
        raise Conflict("The credential is already revoked.")
    _set(session, row, idx, STATUS_INVALID, at)
    record = CredentialRevocation(
        list_id=list_id,
        idx=idx,
        reason=RevokeReason(reason).value,
        credential_hash=credential_hash.hex(),
        revoked_at=at,
    )
    session.add(record)
    session.flush()
    return record


def reinstate(session: Session, list_id: str, idx: int, *, at: datetime) -> None:
    """Unset a revocation made in error (the entry is VALID again)."""
    row = _list(session, list_id, lock=True)
    record = session.get(CredentialRevocation, (list_id, idx))
    if record is None:
        raise NotFound("The credential is not revoked.")
    _set(session, row, idx, STATUS_VALID, at)
    session.delete(record)
    session.flush()


def status_at(session: Session, uri: str, idx: int) -> int:
    """The status of entry ``idx`` of the list at ``uri`` (for a verifier on this instance)."""
    row = session.scalar(select(CredentialStatusList).where(CredentialStatusList.uri == uri))
    if row is None:
        raise StatusListInvalid("No such status list.")
    statuses = StatusList(row.bits, bytearray(row.statuses))
    try:
        return statuses.get(idx)
    except IndexError as exc:
        raise StatusListInvalid("The status index is out of range.") from exc


def publish_status_list(
    session: Session, list_id: str, *, key: Ed25519PrivateKey, kid: str, iat: int, ttl: int = 3600
) -> str:
    """The Status List Token of the list, signed by the issuer's key."""
    row = _list(session, list_id)
    statuses = StatusList(row.bits, bytearray(row.statuses))
    return sign_status_list_token(statuses, uri=row.uri, key=key, kid=kid, iat=iat, ttl=ttl)
