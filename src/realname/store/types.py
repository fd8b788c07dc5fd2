"""Column types shared by the models and the migrations.

Timestamps are the one type SQLite and PostgreSQL disagree on: PostgreSQL's
``timestamptz`` hands back an aware datetime in the session's time zone, SQLite stores
text and hands back a naive one. :class:`UtcDateTime` makes both behave the same way —
always UTC, always aware — so audit hashes, consent times and retention rules compare
equal whichever database produced them (PIPL Art. 51 asks for records that can be
relied on; a timestamp that silently changes meaning between stores cannot).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import DateTime, Dialect
from sqlalchemy.types import TypeDecorator

from realname.randomness import token_bytes


def utcnow() -> datetime:
    """The current time, aware, in UTC — the only clock the store accepts."""
    return datetime.now(UTC)


def new_id() -> str:
    """A time-ordered UUID (RFC 9562 version 7) as its canonical 36-character string.

    Identifiers are chosen in Python rather than by the database because the vault
    binds every ciphertext to the id of the row that holds it, so the id must be
    known before the first INSERT.

    Version 7 rather than the fully random version 4: the first 48 bits are the
    Unix time in milliseconds, so the ids of new rows sort after older ones and each
    primary-key index grows at its right-hand end. A random id lands on a random
    leaf page of the index: with a few thousand rows, a verification inserting five
    checks, three elements and three attempt events dirtied eleven leaf pages that
    each commit then wrote to the WAL, where ordered ids dirty one per table
    (bench/bench_writes.py). The other 74 bits are random (the kernel's CSPRNG,
    through :mod:`realname.randomness`), so ids stay unguessable; they reveal when
    the row was created, to the millisecond, which every such row also stores in
    ``created_at``.
    """
    millis = time.time_ns() // 1_000_000
    rand = int.from_bytes(token_bytes(10), "big")  # 80 bits; 74 are used
    value = (
        (millis & _MILLIS_MASK) << 80
        | 0x7 << 76  # version 7
        | (rand >> 68) << 64  # rand_a: 12 bits
        | 0b10 << 62  # the RFC 9562 variant
        | (rand & _RAND_B_MASK)  # rand_b: 62 bits
    )
    # Formatted by hand: building a uuid.UUID (validation, attribute guards) and
    # printing it cost more than choosing the value, for ids made by the thousand.
    h = f"{value:032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


_MILLIS_MASK = (1 << 48) - 1
_RAND_B_MASK = (1 << 62) - 1


#: "00" to "59": the two-digit fields of a time of day.
_TWO_DIGITS = tuple(f"{number:02d}" for number in range(60))
#: Dates already written (``YYYY-MM-DD``), by date; a process writes few distinct ones.
_DATE_TEXT: dict[date, str] = {}


def sqlite_text(value: datetime) -> str:
    """The text SQLAlchemy's SQLite ``DATETIME`` stores for a naive UTC wall time
    (``YYYY-MM-DD HH:MM:SS.ffffff``) — of ``value`` as it reads, its zone ignored.

    By hand because ``datetime.isoformat`` formats each of its eight fields through C
    ``sprintf`` (and the offset too, to be cut off again): 1.0 µs a value against 0.5
    here, a date's text kept once written."""
    day = value.date()
    text = _DATE_TEXT.get(day)
    if text is None:
        if len(_DATE_TEXT) > 4096:  # far-off dates (tests, imports) do not pile up
            _DATE_TEXT.clear()
        text = _DATE_TEXT[day] = day.isoformat()
    two = _TWO_DIGITS
    return (
        f"{text} {two[value.hour]}:{two[value.minute]}:{two[value.second]}.{value.microsecond:06d}"
    )


class NaiveDatetimeError(TypeError):
    """A naive datetime reached the store; its time zone would be a guess."""


class UtcDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC timestamp on every backend.

    Binding refuses naive datetimes (raising :class:`NaiveDatetimeError`) instead of
    guessing a zone. Aware values in any zone are converted to UTC. On SQLite the value
    is stored as naive UTC text (which sorts correctly) and re-labelled UTC on the
    way out; on PostgreSQL it is a ``timestamptz`` converted back to UTC on read.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if not isinstance(value, datetime):
            raise TypeError(f"UtcDateTime expects a datetime, got {type(value).__name__}")
        if value.tzinfo is None or value.utcoffset() is None:
            raise NaiveDatetimeError("naive datetimes are refused; pass an aware UTC datetime")
        utc: datetime = value.astimezone(UTC)
        if dialect.name == "sqlite":
            return utc.replace(tzinfo=None)
        return utc

    def bind_processor(self, dialect: Dialect) -> Callable[[Any], Any] | None:
        """On SQLite, :meth:`process_bind_param` and SQLAlchemy's text format in one
        step (:func:`sqlite_text`): an L2 verification binds 22 timestamps."""
        if dialect.name != "sqlite":
            return super().bind_processor(dialect)

        def process(value: Any) -> str | None:
            if isinstance(value, datetime) and value.tzinfo is UTC:
                # Already UTC, as utcnow() makes nearly every value.
                return sqlite_text(value)
            utc = self.process_bind_param(value, dialect)
            return None if utc is None else sqlite_text(utc)

        return process

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if not isinstance(value, datetime):
            raise TypeError(f"UtcDateTime read a {type(value).__name__}, not a datetime")
        read: datetime = value
        if read.tzinfo is None:
            return read.replace(tzinfo=UTC)
        return read.astimezone(UTC)
