"""Tenants and their API keys.

Key format: ``rn_<prefix>_<secret>``. The prefix (16 hex characters) is a public
lookup handle, shown in consoles and logs; the secret (256 random bits, base32) is
shown once at issue and stored only as its SHA-256. Because the secret is random
and long, a fast hash resists guessing as well as a slow one would, and checking a
key costs one lookup and one hash (NIST SP 800-63B reserves salted slow hashing,
such as argon2, for low-entropy memorised secrets). Comparison is constant-time
(``hmac.compare_digest``), and a key that does not exist costs the same hash as one
that does.
"""

from __future__ import annotations

import base64
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from hashlib import sha256

from sqlalchemy import URL, Engine, bindparam, select, update
from sqlalchemy.orm import Session

from realname.errors import BadRequest, NotFound
from realname.store.db import read_only
from realname.store.models import ApiKey, Tenant
from realname.store.types import new_id, utcnow

KEY_PREFIX = "rn"
_PREFIX_BYTES = 8
_SECRET_BYTES = 32
_KEY_PATTERN = re.compile(r"^rn_([0-9a-f]{16})_([a-z2-7]{52})$")
#: ``last_used_at`` is refreshed at most this often, so authentication is not a write
#: on every request.
LAST_USED_RESOLUTION = timedelta(seconds=60)
_DUMMY_HASH = sha256(b"realname: no such key").hexdigest()

#: The columns authentication needs, by prefix; built once so each request reuses
#: the compiled statement from SQLAlchemy's cache instead of rebuilding it.
_KEY_BY_PREFIX = select(
    ApiKey.id,
    ApiKey.tenant_id,
    ApiKey.secret_hash,
    ApiKey.scopes,
    ApiKey.revoked_at,
    ApiKey.last_used_at,
).where(ApiKey.prefix == bindparam("prefix"))
_TOUCH = (
    update(ApiKey).where(ApiKey.id == bindparam("key_id")).values(last_used_at=bindparam("when"))
)


@dataclass(frozen=True)
class ApiKeyPrincipal:
    """Who an authenticated request acts for."""

    tenant_id: str
    key_id: str
    scopes: tuple[str, ...]

    def has_scope(self, scope: str) -> bool:
        return scope in self.scopes


def _hash_secret(secret: str) -> str:
    return sha256(secret.encode("ascii")).hexdigest()


def create_tenant(session: Session, name: str) -> Tenant:
    """Add a tenant; ``name`` is the lender's display name (not personal data)."""
    name = name.strip()
    if not name:
        raise BadRequest("A tenant needs a name.")
    tenant = Tenant(id=new_id(), name=name, created_at=utcnow())
    session.add(tenant)
    session.flush()
    return tenant


def get_tenant(session: Session, tenant_id: str) -> Tenant:
    tenant = session.get(Tenant, tenant_id)
    if tenant is None:
        raise NotFound("No such tenant.", tenant_id=tenant_id)
    return tenant


def issue_api_key(session: Session, tenant_id: str, scopes: list[str]) -> tuple[ApiKey, str]:
    """Create a key for ``tenant_id``; return the row and the plaintext key.

    The plaintext is not stored anywhere: this return value is the only copy.
    """
    get_tenant(session, tenant_id)
    prefix = secrets.token_hex(_PREFIX_BYTES)
    secret = base64.b32encode(secrets.token_bytes(_SECRET_BYTES)).decode("ascii")
    secret = secret.rstrip("=").lower()
    key = ApiKey(
        id=new_id(),
        tenant_id=tenant_id,
        prefix=prefix,
        secret_hash=_hash_secret(secret),
        scopes=sorted(set(scopes)),
        created_at=utcnow(),
    )
    session.add(key)
    session.flush()
    return key, f"{KEY_PREFIX}_{prefix}_{secret}"


def _split(presented: str) -> tuple[str, str] | None:
    """``(prefix, secret)`` of a well-formed key; ``None`` (after a dummy hash) if not."""
    match = _KEY_PATTERN.match(presented.strip())
    if match is None:
        hmac.compare_digest(_DUMMY_HASH, _hash_secret("x"))
        return None
    prefix, secret = match.groups()
    return prefix, secret


def _secret_matches(stored_hash: str | None, secret: str) -> bool:
    """Constant-time check; an unknown prefix costs the same hash as a known one."""
    expected = stored_hash if stored_hash is not None else _DUMMY_HASH
    return hmac.compare_digest(expected, _hash_secret(secret)) and stored_hash is not None


def _touch_due(last_used_at: datetime | None, when: datetime) -> bool:
    return last_used_at is None or when - last_used_at >= LAST_USED_RESOLUTION


def authenticate_api_key(
    session: Session, presented: str, *, now: datetime | None = None
) -> ApiKeyPrincipal | None:
    """The principal for a presented key, or ``None`` if it is unknown, wrong or revoked.

    Every failure looks the same to the caller, so the answer does not tell an
    attacker whether a prefix exists. Runs inside the caller's transaction; a
    request that only needs to know who is calling uses :func:`authenticate_request`.
    """
    parts = _split(presented)
    if parts is None:
        return None
    prefix, secret = parts
    key = session.scalar(select(ApiKey).where(ApiKey.prefix == prefix))
    if not _secret_matches(key.secret_hash if key is not None else None, secret):
        return None
    assert key is not None
    if key.revoked_at is not None:
        return None
    when = now or utcnow()
    if _touch_due(key.last_used_at, when):
        key.last_used_at = when
        session.flush()
    return ApiKeyPrincipal(tenant_id=key.tenant_id, key_id=key.id, scopes=tuple(key.scopes))


#: How long a process trusts a key it has just checked without reading it again: a
#: client sending many requests pays for one read a second, not one per request. A
#: revocation applies at once in the process that makes it (:func:`forget_recent`)
#: and within this bound in the others.
RECENT_TTL = timedelta(seconds=1)
_RECENT_MAX = 4096
#: (database, SHA-256 of a presented key) → (its principal, when it was checked).
#: Never the key itself.
_RECENT: dict[tuple[URL, bytes], tuple[ApiKeyPrincipal, datetime]] = {}


def check_api_key(
    engine: Engine, presented: str, *, now: datetime | None = None
) -> tuple[ApiKeyPrincipal | None, datetime | None]:
    """The principal for a presented key (``None`` as for :func:`authenticate_api_key`),
    and the time to record as its ``last_used_at`` if that is due, else ``None``.

    A read only: one indexed lookup of the columns needed, in a read-only
    transaction (on SQLite a deferred ``BEGIN``, which neither takes nor waits for the
    database's single write lock), so it is cheap enough to run on the event loop. A
    key just checked is trusted for :data:`RECENT_TTL` without reading it again.
    """
    digest = (engine.url, sha256(presented.strip().encode("utf-8", "surrogatepass")).digest())
    when = now or utcnow()
    recent = _RECENT.get(digest)
    if recent is not None and timedelta(0) <= when - recent[1] < RECENT_TTL:
        return recent[0], None
    parts = _split(presented)
    if parts is None:
        return None, None
    prefix, secret = parts
    with read_only(), engine.connect() as connection:
        row = connection.execute(_KEY_BY_PREFIX, {"prefix": prefix}).one_or_none()
    if not _secret_matches(row.secret_hash if row is not None else None, secret):
        return None, None
    assert row is not None
    if row.revoked_at is not None:
        return None, None
    principal = ApiKeyPrincipal(tenant_id=row.tenant_id, key_id=row.id, scopes=tuple(row.scopes))
    if len(_RECENT) >= _RECENT_MAX:
        _RECENT.clear()
    _RECENT[digest] = (principal, when)
    return principal, when if _touch_due(row.last_used_at, when) else None


def forget_recent(key_id: str | None = None) -> None:
    """Drop remembered keys (``key_id``'s, or all): a revocation applies at once here."""
    for digest, (principal, _) in list(_RECENT.items()):
        if key_id is None or principal.key_id == key_id:
            _RECENT.pop(digest, None)


def touch_api_key(engine: Engine, key_id: str, when: datetime) -> None:
    """Record ``when`` as the key's ``last_used_at`` (a short write transaction)."""
    with engine.begin() as connection:
        connection.execute(_TOUCH, {"key_id": key_id, "when": when})


def authenticate_request(
    engine: Engine, presented: str, *, now: datetime | None = None
) -> ApiKeyPrincipal | None:
    """:func:`authenticate_api_key` for a request: a read, and a write only when due.

    Every request authenticates, so the common case is :func:`check_api_key` alone;
    only when ``last_used_at`` is due for its (throttled) refresh does the short
    write transaction of :func:`touch_api_key` follow.
    """
    principal, touch_at = check_api_key(engine, presented, now=now)
    if principal is not None and touch_at is not None:
        touch_api_key(engine, principal.key_id, touch_at)
    return principal


def revoke_api_key(session: Session, key_id: str, *, tenant_id: str | None = None) -> ApiKey:
    """Revoke a key (idempotent: a revoked key keeps its first ``revoked_at``).

    With ``tenant_id``, a key of another tenant is reported as not found.
    """
    key = session.get(ApiKey, key_id)
    if key is None or (tenant_id is not None and key.tenant_id != tenant_id):
        raise NotFound("No such API key.", key_id=key_id)
    if key.revoked_at is None:
        key.revoked_at = utcnow()
        session.flush()
    forget_recent(key.id)
    return key


def list_api_keys(session: Session, tenant_id: str) -> list[ApiKey]:
    """A tenant's keys, newest first (prefixes and metadata only; secrets are gone)."""
    return list(
        session.scalars(
            select(ApiKey).where(ApiKey.tenant_id == tenant_id).order_by(ApiKey.created_at.desc())
        )
    )


__all__ = [
    "ApiKeyPrincipal",
    "authenticate_api_key",
    "authenticate_request",
    "check_api_key",
    "create_tenant",
    "get_tenant",
    "issue_api_key",
    "list_api_keys",
    "revoke_api_key",
    "touch_api_key",
]
