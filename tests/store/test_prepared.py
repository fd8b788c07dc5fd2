"""Prepared statements answer exactly as SQLAlchemy's own execution would, on both
databases: the same rows and types, the same exceptions, inside the session's
transaction."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import bindparam, create_engine, exc, insert, select
from sqlalchemy.orm import Session, sessionmaker

from realname.store import prepared as prepared_module
from realname.store.models import AttemptEvent, Tenant
from realname.store.prepared import Prepared, deferred_inserts
from realname.store.repositories.tenants import create_tenant
from realname.store.tables import table_of
from realname.store.types import NaiveDatetimeError, new_id

pytestmark = pytest.mark.storage

EVENTS = table_of(AttemptEvent)
NOW = datetime(2026, 12, 4, 8, 0, tzinfo=UTC)
FAILURES = select(EVENTS.c.key_kind, EVENTS.c.key_hash, EVENTS.c.at).where(
    EVENTS.c.tenant_id == bindparam("tenant_id"),
    EVENTS.c.key_kind.in_(bindparam("kinds", expanding=True)),
    EVENTS.c.key_hash.in_(bindparam("hashes", expanding=True)),
    EVENTS.c.outcome == "failure",  # a value the statement carries itself
    EVENTS.c.at > bindparam("since"),
)
INSERT = insert(EVENTS)


def _event(tenant_id: str, kind: str, digest: str, minutes: int, outcome: str = "failure") -> dict:
    return {
        "id": new_id(),
        "tenant_id": tenant_id,
        "key_kind": kind,
        "key_hash": digest,
        "outcome": outcome,
        "at": NOW - timedelta(minutes=minutes),
    }


@pytest.fixture
def seeded(session_factory: sessionmaker[Session]) -> tuple[Session, str]:
    session = session_factory()
    tenant_id = str(create_tenant(session, "Lender").id)
    rows = [
        _event(tenant_id, "id_number", "a", 1),
        _event(tenant_id, "phone", "b", 2),
        _event(tenant_id, "id_number", "c", 3),
        _event(tenant_id, "id_number", "a", 4, outcome="success"),
        _event(tenant_id, "id_number", "a", 120),
    ]
    assert Prepared(INSERT).run(session, rows) == 5
    return session, tenant_id


def test_rows_are_those_sqlalchemy_returns_for_every_list_length(
    seeded: tuple[Session, str],
) -> None:
    session, tenant_id = seeded
    failures = Prepared(FAILURES)
    for kinds, hashes in [(["id_number", "phone"], ["a", "b", "c"]), (["id_number"], ["a"])]:
        params = {
            "tenant_id": tenant_id,
            "kinds": kinds,
            "hashes": hashes,
            "since": NOW - timedelta(hours=1),
        }
        expected = sorted(tuple(row) for row in session.execute(FAILURES, params))
        got = sorted(failures.all(session, params))
        assert got == expected
        assert all(row.at.tzinfo is not None for row in got)  # UTC comes back aware
    assert len(expected) == 1
    assert expected[0][1] == "a"
    session.close()


def test_scalars_first_and_scalar(seeded: tuple[Session, str]) -> None:
    session, tenant_id = seeded
    hashes = Prepared(
        select(EVENTS.c.key_hash)
        .where(EVENTS.c.tenant_id == bindparam("tenant_id"))
        .order_by(EVENTS.c.at.desc())
    )
    assert hashes.scalars(session, {"tenant_id": tenant_id}) == ["a", "b", "c", "a", "a"]
    assert hashes.scalar(session, {"tenant_id": tenant_id}) == "a"
    assert hashes.first(session, {"tenant_id": "nobody"}) is None
    assert hashes.scalar(session, {"tenant_id": "nobody"}) is None
    session.close()


def test_writes_belong_to_the_session_transaction(seeded: tuple[Session, str]) -> None:
    session, tenant_id = seeded
    count = Prepared(select(EVENTS.c.id).where(EVENTS.c.tenant_id == bindparam("tenant_id")))
    session.rollback()  # the inserts and the tenant go with it
    assert count.scalars(session, {"tenant_id": tenant_id}) == []
    assert session.get(Tenant, tenant_id) is None
    session.close()


def test_each_transaction_runs_on_its_own_connection(
    session_factory: sessionmaker[Session],
) -> None:
    """Statements follow the session from transaction to transaction: what a rolled
    back one wrote is gone, what the next one writes is committed, and a transaction
    a failed statement left needing a rollback is refused as SQLAlchemy refuses it."""
    insert_tenant = Prepared(insert(table_of(Tenant)))
    count = Prepared(select(table_of(Tenant).c.id).where(table_of(Tenant).c.name == "P"))
    first, second = new_id(), new_id()
    with session_factory() as session:
        insert_tenant.run(session, {"id": first, "name": "P", "created_at": NOW})
        assert count.scalars(session) == [first]
        session.rollback()
        assert count.scalars(session) == []
        insert_tenant.run(session, {"id": second, "name": "P", "created_at": NOW})
        session.commit()
        session.add(Tenant(id=second, name="again", created_at=NOW))
        with pytest.raises(exc.IntegrityError):
            session.flush()  # deactivates the transaction until rolled back
        with pytest.raises(exc.InvalidRequestError, match="rolled back"):
            count.scalars(session)
        session.rollback()
        assert count.scalars(session) == [second]
    with session_factory() as session:
        assert count.scalars(session) == [second]


def test_database_errors_are_sqlalchemys_exceptions(seeded: tuple[Session, str]) -> None:
    session, tenant_id = seeded
    row = _event(tenant_id, "id_number", "z", 1)
    Prepared(INSERT).run(session, row)
    with pytest.raises(exc.IntegrityError):
        Prepared(INSERT).run(session, row)  # the same primary key again
    session.rollback()
    session.close()


def test_types_still_refuse_what_they_refuse(seeded: tuple[Session, str]) -> None:
    session, tenant_id = seeded
    params = {"tenant_id": tenant_id, "kinds": ["phone"], "hashes": ["b"]}
    with pytest.raises(NaiveDatetimeError):
        Prepared(FAILURES).all(session, {**params, "since": datetime(2026, 1, 1)})
    with pytest.raises(exc.ArgumentError, match="since"):
        Prepared(FAILURES).all(session, params)
    session.close()


def test_an_insert_needing_python_defaults_is_refused(
    session_factory: sessionmaker[Session],
) -> None:
    # Tenant.created_at has a Python-side default that a cursor would never fill.
    with session_factory() as session, pytest.raises(exc.ArgumentError, match="created_at"):
        Prepared(insert(table_of(Tenant))).run(session, {"id": new_id(), "name": "x"})


def test_many_rows_are_one_statement_in_batches(
    seeded: tuple[Session, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Many rows go in multi-row INSERTs (split at MAX_BATCH_ROWS), stored exactly as
    one-row INSERTs store them."""
    session, tenant_id = seeded
    monkeypatch.setattr(prepared_module, "MAX_BATCH_ROWS", 3)
    statements: list[str] = []
    engine = session.get_bind()

    rows = [_event(tenant_id, "device", f"d{i}", i) for i in range(7)]
    executed: list[int] = []
    raw = session.connection().connection.dbapi_connection
    assert raw is not None
    if engine.dialect.name == "sqlite":
        raw.set_trace_callback(statements.append)
    executed.append(Prepared(INSERT).run(session, rows))
    if engine.dialect.name == "sqlite":
        raw.set_trace_callback(None)
        assert len([s for s in statements if s.startswith("INSERT")]) == 3  # 3 + 3 + 1
    assert executed == [7]
    stored = session.execute(
        select(EVENTS.c.id, EVENTS.c.key_hash, EVENTS.c.at).where(EVENTS.c.key_kind == "device")
    ).all()
    assert sorted(stored) == sorted((r["id"], r["key_hash"], r["at"]) for r in rows)
    session.close()


def test_many_rows_missing_a_value_or_needing_defaults_are_refused(
    seeded: tuple[Session, str],
) -> None:
    session, tenant_id = seeded
    rows = [_event(tenant_id, "device", "x", 1), _event(tenant_id, "device", "y", 2)]
    del rows[1]["at"]
    # Named paramstyles (PostgreSQL) name the row too: 'at__1'.
    with pytest.raises(exc.ArgumentError, match=r"parameter 'at(__1)?'"):
        Prepared(INSERT).run(session, rows)
    tenants = [{"id": new_id(), "name": "x"}, {"id": new_id(), "name": "y"}]
    with pytest.raises(exc.ArgumentError, match="created_at"):
        Prepared(insert(table_of(Tenant))).run(session, tenants)
    session.close()


def test_many_rows_with_a_named_paramstyle(tmp_path: Path) -> None:
    """Where parameters are named (psycopg's pyformat), each row's are renamed."""
    engine = create_engine(f"sqlite:///{tmp_path / 'named.db'}", paramstyle="named")
    try:
        EVENTS.create(engine)
        rows = [_event("t", "ip", f"h{i}", i) for i in range(4)]
        with Session(engine) as session:
            assert Prepared(INSERT).run(session, rows) == 4
            stored = session.execute(select(EVENTS.c.id, EVENTS.c.key_hash, EVENTS.c.at)).all()
            session.commit()
        assert sorted(stored) == sorted((r["id"], r["key_hash"], r["at"]) for r in rows)
    finally:
        engine.dispose()


# ----------------------------------------------------------- deferred INSERTs


@pytest.fixture
def committed_tenant(session_factory: sessionmaker[Session]) -> tuple[Session, str]:
    """A session with no transaction open, and a tenant to file rows under."""
    session = session_factory()
    tenant_id = str(create_tenant(session, "Lender").id)
    session.commit()
    return session, tenant_id


def _count(session: Session, tenant_id: str) -> int:
    return len(
        Prepared(select(EVENTS.c.id).where(EVENTS.c.tenant_id == bindparam("t"))).scalars(
            session, {"t": tenant_id}
        )
    )


def test_deferred_inserts_begin_no_transaction_until_the_block_ends(
    committed_tenant: tuple[Session, str],
) -> None:
    session, tenant_id = committed_tenant
    with deferred_inserts(session):
        assert Prepared(INSERT).run(session, _event(tenant_id, "phone", "x", 1)) == 1
        assert Prepared(INSERT).run(session, [_event(tenant_id, "ip", "y", 1)] * 1) == 1
        # Bound, not run: no transaction (on SQLite, no write lock) yet.
        assert not session.in_transaction()
    assert session.in_transaction()
    session.commit()
    assert _count(session, tenant_id) == 2
    session.close()


def test_a_read_inside_the_block_sees_the_rows_waiting(
    committed_tenant: tuple[Session, str],
) -> None:
    session, tenant_id = committed_tenant
    with deferred_inserts(session):
        Prepared(INSERT).run(
            session, [_event(tenant_id, "phone", "x", 1), _event(tenant_id, "ip", "y", 2)]
        )
        assert _count(session, tenant_id) == 2  # written first, then read
        Prepared(INSERT).run(session, _event(tenant_id, "device", "z", 3))
    assert _count(session, tenant_id) == 3
    session.rollback()
    assert _count(session, tenant_id) == 0  # all of it in the session's transaction
    session.close()


def test_a_block_that_raises_writes_nothing_and_a_commit_inside_writes_first(
    committed_tenant: tuple[Session, str],
) -> None:
    session, tenant_id = committed_tenant

    def failing_verification() -> None:
        with deferred_inserts(session):
            Prepared(INSERT).run(session, _event(tenant_id, "phone", "x", 1))
            raise RuntimeError("the verification failed")

    with pytest.raises(RuntimeError):
        failing_verification()
    assert _count(session, tenant_id) == 0
    session.rollback()
    with deferred_inserts(session):
        Prepared(INSERT).run(session, _event(tenant_id, "phone", "x", 1))
        session.commit()  # the waiting row goes in with this commit
        session.rollback()
        assert _count(session, tenant_id) == 1
    session.close()


@pytest.mark.parametrize("positional", [True, False])
def test_the_generated_binder_takes_values_defaults_and_list_items_in_sql_order(
    positional: bool,
) -> None:
    """What the DBAPI receives, for both paramstyles: each value through its
    processor, a statement's own value when the caller gives none, an expanding
    list's items by position; a missing value is refused by name, and a processor's
    own KeyError is not mistaken for one."""
    missing = prepared_module._MISSING

    def bad(value: object) -> object:
        raise KeyError("inside the processor")

    slots = [
        prepared_module._Slot("p_at", "at", -1, missing, lambda value: f"<{value}>"),
        prepared_module._Slot("p_kind_1", "kinds", 1, missing, None),
        prepared_module._Slot("p_outcome", "outcome", -1, "failure", None),
        prepared_module._Slot("p_kind_0", "kinds", 0, missing, None),
    ]
    values = prepared_module._binder(slots, positional)
    params = {"at": 5, "kinds": ["a", "b"]}
    if positional:
        assert values(params) == ("<5>", "b", "failure", "a")
    else:
        assert values(params) == {
            "p_at": "<5>",
            "p_kind_1": "b",
            "p_outcome": "failure",
            "p_kind_0": "a",
        }
    assert values({**params, "outcome": "success"})[2 if positional else "p_outcome"] == "success"
    with pytest.raises(exc.ArgumentError, match="'kinds'"):
        values({"at": 5})
    raising = prepared_module._binder(
        [prepared_module._Slot("p", "at", -1, missing, bad)], positional
    )
    with pytest.raises(KeyError, match="inside the processor"):
        raising({"at": 1})
    assert prepared_module._binder([], positional)({}) == (() if positional else {})
