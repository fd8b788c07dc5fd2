from __future__ import annotations

import re
import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from realname.errors import BadRequest, NotFound
from realname.store.models import ApiKey
from realname.store.repositories import tenants
from realname.store.types import utcnow

pytestmark = pytest.mark.storage


def issue(session_factory: sessionmaker[Session], scopes: list[str]) -> tuple[str, str, str]:
    with session_factory.begin() as session:
        tenant = tenants.create_tenant(session, "  Example Lending  ")
        assert tenant.name == "Example Lending"
        key, plaintext = tenants.issue_api_key(session, tenant.id, scopes)
        return tenant.id, key.id, plaintext


def test_issue_and_authenticate(session_factory: sessionmaker[Session]) -> None:
    tenant_id, key_id, plaintext = issue(session_factory, ["verify", "read", "verify"])
    assert re.fullmatch(r"rn_[0-9a-f]{16}_[a-z2-7]{52}", plaintext)
    with session_factory.begin() as session:
        principal = tenants.authenticate_api_key(session, plaintext)
        assert principal == tenants.ApiKeyPrincipal(tenant_id, key_id, ("read", "verify"))
        assert principal is not None
        assert principal.has_scope("verify")
        assert not principal.has_scope("admin")
    with session_factory() as session:
        key = session.get(ApiKey, key_id)
        assert key is not None
        assert key.last_used_at is not None


def test_the_secret_is_not_stored(session_factory: sessionmaker[Session]) -> None:
    _, key_id, plaintext = issue(session_factory, ["verify"])
    secret = plaintext.rsplit("_", 1)[1]
    with session_factory() as session:
        key = session.get(ApiKey, key_id)
        assert key is not None
        stored = " ".join(str(v) for v in (key.prefix, key.secret_hash, key.scopes))
        assert secret not in stored
        assert plaintext not in stored


def test_wrong_secret_unknown_prefix_and_garbage_are_rejected(
    session_factory: sessionmaker[Session],
) -> None:
    _, _, plaintext = issue(session_factory, ["verify"])
    prefix, secret = plaintext.split("_")[1:]
    wrong_secret = f"rn_{prefix}_{'a' if secret[0] != 'a' else 'b'}{secret[1:]}"
    unknown_prefix = f"rn_{'0' * 16}_{secret}"
    with session_factory.begin() as session:
        for presented in (wrong_secret, unknown_prefix, "", "rn_", plaintext + "x", "Bearer x"):
            assert tenants.authenticate_api_key(session, presented) is None
        assert tenants.authenticate_api_key(session, plaintext) is not None


def test_revoked_key_is_rejected(session_factory: sessionmaker[Session]) -> None:
    tenant_id, key_id, plaintext = issue(session_factory, ["verify"])
    with session_factory.begin() as session:
        first = tenants.revoke_api_key(session, key_id, tenant_id=tenant_id).revoked_at
        assert first is not None
        assert tenants.revoke_api_key(session, key_id).revoked_at == first
    with session_factory() as session:
        assert tenants.authenticate_api_key(session, plaintext) is None


def test_revoking_another_tenants_key_is_not_found(session_factory: sessionmaker[Session]) -> None:
    _, key_id, _ = issue(session_factory, ["verify"])
    with session_factory.begin() as session:
        other = tenants.create_tenant(session, "Other")
        with pytest.raises(NotFound):
            tenants.revoke_api_key(session, key_id, tenant_id=other.id)
        with pytest.raises(NotFound):
            tenants.revoke_api_key(session, "no-such-key")
        with pytest.raises(NotFound):
            tenants.issue_api_key(session, "no-such-tenant", [])
        with pytest.raises(BadRequest):
            tenants.create_tenant(session, "   ")


def test_last_used_is_refreshed_at_most_once_a_minute(
    session_factory: sessionmaker[Session],
) -> None:
    _, key_id, plaintext = issue(session_factory, ["verify"])
    with session_factory.begin() as session:
        tenants.authenticate_api_key(session, plaintext)
        key = session.get(ApiKey, key_id)
        assert key is not None
        assert key.last_used_at is not None
        first = key.last_used_at
        tenants.authenticate_api_key(session, plaintext, now=first + timedelta(seconds=5))
        assert key.last_used_at == first
        later = first + tenants.LAST_USED_RESOLUTION
        tenants.authenticate_api_key(session, plaintext, now=later)
        assert key.last_used_at == later


def test_a_request_is_authenticated_by_a_read_and_revocation_applies_at_once(
    engine: Engine, session_factory: sessionmaker[Session]
) -> None:
    tenant_id, key_id, plaintext = issue(session_factory, ["verify"])
    principal = tenants.authenticate_request(engine, plaintext)
    assert principal == tenants.ApiKeyPrincipal(tenant_id, key_id, ("verify",))
    prefix, secret = plaintext.split("_")[1:]
    for presented in (f"rn_{'0' * 16}_{secret}", f"rn_{prefix}_{secret[::-1]}", "junk", ""):
        assert tenants.authenticate_request(engine, presented) is None
    with session_factory.begin() as session:
        tenants.revoke_api_key(session, key_id)
    assert tenants.authenticate_request(engine, plaintext) is None


def test_a_request_refreshes_last_used_only_when_due(
    engine: Engine, session_factory: sessionmaker[Session]
) -> None:
    _, key_id, plaintext = issue(session_factory, ["verify"])

    def last_used() -> datetime | None:
        with session_factory() as session:
            key = session.get(ApiKey, key_id)
            assert key is not None
            return key.last_used_at

    assert last_used() is None
    first = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
    tenants.authenticate_request(engine, plaintext, now=first)
    assert last_used() == first
    tenants.authenticate_request(engine, plaintext, now=first + timedelta(seconds=5))
    assert last_used() == first
    later = first + tenants.LAST_USED_RESOLUTION
    tenants.authenticate_request(engine, plaintext, now=later)
    assert last_used() == later


def test_authenticating_a_request_does_not_wait_for_a_writer(
    engine: Engine, session_factory: sessionmaker[Session], backend: str
) -> None:
    """While another transaction holds SQLite's write lock, a key is still checked."""
    if backend != "sqlite":
        pytest.skip("the write lock taken at BEGIN is SQLite's")
    tenant_id, key_id, plaintext = issue(session_factory, ["verify"])
    now = utcnow()
    tenants.authenticate_request(engine, plaintext, now=now)  # last_used_at is fresh
    answers: list[tenants.ApiKeyPrincipal | None] = []
    with engine.begin() as writer:  # BEGIN IMMEDIATE: holds the write lock
        writer.execute(select(ApiKey.id).limit(1))
        thread = threading.Thread(
            target=lambda: answers.append(
                tenants.authenticate_request(engine, plaintext, now=now + timedelta(seconds=1))
            )
        )
        thread.start()
        thread.join(timeout=3)
        assert not thread.is_alive(), "authentication waited for the write lock"
    assert answers == [tenants.ApiKeyPrincipal(tenant_id, key_id, ("verify",))]


def test_keys_are_listed_per_tenant(session_factory: sessionmaker[Session]) -> None:
    tenant_id, key_id, _ = issue(session_factory, ["verify"])
    with session_factory.begin() as session:
        _, second_plain = tenants.issue_api_key(session, tenant_id, ["read"])
        listed = tenants.list_api_keys(session, tenant_id)
        assert len(listed) == 2
        assert key_id in {k.id for k in listed}
        prefixes = session.scalars(select(ApiKey.prefix)).all()
        assert len(set(prefixes)) == len(prefixes)
        assert second_plain.split("_")[1] in prefixes
