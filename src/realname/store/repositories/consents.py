"""Separate consent for sensitive personal information (PIPL Art. 14, 29; JR/T 0171-2020).

Each grant names one kind of data (``id``, ``phone``, ``bank_card``, ``face``), the
purpose, and when; withdrawing (PIPL Art. 15) stamps ``withdrawn_at`` and keeps the
row as evidence that earlier processing was lawful. :func:`has_consent` is what a
flow asks before it processes the data: no consent, no processing.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ColumnElement, bindparam, or_, select
from sqlalchemy.orm import Session

from realname.errors import BadRequest, NotFound
from realname.store.models import CONSENT_KINDS, Consent
from realname.store.prepared import Prepared
from realname.store.tables import table_of
from realname.store.types import new_id, utcnow


def _check(kind: str, person_id: str | None, account_id: str | None) -> None:
    if kind not in CONSENT_KINDS:
        raise BadRequest("Unknown consent kind.", kind=kind)
    if person_id is None and account_id is None:
        raise BadRequest("A consent needs a person or an account.")


def grant_consent(
    session: Session,
    *,
    kind: str,
    purpose: str,
    person_id: str | None = None,
    account_id: str | None = None,
    at: datetime | None = None,
) -> Consent:
    """Record a consent; ``purpose`` says why, in words shown to the user."""
    _check(kind, person_id, account_id)
    if not purpose.strip():
        raise BadRequest("A consent needs a purpose (PIPL Art. 17).")
    consent = Consent(
        id=new_id(),
        person_id=person_id,
        account_id=account_id,
        kind=kind,
        purpose=purpose.strip(),
        granted_at=at or utcnow(),
    )
    session.add(consent)
    session.flush()
    return consent


def withdraw_consent(session: Session, consent_id: str, *, at: datetime | None = None) -> Consent:
    """Withdraw a consent (idempotent: the first withdrawal time is kept)."""
    consent = session.get(Consent, consent_id)
    if consent is None:
        raise NotFound("No such consent.", consent_id=consent_id)
    if consent.withdrawn_at is None:
        consent.withdrawn_at = at or utcnow()
        session.flush()
    return consent


def _subject(person_id: str | None, account_id: str | None) -> ColumnElement[bool]:
    clauses: list[ColumnElement[bool]] = []
    if person_id is not None:
        clauses.append(Consent.person_id == person_id)
    if account_id is not None:
        clauses.append(Consent.account_id == account_id)
    return or_(*clauses)


def active_consents(
    session: Session,
    *,
    kind: str,
    person_id: str | None = None,
    account_id: str | None = None,
    at: datetime | None = None,
) -> list[Consent]:
    """Consents of ``kind`` in force at ``at`` (default now) for the person or account."""
    _check(kind, person_id, account_id)
    when = at or utcnow()
    return list(
        session.scalars(
            select(Consent)
            .where(
                _subject(person_id, account_id),
                Consent.kind == kind,
                Consent.granted_at <= when,
                or_(Consent.withdrawn_at.is_(None), Consent.withdrawn_at > when),
            )
            .order_by(Consent.granted_at)
        )
    )


_CONSENTS = table_of(Consent)
#: Built once: it runs on every verification. A subject left ``None`` compares with
#: NULL, which matches nothing, so one statement serves a person, an account or both.
#: No DISTINCT: the caller's set drops repeats, and SQLite would build a temporary
#: B-tree for them.
_ACTIVE_KINDS = Prepared(
    select(_CONSENTS.c.kind).where(
        or_(
            _CONSENTS.c.person_id == bindparam("person_id"),
            _CONSENTS.c.account_id == bindparam("account_id"),
        ),
        _CONSENTS.c.granted_at <= bindparam("at"),
        or_(_CONSENTS.c.withdrawn_at.is_(None), _CONSENTS.c.withdrawn_at > bindparam("at")),
    )
)


def active_kinds(
    session: Session,
    *,
    person_id: str | None = None,
    account_id: str | None = None,
    at: datetime | None = None,
) -> frozenset[str]:
    """The kinds with a consent in force at ``at`` (default now): one query for all kinds."""
    if person_id is None and account_id is None:
        raise BadRequest("A consent needs a person or an account.")
    when = at or utcnow()
    params = {"person_id": person_id, "account_id": account_id, "at": when}
    return frozenset(_ACTIVE_KINDS.scalars(session, params))


def has_consent(
    session: Session,
    *,
    kind: str,
    person_id: str | None = None,
    account_id: str | None = None,
    at: datetime | None = None,
) -> bool:
    """Whether a consent of ``kind`` is in force for the person or the account."""
    return bool(
        active_consents(session, kind=kind, person_id=person_id, account_id=account_id, at=at)
    )


def withdraw_all(
    session: Session,
    *,
    kind: str,
    person_id: str | None = None,
    account_id: str | None = None,
    at: datetime | None = None,
) -> int:
    """Withdraw every active consent of ``kind``; returns how many were withdrawn."""
    when = at or utcnow()
    consents = active_consents(
        session, kind=kind, person_id=person_id, account_id=account_id, at=when
    )
    for consent in consents:
        consent.withdrawn_at = when
    session.flush()
    return len(consents)


__all__ = [
    "active_consents",
    "active_kinds",
    "grant_consent",
    "has_consent",
    "withdraw_all",
    "withdraw_consent",
]
