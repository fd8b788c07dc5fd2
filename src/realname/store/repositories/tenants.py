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

from sqlalchemy import select
from sqlalchemy.orm import Session

from realname.errors import BadRequest, NotFound
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


def authenticate_api_key(
    session: Session, presented: str, *, now: datetime | None = None
) -> ApiKeyPrincipal | None:
    """The principal for a presented key, or ``None`` if it is unknown, wrong or revoked.

    Every failure looks the same to the caller, so the answer does not tell an
    attacker whether a prefix exists.
    """
    match = _KEY_PATTERN.match(presented.strip())
    if match is None:
        hmac.compare_digest(_DUMMY_HASH, _hash_secret("x"))
        return None
    prefix, secret = match.groups()
    key = session.scalar(select(ApiKey).where(ApiKey.prefix == prefix))
    expected = key.secret_hash if key is not None else _DUMMY_HASH
    if not hmac.compare_digest(expected, _hash_secret(secret)) or key is None:
        return None
    if key.revoked_at is not None:
        return None
    when = now or utcnow()
    if key.last_used_at is None or when - key.last_used_at >= LAST_USED_RESOLUTION:
        key.last_used_at = when
        session.flush()
    return ApiKeyPrincipal(tenant_id=key.tenant_id, key_id=key.id, scopes=tuple(key.scopes))


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
    "create_tenant",
    "get_tenant",
    "issue_api_key",
    "list_api_keys",
    "revoke_api_key",
]
