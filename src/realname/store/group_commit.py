"""Group commit: verifications finishing together share one SQLite transaction.

On SQLite every verification's writes were a transaction of their own: a pooled
connection checked out, ``BEGIN IMMEDIATE`` behind the writer turnstile, the
statements, ``COMMIT`` (the pages it changed appended to the WAL), the connection
checked in. Measured on ``bench/bench_api.py``'s server (py-spy on the two uvicorn
workers), the begin, the commit and SQLAlchemy's transaction and pool machinery
around them were about a fifth of a verification's CPU, and a commit appended a
median of 21 pages to the WAL (the ``-wal`` file's growth over 299 verifications).

The event loop already lets finishing verifications go in cohorts, back to back,
when nothing else is ready (:mod:`realname.verification.turns`). A
:class:`WriteBatch` lets such a cohort's writes share one transaction: each
member's transaction is a ``SAVEPOINT`` inside it (so one member's failure rolls
back that member's writes only), and the one ``COMMIT`` runs once the cohort has
run, before the loop takes new work. A member answers its client only after that
commit (:func:`settled`), so nobody is told of a write that is not durable.

How it fits SQLAlchemy: the member's session is bound to the batch's connection
(:func:`join`) and runs its transaction as usual — SQLAlchemy begins, commits or
rolls back a root transaction on that connection — and the SQLite dialect's
``do_begin``/``do_commit``/``do_rollback`` hooks (:mod:`realname.store.db`, which
already send writers through the turnstile there) turn those into ``SAVEPOINT``,
``RELEASE`` and ``ROLLBACK TO`` while a batch serves the connection. SQLAlchemy's
own nested transactions would need the batch's transaction begun before the first
member, taking SQLite's write lock before any member has anything to write; here
the lock is taken at the first member's first statement, as before.

A writer outside the batch on the same thread (another request's transaction on
the event loop) first commits the open batch (:func:`before_other_writer`): it could
not otherwise get the write lock the batch holds, and waiting for it would stop the
loop that must commit it. Writers on other threads and in other processes wait at
the turnstile as they always did.

No library offers group commit for SQLite: the stdlib driver runs one transaction
per connection, and SQLAlchemy has no notion of sharing one between sessions.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import weakref
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, exc
from sqlalchemy.orm import Session

from realname.running_loop import running_loop
from realname.store.turnstile import raw_connection_id, turnstile_for

logger = logging.getLogger(__name__)

#: ``Session.info`` key: the caller will await :func:`settled` before answering.
_ALLOWED = "realname.group_commit.allowed"
#: ``Session.info`` key: the batch the session's writes went to.
_JOINED = "realname.group_commit.batch"
#: The savepoint of the member writing now (one at a time: members run in turn).
_SAVEPOINT = "realname_member"

#: The batch serving each DBAPI connection (by identity), for the dialect's hooks.
_SERVING: dict[int, WriteBatch] = {}
#: The batch holding an open transaction on each thread.
_OPEN: dict[int, WriteBatch] = {}
#: The batch of each event loop.
_BATCHES: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, WriteBatch] = (
    weakref.WeakKeyDictionary()
)


class WriteBatch:
    """One event loop's shared write transaction on one SQLite file (see the module)."""

    def __init__(
        self, engine: Engine, database: Path, loop: asyncio.AbstractEventLoop, busy_timeout: float
    ) -> None:
        self.engine = engine
        self._loop = loop
        self._turnstile = turnstile_for(database)
        self._busy_timeout = busy_timeout
        self._connection: Connection | None = None
        self._raw: Any = None
        self._thread = threading.get_ident()
        #: The SQLite transaction is open (members have written since the last commit).
        self._open = False
        #: A member's savepoint is open: its statements are running.
        self._in_member = False
        #: Resolved when the open transaction has committed (or failed to).
        self._committed: asyncio.Future[None] | None = None
        #: Commit as soon as the member writing now ends (it is the cohort's last).
        self.commit_after_member = False
        #: Transactions committed and members they carried, for tests and the bench.
        self.commits = 0
        self.members = 0

    # ------------------------------------------------------------------ members

    def connection(self) -> Connection:
        """The connection members write on, checked out for the batch's life (a new
        one if SQLAlchemy invalidated it after an error)."""
        current = self._connection
        if current is None or current.closed or current.invalidated:
            if current is not None:
                self._abandon(current)
            current = self._connection = self.engine.connect()
            self._raw = current.connection.dbapi_connection
            _SERVING[raw_connection_id(self._raw)] = self
        return current

    def _abandon(self, connection: Connection) -> None:
        """Forget a connection that is no longer usable, and the transaction it had."""
        _SERVING.pop(raw_connection_id(self._raw), None)
        if self._open:
            self._open = False
            _OPEN.pop(self._thread, None)
            self._turnstile.leave(self._raw)
            future = self._committed
            if future is not None and not future.done():
                future.set_exception(
                    exc.InvalidRequestError("The shared transaction's connection was lost.")
                )
                future.add_done_callback(_retrieved)
        with contextlib.suppress(Exception):
            connection.close()

    def latest(self) -> asyncio.Future[None] | None:
        """The latest shared transaction's commit: pending while it is open, then
        done (or failed). A member that has just ended wrote into this one: no other
        can open before the member next yields to the loop."""
        return self._committed

    # ------------------------------------------------------- the dialect's hooks

    def begin_member(self, raw: Any) -> None:
        """A member's transaction begins: open the shared one if need be, then a savepoint."""
        if not self._open:
            self._turnstile.enter(raw, self._busy_timeout)
            try:
                raw.execute("BEGIN IMMEDIATE")
            except BaseException:
                self._turnstile.leave(raw)
                raise
            self._open = True
            self._committed = self._loop.create_future()
            _OPEN[self._thread] = self
            # After the rest of the cohort, already queued on the loop.
            self._loop.call_soon(self._commit_when_idle)
        raw.execute(f"SAVEPOINT {_SAVEPOINT}")
        self._in_member = True

    def end_member(self, raw: Any, *, commit: bool) -> None:
        """A member's transaction ends: keep its writes for the shared commit, or drop them."""
        self._in_member = False
        if commit:
            raw.execute(f"RELEASE {_SAVEPOINT}")
            self.members += 1
        else:
            raw.execute(f"ROLLBACK TO {_SAVEPOINT}")
            raw.execute(f"RELEASE {_SAVEPOINT}")
        if self.commit_after_member:
            self.commit_after_member = False
            self.commit()

    @property
    def in_member(self) -> bool:
        return self._in_member

    def writes_on(self, raw: Any) -> bool:
        """Whether ``raw`` is the batch's own DBAPI connection."""
        return raw_connection_id(raw) == raw_connection_id(self._raw)

    # ------------------------------------------------------------------ commit

    def _commit_when_idle(self) -> None:
        if self._in_member:  # a member awaited mid-transaction: commit after it ends
            self._loop.call_later(0.001, self._commit_when_idle)
            return
        self.commit()

    def commit(self) -> None:
        """Commit what the members wrote and tell them (nothing when nothing is open)."""
        if not self._open or self._in_member:
            return
        raw, future = self._raw, self._committed
        self._open = False
        _OPEN.pop(self._thread, None)
        dbapi_error = self.engine.dialect.loaded_dbapi.Error
        try:
            try:
                raw.execute("COMMIT")
            except dbapi_error as error:
                # As SQLAlchemy raises it from a commit (IntegrityError and the rest).
                raise exc.DBAPIError.instance("COMMIT", None, error, dbapi_error) from error
        except BaseException as error:
            with contextlib.suppress(Exception):  # the commit's error is the one to report
                raw.execute("ROLLBACK")
            if future is not None and not future.done():
                future.set_exception(error)
                future.add_done_callback(_retrieved)
            if not isinstance(error, Exception):
                raise
            logger.error("group commit failed", extra={"error": type(error).__name__})
            return
        finally:
            self._turnstile.leave(raw)
        self.commits += 1
        if future is not None and not future.done():
            future.set_result(None)

    def close(self) -> None:
        """Commit what is open and hand the connection back."""
        self.commit()
        if self._connection is not None:
            _SERVING.pop(raw_connection_id(self._raw), None)
            self._connection.close()
            self._connection = None


def _retrieved(future: asyncio.Future[None]) -> None:
    """Mark a failed commit's error as seen (each member re-raises it in :func:`settled`)."""
    future.exception()


# ---------------------------------------------------------------- for callers


def allow(session: Session) -> None:
    """Let ``session``'s verification writes join a batch: the caller promises to
    ``await settled(session)`` after its transaction ends and before it answers."""
    session.info[_ALLOWED] = True


def join(session: Session, *, last: bool) -> None:
    """Write ``session``'s next transaction into this loop's batch, when allowed and
    the session has no transaction open (else nothing changes).

    ``last``: no other member is to run right after this one, so the batch commits
    as soon as this member's transaction ends; otherwise it commits once the loop
    has run what is queued (the rest of the cohort).
    """
    if not session.info.get(_ALLOWED) or session.in_transaction():
        return
    batch = _BATCHES.get(running_loop())  # called by coroutines only
    if batch is None or session.get_bind() is not batch.engine:
        return
    session.bind = batch.connection()
    session.info[_JOINED] = batch
    batch.commit_after_member = last


async def settled(session: Session) -> None:
    """Wait until what ``session`` wrote in a batch is committed (at once otherwise).

    Raises the commit's error when the shared commit failed: nothing of the member
    was stored, as if its own commit had failed.
    """
    batch: WriteBatch | None = session.info.pop(_JOINED, None)
    if batch is None:
        return
    session.bind = batch.engine
    future = batch.latest()
    if future is not None:
        await future


# ------------------------------------------------------------ dialect hooks


def serving(raw: Any) -> WriteBatch | None:
    """The batch whose connection ``raw`` is (``None`` for any other connection)."""
    return _SERVING.get(raw_connection_id(raw)) if _SERVING else None


def before_other_writer(raw: Any) -> None:
    """Another connection of this thread is about to begin a write: commit the open
    batch first (see the module), unless a member is in the middle of its writes."""
    if not _OPEN:
        return
    batch = _OPEN.get(threading.get_ident())
    if batch is not None and not batch.in_member and not batch.writes_on(raw):
        batch.commit()


# ----------------------------------------------------------------- install


def install_on(
    loop: asyncio.AbstractEventLoop, engine: Engine, database: Path, busy_timeout: float
) -> WriteBatch:
    """Give ``loop`` a batch on ``engine`` (a file SQLite engine)."""
    batch = _BATCHES[loop] = WriteBatch(engine, database, loop, busy_timeout)
    return batch


def remove_from(loop: asyncio.AbstractEventLoop) -> None:
    batch = _BATCHES.pop(loop, None)
    if batch is not None:
        batch.close()


def batch_of(loop: asyncio.AbstractEventLoop) -> WriteBatch | None:
    return _BATCHES.get(loop)
