"""Job leases: at most one process at a time runs a singleton background job.

Every API process starts the same background loops (DESIGN §12: API processes are
stateless and scale out), but some jobs must run in one place only: the re-run of
verifications an outage left pending would otherwise verify the same person once per
process, and the ledger checkpointer would sign the same tree once per process. Such
a loop does a pass only while it holds the job's lease — a row in ``job_leases``
naming the holder and when its hold runs out — and renews it on every pass. When the
holder stops (it releases the lease on a clean shutdown) or dies (the lease runs
out), the next process to ask takes over.

Taking a lease is one conditional UPDATE whose row count says who won — the same
"claim" the webhook dispatcher uses per delivery — so it is safe on SQLite (writers
serialise on ``BEGIN IMMEDIATE``) and on PostgreSQL (the second UPDATE re-checks its
WHERE clause after the first commits); the first hold of a job inserts the row, and
of two inserts the primary key lets one through.

Expiry is judged by each process's own clock, so the hosts' clocks must agree to well
within the lease's time to live (NTP keeps them within milliseconds; the leases here
last tens of seconds). A pass must also end, or renew, within the time to live: a
holder that overruns it may find that another process has taken over.
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, cast

import anyio
import anyio.to_thread
from sqlalchemy import CursorResult, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from realname.store.models import JobLease
from realname.store.types import utcnow

__all__ = ["Lease", "acquire", "holder_id", "release"]

logger = logging.getLogger(__name__)


def holder_id() -> str:
    """A name for this holder: host and process id (for operators), and a random part,
    so that two holders in one process (two apps in a test) are two holders."""
    return f"{socket.gethostname()[:80]}:{os.getpid()}:{secrets.token_hex(6)}"


def _updated(session: Session, statement: Any) -> bool:
    result = cast(CursorResult[Any], session.execute(statement))
    return result.rowcount == 1


def acquire(
    session_factory: sessionmaker[Session],
    name: str,
    holder: str,
    *,
    now: datetime,
    ttl: timedelta,
) -> bool:
    """Take or renew the lease ``name`` for ``holder`` until ``now + ttl``; whether it is held.

    The holder renews its own lease even after it ran out, as long as nobody took it
    over meanwhile; anyone takes over a lease that ran out; nobody else gets one that
    has not.
    """
    until = now + ttl
    with session_factory.begin() as session:
        if _updated(
            session,
            update(JobLease)
            .where(JobLease.name == name, JobLease.holder == holder)
            .values(expires_at=until)
            .execution_options(synchronize_session=False),
        ):
            return True
        if _updated(
            session,
            update(JobLease)
            .where(JobLease.name == name, JobLease.expires_at <= now)
            .values(holder=holder, expires_at=until, acquired_at=now)
            .execution_options(synchronize_session=False),
        ):
            logger.info("job lease taken over", extra={"job": name})
            return True
        if session.get(JobLease, name) is not None:
            return False
        try:
            with session.begin_nested():
                session.add(JobLease(name=name, holder=holder, expires_at=until, acquired_at=now))
        except IntegrityError:
            return False  # another process inserted it first
        logger.info("job lease taken", extra={"job": name})
        return True


def release(
    session_factory: sessionmaker[Session], name: str, holder: str, *, now: datetime
) -> None:
    """Let the lease go (if ``holder`` still has it), so another process takes over at once."""
    with session_factory.begin() as session:
        session.execute(
            update(JobLease)
            .where(JobLease.name == name, JobLease.holder == holder)
            .values(expires_at=now)
            .execution_options(synchronize_session=False)
        )


@dataclass
class Lease:
    """One process's claim on the job ``name``: :meth:`held` before each pass, then
    :meth:`let_go` when the loop stops."""

    session_factory: sessionmaker[Session]
    name: str
    ttl: timedelta
    holder: str = field(default_factory=holder_id)
    clock: Callable[[], datetime] = utcnow

    def hold(self) -> bool:
        """Take or renew the lease (blocking; see :meth:`held` for async code)."""
        return acquire(self.session_factory, self.name, self.holder, now=self.clock(), ttl=self.ttl)

    async def held(self) -> bool:
        """Whether this process runs the job now; a database error counts as no.

        In a worker thread: on SQLite the transaction's ``BEGIN IMMEDIATE`` may wait
        for the write lock, which must not stall the event loop.
        """
        try:
            return await anyio.to_thread.run_sync(self.hold)
        except Exception as exc:
            logger.warning("job lease check failed", extra={"exc_type": type(exc).__name__})
            return False

    def let_go(self) -> None:
        """Release the lease if this process holds it (blocking)."""
        release(self.session_factory, self.name, self.holder, now=self.clock())

    async def released(self) -> None:
        """:meth:`let_go` from a stopping loop: shielded from the cancellation that is
        stopping it, and never raising (a lease that is not released runs out)."""
        with anyio.CancelScope(shield=True):
            try:
                await anyio.to_thread.run_sync(self.let_go)
            except Exception as exc:
                logger.warning("job lease release failed", extra={"exc_type": type(exc).__name__})
