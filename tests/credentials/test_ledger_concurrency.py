"""Ledger appends from several writers at once, and the cached tree state of checkpoints."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from realname.credentials import ledger_store
from realname.credentials.checkpoint import NoteSigner, open_checkpoint
from realname.credentials.events import EventType, LedgerEvent
from realname.credentials.merkle import MerkleLog
from realname.store.models import LedgerLeaf, Tenant
from realname.store.repositories import tenants

T0 = datetime(2027, 1, 1, tzinfo=UTC)
ORIGIN = "ledger.bank-a.example/log"

pytestmark = pytest.mark.storage


def _event(writer: int, i: int) -> LedgerEvent:
    return LedgerEvent(EventType.ISSUED, bytes([writer]) + i.to_bytes(31, "big"), 1_800_000_000)


def _stored(session: Session) -> list[tuple[int, str]]:
    rows = session.execute(
        select(LedgerLeaf.leaf_index, LedgerLeaf.credential_hash).order_by(LedgerLeaf.leaf_index)
    )
    return [(int(index), str(digest)) for index, digest in rows]


def test_writers_appending_at_once_all_land_with_dense_indexes(
    session_factory: sessionmaker[Session],
) -> None:
    writers, batches, per_batch = 4, 5, 7
    answered: dict[int, list[tuple[int, LedgerEvent]]] = {w: [] for w in range(writers)}
    errors: list[BaseException] = []
    start = threading.Barrier(writers)

    def write(writer: int) -> None:
        try:
            start.wait()
            for batch in range(batches):
                events = [_event(writer, batch * per_batch + i) for i in range(per_batch)]
                # Each issuance transaction appends in its own session, as the API does.
                with session_factory.begin() as session:
                    indexes = ledger_store.append_many(session, events, at=T0)
                answered[writer].extend(zip(indexes, events, strict=True))
        except BaseException as error:  # pragma: no cover - reported below
            errors.append(error)

    threads = [threading.Thread(target=write, args=(w,)) for w in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors
    total = writers * batches * per_batch
    with session_factory() as session:
        stored = _stored(session)
    # Dense from 0, nothing lost, nothing doubled ...
    assert [index for index, _ in stored] == list(range(total))
    # ... and every writer was told the index its event really has.
    by_index = dict(stored)
    for pairs in answered.values():
        assert len(pairs) == batches * per_batch
        for index, event in pairs:
            assert by_index[index] == event.credential_hash.hex()
    # A batch is contiguous: one transaction, one run of indexes.
    for pairs in answered.values():
        for batch in range(batches):
            run = [index for index, _ in pairs[batch * per_batch : (batch + 1) * per_batch]]
            assert run == list(range(run[0], run[0] + per_batch))


def test_an_append_that_loses_the_index_race_retries_in_its_transaction(
    session_factory: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    with session_factory.begin() as session:
        ledger_store.append_many(session, [_event(0, i) for i in range(3)], at=T0)
    real_size = ledger_store.size
    stale = [1, 2]  # what a writer saw before two others committed
    seen: list[int] = []

    def racing_size(session: Session) -> int:
        seen.append(stale.pop(0) if stale else real_size(session))
        return seen[-1]

    monkeypatch.setattr(ledger_store, "size", racing_size)
    with session_factory.begin() as session:
        tenant = tenants.create_tenant(session, "issuer")  # the caller's own work
        indexes = ledger_store.append_many(session, [_event(1, 0), _event(1, 1)], at=T0)
    assert seen == [1, 2, 3]  # lost twice, then read the size again and won
    assert indexes == [3, 4]
    with session_factory() as session:
        stored = dict(_stored(session))
        assert session.get(Tenant, tenant.id) is not None  # the savepoint kept it
    assert sorted(stored) == [0, 1, 2, 3, 4]
    assert stored[3] == _event(1, 0).credential_hash.hex()
    assert stored[4] == _event(1, 1).credential_hash.hex()


def test_an_append_that_keeps_losing_gives_up_with_a_code(
    session_factory: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    with session_factory.begin() as session:
        ledger_store.append_many(session, [_event(0, 0)], at=T0)
    monkeypatch.setattr(ledger_store, "size", lambda session: 0)  # always stale
    with session_factory() as session:
        with pytest.raises(ledger_store.LedgerAppendConflict) as caught:
            ledger_store.append_many(session, [_event(2, 0)], at=T0)
        assert caught.value.code == "LEDGER_APPEND_CONFLICT"
        session.rollback()
    with session_factory() as session:
        assert len(_stored(session)) == 1


def test_checkpoints_from_the_cached_tree_state_match_a_full_recomputation(
    session_factory: sessionmaker[Session],
) -> None:
    ledger_store.forget_tree_state()
    signer = NoteSigner(ORIGIN, Ed25519PrivateKey.generate())
    events = [_event(3, i) for i in range(40)]
    with session_factory.begin() as session:
        ledger_store.append_many(session, events[:10], at=T0)
        ledger_store.checkpoint(session, signer, at=T0)
    # A transaction appends and checkpoints, then rolls back: its leaves are gone, and
    # the tree state it cached must not be trusted.
    with session_factory() as session:
        ledger_store.append_many(session, [_event(9, i) for i in range(5)], at=T0)
        ledger_store.checkpoint(session, signer, at=T0)
        session.rollback()
    for stop in (17, 40):
        with session_factory.begin() as session:
            start = ledger_store.size(session)
            ledger_store.append_many(session, events[start:stop], at=T0)
            note = ledger_store.checkpoint(session, signer, at=T0)
        head = open_checkpoint(note, signer.verifier)
        assert head.size == stop
        assert head.root_hash == MerkleLog(e.leaf_hash() for e in events[:stop]).root()
    # Cold (a fresh process): the same root from every stored leaf.
    ledger_store.forget_tree_state()
    with session_factory.begin() as session:
        assert ledger_store.checkpoint(session, signer, at=T0) == note
