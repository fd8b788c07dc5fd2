"""Console operators: argon2id passwords, three roles, server-side sessions, login limits.

Passwords are hashed with argon2id (RFC 9106) through argon2-cffi's
:class:`~argon2.PasswordHasher`. A login for an unknown username still verifies
against a dummy hash, so the answer takes as long as a wrong password and never
says which of the two was wrong (full-stack-fastapi-template's enumeration-safe
login). Sessions are random 256-bit tokens of which only the SHA-256 is stored;
they end after :data:`IDLE_TIMEOUT` without use or :data:`MAX_AGE` in total.
Failed logins are counted per username and per client address over
:data:`FAILURE_WINDOW`; past :data:`MAX_FAILURES` logins are refused until the window
passes, whatever the password (OWASP ASVS 2.2.1).
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from hashlib import sha256

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from realname.ops.errors import InvalidOperator, LoginFailed, LoginRateLimited
from realname.store.models import Operator, OperatorLoginFailure, OperatorSession
from realname.store.types import new_id


class Role(StrEnum):
    """What an operator may do.

    * reviewer — claim cases, unmask with a reason, decide the cases they hold;
    * supervisor — everything a reviewer may, plus reassign and override decisions;
    * auditor — read everything (masked), change nothing.
    """

    REVIEWER = "reviewer"
    SUPERVISOR = "supervisor"
    AUDITOR = "auditor"


#: Roles that may change a case (claim, unmask, decide).
DECIDERS = frozenset({Role.REVIEWER, Role.SUPERVISOR})
IDLE_TIMEOUT = timedelta(minutes=30)
MAX_AGE = timedelta(hours=8)
FAILURE_WINDOW = timedelta(minutes=15)
MAX_FAILURES = 5
MIN_PASSWORD_LENGTH = 12
USERNAME = re.compile(r"^[a-z0-9][a-z0-9._-]{1,63}$")

_hasher = PasswordHasher()
_DUMMY_HASH = _hasher.hash("realname-dummy-password-for-timing")


@dataclass(frozen=True)
class Principal:
    """The signed-in operator as the pages see them."""

    id: str
    username: str
    role: Role

    @property
    def actor(self) -> str:
        """How the audit log names this operator."""
        return f"operator:{self.username}"

    @property
    def can_decide(self) -> bool:
        return self.role in DECIDERS


@dataclass(frozen=True)
class SignedIn:
    principal: Principal
    token: str
    expires_at: datetime


def normalise_username(username: str) -> str:
    return username.strip().lower()


def create_operator(
    session: Session, username: str, password: str, role: Role | str, *, now: datetime
) -> Operator:
    """Add an operator. Usernames are lower-case ASCII; passwords at least 12 characters."""
    name = normalise_username(username)
    if not USERNAME.match(name):
        raise InvalidOperator("Usernames are 2-64 lower-case letters, digits, '.', '_' or '-'.")
    try:
        chosen = Role(role)
    except ValueError:
        raise InvalidOperator("The role must be reviewer, supervisor or auditor.") from None
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidOperator(f"The password needs at least {MIN_PASSWORD_LENGTH} characters.")
    if session.scalar(select(Operator.id).where(Operator.username == name)) is not None:
        raise InvalidOperator("An operator with this username already exists.")
    operator = Operator(
        id=new_id(),
        username=name,
        password_hash=_hasher.hash(password),
        role=chosen.value,
        created_at=now,
    )
    session.add(operator)
    session.flush()
    return operator


def list_operators(session: Session) -> list[Operator]:
    return list(session.scalars(select(Operator).order_by(Operator.username)))


def _failure_key(kind: str, value: str) -> str:
    return sha256(f"realname-ops-login:{kind}:{value}".encode()).hexdigest()


def _failures(session: Session, key: str, now: datetime) -> int:
    return (
        session.scalar(
            select(func.count())
            .select_from(OperatorLoginFailure)
            .where(
                OperatorLoginFailure.key_hash == key, OperatorLoginFailure.at > now - FAILURE_WINDOW
            )
        )
        or 0
    )


def _principal(operator: Operator) -> Principal:
    return Principal(id=operator.id, username=operator.username, role=Role(operator.role))


def log_in(
    session: Session, username: str, password: str, *, client: str | None, now: datetime
) -> SignedIn:
    """Check the password and open a session, or raise :class:`LoginFailed`.

    Raises :class:`LoginRateLimited` before looking at the password once the
    username or the client address has failed too often. The caller commits even
    on failure (the failure itself is recorded).
    """
    name = normalise_username(username)[:64]
    keys = [_failure_key("user", name)] + ([_failure_key("ip", client)] if client else [])
    if any(_failures(session, key, now) >= MAX_FAILURES for key in keys):
        raise LoginRateLimited()
    operator = session.scalar(select(Operator).where(Operator.username == name))
    stored = operator.password_hash if operator is not None else _DUMMY_HASH
    try:
        ok = _hasher.verify(stored, password) and operator is not None
    except (VerificationError, InvalidHashError):
        ok = False
    if not ok or operator is None or operator.disabled_at is not None:
        for key in keys:
            session.add(OperatorLoginFailure(id=new_id(), key_hash=key, at=now))
        session.flush()
        raise LoginFailed()
    if _hasher.check_needs_rehash(operator.password_hash):
        operator.password_hash = _hasher.hash(password)
    token = secrets.token_urlsafe(32)
    expires = now + MAX_AGE
    session.add(
        OperatorSession(
            token_hash=_token_hash(token),
            operator_id=operator.id,
            created_at=now,
            last_seen_at=now,
            expires_at=expires,
        )
    )
    session.flush()
    return SignedIn(principal=_principal(operator), token=token, expires_at=expires)


def _token_hash(token: str) -> str:
    return sha256(token.encode()).hexdigest()


def authenticate(session: Session, token: str, *, now: datetime) -> Principal | None:
    """The operator holding session ``token``, or None once it expired or was revoked.

    Each use moves the idle deadline forward.
    """
    row = session.get(OperatorSession, _token_hash(token))
    if row is None or row.revoked_at is not None:
        return None
    if now >= row.expires_at or now - row.last_seen_at >= IDLE_TIMEOUT:
        return None
    operator = session.get(Operator, row.operator_id)
    if operator is None or operator.disabled_at is not None:
        return None
    row.last_seen_at = now
    return _principal(operator)


def log_out(session: Session, token: str, *, now: datetime) -> None:
    row = session.get(OperatorSession, _token_hash(token))
    if row is not None and row.revoked_at is None:
        row.revoked_at = now


__all__ = [
    "DECIDERS",
    "IDLE_TIMEOUT",
    "MAX_AGE",
    "MAX_FAILURES",
    "Principal",
    "Role",
    "SignedIn",
    "authenticate",
    "create_operator",
    "list_operators",
    "log_in",
    "log_out",
]
