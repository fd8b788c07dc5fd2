"""The hash-chained audit log (DESIGN §9; JR/T 0171-2020; PIPL Art. 54).

Each entry's ``hash`` is SHA-256 over a canonical JSON (sorted keys, no spaces,
UTF-8, RFC 8785 in spirit) of ``seq``, ``at``, ``actor``, ``action``, ``target``,
``details`` and the previous entry's hash. Changing an entry changes its hash;
deleting one leaves a gap and a dangling ``prev_hash``; swapping two breaks both,
because ``seq`` is hashed too. :func:`verify_chain` reports the first ``seq`` at
which any of that happened.

A chain only proves itself up to its last entry: truncating the tail is visible
only against a head recorded elsewhere, so :class:`ChainReport` returns the head
(``head_seq``, ``head_hash``) for the caller to publish or compare.

``details`` is for codes, counts and ids — never personal data: the log is kept
longer than the data it describes and is not crypto-shredded.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from hashlib import sha256
from typing import Any

from sqlalchemy import insert, select, text
from sqlalchemy.orm import Session

from realname.store.db import begins_immediate
from realname.store.models import AuditEntry
from realname.store.prepared import Prepared
from realname.store.tables import table_of
from realname.store.types import utcnow

GENESIS_HASH = "0" * 64
#: Key of the PostgreSQL advisory lock that serialises appends (any fixed 64-bit value).
_PG_LOCK_KEY = int.from_bytes(sha256(b"realname.audit_log").digest()[:8], "big", signed=True)

# Built once, run as Core: every verification appends an entry, and building the
# statements and flushing an object cost more CPU than the SQL.
_LOG = table_of(AuditEntry)
_PG_LOCK = text("SELECT pg_advisory_xact_lock(:key)")
_SQLITE_LOCK = text("UPDATE audit_log SET seq = seq WHERE 1 = 0")
_LAST = Prepared(
    select(_LOG.c.seq, _LOG.c.hash).order_by(_LOG.c.seq.desc()).limit(1).with_for_update()
)
_INSERT = Prepared(insert(_LOG))
_MAX_PROBLEMS = 100


def canonical_json(value: Any) -> str:
    """Deterministic JSON: sorted keys, compact separators, no NaN, UTF-8 text."""
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )


def _timestamp(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def entry_hash(
    *,
    seq: int,
    at: datetime,
    actor: str,
    action: str,
    target: str,
    details: Mapping[str, Any],
    prev_hash: str,
) -> str:
    """The SHA-256 (hex) of one entry in its canonical form."""
    document = {
        "seq": seq,
        "at": _timestamp(at),
        "actor": actor,
        "action": action,
        "target": target,
        "details": details,
        "prev_hash": prev_hash,
    }
    return sha256(canonical_json(document).encode("utf-8")).hexdigest()


def _lock_chain(session: Session) -> None:
    """Serialise appenders so two transactions never chain onto the same entry.

    PostgreSQL: a transaction-scoped advisory lock. ``SELECT … FOR UPDATE`` on the
    last row alone is not enough — a waiter wakes up holding the *old* last row and
    would reuse its ``seq``; after the advisory lock, the next statement sees the
    committed newest entry. SQLite: every transaction of realname's engines begins
    IMMEDIATE (:func:`realname.store.db.make_engine`) and so holds the database write
    lock already; on another engine, a write statement that matches nothing takes it.
    On both, the ``seq`` primary key turns any remaining race into an error, never
    into a fork.
    """
    bind = session.get_bind()
    dialect = bind.dialect.name
    if dialect == "postgresql":
        session.execute(_PG_LOCK, {"key": _PG_LOCK_KEY})
    elif dialect == "sqlite" and not begins_immediate(bind):
        session.execute(_SQLITE_LOCK)


@dataclass(frozen=True, slots=True)
class AppendedEntry:
    """An entry as :func:`append` wrote it (plain data: no ORM object is needed for a
    row already written; read :class:`AuditEntry` rows for the ORM's)."""

    seq: int
    at: datetime
    actor: str
    action: str
    target: str
    details: dict[str, Any]
    prev_hash: str
    hash: str


def append(
    session: Session,
    actor: str,
    action: str,
    target: str,
    details: Mapping[str, Any] | None = None,
    *,
    at: datetime | None = None,
) -> AppendedEntry:
    """Append one entry to the chain within the caller's transaction.

    Call it last in a transaction: the chain stays locked until commit.
    ``details`` must be JSON-serialisable; it is stored as it hashes (a JSON
    round trip), so tuples become lists and keys become strings up front.
    """
    normalised: dict[str, Any] = json.loads(json.dumps(dict(details or {}), allow_nan=False))
    when = (at or utcnow()).astimezone(UTC)
    session.flush()  # what the caller wrote through the ORM is written before its entry
    _lock_chain(session)
    last = _LAST.first(session)
    seq, prev_hash = (1, GENESIS_HASH) if last is None else (last.seq + 1, last.hash)
    values: dict[str, Any] = {
        "seq": seq,
        "at": when,
        "actor": actor,
        "action": action,
        "target": target,
        "details": normalised,
        "prev_hash": prev_hash,
    }
    values["hash"] = entry_hash(
        seq=seq,
        at=when,
        actor=actor,
        action=action,
        target=target,
        details=normalised,
        prev_hash=prev_hash,
    )
    _INSERT.run(session, values)
    return AppendedEntry(**values)


@dataclass(frozen=True)
class ChainProblem:
    """One break in the chain: where, and what kind.

    ``kind`` is ``hash_mismatch`` (the entry was modified), ``seq_gap`` (entries
    before this one are missing) or ``prev_hash_mismatch`` (the entry does not
    follow the one before it: deleted, inserted or reordered entries).
    """

    seq: int
    kind: str


@dataclass(frozen=True)
class ChainReport:
    """The outcome of :func:`verify_chain`."""

    ok: bool
    checked: int
    head_seq: int | None
    head_hash: str | None
    problems: tuple[ChainProblem, ...] = ()

    @property
    def first_bad_seq(self) -> int | None:
        return self.problems[0].seq if self.problems else None


def verify_chain(session: Session, *, batch_size: int = 1000) -> ChainReport:
    """Recompute every hash and link, oldest first; report each break by ``seq``.

    After a break, checking resumes from the stored hash so that later, independent
    breaks are reported too (at most 100).
    """
    problems: list[ChainProblem] = []
    expected_seq = 1
    prev_hash = GENESIS_HASH
    checked = 0
    head: tuple[int, str] | None = None
    rows = session.execute(
        select(
            AuditEntry.seq,
            AuditEntry.at,
            AuditEntry.actor,
            AuditEntry.action,
            AuditEntry.target,
            AuditEntry.details,
            AuditEntry.prev_hash,
            AuditEntry.hash,
        )
        .order_by(AuditEntry.seq)
        .execution_options(yield_per=batch_size)
    )
    for row in rows:
        checked += 1
        if row.seq != expected_seq:
            problems.append(ChainProblem(row.seq, "seq_gap"))
        elif row.prev_hash != prev_hash:
            problems.append(ChainProblem(row.seq, "prev_hash_mismatch"))
        recomputed = entry_hash(
            seq=row.seq,
            at=row.at,
            actor=row.actor,
            action=row.action,
            target=row.target,
            details=row.details,
            prev_hash=row.prev_hash,
        )
        if recomputed != row.hash:
            problems.append(ChainProblem(row.seq, "hash_mismatch"))
        expected_seq = row.seq + 1
        prev_hash = row.hash
        head = (row.seq, row.hash)
        if len(problems) >= _MAX_PROBLEMS:
            break
    return ChainReport(
        ok=not problems,
        checked=checked,
        head_seq=head[0] if head else None,
        head_hash=head[1] if head else None,
        problems=tuple(problems[:_MAX_PROBLEMS]),
    )


__all__ = [
    "GENESIS_HASH",
    "AppendedEntry",
    "ChainProblem",
    "ChainReport",
    "append",
    "canonical_json",
    "entry_hash",
    "verify_chain",
]
