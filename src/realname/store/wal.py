"""SQLite WAL checkpoints in a background thread instead of inside a request's commit.

In WAL mode every commit appends pages to the ``-wal`` file, and by default the commit
that takes the log past 1,000 pages also copies the log back into the database and
syncs both files — on whichever connection happens to commit then. For the API that
connection is a request's, on the event loop: one verification in fifty paid for
the copy and the two ``fsync`` calls, and every request on the loop waited for it
(profiled in process on bench/bench_api.py's app and flows: the checkpoints were
60 % of the time spent in commits, and the loop sat idle a quarter of the time).

So the API's engine (:func:`realname.store.db.make_engine` with
``background_checkpoints=True``) raises the per-connection threshold to
:data:`SAFETY_NET_PAGES` — left only as a bound should this thread not run — and a
:class:`WalCheckpointer` thread checkpoints every :data:`DEFAULT_INTERVAL` seconds on
a connection of its own. The checkpoint is ``PASSIVE`` (https://sqlite.org/wal.html
#ckpt): it copies what no reader still needs and never waits for or blocks readers
and writers; the stdlib driver releases the GIL while SQLite works, so the copy and
the syncs overlap the event loop instead of stopping it. Durability is unchanged: a
commit is in the WAL when it returns, whoever copies it later.

There is no library for this; SQLite's own ``sqlite3_wal_hook`` is not exposed by
the stdlib driver.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import weakref
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import Any, cast

import anyio.to_thread
from sqlalchemy import Engine
from starlette.applications import Starlette

logger = logging.getLogger(__name__)

#: Seconds between two checkpoints.
DEFAULT_INTERVAL = 1.0
#: The per-connection autocheckpoint threshold (pages) on engines whose checkpoints run
#: in the background: 40 MB of log at 4 KiB pages, reached only if this thread stops.
SAFETY_NET_PAGES = 10_000


#: Engines made with ``background_checkpoints=True`` (realname.store.db.make_engine),
#: and the SQLite file each writes.
_BACKGROUND: weakref.WeakKeyDictionary[Engine, Path] = weakref.WeakKeyDictionary()


def mark_background_checkpoints(engine: Engine, path: Path) -> None:
    """Note that ``engine``'s connections leave the checkpoints of ``path`` to a thread."""
    _BACKGROUND[engine] = path


def background_file(engine: Engine) -> Path | None:
    """The file whose checkpoints ``engine`` leaves to a :class:`WalCheckpointer`."""
    return _BACKGROUND.get(engine)


class WalCheckpointer:
    """A daemon thread checkpointing the SQLite file at ``path`` every ``interval`` s.

    :meth:`start` and :meth:`stop` bracket an API process's lifespan; :meth:`stop`
    runs a last checkpoint so a clean shutdown leaves a short log.
    """

    def __init__(self, path: Path, interval: float = DEFAULT_INTERVAL) -> None:
        self.path = path
        self.interval = interval
        self.runs = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(
            target=self._run, name="realname-wal-checkpoint", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        thread, self._thread = self._thread, None
        if thread is None:
            return
        self._stop.set()
        thread.join()

    def _run(self) -> None:
        connection = sqlite3.connect(self.path, timeout=1.0, check_same_thread=False)
        try:
            while True:
                stopping = self._stop.wait(self.interval)
                try:
                    connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
                    self.runs += 1
                except sqlite3.Error as error:  # a locked or vanished file: try again later
                    logger.warning("WAL checkpoint failed", extra={"error": type(error).__name__})
                if stopping:
                    return
        finally:
            connection.close()


def install_wal_checkpointer(app: Starlette, engine: Engine) -> None:
    """Checkpoint ``engine``'s SQLite file in a thread for the lifetime of ``app``.

    Nothing for PostgreSQL, an in-memory database, or an engine that checkpoints on
    commit as SQLite does by default (``background_checkpoints`` not set).
    """
    path = background_file(engine)
    if path is None:
        return
    inner = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(application: Starlette) -> AsyncIterator[Any]:
        checkpointer = WalCheckpointer(path)
        checkpointer.start()
        try:
            async with cast(AbstractAsyncContextManager[Any], inner(application)) as state:
                yield state
        finally:
            await anyio.to_thread.run_sync(checkpointer.stop)

    app.router.lifespan_context = lifespan
