"""Core statements compiled once per dialect and run straight on the DBAPI cursor.

Why by hand: a verification runs about fifteen statements, and SQLAlchemy's execution
path costs more CPU per statement than SQLite takes to run it — the compiled-cache
lookup, an execution context, parameter construction and result metadata, about
50 µs a statement against 15 µs for the cursor (a py-spy profile of bench_api.py's
app verifying in process put SQLAlchemy's own Python at 40 % of a verification).
SQLAlchemy has no API that keeps a compiled statement and runs it again with only
new values; what it does offer publicly is the pieces: the compiled SQL for a dialect and
:meth:`~sqlalchemy.sql.compiler.SQLCompiler.construct_expanded_state` (the final SQL,
the order of the parameters and each one's bind processor). This module keeps those
per dialect (and per list length for expanding ``IN`` parameters, per column set for
an ``INSERT``, and per number of rows for a multi-row ``INSERT``) and runs them on
the session's own DBAPI connection, inside the session's transaction. Types still
bind and load exactly as through SQLAlchemy: the bind and result processors are
SQLAlchemy's own (naive datetimes are still refused, UTC comes back aware), and a
DBAPI error is raised as SQLAlchemy's exception class
(:class:`~sqlalchemy.exc.IntegrityError` and the rest), so callers see no difference.

Not for everything: only statements on a hot path, built once at import, whose
values are all given (an ``INSERT`` whose columns have Python-side defaults is
refused — nothing would fill them). No ORM autoflush happens, as with any Core
statement run through a session: callers flush what the ORM holds first, as the
repositories already do.
"""

from __future__ import annotations

from collections import namedtuple
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from weakref import WeakKeyDictionary

from sqlalchemy import bindparam, event, exc
from sqlalchemy.engine import Connection, Dialect
from sqlalchemy.orm import Session, SessionTransaction
from sqlalchemy.sql import ClauseElement
from sqlalchemy.sql.compiler import SQLCompiler

Params = Mapping[str, Any]
#: Rows in one multi-row INSERT at most; a larger batch is split.
MAX_BATCH_ROWS = 100
#: Bound values in one statement at most (SQLite allows 32,766, PostgreSQL 65,535).
_MAX_BINDS = 30_000
_Processor = Callable[[Any], Any] | None
_MISSING = object()


@dataclass(frozen=True, slots=True)
class _Slot:
    """One parameter as the DBAPI receives it: where its value comes from."""

    out: str  # the name in the final SQL (named paramstyles)
    source: str  # the caller's parameter
    index: int  # position in the caller's list (expanding IN), or -1
    default: Any  # a value the statement carries itself, or _MISSING
    process: _Processor


@dataclass(frozen=True, slots=True)
class _Variant:
    """A statement compiled for one dialect (and one shape of parameters)."""

    sql: str
    positional: bool
    slots: tuple[_Slot, ...]
    results: tuple[_Processor, ...]
    #: The caller's parameters as the DBAPI takes them (:func:`_binder`).
    values: Callable[[Params], Any]


def _binder(slots: Sequence[_Slot], positional: bool) -> Callable[[Params], Any]:
    """A function from the caller's parameters to what the DBAPI takes: a tuple in the
    SQL's order (positional paramstyles) or a dict by the SQL's names, each value
    through its bind processor, a missing one taken from the statement or refused.

    Generated as source, as :mod:`dataclasses` makes ``__init__``: one expression per
    parameter, instead of a loop that asks each slot where its value comes from on
    every call. A verification binds about two hundred values; on the 13 columns of
    a ``verification_checks`` row (two bind processors among them) the loop took
    2.6 µs and the generated function takes 1.1.
    """
    required = tuple(slot.source for slot in slots if slot.default is _MISSING)
    names: dict[str, Any] = {"_refuse": _refuse, "_REQUIRED": required}
    expressions = []
    for position, slot in enumerate(slots):
        if slot.default is _MISSING:
            expression = f"params[{slot.source!r}]"
        else:
            names[f"default_{position}"] = slot.default
            expression = f"params.get({slot.source!r}, default_{position})"
        if slot.index >= 0:
            expression = f"{expression}[{slot.index}]"
        if slot.process is not None:
            names[f"process_{position}"] = slot.process
            expression = f"process_{position}({expression})"
        expressions.append(expression if positional else f"{slot.out!r}: {expression}")
    joined = ", ".join(expressions)
    if not positional:
        built = f"{{{joined}}}"
    elif expressions:
        built = f"({joined},)"
    else:
        built = "()"
    source = (
        "def values(params):\n"
        "    try:\n"
        f"        return {built}\n"
        "    except KeyError:\n"
        "        _refuse(params, _REQUIRED)\n"
        "        raise\n"
    )
    exec(source, names)  # noqa: S102 - source built above from the compiled statement
    function: Callable[[Params], Any] = names["values"]
    return function


def _refuse(params: Params, required: Sequence[str]) -> None:
    """Raise SQLAlchemy's error for a parameter the caller had to give and did not (a
    KeyError from anywhere else, a bind processor's, goes on as it is)."""
    for source in required:
        if source not in params:
            raise exc.ArgumentError(f"A value is required for parameter {source!r}.")


class Prepared:
    """A Core statement to run many times with new values, as cheaply as the cursor.

    Build it once at import (``_FIND = Prepared(select(...).where(... bindparam(...)))``)
    and call :meth:`all`, :meth:`first`, :meth:`scalars`, :meth:`scalar` or
    :meth:`run` with the session. Rows are named tuples of the selected columns.
    """

    __slots__ = (
        "_batches",
        "_columns",
        "_expanding",
        "_insert",
        "_row",
        "_variants",
        "statement",
    )

    def __init__(self, statement: ClauseElement) -> None:
        self.statement = statement
        self._insert = bool(getattr(statement, "is_insert", False))
        columns = getattr(statement, "selected_columns", None)
        self._columns = list(columns) if columns is not None else []
        keys = [column.key for column in self._columns]
        self._row: Any = namedtuple("Row", keys, rename=True) if keys else None
        probe = statement.compile()
        assert isinstance(probe, SQLCompiler)
        self._expanding = tuple(sorted(n for n, b in probe.binds.items() if b.expanding))
        self._variants: dict[Any, _Variant] = {}
        #: Multi-row INSERTs, by dialect, column set and number of rows.
        self._batches: dict[tuple[Dialect, tuple[str, ...], int], tuple[_Variant, bool]] = {}

    # ------------------------------------------------------------------ running

    def all(self, session: Session, params: Params | None = None) -> list[Any]:
        """Every row, each a named tuple of the selected columns."""
        rows = self._fetch(session, params or {})
        assert self._row is not None, "only a SELECT has rows"
        make = self._row._make
        return [make(row) for row in rows]

    def first(self, session: Session, params: Params | None = None) -> Any | None:
        """The first row, or ``None``."""
        rows = self.all(session, params)
        return rows[0] if rows else None

    def scalars(self, session: Session, params: Params | None = None) -> list[Any]:
        """The first column of every row."""
        return [row[0] for row in self._fetch(session, params or {})]

    def scalar(self, session: Session, params: Params | None = None) -> Any | None:
        """The first column of the first row, or ``None``."""
        rows = self._fetch(session, params or {})
        return rows[0][0] if rows else None

    def run(self, session: Session, params: Params | Sequence[Params] | None = None) -> int:
        """Execute a write (one parameter set, or many at once); the rows it touched.

        Many rows of an ``INSERT`` go in one multi-row ``INSERT … VALUES (…), (…)``
        (in batches of at most :data:`MAX_BATCH_ROWS`): one statement for the
        database to parse and run instead of one per row — on PostgreSQL, one round
        trip.
        """
        if isinstance(params, Sequence):
            if not params:
                return 0
            rows: Sequence[Params] = params
        else:
            rows = [params or {}]
        if self._insert:
            pending = session.info.get(_DEFERRED)
            if pending is not None:  # bound now, run with the rest (deferred_inserts)
                pending.extend(self._insert_statements(_dialect(session), rows))
                return len(rows)
            count = 0
            connection = _connection(session)
            for sql, values, many in self._insert_statements(connection.dialect, rows):
                cursor = _run(connection, sql, values, many=many)
                count += cursor.rowcount
                cursor.close()
            return count
        cursor, _ = self._execute(session, rows[0], rows if len(rows) > 1 else None)
        count = int(cursor.rowcount)
        cursor.close()
        return count

    def _insert_statements(
        self, dialect: Dialect, rows: Sequence[Params]
    ) -> list[tuple[str, Any, bool]]:
        """The SQL and bound values that insert ``rows``: one statement for one row,
        multi-row statements of at most :data:`MAX_BATCH_ROWS` rows for more."""
        # The one-row form of these columns is compiled first: it is what refuses
        # columns with Python-side defaults, which a multi-row form would fill once.
        single = self._variant(dialect, rows[0])
        if len(rows) == 1:
            return [(single.sql, single.values(rows[0]), False)]
        columns = tuple(rows[0])
        size = max(1, min(MAX_BATCH_ROWS, _MAX_BINDS // max(1, len(columns))))
        statements = []
        for start in range(0, len(rows), size):
            batch = rows[start : start + size]
            multi, concatenated = self._batch(dialect, columns, len(batch))
            values: Any
            if concatenated:  # positional: each row's values, one row after another
                values = tuple(value for row in batch for value in single.values(row))
            else:
                flat = {
                    f"{key}__{i}": value
                    for i, row in enumerate(batch)
                    for key, value in row.items()
                }
                values = multi.values(flat)
            statements.append((multi.sql, values, False))
        return statements

    def _batch(
        self, dialect: Dialect, columns: tuple[str, ...], rows: int
    ) -> tuple[_Variant, bool]:
        """This INSERT compiled for ``rows`` rows of ``columns`` (parameters named
        ``<column>__<row>``), and whether its values are the one-row form's values of
        each row in turn (positional paramstyles: no renaming needed)."""
        key = (dialect, columns, rows)
        found = self._batches.get(key)
        if found is None:
            table = self.statement.table  # type: ignore[attr-defined]
            values = [
                {name: bindparam(f"{name}__{i}", type_=table.c[name].type) for name in columns}
                for i in range(rows)
            ]
            multi = Prepared(self.statement.values(values))  # type: ignore[attr-defined]
            variant = multi._compile(dialect, {})
            single = self._variant(dialect, dict.fromkeys(columns))
            expected = [f"{slot.source}__{i}" for i in range(rows) for slot in single.slots]
            concatenated = (
                variant.positional
                and single.positional
                and [slot.source for slot in variant.slots] == expected
            )
            found = self._batches[key] = (variant, concatenated)
        return found

    def _fetch(self, session: Session, params: Params) -> list[tuple[Any, ...]]:
        cursor, variant = self._execute(session, params, None)
        rows: list[tuple[Any, ...]] = list(cursor.fetchall())
        cursor.close()
        processors = variant.results
        if not any(processors):
            return rows
        return [
            tuple(v if p is None else p(v) for p, v in zip(processors, row, strict=True))
            for row in rows
        ]

    def _execute(
        self, session: Session, params: Params, many: Sequence[Params] | None
    ) -> tuple[Any, _Variant]:
        """Run the statement on the session's DBAPI connection (``many``: every set of
        values at once, shaped like ``params``); the cursor, and the variant it ran."""
        run_deferred(session)  # what waits is written before anything reads or changes
        connection = _connection(session)
        variant = self._variant(connection.dialect, params)
        if many is None:
            return _run(connection, variant.sql, variant.values(params), many=False), variant
        values = [variant.values(one) for one in many]
        return _run(connection, variant.sql, values, many=True), variant

    # ---------------------------------------------------------------- compiling

    def _variant(self, dialect: Dialect, params: Params) -> _Variant:
        if self._insert:
            key: Any = (dialect, tuple(params))
        elif self._expanding:
            key = (dialect, *(len(params[name]) for name in self._expanding))
        else:
            key = dialect
        variant = self._variants.get(key)
        if variant is None:
            variant = self._variants[key] = self._compile(dialect, params)
        return variant

    def _compile(self, dialect: Dialect, params: Params) -> _Variant:
        column_keys = list(params) if self._insert else None
        compiled = self.statement.compile(dialect=dialect, column_keys=column_keys)
        assert isinstance(compiled, SQLCompiler)
        if compiled.insert_prefetch or compiled.update_prefetch:
            raise exc.ArgumentError(
                "A prepared statement must be given every value: "
                f"{[c.key for c in [*compiled.insert_prefetch, *compiled.update_prefetch]]} "
                "have Python-side defaults."
            )
        binds = dict(compiled.binds)  # by the name in the SQL (anonymous ones too)
        sample: dict[str, Any] = {
            name: [None] * len(params[name]) if bind.expanding else None
            for name, bind in binds.items()
        }
        state = compiled.construct_expanded_state(sample)
        origin: dict[str, tuple[str, int]] = {name: (name, -1) for name in binds}
        for name, expanded in state.parameter_expansion.items():
            for index, out in enumerate(expanded):
                origin[out] = (name, index)
        order = state.positiontup if compiled.positional else list(state.parameters)
        assert order is not None
        processors = {
            name: bind.type.dialect_impl(dialect).bind_processor(dialect)
            for name, bind in binds.items()
        }
        slots = []
        for out in order:
            source, index = origin[out]
            bind = binds[source]
            default = _MISSING if bind.required else bind.effective_value
            slots.append(_Slot(out, source, index, default, processors[source]))
        results = tuple(
            column.type.dialect_impl(dialect).result_processor(dialect, None)
            for column in self._columns
        )
        return _Variant(
            state.statement,
            compiled.positional,
            tuple(slots),
            results,
            _binder(slots, compiled.positional),
        )


#: ``Session.info`` key of the INSERTs :func:`deferred_inserts` holds back.
_DEFERRED = "realname.prepared.deferred"


@contextmanager
def deferred_inserts(session: Session) -> Iterator[None]:
    """Inside, the session's prepared INSERTs are bound at once but run later, in
    order: just before the next other prepared statement (which then sees them), and
    at the end of the block.

    Why: on SQLite a writing transaction holds the database's one write lock from its
    first statement to its COMMIT, and every other writer — another API process
    included — waits that long. Binding the rows (ids, timestamps, JSON, the bind
    processors) before the first statement leaves the lock to SQLite's own work
    (``bench/bench_api.py``: a verification's writes held it 1.6 ms under two workers).

    Only :class:`Prepared` statements are held back and flush the queue; an ORM
    statement inside the block does neither, so the block should hold only
    repository calls that write through :class:`Prepared`, or ORM work that does not
    depend on the rows waiting. If the block raises, nothing waiting is run (the
    caller's transaction is rolled back anyway). Nested blocks share the outer queue.
    """
    if session.info.get(_DEFERRED) is not None:
        yield
        return
    session.info[_DEFERRED] = []
    try:
        yield
        run_deferred(session)
    finally:
        session.info.pop(_DEFERRED, None)


def run_deferred(session: Session) -> None:
    """Run the INSERTs :func:`deferred_inserts` is holding for ``session``, now."""
    pending: list[tuple[str, Any, bool]] | None = session.info.get(_DEFERRED)
    if not pending:
        return
    statements = list(pending)
    pending.clear()
    connection = _connection(session)
    for sql, values, many in statements:
        _run(connection, sql, values, many=many).close()


@event.listens_for(Session, "before_commit")
def _run_deferred_before_commit(session: Session) -> None:
    """A commit inside a :func:`deferred_inserts` block writes what it holds first."""
    run_deferred(session)


def _dialect(session: Session) -> Dialect:
    """The dialect the session's statements run on, without beginning a transaction."""
    return session.get_bind().dialect


#: The connection of each session transaction that ran a prepared statement.
_CONNECTIONS: WeakKeyDictionary[SessionTransaction, Connection] = WeakKeyDictionary()


def _connection(session: Session) -> Connection:
    """``session.connection()``, remembered for the rest of the session's transaction.

    A verification runs some twenty prepared statements, and ``Session.connection``
    walks the session's transaction machinery each time to answer the same
    connection. The answer is kept per transaction object (a new transaction is a new
    object) and used only while that transaction is active: a transaction a failed
    flush deactivated, or one ended, asks the session again, which raises or begins
    a new one exactly as before.
    """
    transaction = session.get_transaction()
    if transaction is not None and transaction.is_active:
        connection = _CONNECTIONS.get(transaction)
        if connection is not None:
            return connection
    connection = session.connection()
    transaction = session.get_transaction()
    if transaction is not None:
        _CONNECTIONS[transaction] = connection
    return connection


def _run(connection: Connection, sql: str, values: Any, *, many: bool) -> Any:
    """``sql`` on the connection's DBAPI cursor; DBAPI errors as SQLAlchemy raises them."""
    dialect = connection.dialect
    if connection.engine.echo:  # logged as SQLAlchemy would
        connection.engine.logger.info("%s", sql)
        connection.engine.logger.info("[prepared] %r", values)
    raw = connection.connection.dbapi_connection
    assert raw is not None
    cursor = raw.cursor()
    try:
        if many:
            cursor.executemany(sql, values)
        else:
            cursor.execute(sql, values)
    except dialect.loaded_dbapi.Error as error:
        cursor.close()
        # SQLAlchemy's own class for it (IntegrityError, OperationalError, ...).
        raise exc.DBAPIError.instance(
            sql, values, error, dialect.loaded_dbapi.Error, dialect=dialect
        ) from error
    return cursor
