"""The trust registry: institutions by DID, their roles and their Ed25519 keys.

Keys are never deleted: each has a validity interval ``[valid_from, valid_until)``.
:func:`rotate_key` closes the current keys at the rotation time and opens the new
one, so a credential is checked against the key valid at its ``iat`` and credentials
issued before a rotation keep verifying. :func:`retire_key` closes one key early
(for example at the time a compromise began), after which it verifies nothing newer.

:class:`DbTrustRegistry` answers from a small per-database cache, because every
presentation asks it for the issuer and its key: changes made through this module
clear it at once and again when their transaction ends, and changes made by other
processes are seen within :data:`REGISTRY_CACHE_SECONDS`.
"""

from __future__ import annotations

import threading
import time
import weakref
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, ClassVar

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from sqlalchemy import Engine, event, select
from sqlalchemy.orm import Session

from realname.credentials.did import public_key_from_did_key, validate_did
from realname.credentials.sdjwt import ed25519_public_key
from realname.errors import Conflict, NotFound, RealnameError
from realname.store.models import InstitutionKey, TrustedInstitution

__all__ = [
    "REGISTRY_CACHE_SECONDS",
    "DbTrustRegistry",
    "KeyIntervalInvalid",
    "Role",
    "add_institution",
    "add_key",
    "registry_changed",
    "retire_institution",
    "retire_key",
    "rotate_key",
]

#: How long a process answers from what it read of the registry. Its own changes
#: (through this module) are seen at once; another process's within this time.
REGISTRY_CACHE_SECONDS = 5.0


class Role(StrEnum):
    ISSUER = "issuer"
    VERIFIER = "verifier"
    WITNESS = "witness"


class KeyIntervalInvalid(RealnameError):
    code: ClassVar[str] = "KEY_INTERVAL_INVALID"
    http_status: ClassVar[int] = 422
    default_message: ClassVar[str] = "A key's validity must end after it starts."


class _Cache:
    """What one process read of one database's registry, each answer with an expiry.

    ``generation`` moves on every change made in this process, so an answer read
    from the database before a change and stored after it is not kept.
    """

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.generation = 0
        self.entries: dict[tuple[str, ...], tuple[float, Any]] = {}

    def clear(self) -> None:
        with self.lock:
            self.generation += 1
            self.entries.clear()


_CACHE_ENTRIES = 4096
_clock = time.monotonic  # a test can move time on
_CACHES: weakref.WeakKeyDictionary[Engine, _Cache] = weakref.WeakKeyDictionary()
_CACHES_LOCK = threading.Lock()
_DIRTY = "realname.registry.changed"  # session.info: registry rows changed, not yet ended
_HOOKED = "realname.registry.hooked"


def _cache(session: Session) -> _Cache:
    bind = session.get_bind()
    engine = bind if isinstance(bind, Engine) else bind.engine
    with _CACHES_LOCK:
        cache = _CACHES.get(engine)
        if cache is None:
            cache = _CACHES[engine] = _Cache()
    return cache


def _transaction_ended(session: Session) -> None:
    if session.info.pop(_DIRTY, False):
        _cache(session).clear()


def registry_changed(session: Session) -> None:
    """Note that ``session`` changed registry rows: drop this process's cached answers
    now and once more when the transaction commits or rolls back (readers meanwhile
    may have cached the rows as they were)."""
    session.info[_DIRTY] = True
    if not session.info.get(_HOOKED):
        session.info[_HOOKED] = True
        event.listen(session, "after_commit", _transaction_ended)
        event.listen(session, "after_rollback", _transaction_ended)
    _cache(session).clear()


def _cached(session: Session, key: tuple[str, ...], read: Callable[[], Any]) -> Any:
    """``read()``, answered from the cache while fresh. A session with uncommitted
    registry changes reads its own rows and caches nothing."""
    if session.info.get(_DIRTY):
        return read()
    cache = _cache(session)
    now = _clock()
    with cache.lock:
        hit = cache.entries.get(key)
        generation = cache.generation
    if hit is not None and hit[0] > now:
        return hit[1]
    value = read()
    with cache.lock:
        if cache.generation == generation:
            if len(cache.entries) >= _CACHE_ENTRIES:
                # Keys come from presentations (any DID, any kid): stay small.
                cache.entries.clear()
            cache.entries[key] = (now + REGISTRY_CACHE_SECONDS, value)
    return value


@dataclass(frozen=True)
class _KeyRow:
    public_key: Ed25519PublicKey
    valid_from: datetime
    valid_until: datetime | None


@dataclass(frozen=True)
class _InstitutionRow:
    retired: bool
    roles: tuple[str, ...]


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
    registry_changed(session)
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
    registry_changed(session)


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
    registry_changed(session)
    return key


def rotate_key(
    session: Session, did: str, kid: str, public_key: Ed25519PublicKey, *, at: datetime
) -> InstitutionKey:
    """Open key ``kid`` at ``at`` and close every key still open at that time."""
    for key in session.scalars(select(InstitutionKey).where(InstitutionKey.institution_did == did)):
        if key.valid_from <= at and (key.valid_until is None or key.valid_until > at):
            key.valid_until = at
    registry_changed(session)
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
    registry_changed(session)


class DbTrustRegistry:
    """The trust registry read from the database (implements ``verifier.IssuerKeys``)."""

    def __init__(self, session: Session) -> None:
        self._session = session

    def is_trusted(self, did: str, role: str) -> bool:
        row: _InstitutionRow | None = _cached(
            self._session, ("institution", did), lambda: self._institution(did)
        )
        return row is not None and not row.retired and role in row.roles

    def key_at(self, did: str, kid: str, at: datetime) -> Ed25519PublicKey | None:
        key: _KeyRow | None = _cached(self._session, ("key", did, kid), lambda: self._key(did, kid))
        if key is None or at < key.valid_from:
            return None
        if key.valid_until is not None and at >= key.valid_until:
            return None
        return key.public_key

    def _institution(self, did: str) -> _InstitutionRow | None:
        institution = self._session.get(TrustedInstitution, did)
        if institution is None:
            return None
        return _InstitutionRow(institution.retired_at is not None, tuple(institution.roles))

    def _key(self, did: str, kid: str) -> _KeyRow | None:
        key = self._session.scalar(
            select(InstitutionKey).where(
                InstitutionKey.institution_did == did, InstitutionKey.kid == kid
            )
        )
        if key is None:
            return None
        return _KeyRow(ed25519_public_key(key.public_key), key.valid_from, key.valid_until)

    def keys_of(self, did: str) -> list[InstitutionKey]:
        """Every key of ``did``, oldest first (for publishing and audits)."""
        return list(
            self._session.scalars(
                select(InstitutionKey)
                .where(InstitutionKey.institution_did == did)
                .order_by(InstitutionKey.valid_from, InstitutionKey.kid)
            )
        )
