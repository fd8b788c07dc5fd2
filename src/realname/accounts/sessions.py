"""Sign-in sessions: opaque 256-bit bearer tokens, stored only as SHA-256.

A token is ``rns_`` followed by 32 random bytes in base64url (the prefix lets secret
scanners recognise a leaked token). Because the token is random and long, a fast
hash resists guessing as well as a slow one would (NIST SP 800-63B §5.1.1.2 asks for
slow salted hashing of *memorised* secrets, not of random tokens), and a lookup by
hash takes one indexed query. Sessions expire 30 days after sign-in by default —
an absolute limit, not renewed by use (SP 800-63B §7.2) — and can be revoked one by
one or all at once (after a phone change, say).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from hashlib import sha256
from typing import Any, cast

from sqlalchemy import CursorResult, delete, select, update
from sqlalchemy.orm import Session

from realname.store.models import Account, AccountSession
from realname.store.repositories.people import ERASED_STATUS
from realname.store.types import new_id, utcnow

TOKEN_PREFIX = "rns_"  # noqa: S105 - a public marker that secret scanners look for
TOKEN_BYTES = 32
DEFAULT_SESSION_TTL = timedelta(days=30)


@dataclass(frozen=True)
class IssuedSession:
    """A new session; ``token`` is shown to the client once and never stored."""

    session_id: str
    account_id: str
    token: str
    expires_at: datetime


@dataclass(frozen=True)
class SessionPrincipal:
    """Who a request with a valid session token acts as."""

    session_id: str
    account_id: str
    tenant_id: str
    expires_at: datetime


def token_hash(token: str) -> str:
    """The stored form of a session token: SHA-256, hex."""
    return sha256(token.encode("utf-8")).hexdigest()


def issue_session(
    session: Session,
    account_id: str,
    *,
    now: datetime | None = None,
    ttl: timedelta = DEFAULT_SESSION_TTL,
) -> IssuedSession:
    """Start a session for ``account_id``; the caller hands ``token`` to the client."""
    when = now or utcnow()
    token = TOKEN_PREFIX + secrets.token_urlsafe(TOKEN_BYTES)
    row = AccountSession(
        id=new_id(),
        account_id=account_id,
        token_hash=token_hash(token),
        created_at=when,
        expires_at=when + ttl,
    )
    session.add(row)
    session.flush()
    return IssuedSession(
        session_id=row.id, account_id=account_id, token=token, expires_at=row.expires_at
    )


def authenticate_session(
    session: Session,
    token: str,
    *,
    tenant_id: str | None = None,
    now: datetime | None = None,
) -> SessionPrincipal | None:
    """The principal behind ``token``, or ``None`` if it is unknown, expired, revoked,
    of an erased account, or (with ``tenant_id``) of another tenant's account."""
    when = now or utcnow()
    row = session.execute(
        select(AccountSession, Account.tenant_id, Account.status)
        .join(Account, Account.id == AccountSession.account_id)
        .where(AccountSession.token_hash == token_hash(token))
    ).one_or_none()
    if row is None:
        return None
    record, account_tenant, status = row
    if (
        record.revoked_at is not None
        or when >= record.expires_at
        or status == ERASED_STATUS
        or (tenant_id is not None and account_tenant != tenant_id)
    ):
        return None
    return SessionPrincipal(
        session_id=record.id,
        account_id=record.account_id,
        tenant_id=account_tenant,
        expires_at=record.expires_at,
    )


def revoke(session: Session, token: str, *, now: datetime | None = None) -> bool:
    """Revoke the session of ``token``; whether a live session was revoked."""
    result = cast(
        "CursorResult[Any]",
        session.execute(
            update(AccountSession)
            .where(
                AccountSession.token_hash == token_hash(token),
                AccountSession.revoked_at.is_(None),
            )
            .values(revoked_at=now or utcnow())
            .execution_options(synchronize_session=False)
        ),
    )
    return result.rowcount == 1


def revoke_all(session: Session, account_id: str, *, now: datetime | None = None) -> int:
    """Revoke every live session of ``account_id``; how many were revoked."""
    result = cast(
        "CursorResult[Any]",
        session.execute(
            update(AccountSession)
            .where(AccountSession.account_id == account_id, AccountSession.revoked_at.is_(None))
            .values(revoked_at=now or utcnow())
            .execution_options(synchronize_session=False)
        ),
    )
    return result.rowcount


def prune(session: Session, *, before: datetime) -> int:
    """Delete sessions that expired before ``before``."""
    result = cast(
        "CursorResult[Any]",
        session.execute(
            delete(AccountSession)
            .where(AccountSession.expires_at < before)
            .execution_options(synchronize_session=False)
        ),
    )
    return result.rowcount


__all__ = [
    "DEFAULT_SESSION_TTL",
    "TOKEN_PREFIX",
    "IssuedSession",
    "SessionPrincipal",
    "authenticate_session",
    "issue_session",
    "prune",
    "revoke",
    "revoke_all",
    "token_hash",
]
