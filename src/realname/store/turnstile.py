"""A queue in front of SQLite's write lock, so a writer waiting for it wakes at once.

SQLite lets one connection write at a time; another that wants to (``BEGIN
IMMEDIATE``, see :mod:`realname.store.db`) waits in the library's busy handler, which
*sleeps and retries*: 1, 2, 5, 10, 15, 20, 25, 25, 25, 50, 50, 100 ms... With two
API worker processes each holding the lock for about a millisecond per
verification, a writer that found it taken slept for ten or a hundred times longer
than it was held — and, SQLite being called on the event loop, its whole process
slept with it (``bench/bench_api.py``: the second worker added nothing, and the 95th
percentile was 144 ms against a median of 35).

So before ``BEGIN IMMEDIATE`` a writer passes this turnstile, released at its
``COMMIT`` or ``ROLLBACK``:

- within a process, a :class:`threading.Lock` (the event loop and worker threads);
- between processes, an exclusive ``flock(2)`` on a file next to the database
  (``<database>-writers``), held through one descriptor per process.

Both wake a waiter as soon as the holder lets go, so SQLite's own lock is free by
the time the waiter reaches it and its busy handler never sleeps. The turnstile is
an optimisation only: SQLite's lock still decides, so a writer that does not pass
it (another program, the ``sqlite3`` shell) stays correct. A thread that already
holds the turnstile (through another connection) does not wait for itself; a wait
that lasts longer than the busy timeout gives up and leaves the matter to SQLite;
either way the writer goes on to ``BEGIN IMMEDIATE`` exactly as before.

No library offers this: SQLite's ``sqlite3_busy_handler`` (which could wait on
something better than a timer) is not exposed by the stdlib driver.
"""

from __future__ import annotations

import fcntl
import logging
import os
import threading
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

#: The lock file next to a database ``x.db``: ``x.db-writers`` (beside ``-wal``, ``-shm``).
SUFFIX = "-writers"


class WriterTurnstile:
    """One database file's turnstile, shared by every engine of this process on it."""

    def __init__(self, database: Path) -> None:
        self.path = database.with_name(database.name + SUFFIX)
        self._lock = threading.Lock()
        self._fd: int | None = None
        self._pid = -1
        #: The thread and DBAPI connection that hold the turnstile, while one does.
        self._owner_thread: int | None = None
        self._owner_connection: int | None = None

    def enter(self, connection: Any, timeout: float) -> None:
        """Wait (at most ``timeout`` seconds) for the turn of ``connection``'s writer.

        Returns without the turn when this thread already holds it, when the wait
        times out, or when the lock file cannot be opened: SQLite's lock decides then.
        """
        if self._pid != os.getpid():
            self._open()
        me = threading.get_ident()
        if self._owner_thread == me:
            return
        if not self._lock.acquire(timeout=timeout):
            return
        try:
            fd = self._fd
            if fd is not None:
                # Blocking: the holder is another process's writer, which lets go
                # at its COMMIT; this thread waits in the kernel, not on a timer.
                fcntl.flock(fd, fcntl.LOCK_EX)
        except BaseException:
            self._lock.release()
            raise
        self._owner_thread = me
        self._owner_connection = raw_connection_id(connection)

    def leave(self, connection: Any) -> None:
        """Let the next writer in, if ``connection`` holds the turn (else nothing)."""
        if self._owner_connection != raw_connection_id(connection):  # None: nobody holds it
            return
        self._owner_thread = self._owner_connection = None
        try:
            if self._fd is not None:
                fcntl.flock(self._fd, fcntl.LOCK_UN)
        finally:
            self._lock.release()

    def _open(self) -> None:
        """Open this process's descriptor of the lock file, with a fresh thread lock.

        Also after a fork: ``flock`` locks belong to the open file, which parent and
        child would otherwise share, and the parent's thread lock may have been taken
        by a thread the child does not have.
        """
        with _TURNSTILES_LOCK:
            pid = os.getpid()
            if self._pid == pid:
                return
            self._lock = threading.Lock()
            self._owner_thread = self._owner_connection = None
            try:
                self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
            except OSError as error:
                logger.warning("no writer turnstile for %s: %s", self.path.name, error)
                self._fd = None
            self._pid = pid


def raw_connection_id(connection: Any) -> int:
    """The identity of the DBAPI connection behind ``connection`` (SQLAlchemy passes
    either the driver's connection or its pool's proxy of it)."""
    return id(getattr(connection, "dbapi_connection", None) or connection)


_TURNSTILES: dict[Path, WriterTurnstile] = {}
_TURNSTILES_LOCK = threading.Lock()


def turnstile_for(database: Path) -> WriterTurnstile:
    """The process's turnstile for ``database`` (one per file, whatever the engine)."""
    key = database.resolve()
    with _TURNSTILES_LOCK:
        found = _TURNSTILES.get(key)
        if found is None:
            found = _TURNSTILES[key] = WriterTurnstile(key)
        return found
