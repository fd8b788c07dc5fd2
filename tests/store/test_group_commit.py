"""Verifications finishing together share one SQLite transaction, each member's own
writes all or nothing, and none told of a write before it is committed."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm import Session

from realname.store import group_commit
from realname.store.db import SQLITE_BUSY_TIMEOUT_MS, make_engine, read_only

BUSY_TIMEOUT = SQLITE_BUSY_TIMEOUT_MS / 1000


@pytest.fixture
def database(tmp_path: Path) -> Iterator[tuple[Engine, Path]]:
    path = tmp_path / "batch.db"
    engine = make_engine(f"sqlite:///{path}")
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE parents (id INTEGER PRIMARY KEY)"))
        connection.execute(text("CREATE TABLE rows (id INTEGER PRIMARY KEY, member TEXT)"))
        # Checked at COMMIT, not at the statement: a way to make the shared commit fail.
        connection.execute(
            text(
                "CREATE TABLE children (id INTEGER PRIMARY KEY, parent INTEGER"
                " REFERENCES parents(id) DEFERRABLE INITIALLY DEFERRED)"
            )
        )
    yield engine, path
    engine.dispose()


def _stored(engine: Engine) -> list[str]:
    """What another connection sees committed (a read: no write lock, as the API reads)."""
    with read_only(), engine.connect() as connection:
        return [row[0] for row in connection.execute(text("SELECT member FROM rows ORDER BY id"))]


def _write(session: Session, member: str) -> None:
    session.execute(text("INSERT INTO rows (member) VALUES (:m)"), {"m": member})


async def _member(engine: Engine, name: str, *, last: bool, fail: bool = False) -> None:
    """One verification's write phase as the API runs it (see users.submit_identity)."""
    with Session(engine) as session:
        group_commit.allow(session)
        group_commit.join(session, last=last)
        try:
            _write(session, name)
            if fail:
                raise RuntimeError("this member fails after writing")
            session.commit()
        except RuntimeError:
            session.rollback()
            return
    await group_commit.settled(session)


async def _orphan(engine: Engine, *, last: bool) -> None:
    """A member whose row breaks a deferred foreign key: the shared COMMIT fails."""
    with Session(engine) as session:
        group_commit.allow(session)
        group_commit.join(session, last=last)
        session.execute(text("INSERT INTO children (parent) VALUES (42)"))  # no parent 42
        session.commit()
    await group_commit.settled(session)


async def _told(
    outcomes: list[str],
    name: str,
    member: Awaitable[None],
    refused_by: type[DBAPIError] = DBAPIError,
) -> None:
    """Await ``member`` and note what its caller was told: stored, or refused."""
    try:
        await member
        outcomes.append(f"{name} stored")
    except refused_by:
        outcomes.append(f"{name} refused")


def _run_with_batch(engine: Engine, path: Path, body: object) -> group_commit.WriteBatch:
    """Run the coroutine function ``body(batch)`` on a fresh loop that has a batch."""

    async def main() -> group_commit.WriteBatch:
        loop = asyncio.get_running_loop()
        batch = group_commit.install_on(loop, engine, path, BUSY_TIMEOUT)
        try:
            await body(batch)  # type: ignore[operator]
        finally:
            group_commit.remove_from(loop)
        return batch

    return asyncio.run(main())


def test_a_cohort_commits_once_and_nobody_hears_of_a_write_before_it(
    database: tuple[Engine, Path],
) -> None:
    engine, path = database
    seen_before_commit: list[list[str]] = []

    async def body(batch: group_commit.WriteBatch) -> None:
        async def watch() -> None:  # queued behind the cohort, before its commit
            seen_before_commit.append(_stored(engine))

        members = [
            asyncio.ensure_future(_member(engine, name, last=False)) for name in ("a", "b", "c")
        ]
        await asyncio.sleep(0)  # the three run back to back, as a cohort does
        await watch()
        await asyncio.gather(*members)

    batch = _run_with_batch(engine, path, body)
    assert seen_before_commit == [[]]  # nothing visible while the batch was open
    assert _stored(engine) == ["a", "b", "c"]
    assert (batch.commits, batch.members) == (1, 3)


def test_the_last_member_commits_before_anything_else_runs(
    database: tuple[Engine, Path],
) -> None:
    engine, path = database

    async def body(batch: group_commit.WriteBatch) -> None:
        await _member(engine, "a", last=False)
        # The first member waited for the commit that the loop ran after it.
        assert _stored(engine) == ["a"]
        with Session(engine) as session:
            group_commit.allow(session)
            group_commit.join(session, last=True)
            _write(session, "b")
            session.commit()
            # Committed at the member's end: no loop iteration, no waiting.
            assert _stored(engine) == ["a", "b"]
        await group_commit.settled(session)

    batch = _run_with_batch(engine, path, body)
    assert (batch.commits, batch.members) == (2, 2)


def test_a_failing_member_loses_only_its_own_writes(database: tuple[Engine, Path]) -> None:
    engine, path = database

    async def body(batch: group_commit.WriteBatch) -> None:
        await asyncio.gather(
            _member(engine, "a", last=False),
            _member(engine, "b", last=False, fail=True),
            _member(engine, "c", last=True),
        )

    batch = _run_with_batch(engine, path, body)
    assert _stored(engine) == ["a", "c"]
    assert (batch.commits, batch.members) == (1, 2)


def test_a_failed_shared_commit_fails_every_member_and_stores_nothing(
    database: tuple[Engine, Path],
) -> None:
    engine, path = database
    errors: list[BaseException] = []

    async def body(batch: group_commit.WriteBatch) -> None:
        results = await asyncio.gather(
            _member(engine, "a", last=False), _orphan(engine, last=True), return_exceptions=True
        )
        errors.extend(r for r in results if isinstance(r, BaseException))
        # The write lock was let go: the next writer is not stuck behind the failure.
        await _member(engine, "d", last=True)

    batch = _run_with_batch(engine, path, body)
    # The member that did nothing wrong is refused too: its writes were in that commit.
    assert len(errors) == 2
    assert all(isinstance(e, IntegrityError) and "FOREIGN KEY" in str(e) for e in errors)
    assert _stored(engine) == ["d"]
    assert batch.commits == 1


def test_a_commit_that_fails_at_the_last_member_fails_every_member_too(
    database: tuple[Engine, Path],
) -> None:
    engine, path = database
    outcomes: list[str] = []

    async def body(batch: group_commit.WriteBatch) -> None:
        await asyncio.gather(
            _told(outcomes, "orphan", _orphan(engine, last=False), IntegrityError),
            _told(outcomes, "b", _member(engine, "b", last=True), IntegrityError),
        )

    _run_with_batch(engine, path, body)
    assert sorted(outcomes) == ["b refused", "orphan refused"]
    assert _stored(engine) == []


def test_another_writer_on_the_loop_commits_the_open_batch_first(
    database: tuple[Engine, Path],
) -> None:
    engine, path = database

    async def body(batch: group_commit.WriteBatch) -> None:
        member = asyncio.ensure_future(_member(engine, "a", last=False))
        await asyncio.sleep(0)  # the member has written; its batch is still open
        pending = batch.latest()
        assert pending is not None
        assert not pending.done()
        # A plain transaction on this same thread: without committing the batch first
        # it would wait for the write lock the batch holds, and the loop with it.
        with Session(engine) as session, session.begin():
            _write(session, "other")
        await member

    batch = _run_with_batch(engine, path, body)
    assert _stored(engine) == ["a", "other"]
    assert batch.commits == 1


def test_a_writer_on_another_thread_waits_for_the_batch_then_writes(
    database: tuple[Engine, Path],
) -> None:
    engine, path = database

    def other_thread() -> None:
        with Session(engine) as session, session.begin():
            _write(session, "thread")

    async def body(batch: group_commit.WriteBatch) -> None:
        member = asyncio.ensure_future(_member(engine, "a", last=False))
        await asyncio.sleep(0)
        thread = threading.Thread(target=other_thread)
        thread.start()
        await member  # the batch commits on the loop, letting the thread in
        await asyncio.to_thread(thread.join, 10)
        assert not thread.is_alive()

    _run_with_batch(engine, path, body)
    assert _stored(engine) == ["a", "thread"]


def test_a_lost_connection_fails_its_members_and_the_next_get_a_new_one(
    database: tuple[Engine, Path],
) -> None:
    engine, path = database
    outcomes: list[str] = []

    async def body(batch: group_commit.WriteBatch) -> None:
        member = asyncio.ensure_future(_told(outcomes, "a", _member(engine, "a", last=False)))
        await asyncio.sleep(0)  # "a" has written; the shared transaction is open
        batch.connection().invalidate()  # as SQLAlchemy does after a disconnect
        await member
        await _member(engine, "b", last=True)

    _run_with_batch(engine, path, body)
    assert outcomes == ["a refused"]
    assert _stored(engine) == ["b"]


def test_without_allow_a_session_writes_in_a_transaction_of_its_own(
    database: tuple[Engine, Path],
) -> None:
    engine, path = database

    async def body(batch: group_commit.WriteBatch) -> None:
        with Session(engine) as session:
            group_commit.join(session, last=False)  # the caller did not promise to settle
            _write(session, "alone")
            session.commit()
        assert _stored(engine) == ["alone"]  # committed by its own commit

    batch = _run_with_batch(engine, path, body)
    assert (batch.commits, batch.members) == (0, 0)


def test_without_a_batch_on_the_loop_settled_returns_at_once(
    database: tuple[Engine, Path],
) -> None:
    engine, _ = database

    async def body() -> None:
        await _member(engine, "a", last=False)

    asyncio.run(body())
    assert _stored(engine) == ["a"]
