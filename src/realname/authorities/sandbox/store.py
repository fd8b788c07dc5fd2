"""The sandbox registry: citizens, phones and bank cards in their own SQLite file.

It plays the public-security registry, the carriers and the banks at once. Rows are
grouped in *worlds*: each fixture scenario is one world (scenarios contradict each
other — the same ID number expires in one and not in another), and a generated
population is another. A provider answers from exactly one world.

The store is separate from the platform's database on purpose: it stands for what
the authorities know, and the platform never reads it (DESIGN §4: diagnosis uses only
what providers answer). Some columns are ground truth the authorities would not
reveal either — who actually *uses* a number (``holder_id``) and who held it before
it was re-issued (``previous_owner_id``); they exist for simulations and tests, and
no provider answer is built from them.

Dates are ISO text (``YYYY-MM-DD``), which sorts like the dates themselves. A
``valid_until`` of NULL is a long-term card (长期) or one whose end is not recorded.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

from realname.authorities.errors import SandboxWorldMissing

SCHEMA = """
CREATE TABLE IF NOT EXISTS worlds (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL,
    source TEXT,
    today TEXT,
    loaded_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS citizens (
    world_id INTEGER NOT NULL,
    id INTEGER NOT NULL,
    ref TEXT,
    name TEXT NOT NULL,
    id_number TEXT NOT NULL,
    valid_until TEXT,
    portrait TEXT,
    PRIMARY KEY (world_id, id)
) WITHOUT ROWID;
CREATE UNIQUE INDEX IF NOT EXISTS citizens_by_id_number ON citizens (world_id, id_number);
CREATE TABLE IF NOT EXISTS phones (
    world_id INTEGER NOT NULL,
    number TEXT NOT NULL,
    carrier TEXT NOT NULL,
    ported_from TEXT,
    owner_id INTEGER,
    status TEXT NOT NULL,
    owner_since TEXT,
    sim_changed TEXT,
    holder_id INTEGER,
    previous_owner_id INTEGER,
    PRIMARY KEY (world_id, number)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS phones_by_owner ON phones (world_id, owner_id);
CREATE TABLE IF NOT EXISTS bank_cards (
    world_id INTEGER NOT NULL,
    number TEXT NOT NULL,
    owner_id INTEGER NOT NULL,
    reserved_phone TEXT NOT NULL,
    status TEXT NOT NULL,
    PRIMARY KEY (world_id, number)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS bank_cards_by_owner ON bank_cards (world_id, owner_id);
"""


@dataclass(frozen=True, slots=True)
class CitizenRow:
    id: int
    ref: str | None
    name: str
    id_number: str
    valid_until: date | None
    portrait: str | None


@dataclass(frozen=True, slots=True)
class PhoneRow:
    number: str
    carrier: str
    ported_from: str | None
    owner_id: int | None
    status: str
    owner_since: date | None
    sim_changed: date | None


@dataclass(frozen=True, slots=True)
class CardRow:
    number: str
    owner_id: int
    reserved_phone: str
    status: str


@dataclass(frozen=True, slots=True)
class WorldInfo:
    id: int
    name: str
    kind: str
    source: str | None
    today: date | None
    citizens: int
    phones: int
    bank_cards: int


#: Row shapes accepted by the bulk inserts (column order as in the tables).
CitizenTuple = tuple[int, str | None, str, str, str | None, str | None]
PhoneTuple = tuple[
    str, str, str | None, int | None, str, str | None, str | None, int | None, int | None
]
CardTuple = tuple[str, int, str, str]


def _date(value: str | None) -> date | None:
    return date.fromisoformat(value) if value else None


def _citizen_row(row: tuple[int, str | None, str, str, str | None, str | None]) -> CitizenRow:
    return CitizenRow(
        id=row[0],
        ref=row[1],
        name=row[2],
        id_number=row[3],
        valid_until=_date(row[4]),
        portrait=row[5],
    )


class SandboxStore:
    """A SQLite file (or ``:memory:``) holding sandbox worlds.

    One connection, shared by the threads of one process under a lock; lookups are
    primary-key or unique-index reads. Writes happen only inside :meth:`transaction`.
    """

    def __init__(self, path: str | Path = ":memory:") -> None:
        self.path = str(path)
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        # isolation_level=None: transactions are opened explicitly (BEGIN IMMEDIATE),
        # so a whole fixture file or generated batch commits or rolls back as one.
        self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        self._lock = threading.RLock()
        self._in_transaction = False
        self._db.execute("PRAGMA foreign_keys = OFF")
        if self.path != ":memory:":
            self._db.execute("PRAGMA journal_mode = WAL")
        self._db.executescript(SCHEMA)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __enter__(self) -> SandboxStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ transactions

    @contextmanager
    def transaction(self, *, bulk: bool = False) -> Iterator[None]:
        """One write transaction; everything in it is committed or nothing is.

        ``bulk=True`` also turns the rollback journal and fsyncs off for its duration
        (``journal_mode=OFF``, ``synchronous=OFF``): several times faster for
        millions of rows, at the price that a crash mid-load can corrupt the file.
        That is acceptable for a sandbox that is regenerated from a seed, and it is
        why bulk mode is used only by the generator. Without a journal SQLite cannot
        roll back either: a failed bulk load can leave the world partly written, so
        the generator creates its world with kind ``incomplete`` and marks it
        ``generated`` only as the last write (:meth:`mark_world`).
        """
        with self._lock:
            if self._in_transaction:
                raise RuntimeError("sandbox transactions do not nest")
            journal = None
            if bulk and self.path != ":memory:":
                journal = self._db.execute("PRAGMA journal_mode").fetchone()[0]
                self._db.execute("PRAGMA journal_mode = OFF")
                self._db.execute("PRAGMA synchronous = OFF")
            self._db.execute("BEGIN IMMEDIATE")
            self._in_transaction = True
            try:
                yield
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            else:
                self._db.execute("COMMIT")
            finally:
                self._in_transaction = False
                if journal is not None:
                    self._db.execute(f"PRAGMA journal_mode = {journal}")
                    self._db.execute("PRAGMA synchronous = FULL")

    def _require_transaction(self) -> None:
        if not self._in_transaction:
            raise RuntimeError("sandbox writes must run inside store.transaction()")

    # ------------------------------------------------------------------------ worlds

    def create_world(
        self, name: str, *, kind: str, source: str | None = None, today: date | None = None
    ) -> int:
        """Create the world ``name``, replacing (emptying) one of the same name."""
        self._require_transaction()
        existing = self._db.execute("SELECT id FROM worlds WHERE name = ?", (name,)).fetchone()
        if existing is not None:
            self._delete_rows(existing[0])
            self._db.execute("DELETE FROM worlds WHERE id = ?", (existing[0],))
        cursor = self._db.execute(
            "INSERT INTO worlds (name, kind, source, today, loaded_at) VALUES (?, ?, ?, ?, ?)",
            (
                name,
                kind,
                source,
                today.isoformat() if today else None,
                datetime.now(UTC).isoformat(timespec="seconds"),
            ),
        )
        world_id = cursor.lastrowid
        assert world_id is not None
        return world_id

    def mark_world(self, world_id: int, kind: str) -> None:
        self._require_transaction()
        self._db.execute("UPDATE worlds SET kind = ? WHERE id = ?", (kind, world_id))

    def drop_world(self, name: str) -> None:
        self._require_transaction()
        world_id = self.world_id(name)
        self._delete_rows(world_id)
        self._db.execute("DELETE FROM worlds WHERE id = ?", (world_id,))

    def _delete_rows(self, world_id: int) -> None:
        for table in ("citizens", "phones", "bank_cards"):
            self._db.execute(f"DELETE FROM {table} WHERE world_id = ?", (world_id,))  # noqa: S608 - fixed table names

    def world_id(self, name: str) -> int:
        with self._lock:
            row = self._db.execute("SELECT id FROM worlds WHERE name = ?", (name,)).fetchone()
        if row is None:
            raise SandboxWorldMissing(world=name)
        return int(row[0])

    def world_today(self, name: str) -> date | None:
        """The date the world was loaded or generated for, if it records one."""
        with self._lock:
            row = self._db.execute("SELECT today FROM worlds WHERE name = ?", (name,)).fetchone()
        if row is None:
            raise SandboxWorldMissing(world=name)
        return _date(row[0])

    def worlds(self) -> list[WorldInfo]:
        """Every world with its row counts."""
        with self._lock:
            rows = self._db.execute(
                "SELECT id, name, kind, source, today FROM worlds ORDER BY id"
            ).fetchall()
            result = []
            for world_id, name, kind, source, today in rows:
                counts = [
                    self._db.execute(
                        f"SELECT count(*) FROM {table} WHERE world_id = ?",  # noqa: S608 - fixed table names
                        (world_id,),
                    ).fetchone()[0]
                    for table in ("citizens", "phones", "bank_cards")
                ]
                result.append(WorldInfo(world_id, name, kind, source, _date(today), *counts))
        return result

    # ----------------------------------------------------------------------- inserts

    def insert_citizens(self, world_id: int, rows: Iterable[CitizenTuple]) -> None:
        self._require_transaction()
        self._db.executemany(
            "INSERT INTO citizens (world_id, id, ref, name, id_number, valid_until, portrait)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            ((world_id, *row) for row in rows),
        )

    def insert_phones(self, world_id: int, rows: Iterable[PhoneTuple]) -> None:
        self._require_transaction()
        self._db.executemany(
            "INSERT INTO phones (world_id, number, carrier, ported_from, owner_id, status,"
            " owner_since, sim_changed, holder_id, previous_owner_id)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            ((world_id, *row) for row in rows),
        )

    def insert_cards(self, world_id: int, rows: Iterable[CardTuple]) -> None:
        self._require_transaction()
        self._db.executemany(
            "INSERT INTO bank_cards (world_id, number, owner_id, reserved_phone, status)"
            " VALUES (?, ?, ?, ?, ?)",
            ((world_id, *row) for row in rows),
        )

    # ----------------------------------------------------------------------- lookups

    def citizen_by_id_number(self, world_id: int, id_number: str) -> CitizenRow | None:
        with self._lock:
            row = self._db.execute(
                "SELECT id, ref, name, id_number, valid_until, portrait FROM citizens"
                " WHERE world_id = ? AND id_number = ?",
                (world_id, id_number),
            ).fetchone()
        return None if row is None else _citizen_row(row)

    def citizen(self, world_id: int, citizen_id: int) -> CitizenRow | None:
        with self._lock:
            row = self._db.execute(
                "SELECT id, ref, name, id_number, valid_until, portrait FROM citizens"
                " WHERE world_id = ? AND id = ?",
                (world_id, citizen_id),
            ).fetchone()
        return None if row is None else _citizen_row(row)

    def phone(self, world_id: int, number: str) -> PhoneRow | None:
        with self._lock:
            row = self._db.execute(
                "SELECT number, carrier, ported_from, owner_id, status, owner_since, sim_changed"
                " FROM phones WHERE world_id = ? AND number = ?",
                (world_id, number),
            ).fetchone()
        if row is None:
            return None
        return PhoneRow(
            number=row[0],
            carrier=row[1],
            ported_from=row[2],
            owner_id=row[3],
            status=row[4],
            owner_since=_date(row[5]),
            sim_changed=_date(row[6]),
        )

    def card(self, world_id: int, number: str) -> CardRow | None:
        with self._lock:
            row = self._db.execute(
                "SELECT number, owner_id, reserved_phone, status FROM bank_cards"
                " WHERE world_id = ? AND number = ?",
                (world_id, number),
            ).fetchone()
        return None if row is None else CardRow(*row)

    def query(self, sql: str, parameters: Sequence[object] = ()) -> list[tuple[object, ...]]:
        """Read-only SQL for tests, benchmarks and simulations (ground truth included)."""
        with self._lock:
            return list(self._db.execute(sql, tuple(parameters)).fetchall())
