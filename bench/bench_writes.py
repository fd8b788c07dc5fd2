"""What one L2 verification asks of SQLite: statements run, and pages written to the WAL.

Run as ``python bench/bench_writes.py [--requests N]``. A companion of
``bench_api_cost.py``, whose instruction counts miss the kernel's work of writing
WAL pages: in WAL mode each commit appends every page the transaction dirtied (each
B-tree's leaf, for a table and for every one of its indexes), so the pages a
verification writes are its share of the disk bandwidth and of the time COMMIT takes.

How: the app verifies ``N`` fresh users through ``POST /v1/users/{id}/verifications``
(in process, ASGI, no lifespan: no background checkpoint runs, and the engine's
safety-net threshold is far above what ``N`` verifications write, so the WAL only
grows). Every statement the driver runs is counted by ``sqlite3``'s trace callback
(``BEGIN``/``COMMIT`` included); the WAL frames appended meanwhile are read back
from the ``-wal`` file, and each page is named by ``dbstat`` (the table or index whose
B-tree holds it).
"""

from __future__ import annotations

import argparse
import asyncio
import re
import sqlite3
import struct
import sys
import tempfile
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import Engine, event

from bench.bench_api import (
    _quiet,
    build_realname,
    fresh_users,
    make_world,
    verification,
)

_WAL_HEADER = 32
_FRAME_HEADER = 24
_STATEMENT = re.compile(r"^\s*(\w+)(?:\s+(?:INTO|FROM)?\s*(\w+))?", re.IGNORECASE)


def _frames(wal: Path, page_size: int) -> list[tuple[int, bool]]:
    """Every frame of the WAL: (page number, whether it ends a commit)."""
    data = wal.read_bytes()
    out = []
    offset = _WAL_HEADER
    while offset + _FRAME_HEADER + page_size <= len(data):
        pgno, commit_size = struct.unpack(">II", data[offset : offset + 8])
        out.append((pgno, commit_size != 0))
        offset += _FRAME_HEADER + page_size
    return out


def _kind(sql: str) -> str:
    """``INSERT verification_results``, ``SELECT audit_log``, ``COMMIT``..."""
    match = _STATEMENT.match(sql)
    if match is None:
        return sql[:30]
    verb = match.group(1).upper()
    if verb == "SELECT":
        table = re.search(r"\bFROM\s+(\w+)", sql, re.IGNORECASE)
        return f"SELECT {table.group(1) if table else ''}".strip()
    if verb in ("UPDATE",):
        return f"UPDATE {match.group(2) or ''}".strip()
    if verb in ("INSERT", "DELETE"):
        table = re.search(r"\b(?:INTO|FROM)\s+(\w+)", sql, re.IGNORECASE)
        return f"{verb} {table.group(1) if table else ''}".strip()
    return verb


@dataclass(frozen=True)
class Writes:
    """What ``requests`` verifications asked of SQLite, in total."""

    requests: int
    statements: list[str]
    commits: int
    frames: int
    page_size: int
    by_btree: Counter[str]


async def run(requests: int, citizens: int) -> Writes:
    statements: list[str] = []
    counting = [False]

    def _trace(sql: str) -> None:
        if counting[0]:
            statements.append(sql)

    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        if isinstance(dbapi_connection, sqlite3.Connection):
            dbapi_connection.set_trace_callback(_trace)

    event.listen(Engine, "connect", _on_connect)
    try:
        return await _measure(requests, citizens, statements, counting)
    finally:
        event.remove(Engine, "connect", _on_connect)


async def _measure(
    requests: int, citizens: int, statements: list[str], counting: list[bool]
) -> Writes:
    work = Path(tempfile.mkdtemp(prefix="realname-writes-"))
    make_world(work / "sandbox.db", citizens)
    with _quiet():
        realname = build_realname(work / "realname", work / "sandbox.db")
        users = await fresh_users(realname, work / "sandbox.db", requests + 1)
    db = work / "realname" / "realname.db"
    wal = db.with_name(db.name + "-wal")
    headers = {"Authorization": f"Bearer {realname.key}"}
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=realname.app), base_url="http://bench", headers=headers
    ) as client:

        async def verify(user: Any) -> None:
            path, payload = verification(user)
            response = await client.post(path, json=payload)
            assert response.status_code == 200, response.text
            assert response.json()["level"] == "L2", response.json()

        await verify(users[0])  # warm: statements compiled, pool connected
        reader = sqlite3.connect(db, isolation_level=None)
        page_size = reader.execute("PRAGMA page_size").fetchone()[0]
        reader.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        # A read transaction held open: no checkpoint can reset the WAL under it (the
        # safety-net autocheckpoint would, after 10,000 pages), so it only grows.
        reader.execute("BEGIN")
        reader.execute("SELECT count(*) FROM sqlite_schema").fetchone()
        before = len(_frames(wal, page_size)) if wal.exists() else 0
        counting[0] = True
        for user in users[1:]:
            await verify(user)
        counting[0] = False
    frames = _frames(wal, page_size)[before:]
    reader.execute("COMMIT")
    names = dict(reader.execute("SELECT pageno, name FROM dbstat"))
    reader.close()
    realname.close()
    return Writes(
        requests=requests,
        statements=list(statements),
        commits=sum(1 for _, ends in frames if ends),
        frames=len(frames),
        page_size=page_size,
        by_btree=Counter(names.get(pgno, "(free/header)") for pgno, _ in frames),
    )


def report(writes: Writes, show: bool) -> None:
    n = writes.requests
    statements = writes.statements
    by_kind = Counter(_kind(sql) for sql in statements)
    print(f"per verification, mean of {n} (fresh users, L2):")
    print(f"  statements          {len(statements) / n:6.2f}")
    print(f"  commits             {writes.commits / n:6.2f}")
    print(f"  WAL frames (pages)  {writes.frames / n:6.2f}   ({writes.page_size} B pages)")
    print(f"  WAL bytes           {writes.frames * (writes.page_size + _FRAME_HEADER) / n:8.0f}")
    print("  pages by B-tree:")
    for name, count in writes.by_btree.most_common():
        print(f"    {count / n:6.2f}  {name}")
    print("  statements by kind:")
    for kind, count in sorted(by_kind.items(), key=lambda item: (-item[1], item[0])):
        print(f"    {count / n:6.2f}  {kind}")
    if show:
        per = len(statements) // n
        print("  the last verification's statements:")
        for sql in statements[-per:]:
            print("    " + " ".join(sql.split())[:160])


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--requests", type=int, default=30)
    parser.add_argument("--citizens", type=int, default=1000)
    parser.add_argument("--show", action="store_true", help="print one verification's SQL")
    args = parser.parse_args(argv)
    report(asyncio.run(run(args.requests, args.citizens)), args.show)
    return 0


if __name__ == "__main__":
    sys.exit(main())
