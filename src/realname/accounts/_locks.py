"""Serialising concurrent writers on one key, on PostgreSQL and SQLite alike.

Several API processes share the counters of :mod:`realname.accounts` through the
database, so "count, then insert" must not interleave for the same phone or key:
two requests that both read "four codes sent this hour" would both send a fifth.
PostgreSQL: a transaction-scoped advisory lock per key. SQLite: a write statement
takes the database write lock for the rest of the transaction (as in
:mod:`realname.store.repositories.audit`).
"""

from __future__ import annotations

from hashlib import sha256

from sqlalchemy import text
from sqlalchemy.orm import Session


def lock_key(session: Session, name: str) -> None:
    """Hold a lock on ``name`` until the caller's transaction ends."""
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        key = int.from_bytes(sha256(name.encode("utf-8")).digest()[:8], "big", signed=True)
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})
    elif dialect == "sqlite":
        session.execute(text("UPDATE otp_challenges SET attempts = attempts WHERE 1 = 0"))
