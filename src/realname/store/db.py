"""Engines, sessions and migrations: the database chosen by URL alone (DESIGN §12).

SQLite in WAL mode is the embedded default; PostgreSQL (through psycopg 3) is the
production store. Both run the same Alembic migrations, which ship inside the
package (``realname/store/migrations``) so an installed wheel can migrate itself
without an ``alembic.ini``.
"""

from __future__ import annotations

import logging
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from functools import lru_cache
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from realname.errors import ConfigurationError, RealnameError
from realname.store import group_commit
from realname.store.turnstile import turnstile_for
from realname.store.wal import SAFETY_NET_PAGES, mark_background_checkpoints

logger = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"

#: Set while transactions that only read begin (:func:`read_only`): on SQLite they
#: start with a deferred ``BEGIN``, taking no write lock.
_READ_ONLY: ContextVar[bool] = ContextVar("realname_read_only", default=False)

#: Connections a file-backed SQLite engine may open beyond its pool of five. A
#: SQLite connection costs a file handle and a page cache, so there are enough for
#: every worker thread of the API process (anyio's default is 40) and the event loop
#: at once: with SQLAlchemy's default of ten, requests admitted together would queue
#: for a connection (and the loop with them) rather than for the write lock.
SQLITE_MAX_OVERFLOW = 64

#: How long a SQLite connection waits for another writer before giving up.
SQLITE_BUSY_TIMEOUT_MS = 10_000


class DatabaseNotReady(RealnameError):
    """The database cannot be reached, or its schema is not at the packaged head.

    Readiness probes answer 503 with this, so a load balancer keeps traffic away
    from a process whose database is missing or un-migrated.
    """

    code = "DATABASE_NOT_READY"
    http_status = 503
    default_message = "The database is unreachable or its schema is not up to date."


def normalise_url(url: str | URL) -> URL:
    """Parse ``url`` and route every PostgreSQL URL through psycopg 3.

    ``postgresql://`` and the legacy ``postgres://`` would otherwise pick psycopg2,
    which realname does not depend on.
    """
    try:
        parsed = make_url(url)
    except Exception as exc:  # SQLAlchemy raises ArgumentError or ValueError
        raise ConfigurationError("The database URL cannot be parsed.") from exc
    if parsed.drivername in {"postgresql", "postgres", "postgresql+psycopg2"}:
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


def _is_sqlite(url: URL) -> bool:
    return url.get_backend_name() == "sqlite"


def _sqlite_file(url: URL) -> Path | None:
    database = url.database
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return Path(database)


#: SQLite engines whose transactions begin IMMEDIATE (see :func:`_configure_sqlite`).
_IMMEDIATE_ENGINES: weakref.WeakSet[Engine] = weakref.WeakSet()


def _configure_sqlite(
    engine: Engine, path: Path | None, *, autocheckpoint: int | None = None
) -> None:
    """Per-connection pragmas, and real transactions on SQLite.

    The stdlib driver opens transactions lazily and never around DDL or SAVEPOINT;
    switching it to autocommit and emitting ``BEGIN`` ourselves (the recipe in the
    SQLAlchemy pysqlite documentation) makes migrations transactional and makes
    ``session.begin()`` mean what it says. A file database's writers pass its
    :class:`~realname.store.turnstile.WriterTurnstile` on their way to the write lock.
    """

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            # WAL lets readers proceed while one writer commits (https://sqlite.org/wal.html).
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
            # Savepoint journals in memory, not in a temporary file. Each verification
            # sharing a group commit is a savepoint (realname.store.group_commit), and
            # SQLite journals every page a savepoint changes; past 64 KiB that journal
            # spills to a file, one pwrite for each page number and one for each page:
            # about 50 system calls a verification (bench/bench_syscalls.py); in
            # process a verification took 1.76-1.82 ms of CPU instead of 1.89-2.19.
            cursor.execute("PRAGMA temp_store=MEMORY")
            if autocheckpoint is not None:
                cursor.execute(f"PRAGMA wal_autocheckpoint={int(autocheckpoint)}")
        finally:
            cursor.close()

    _IMMEDIATE_ENGINES.add(engine)
    # The dialect's own hooks, not "begin"/"commit" event listeners: any connection
    # event listener makes SQLAlchemy dispatch events around every statement, which
    # cost more CPU per verification than its SQL (bench/bench_api.py).
    dialect = engine.dialect
    if path is None:
        dialect.do_begin = _begin  # type: ignore[method-assign]
        return
    turnstile = turnstile_for(path)

    def do_begin(dbapi_connection: Any) -> None:
        batch = group_commit.serving(dbapi_connection)
        if batch is not None:  # a member of a shared transaction (group_commit)
            batch.begin_member(dbapi_connection)
            return
        if not _READ_ONLY.get():
            group_commit.before_other_writer(dbapi_connection)
            turnstile.enter(dbapi_connection, SQLITE_BUSY_TIMEOUT_MS / 1000)
        try:
            _begin(dbapi_connection)
        except BaseException:
            turnstile.leave(dbapi_connection)  # nothing when it was not entered
            raise

    def leaving(end: Callable[[Any], None], *, commit: bool) -> Callable[[Any], None]:
        """``end`` (commit, rollback), then the next writer's turn; a batch member's
        end is its savepoint's, the shared transaction going on."""

        def ended(dbapi_connection: Any) -> None:
            batch = group_commit.serving(dbapi_connection)
            if batch is not None and batch.in_member:
                batch.end_member(dbapi_connection, commit=commit)
                return
            try:
                end(dbapi_connection)
            finally:
                turnstile.leave(dbapi_connection)

        return ended

    def do_close(dbapi_connection: Any) -> None:
        try:
            close(dbapi_connection)
        finally:
            turnstile.leave(dbapi_connection)

    close = dialect.do_close
    dialect.do_begin = do_begin  # type: ignore[method-assign]
    dialect.do_commit = leaving(dialect.do_commit, commit=True)  # type: ignore[method-assign,assignment]
    dialect.do_rollback = leaving(dialect.do_rollback, commit=False)  # type: ignore[method-assign,assignment]
    dialect.do_close = do_close  # type: ignore[method-assign]


def _begin(dbapi_connection: Any) -> None:
    """BEGIN IMMEDIATE: take the write lock at BEGIN, so that concurrent transactions
    wait (busy_timeout) instead of failing at their first write with
    SQLITE_BUSY_SNAPSHOT when another writer committed after they read. SQLite allows
    one writer at a time anyway; PostgreSQL is the store for concurrency. Inside
    :func:`read_only`, a deferred BEGIN: a consistent snapshot that neither takes nor
    waits for the write lock. (A file database's engine passes its turnstile first:
    :func:`_configure_sqlite`.)"""
    dbapi_connection.execute("BEGIN" if _READ_ONLY.get() else "BEGIN IMMEDIATE")


@contextmanager
def read_only() -> Iterator[None]:
    """Transactions begun inside only read: on SQLite they take no write lock."""
    token = _READ_ONLY.set(True)
    try:
        yield
    finally:
        _READ_ONLY.reset(token)


def sqlite_file(engine: Engine) -> Path | None:
    """The file of a SQLite engine (``None`` for PostgreSQL or an in-memory database)."""
    return _sqlite_file(engine.url) if _is_sqlite(engine.url) else None


def begins_immediate(bind: Engine | Connection) -> bool:
    """Whether every transaction on ``bind`` holds SQLite's write lock from its BEGIN."""
    engine = bind if isinstance(bind, Engine) else bind.engine
    return engine in _IMMEDIATE_ENGINES


def make_engine(
    url: str | URL, *, echo: bool = False, background_checkpoints: bool = False, **kwargs: Any
) -> Engine:
    """Create an engine for ``url`` with the settings realname relies on.

    SQLite: the parent directory is created, and every connection runs in WAL mode
    with foreign keys enforced and a busy timeout; a file database's pool may grow to
    ``5 + SQLITE_MAX_OVERFLOW`` connections. PostgreSQL: ``postgresql://`` is
    rewritten to ``postgresql+psycopg://`` and pooled connections are pinged before
    use. Extra keyword arguments go to :func:`sqlalchemy.create_engine`.

    ``background_checkpoints``: the owner runs a :class:`realname.store.wal.WalCheckpointer`
    (the API does, for its lifespan), so commits leave the WAL to it and check the log's
    length only against :data:`realname.store.wal.SAFETY_NET_PAGES`.
    """
    parsed = normalise_url(url)
    if _is_sqlite(parsed):
        path = _sqlite_file(parsed)
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            kwargs.setdefault("max_overflow", SQLITE_MAX_OVERFLOW)
            # The connection used last is handed out first: its page cache is the one
            # most likely still valid, and idle connections stay idle.
            kwargs.setdefault("pool_use_lifo", True)
        connect_args = dict(kwargs.pop("connect_args", {}))
        connect_args.setdefault("timeout", SQLITE_BUSY_TIMEOUT_MS / 1000)
        kwargs["connect_args"] = connect_args
        engine = create_engine(parsed, echo=echo, **kwargs)
        if background_checkpoints and path is not None:
            _configure_sqlite(engine, path, autocheckpoint=SAFETY_NET_PAGES)
            mark_background_checkpoints(engine, path)
        else:
            _configure_sqlite(engine, path)
        return engine
    kwargs.setdefault("pool_pre_ping", True)
    return create_engine(parsed, echo=echo, **kwargs)


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    """A session factory whose objects stay readable after commit.

    ``expire_on_commit=False`` lets a repository return a row that the caller still
    reads after the transaction closed (for example an issued API key).
    """
    return sessionmaker(bind=engine, expire_on_commit=False)


def alembic_config(url: str | URL | None = None) -> Config:
    """An Alembic ``Config`` built in code, pointing at the packaged migrations."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("path_separator", "os")
    if url is not None:
        rendered = normalise_url(url).render_as_string(hide_password=False)
        # ConfigParser interpolates '%', which URL-encoded passwords contain.
        config.set_main_option("sqlalchemy.url", rendered.replace("%", "%%"))
    return config


@lru_cache(maxsize=1)
def head_revision() -> str | None:
    """The newest migration shipped with this version of realname (read once)."""
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def upgrade(url: str | URL, revision: str = "head") -> None:
    """Migrate the database at ``url`` to ``revision`` (default: the packaged head).

    Runs in one transaction on both backends, so a failed migration leaves the
    schema as it was.
    """
    engine = make_engine(url)
    try:
        with engine.begin() as connection:
            config = alembic_config(url)
            config.attributes["connection"] = connection
            command.upgrade(config, revision)
    finally:
        engine.dispose()


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at, or ``None`` for a database never migrated."""
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def check_ready(engine: Engine) -> None:
    """Raise :class:`DatabaseNotReady` unless the database answers and is at head."""
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        revision = current_revision(engine)
    except SQLAlchemyError as exc:
        # The driver's message can contain the host and user; keep it in the log only.
        logger.warning("database unreachable: %s", type(exc).__name__)
        raise DatabaseNotReady("The database cannot be reached.") from exc
    head = head_revision()
    if revision != head:
        raise DatabaseNotReady(
            "The database schema is not at the current migration; run the upgrade.",
            current=revision,
            head=head,
        )


__all__ = [
    "MIGRATIONS_DIR",
    "DatabaseNotReady",
    "alembic_config",
    "check_ready",
    "current_revision",
    "head_revision",
    "make_engine",
    "make_session_factory",
    "normalise_url",
    "read_only",
    "upgrade",
]
