"""The trust registry: institutions by DID, their roles and their Ed25519 keys.

Keys are never deleted: each has a validity interval ``[valid_from, valid_until)``.
:func:`rotate_key` closes the current keys at the rotation time and opens the new
one, so a credential is checked against the key valid at its ``iat`` and credentials
issued before a rotation keep verifying. :func:`retire_key` closes one key early
(for example at the time a compromise began), after which it verifies nothing newer.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from enum import StrEnum
from typing import ClassVar

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from sqlalchemy import select
from sqlalchemy.orm import Session

from realname.credentials.did import public_key_from_did_key, validate_did
from realname.errors import Conflict, NotFound, RealnameError
from realname.store.models import InstitutionKey, TrustedInstitution

__all__ = [
    "DbTrustRegistry",
    "KeyIntervalInvalid",
    "Role",
    "add_institution",
    "add_key",
    "retire_institution",
    "retire_key",
    "rotate_key",
]


class Role(StrEnum):
    ISSUER = "issuer"
    VERIFIER = "verifier"
    WITNESS = "witness"


class KeyIntervalInvalid(RealnameError):
    code: ClassVar[str] = "KEY_INTERVAL_INVALID"
    http_status: ClassVar[int] = 422
    default_message: ClassVar[str] = "A key's validity must end after it starts."


def _raw(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(Encoding.Raw, PublicFormat.Raw)


def _institution(session: Session, did: str) -> TrustedInstitution:
    institution = session.get(TrustedInstitution, did)
    if institution is None:
        raise NotFound("No such institution in the trust registry.")
    return institution


def add_institution(
    session: Session, did: str, name: str, roles: Iterable[Role], *, at: datetime
) -> TrustedInstitution:
    """Register an institution. A did:key institution gets its key (kid ``did#fragment``)."""
    validate_did(did)
    if session.get(TrustedInstitution, did) is not None:
        raise Conflict("The institution is already registered.")
    institution = TrustedInstitution(
        did=did, name=name, roles=sorted({Role(r).value for r in roles}), created_at=at
    )
    session.add(institution)
    session.flush()
    if did.startswith("did:key:"):
        # A did:key is its own key: register it so it can be found like any other.
        add_key(
            session,
            did,
            f"{did}#{did.removeprefix('did:key:')}",
            public_key_from_did_key(did),
            valid_from=at,
        )
    return institution


def retire_institution(session: Session, did: str, *, at: datetime) -> None:
    """Stop trusting an institution from ``at`` on (its rows stay for the record)."""
    _institution(session, did).retired_at = at
    session.flush()


def add_key(
    session: Session,
    did: str,
    kid: str,
    public_key: Ed25519PublicKey,
    *,
    valid_from: datetime,
    valid_until: datetime | None = None,
) -> InstitutionKey:
    """Add a key to an institution, valid on ``[valid_from, valid_until)``."""
    _institution(session, did)
    if valid_until is not None and valid_until <= valid_from:
        raise KeyIntervalInvalid()
    existing = session.scalar(
        select(InstitutionKey).where(
            InstitutionKey.institution_did == did, InstitutionKey.kid == kid
        )
    )
    if existing is not None:
        raise Conflict("The institution already has a key with this kid.")
    key = InstitutionKey(
        institution_did=did,
        kid=kid,
        public_key=_raw(public_key),
        valid_from=valid_from,
        valid_until=valid_until,
    )
    session.add(key)
    session.flush()
    return key


def rotate_key(
    session: Session, did: str, kid: str, public_key: Ed25519PublicKey, *, at: datetime
) -> InstitutionKey:
    """Open key ``kid`` at ``at`` and close every key still open at that time."""
    for key in session.scalars(select(InstitutionKey).where(InstitutionKey.institution_did == did)):
        if key.valid_from <= at and (key.valid_until is None or key.valid_until > at):
            key.valid_until = at
    return add_key(session, did, kid, public_key, valid_from=at)


def retire_key(session: Session, did: str, kid: str, *, at: datetime) -> None:
    """Close key ``kid`` at ``at``: it verifies only credentials issued before then."""
    key = session.scalar(
        select(InstitutionKey).where(
            InstitutionKey.institution_did == did, InstitutionKey.kid == kid
        )
    )
    if key is None:
        raise NotFound("No such key.")
    if at <= key.valid_from:
        raise KeyIntervalInvalid()
    if key.valid_until is None or key.valid_until > at:
        key.valid_until = at
    session.flush()


class DbTrustRegistry:
    """The trust registry read from the database (implements ``verifier.IssuerKeys``)."""

    def __init__(self, session: Session) -> None:
        self._session = session

    def is_trusted(self, did: str, role: str) -> bool:
        institution = self._session.get(TrustedInstitution, did)
        return (
            institution is not None and institution.retired_at is None and role in institution.roles
        )

    def key_at(self, did: str, kid: str, at: datetime) -> Ed25519PublicKey | None:
        key = self._session.scalar(
            select(InstitutionKey).where(
                InstitutionKey.institution_did == did, InstitutionKey.kid == kid
            )
        )
        if key is None or at < key.valid_from:
            return None
        if key.valid_until is not None and at >= key.valid_until:
            return None
        return Ed25519PublicKey.from_public_bytes(key.public_key)

    def keys_of(self, did: str) -> list[InstitutionKey]:
        """Every key of ``did``, oldest first (for publishing and audits)."""
        return list(
            self._session.scalars(
                select(InstitutionKey)
                .where(InstitutionKey.institution_did == did)
                .order_by(InstitutionKey.valid_from, InstitutionKey.kid)
            )
        )
