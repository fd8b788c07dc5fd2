from __future__ import annotations

import itertools
import threading
from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine, select, text
from sqlalchemy.orm import Session, sessionmaker

from realname.store.models import AuditEntry
from realname.store.repositories import audit

pytestmark = pytest.mark.storage


def write_chain(session_factory: sessionmaker[Session], n: int = 5) -> None:
    for i in range(1, n + 1):
        with session_factory.begin() as session:
            audit.append(
                session,
                f"operator:{i}",
                "person.unmasked",
                f"person:{i}",
                {"reason": "review", "fields": ("id_number",), "n": i, 7: "int key"},
            )


def test_chain_links_and_verifies(session_factory: sessionmaker[Session]) -> None:
    write_chain(session_factory)
    with session_factory() as session:
        entries = session.scalars(select(AuditEntry).order_by(AuditEntry.seq)).all()
        assert [e.seq for e in entries] == [1, 2, 3, 4, 5]
        assert entries[0].prev_hash == audit.GENESIS_HASH
        assert all(b.prev_hash == a.hash for a, b in itertools.pairwise(entries))
        assert entries[0].details == {
            "reason": "review",
            "fields": ["id_number"],
            "n": 1,
            "7": "int key",
        }
        report = audit.verify_chain(session)
    assert report.ok
    assert report.checked == 5
    assert report.first_bad_seq is None
    assert report.head_seq == 5
    assert report.head_hash == entries[-1].hash


def test_empty_chain_is_valid(session_factory: sessionmaker[Session]) -> None:
    with session_factory() as session:
        report = audit.verify_chain(session)
    assert report.ok
    assert report.checked == 0
    assert report.head_seq is None


def test_hash_is_canonical_and_covers_every_field() -> None:
    base = {
        "seq": 1,
        "at": datetime(2024, 1, 1, tzinfo=UTC),
        "actor": "a",
        "action": "b",
        "target": "c",
        "details": {"x": 1, "y": [1, 2]},
        "prev_hash": audit.GENESIS_HASH,
    }
    reference = audit.entry_hash(**base)  # type: ignore[arg-type]
    reordered = dict(base, details={"y": [1, 2], "x": 1})
    assert audit.entry_hash(**reordered) == reference  # type: ignore[arg-type]
    for field, other in [
        ("seq", 2),
        ("at", datetime(2024, 1, 1, 0, 0, 0, 1, tzinfo=UTC)),
        ("actor", "A"),
        ("action", "B"),
        ("target", "C"),
        ("details", {"x": 2, "y": [1, 2]}),
        ("prev_hash", "1" * 64),
    ]:
        assert audit.entry_hash(**dict(base, **{field: other})) != reference  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("statement", "bad_seq", "kind"),
    [
        ("UPDATE audit_log SET actor = 'mallory' WHERE seq = 3", 3, "hash_mismatch"),
        ('UPDATE audit_log SET details = \'{"reason": "none"}\' WHERE seq = 2', 2, "hash_mismatch"),
        ("DELETE FROM audit_log WHERE seq = 3", 4, "seq_gap"),
        ("DELETE FROM audit_log WHERE seq = 1", 2, "seq_gap"),
    ],
)
def test_tampering_is_reported_at_its_seq(
    engine: Engine,
    session_factory: sessionmaker[Session],
    statement: str,
    bad_seq: int,
    kind: str,
) -> None:
    write_chain(session_factory)
    with engine.begin() as connection:
        connection.execute(text(statement))
    with session_factory() as session:
        report = audit.verify_chain(session)
    assert not report.ok
    assert report.first_bad_seq == bad_seq
    assert report.problems[0].kind == kind


def test_reordered_entries_are_reported(
    engine: Engine, session_factory: sessionmaker[Session]
) -> None:
    write_chain(session_factory)
    # Swap entries 2 and 4 wholesale (hashes included) by renumbering them.
    with engine.begin() as connection:
        connection.execute(text("UPDATE audit_log SET seq = 100 WHERE seq = 2"))
        connection.execute(text("UPDATE audit_log SET seq = 2 WHERE seq = 4"))
        connection.execute(text("UPDATE audit_log SET seq = 4 WHERE seq = 100"))
    with session_factory() as session:
        report = audit.verify_chain(session)
    assert not report.ok
    assert report.first_bad_seq == 2
    assert {p.seq for p in report.problems} >= {2, 4}


def test_a_rehashed_forgery_breaks_the_next_link(
    engine: Engine, session_factory: sessionmaker[Session]
) -> None:
    write_chain(session_factory)
    with session_factory() as session:
        entry = session.get(AuditEntry, 3)
        assert entry is not None
        forged = audit.entry_hash(
            seq=3,
            at=entry.at,
            actor="mallory",
            action=entry.action,
            target=entry.target,
            details=entry.details,
            prev_hash=entry.prev_hash,
        )
    with engine.begin() as connection:
        connection.execute(
            text("UPDATE audit_log SET actor = 'mallory', hash = :h WHERE seq = 3"), {"h": forged}
        )
    with session_factory() as session:
        report = audit.verify_chain(session)
    assert report.first_bad_seq == 4
    assert report.problems[0].kind == "prev_hash_mismatch"


def test_concurrent_appends_never_fork_the_chain(session_factory: sessionmaker[Session]) -> None:
    threads, per_thread = 6, 8
    errors: list[BaseException] = []
    start = threading.Barrier(threads)

    def worker(n: int) -> None:
        try:
            start.wait()
            for i in range(per_thread):
                with session_factory.begin() as session:
                    audit.append(session, f"worker:{n}", "test.append", f"item:{i}", {"i": i})
        except BaseException as exc:  # collected and re-raised in the main thread
            errors.append(exc)

    pool = [threading.Thread(target=worker, args=(n,)) for n in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    assert errors == []
    with session_factory() as session:
        report = audit.verify_chain(session)
        seqs = session.scalars(select(AuditEntry.seq).order_by(AuditEntry.seq)).all()
    assert report.ok, report.problems
    assert list(seqs) == list(range(1, threads * per_thread + 1))
