"""Trust registry, status lists and the ledger on SQLite and PostgreSQL, end to end."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from realname.credentials import ledger_store, revocation
from realname.credentials import registry as registry_module
from realname.credentials.checkpoint import NoteSigner, open_checkpoint
from realname.credentials.cosign import CosignatureSigner, Witness
from realname.credentials.did import did_key_from_public_key
from realname.credentials.events import EventType, LedgerEvent
from realname.credentials.issuer import IssuerKey, issue_credential
from realname.credentials.merkle import MerkleLog, verify_consistency, verify_inclusion
from realname.credentials.registry import (
    DbTrustRegistry,
    Role,
    add_institution,
    add_key,
    retire_institution,
    retire_key,
    rotate_key,
)
from realname.credentials.sdjwt import SdJwt
from realname.credentials.status_list import (
    STATUS_INVALID,
    STATUS_VALID,
    RevokeReason,
    open_status_list_token,
)
from realname.credentials.verifier import CredentialRejected, verify_presentation
from realname.errors import Conflict, NotFound
from realname.store.models import InstitutionKey, LedgerLeaf
from realname.verification.levels import Level

T0 = datetime(2027, 1, 1, tzinfo=UTC)
ISSUER = "did:web:bank-a.example"
ORIGIN = "ledger.bank-a.example/log"
URI = "https://bank-a.example/status/1"

pytestmark = pytest.mark.storage


def _event(i: int, kind: EventType = EventType.ISSUED) -> LedgerEvent:
    return LedgerEvent(kind, bytes([i % 256]) * 32, 1_800_000_000 + i)


def test_registry_roles_rotation_and_retirement(session_factory: sessionmaker[Session]) -> None:
    k1, k2 = Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()
    with session_factory.begin() as session:
        add_institution(session, ISSUER, "Bank A", [Role.ISSUER, Role.WITNESS], at=T0)
        add_key(session, ISSUER, f"{ISSUER}#k1", k1.public_key(), valid_from=T0)
        rotate_key(session, ISSUER, f"{ISSUER}#k2", k2.public_key(), at=T0 + timedelta(days=30))
        with pytest.raises(Conflict):
            add_key(session, ISSUER, f"{ISSUER}#k2", k2.public_key(), valid_from=T0)
        with pytest.raises(NotFound):
            add_key(session, "did:web:nobody.example", "k", k2.public_key(), valid_from=T0)
    with session_factory() as session:
        registry = DbTrustRegistry(session)
        assert registry.is_trusted(ISSUER, "issuer")
        assert registry.is_trusted(ISSUER, "witness")
        assert not registry.is_trusted(ISSUER, "verifier")
        day = timedelta(days=1)
        assert registry.key_at(ISSUER, f"{ISSUER}#k1", T0 + day) is not None
        assert registry.key_at(ISSUER, f"{ISSUER}#k1", T0 + 31 * day) is None
        assert registry.key_at(ISSUER, f"{ISSUER}#k2", T0 + 29 * day) is None
        assert registry.key_at(ISSUER, f"{ISSUER}#k2", T0 + 31 * day) is not None
        assert [k.kid for k in registry.keys_of(ISSUER)] == [f"{ISSUER}#k1", f"{ISSUER}#k2"]
    with session_factory.begin() as session:
        retire_key(session, ISSUER, f"{ISSUER}#k2", at=T0 + 40 * day)
    with session_factory() as session:
        assert DbTrustRegistry(session).key_at(ISSUER, f"{ISSUER}#k2", T0 + 41 * day) is None


def test_did_key_institution_registers_its_own_key(
    session_factory: sessionmaker[Session],
) -> None:
    key = Ed25519PrivateKey.generate().public_key()
    did = did_key_from_public_key(key)
    with session_factory.begin() as session:
        add_institution(session, did, "Witness W", [Role.WITNESS], at=T0)
    with session_factory() as session:
        kid = f"{did}#{did.removeprefix('did:key:')}"
        assert DbTrustRegistry(session).key_at(did, kid, T0) is not None


def test_status_list_allocate_revoke_publish(session_factory: sessionmaker[Session]) -> None:
    key = Ed25519PrivateKey.generate()
    with session_factory.begin() as session:
        add_institution(session, ISSUER, "Bank A", [Role.ISSUER], at=T0)
        list_id = revocation.create_status_list(session, ISSUER, URI, capacity=16, at=T0).id
        assert [revocation.allocate_index(session, list_id) for _ in range(3)] == [0, 1, 2]
        revocation.revoke(
            session,
            list_id,
            1,
            reason=RevokeReason.PHONE_REISSUED,
            credential_hash=b"\x01" * 32,
            at=T0,
        )
        with pytest.raises(Conflict):
            revocation.revoke(
                session, list_id, 1, reason=RevokeReason.FRAUD, credential_hash=b"\x01" * 32, at=T0
            )
        with pytest.raises(NotFound):
            revocation.revoke(
                session,
                list_id,
                9,
                reason=RevokeReason.ERASURE,
                credential_hash=b"\x02" * 32,
                at=T0,
            )
    with session_factory() as session:
        assert revocation.status_at(session, URI, 1) == STATUS_INVALID
        assert revocation.status_at(session, URI, 0) == STATUS_VALID
        token = revocation.publish_status_list(session, list_id, key=key, kid="k1", iat=100)
    published = open_status_list_token(token, uri=URI, key=key.public_key(), now=150)
    assert [published.get(i) for i in range(3)] == [0, 1, 0]
    with session_factory.begin() as session:
        revocation.reinstate(session, list_id, 1, at=T0)
    with session_factory() as session:
        assert revocation.status_at(session, URI, 1) == STATUS_VALID


def test_ledger_group_commit_checkpoints_and_proofs(session_factory: sessionmaker[Session]) -> None:
    signer = NoteSigner(ORIGIN, Ed25519PrivateKey.generate())
    events = [_event(i) for i in range(13)]
    with session_factory.begin() as session:
        assert ledger_store.append_many(session, events[:5], at=T0) == [0, 1, 2, 3, 4]
        first = ledger_store.checkpoint(session, signer, at=T0)
        assert ledger_store.checkpoint(session, signer, at=T0) == first  # idempotent per size
    with session_factory.begin() as session:
        assert ledger_store.append_many(session, events[5:], at=T0) == list(range(5, 13))
        second = ledger_store.checkpoint(session, signer, at=T0)
    memory = MerkleLog(e.leaf_hash() for e in events)
    old, new = open_checkpoint(first, signer.verifier), open_checkpoint(second, signer.verifier)
    assert (old.size, new.size, new.root_hash) == (5, 13, memory.root())
    with session_factory() as session:
        proof = ledger_store.consistency_proof(session, 5, 13)
        assert verify_consistency(5, 13, old.root_hash, new.root_hash, proof)
        for i in (0, 7, 12):
            path = ledger_store.inclusion_proof(session, i, 13)
            assert verify_inclusion(events[i].leaf_hash(), i, 13, path, new.root_hash)
        assert ledger_store.size(session) == 13


def test_ledger_refuses_a_rewritten_index(session_factory: sessionmaker[Session]) -> None:
    with session_factory.begin() as session:
        ledger_store.append_many(session, [_event(0)], at=T0)
    session = session_factory()
    try:
        session.add(
            LedgerLeaf(
                leaf_index=0,
                leaf_hash=b"\x00" * 32,
                event_type="issued",
                credential_hash="00" * 32,
                event_time=0,
                appended_at=T0,
            )
        )
        with pytest.raises(IntegrityError):
            session.flush()
    finally:
        session.rollback()
        session.close()


def test_two_institutions_issue_present_verify_revoke(
    session_factory: sessionmaker[Session],
) -> None:
    """A issues from the database; B verifies through the DB registry and ledger; A revokes."""
    issuer_key = Ed25519PrivateKey.generate()
    holder = Ed25519PrivateKey.generate()
    log_signer = NoteSigner(ORIGIN, Ed25519PrivateKey.generate())
    witness_signers = [
        CosignatureSigner(f"w{i}.example", Ed25519PrivateKey.generate()) for i in range(2)
    ]
    witnesses = [Witness(s, {ORIGIN: log_signer.verifier}) for s in witness_signers]
    now = int(T0.timestamp()) + 3600
    kid = f"{ISSUER}#k1"
    with session_factory.begin() as session:
        add_institution(session, ISSUER, "Bank A", [Role.ISSUER], at=T0)
        add_key(session, ISSUER, kid, issuer_key.public_key(), valid_from=T0)
        list_id = revocation.create_status_list(session, ISSUER, URI, capacity=64, at=T0).id
        index = revocation.allocate_index(session, list_id)
        issued = issue_credential(
            IssuerKey(ISSUER, kid, issuer_key),
            holder_key=holder.public_key(),
            level=Level.L2,
            verified_at=T0,
            age_over_18=True,
            name="王小明",
            id_number="11010519491231002X",
            phone_verified=True,
            status_uri=URI,
            status_index=index,
            now=now - 60,
        )
        ledger_store.append_many(
            session, [LedgerEvent(EventType.ISSUED, issued.credential_hash, now - 60)], at=T0
        )
        note = ledger_store.checkpoint(session, log_signer, at=T0)
        for witness in witnesses:
            note = witness.add_checkpoint(note, [], now=now)
        ledger_store.store_cosigned(session, note)

    presentation = (
        SdJwt.parse(issued.sd_jwt)
        .select(())
        .bind(holder, nonce="n", audience="did:web:bank-b.example", iat=now)
    )

    def verify(session: Session) -> None:
        verify_presentation(
            presentation,
            registry=DbTrustRegistry(session),
            nonce="n",
            audience="did:web:bank-b.example",
            now=now,
            status_lookup=lambda uri, idx: revocation.status_at(session, uri, idx),
            ledger_lookup=lambda digest: ledger_store.evidence_for(session, digest),
            log_key=log_signer.verifier,
            witness_keys=[s.verifier for s in witness_signers],
            quorum=2,
        )

    with session_factory() as session:
        verify(session)
    with session_factory.begin() as session:
        revocation.revoke(
            session,
            list_id,
            index,
            reason=RevokeReason.ERASURE,
            credential_hash=issued.credential_hash,
            at=T0,
        )
        ledger_store.append_many(
            session, [LedgerEvent(EventType.REVOKED, issued.credential_hash, now)], at=T0
        )
    with session_factory() as session, pytest.raises(CredentialRejected) as info:
        verify(session)
    assert info.value.code == "VC_REVOKED"


def test_ledger_proofs_from_blocks_match_the_whole_log(
    session_factory: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Proofs read from cached block roots and a few stored blocks equal the RFC ones,
    at every size (inside, at and past the cached blocks), as the log and its
    checkpoints grow."""
    monkeypatch.setattr(ledger_store, "PROOF_BLOCK", 4)
    signer = NoteSigner(ORIGIN, Ed25519PrivateKey.generate())
    events = [LedgerEvent(EventType.ISSUED, bytes([i]) * 32, 1_800_000_000 + i) for i in range(40)]
    memory = MerkleLog(e.leaf_hash() for e in events)
    appended = 0
    for batch, checkpointed in ((3, True), (6, True), (2, False), (16, True), (13, False)):
        with session_factory.begin() as session:
            ledger_store.append_many(session, events[appended : appended + batch], at=T0)
            appended += batch
            if checkpointed:
                ledger_store.checkpoint(session, signer, at=T0)
        with session_factory() as session:
            for size in range(1, appended + 1):
                for index in range(size):
                    assert ledger_store.inclusion_proof(session, index, size) == (
                        memory.inclusion_proof(index, size)
                    )
                for old in range(size + 1):
                    assert ledger_store.consistency_proof(session, old, size) == (
                        memory.consistency_proof(old, size)
                    )
            with pytest.raises(ValueError, match="outside"):
                ledger_store.inclusion_proof(session, 0, appended + 1)
            with pytest.raises(ValueError, match="outside"):
                ledger_store.consistency_proof(session, appended + 1, appended + 1)


def test_ledger_proof_reads_a_few_blocks_not_the_log(
    session_factory: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ledger_store, "PROOF_BLOCK", 8)
    signer = NoteSigner(ORIGIN, Ed25519PrivateKey.generate())
    events = [_event(i) for i in range(300)]
    with session_factory.begin() as session:
        ledger_store.append_many(session, events, at=T0)
        ledger_store.checkpoint(session, signer, at=T0)
    reads: list[tuple[int, int]] = []
    read = ledger_store._leaf_hashes

    def counted(session: Session, start: int, end: int) -> list[bytes]:
        reads.append((start, end))
        return read(session, start, end)

    monkeypatch.setattr(ledger_store, "_leaf_hashes", counted)
    with session_factory() as session:
        ledger_store.inclusion_proof(session, 0, 300)  # the first proof caches the blocks
        reads.clear()
        proof = ledger_store.inclusion_proof(session, 123, 300)
        assert verify_inclusion(events[123].leaf_hash(), 123, 300, proof, _root(events))
        assert sum(end - start for start, end in reads) <= 2 * 8
        reads.clear()
        ledger_store.consistency_proof(session, 77, 300)
        assert sum(end - start for start, end in reads) <= 2 * 8


def test_ledger_proofs_forget_blocks_of_a_rolled_back_checkpoint(
    session_factory: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Block roots built inside a transaction that rolls back are not used afterwards."""
    monkeypatch.setattr(ledger_store, "PROOF_BLOCK", 2)
    signer = NoteSigner(ORIGIN, Ed25519PrivateKey.generate())
    gone, kept = [_event(i) for i in range(8)], [_event(i + 100) for i in range(8)]
    session = session_factory()
    try:
        ledger_store.append_many(session, gone, at=T0)
        ledger_store.checkpoint(session, signer, at=T0)
        ledger_store.inclusion_proof(session, 5, 8)  # caches blocks of ``gone``
        session.rollback()
    finally:
        session.close()
    with session_factory.begin() as session:
        ledger_store.append_many(session, kept, at=T0)
        ledger_store.checkpoint(session, signer, at=T0)
    with session_factory() as session:
        proof = ledger_store.inclusion_proof(session, 5, 8)
    assert proof == MerkleLog(e.leaf_hash() for e in kept).inclusion_proof(5, 8)


def _root(events: list[LedgerEvent]) -> bytes:
    return MerkleLog(e.leaf_hash() for e in events).root()


def test_registry_cache_sees_this_process_changes_at_once(
    session_factory: sessionmaker[Session],
) -> None:
    k1, k2 = Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()
    kid1, kid2, day = f"{ISSUER}#k1", f"{ISSUER}#k2", timedelta(days=1)
    with session_factory.begin() as session:
        add_institution(session, ISSUER, "Bank A", [Role.ISSUER], at=T0)
        add_key(session, ISSUER, kid1, k1.public_key(), valid_from=T0)
    with session_factory() as session:
        registry = DbTrustRegistry(session)
        assert registry.key_at(ISSUER, kid1, T0 + 40 * day) is not None  # now cached
        assert registry.key_at(ISSUER, kid2, T0 + 40 * day) is None  # absent, cached too
    with session_factory.begin() as session:
        rotate_key(session, ISSUER, kid2, k2.public_key(), at=T0 + 30 * day)
    with session_factory() as session:
        registry = DbTrustRegistry(session)
        assert registry.key_at(ISSUER, kid1, T0 + 40 * day) is None
        assert registry.key_at(ISSUER, kid1, T0 + 29 * day) is not None
        assert registry.key_at(ISSUER, kid2, T0 + 40 * day) is not None
    with session_factory.begin() as session:
        retire_key(session, ISSUER, kid2, at=T0 + 35 * day)
    with session_factory() as session:
        assert DbTrustRegistry(session).key_at(ISSUER, kid2, T0 + 40 * day) is None
    with session_factory.begin() as session:
        assert DbTrustRegistry(session).is_trusted(ISSUER, "issuer")
        retire_institution(session, ISSUER, at=T0 + 50 * day)
    with session_factory() as session:
        assert not DbTrustRegistry(session).is_trusted(ISSUER, "issuer")


def test_registry_cache_keeps_no_answer_read_while_a_change_was_uncommitted(
    session_factory: sessionmaker[Session], backend: str
) -> None:
    """A reader caches the key as it was while a revocation is in flight (PostgreSQL:
    SQLite's writer locks readers out); the revocation's commit drops that answer,
    and a rolled-back one leaves the key valid."""
    key, kid, later = Ed25519PrivateKey.generate(), f"{ISSUER}#k1", T0 + timedelta(days=9)
    with session_factory.begin() as session:
        add_institution(session, ISSUER, "Bank A", [Role.ISSUER], at=T0)
        add_key(session, ISSUER, kid, key.public_key(), valid_from=T0)
    for commit in (False, True):
        writer = session_factory()
        try:
            retire_key(writer, ISSUER, kid, at=T0 + timedelta(days=1))
            assert DbTrustRegistry(writer).key_at(ISSUER, kid, later) is None  # its own rows
            if backend == "postgresql":
                with session_factory() as reader:
                    assert DbTrustRegistry(reader).key_at(ISSUER, kid, later) is not None
            writer.commit() if commit else writer.rollback()
        finally:
            writer.close()
        with session_factory() as session:
            found = DbTrustRegistry(session).key_at(ISSUER, kid, later)
        assert (found is None) is commit


def test_registry_cache_sees_other_processes_changes_after_its_ttl(
    session_factory: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    now = [1000.0]
    monkeypatch.setattr(registry_module, "_clock", lambda: now[0])
    key, kid, later = Ed25519PrivateKey.generate(), f"{ISSUER}#k1", T0 + timedelta(days=9)
    with session_factory.begin() as session:
        add_institution(session, ISSUER, "Bank A", [Role.ISSUER], at=T0)
        add_key(session, ISSUER, kid, key.public_key(), valid_from=T0)
    with session_factory() as session:
        assert DbTrustRegistry(session).key_at(ISSUER, kid, later) is not None
    with session_factory.begin() as session:  # another process: rows changed directly
        session.execute(
            update(InstitutionKey)
            .where(InstitutionKey.kid == kid)
            .values(valid_until=T0 + timedelta(days=1))
        )
    with session_factory() as session:
        assert DbTrustRegistry(session).key_at(ISSUER, kid, later) is not None  # cached
        now[0] += registry_module.REGISTRY_CACHE_SECONDS + 0.1
        assert DbTrustRegistry(session).key_at(ISSUER, kid, later) is None
