from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import DateTime, Engine, select, text
from sqlalchemy.dialects import sqlite
from sqlalchemy.exc import IntegrityError, OperationalError, StatementError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import QueuePool

from realname.store import types
from realname.store.db import (
    SQLITE_MAX_OVERFLOW,
    DatabaseNotReady,
    check_ready,
    current_revision,
    head_revision,
    make_engine,
    make_session_factory,
    normalise_url,
    read_only,
    upgrade,
)
from realname.store.models import Person, Tenant
from realname.store.types import NaiveDatetimeError, UtcDateTime


@pytest.mark.parametrize(
    ("url", "driver"),
    [
        ("postgresql://u:p@db/x", "postgresql+psycopg"),
        ("postgres://u:p@db/x", "postgresql+psycopg"),
        ("postgresql+psycopg://u:p@db/x", "postgresql+psycopg"),
        ("sqlite:///var/x.db", "sqlite"),
    ],
)
def test_postgres_urls_use_psycopg(url: str, driver: str) -> None:
    assert normalise_url(url).drivername == driver


def test_make_engine_postgres_uses_psycopg_without_connecting() -> None:
    engine = make_engine("postgresql://user:pw@127.0.0.1:1/none")
    assert engine.dialect.name == "postgresql"
    assert engine.dialect.driver == "psycopg"
    engine.dispose()


def test_sqlite_engine_creates_its_directory_and_sets_pragmas(tmp_path: Path) -> None:
    path = tmp_path / "nested" / "dir" / "realname.db"
    engine = make_engine(f"sqlite:///{path}")
    try:
        with engine.connect() as connection:
            assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
            assert connection.exec_driver_sql("PRAGMA busy_timeout").scalar() == 10_000
            # 2 = MEMORY: group-commit savepoints journal in memory, not in a temp file.
            assert connection.exec_driver_sql("PRAGMA temp_store").scalar() == 2
        assert path.exists()
    finally:
        engine.dispose()


def test_a_sqlite_file_has_a_connection_for_every_worker_thread(tmp_path: Path) -> None:
    """Forty threads (anyio's pool) and the loop each hold a connection without waiting."""
    engine = make_engine(f"sqlite:///{tmp_path / 'realname.db'}")
    try:
        assert isinstance(engine.pool, QueuePool)
        assert engine.pool.size() + SQLITE_MAX_OVERFLOW >= 41
        held = [engine.connect() for _ in range(41)]  # would wait (30 s) without them
        for connection in held:
            connection.close()
    finally:
        engine.dispose()


def test_a_sqlite_begin_that_cannot_get_the_write_lock_is_a_sqlalchemy_error(
    tmp_path: Path,
) -> None:
    path = tmp_path / "realname.db"
    engine = make_engine(f"sqlite:///{path}")
    try:
        with engine.connect() as holder:
            holder.begin()  # BEGIN IMMEDIATE: holds the write lock
            with engine.connect() as waiter:
                driver = waiter.connection.driver_connection
                assert driver is not None
                driver.execute("PRAGMA busy_timeout=50")  # outside any transaction
                with pytest.raises(OperationalError, match="locked"):
                    waiter.begin()
                with read_only():
                    waiter.begin()  # a reader does not wait for the lock
                assert waiter.exec_driver_sql("SELECT 1").scalar() == 1
    finally:
        engine.dispose()


def test_upgrade_current_revision_and_check_ready(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # No alembic.ini anywhere near the working directory: the config is built in code.
    monkeypatch.chdir(tmp_path)
    url = f"sqlite:///{tmp_path / 'fresh.db'}"
    engine = make_engine(url)
    try:
        assert current_revision(engine) is None
        with pytest.raises(DatabaseNotReady) as info:
            check_ready(engine)
        assert info.value.code == "DATABASE_NOT_READY"
        assert info.value.http_status == 503
        upgrade(url)
        assert current_revision(engine) == head_revision() == "0013"
        check_ready(engine)
        upgrade(url)  # a second run is a no-op
        check_ready(engine)
    finally:
        engine.dispose()


def test_check_ready_fails_when_the_database_is_unreachable() -> None:
    engine = make_engine(
        "postgresql://nobody:secret@127.0.0.1:1/none", connect_args={"connect_timeout": 2}
    )
    try:
        with pytest.raises(DatabaseNotReady) as info:
            check_ready(engine)
        assert "secret" not in info.value.message
    finally:
        engine.dispose()


@pytest.mark.storage
def test_migrated_database_is_ready(engine: Engine) -> None:
    check_ready(engine)
    assert current_revision(engine) == head_revision()


@pytest.mark.storage
def test_timestamps_are_aware_utc_everywhere(session_factory: sessionmaker[Session]) -> None:
    beijing = timezone(timedelta(hours=8))
    local = datetime(2024, 5, 1, 20, 30, 15, 123456, tzinfo=beijing)
    with session_factory.begin() as session:
        session.add(Tenant(id="t-utc", name="UTC", created_at=local))
    with session_factory() as session:
        stored = session.scalars(select(Tenant.created_at).where(Tenant.id == "t-utc")).one()
    assert stored.tzinfo is not None
    assert stored.utcoffset() == timedelta(0)
    assert stored == datetime(2024, 5, 1, 12, 30, 15, 123456, tzinfo=UTC)


@pytest.mark.parametrize(
    "moment",
    [
        datetime(2024, 5, 1, 12, 30, 15, 123456, tzinfo=UTC),
        datetime(2024, 5, 1, 12, 30, 15, tzinfo=UTC),  # no microseconds: still six digits
        datetime(999, 1, 2, 3, 4, 5, 6, tzinfo=UTC),
        datetime(2024, 5, 1, 20, 30, tzinfo=timezone(timedelta(hours=8))),
    ],
)
def test_sqlite_stores_timestamps_as_sqlalchemy_writes_them(moment: datetime) -> None:
    # Old rows and new ones must sort and compare as the same text.
    dialect = sqlite.dialect()
    ours = UtcDateTime().dialect_impl(dialect).bind_processor(dialect)
    theirs = DateTime().dialect_impl(dialect).bind_processor(dialect)
    assert ours is not None
    assert theirs is not None
    assert ours(moment) == theirs(moment.astimezone(UTC).replace(tzinfo=None))
    assert ours(None) is None


@settings(max_examples=300, deadline=None)
@given(moment=st.datetimes(timezones=st.just(UTC)))
def test_any_utc_moment_binds_as_the_text_sqlalchemy_writes(moment: datetime) -> None:
    """Every year from 1 to 9999, every microsecond count: the hand-made text sorts and
    compares with rows SQLAlchemy wrote."""
    dialect = sqlite.dialect()
    ours = UtcDateTime().dialect_impl(dialect).bind_processor(dialect)
    theirs = DateTime().dialect_impl(dialect).bind_processor(dialect)
    assert ours is not None
    assert theirs is not None
    assert ours(moment) == theirs(moment.replace(tzinfo=None))


@pytest.mark.storage
def test_naive_datetimes_are_refused(session_factory: sessionmaker[Session]) -> None:
    with session_factory() as session:
        session.add(Tenant(id="t-naive", name="naive", created_at=datetime(2024, 1, 1)))
        with pytest.raises(StatementError) as info:
            session.flush()
        assert isinstance(info.value.orig, NaiveDatetimeError)


@pytest.mark.storage
def test_foreign_keys_are_enforced(session_factory: sessionmaker[Session]) -> None:
    with session_factory() as session:
        session.add(Person(id="p-orphan", tenant_id="no-such-tenant"))
        with pytest.raises(IntegrityError):
            session.flush()


@pytest.mark.storage
def test_rollback_really_rolls_back(session_factory: sessionmaker[Session]) -> None:
    with session_factory() as session:
        session.add(Tenant(id="t-rollback", name="gone"))
        session.flush()
        session.rollback()
    with session_factory() as session:
        assert session.get(Tenant, "t-rollback") is None


@pytest.mark.storage
def test_session_factory_keeps_objects_readable_after_commit(engine: Engine) -> None:
    factory = make_session_factory(engine)
    with factory.begin() as session:
        tenant = Tenant(id="t-expire", name="kept")
        session.add(tenant)
    assert tenant.name == "kept"
    with engine.connect() as connection:
        assert connection.execute(text("SELECT name FROM tenants")).scalar() == "kept"


def test_new_ids_are_unique_random_and_ordered_by_creation(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Version 7: later ids sort after earlier ones (primary-key indexes grow at their
    end), and 74 random bits keep ids apart within one millisecond."""
    ids = [types.new_id() for _ in range(2000)]
    assert len(set(ids)) == len(ids)
    parsed = [uuid.UUID(value) for value in ids]
    assert {(u.version, u.variant) for u in parsed} == {(7, uuid.RFC_4122)}
    assert all(len(value) == 36 for value in ids)
    assert [str(u) for u in parsed] == ids  # the canonical lower-case form
    now = types.time.time_ns()
    monkeypatch.setattr(types.time, "time_ns", lambda: now)
    same_millisecond = {types.new_id() for _ in range(100)}
    assert len(same_millisecond) == 100
    assert len({value[:13] for value in same_millisecond}) == 1  # the time prefix
    monkeypatch.setattr(types.time, "time_ns", lambda: now + 1_000_000)
    later = types.new_id()
    assert all(later > earlier for earlier in same_millisecond)
    assert int(later.replace("-", "")[:12], 16) == now // 1_000_000 + 1
