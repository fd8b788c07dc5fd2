"""Sandbox benchmark: generator rate and in-process check throughput.

Run as ``python bench/bench_sandbox.py [--citizens N] [--checks M]``. Every figure
is printed next to a baseline measured in the same run on the same machine, so the
ratios mean something across machines:

- generation: citizens/s of the pure generator and of generating into a SQLite file,
  against a bare ``executemany`` insert of the same number of pre-built rows;
- checks: ID two-element and carrier three-element checks/s through the sandbox
  provider (quotas and daily limits off, no latency: the machinery alone), against a
  bare ``sqlite3`` primary-key lookup loop over the same table.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sqlite3
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

from realname.authorities.sandbox import (
    SandboxConfig,
    SandboxProvider,
    SandboxStore,
    generate,
    generate_into,
)

TODAY = date(2026, 12, 1)


def _rate(count: int, seconds: float) -> float:
    return count / seconds if seconds > 0 else float("inf")


def bench_generation(citizens: int, workdir: Path) -> tuple[float, float, float]:
    started = time.perf_counter()
    rows = 0
    for batch in generate(citizens, 1, today=TODAY):
        rows += len(batch.citizens)
    pure = _rate(rows, time.perf_counter() - started)

    started = time.perf_counter()
    with SandboxStore(workdir / "gen.db") as store:
        generate_into(store, citizens, 1, today=TODAY)
    stored = _rate(citizens, time.perf_counter() - started)

    # Baseline: insert the same number of ready-made citizen rows with executemany.
    payload = [(i, f"name{i}", f"{i:018d}", "2030-01-01") for i in range(citizens)]
    db = sqlite3.connect(workdir / "baseline.db", isolation_level=None)
    db.execute("PRAGMA journal_mode = OFF")
    db.execute("PRAGMA synchronous = OFF")
    db.execute(
        "CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT, id_number TEXT UNIQUE, valid TEXT)"
    )
    started = time.perf_counter()
    db.execute("BEGIN")
    db.executemany("INSERT INTO t VALUES (?, ?, ?, ?)", payload)
    db.execute("COMMIT")
    baseline = _rate(citizens, time.perf_counter() - started)
    db.close()
    return pure, stored, baseline


def _sample(store: SandboxStore, count: int) -> list[tuple[str, str, str]]:
    rows = store.query(
        "SELECT c.name, c.id_number, p.number FROM phones p JOIN citizens c"
        " ON c.world_id = p.world_id AND c.id = p.owner_id"
        " WHERE p.status = 'normal' LIMIT ?",
        (count,),
    )
    people = [(str(a), str(b), str(c)) for a, b, c in rows]
    random.Random(2).shuffle(people)
    return people


async def _two_element(provider: SandboxProvider, people: list[tuple[str, str, str]]) -> int:
    consistent = 0
    for name, id_number, _phone in people:
        answer = await provider.id_two_element(name, id_number)
        consistent += answer.code == "0"
    return consistent


async def _three_element(provider: SandboxProvider, people: list[tuple[str, str, str]]) -> int:
    consistent = 0
    for name, id_number, phone in people:
        answer = await provider.carrier_three_element(name, id_number, phone)
        consistent += answer.code == "0"
    return consistent


def bench_checks(checks: int, workdir: Path) -> tuple[float, float, float]:
    path = workdir / "gen.db"
    with SandboxStore(path) as store:
        people = _sample(store, checks)
        # The machinery alone: no QPS quota, no daily limit, no simulated latency.
        config = SandboxConfig(quotas={}, daily_limits={})
        provider = SandboxProvider(store, "generated", config=config)

        started = time.perf_counter()
        consistent = asyncio.run(_two_element(provider, people))
        two = _rate(len(people), time.perf_counter() - started)
        assert consistent == len(people), "every sampled person should verify"

        started = time.perf_counter()
        consistent = asyncio.run(_three_element(provider, people))
        three = _rate(len(people), time.perf_counter() - started)
        assert consistent > 0.9 * len(people)

    # Baseline: a bare primary-key lookup loop on the same phones table.
    db = sqlite3.connect(path)
    world_id = db.execute("SELECT id FROM worlds WHERE name = 'generated'").fetchone()[0]
    query = "SELECT owner_id, status FROM phones WHERE world_id = ? AND number = ?"
    started = time.perf_counter()
    for _name, _id, phone in people:
        db.execute(query, (world_id, phone)).fetchone()
    baseline = _rate(len(people), time.perf_counter() - started)
    db.close()
    return two, three, baseline


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--citizens", type=int, default=100_000)
    parser.add_argument("--checks", type=int, default=20_000)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        pure, stored, insert_baseline = bench_generation(args.citizens, workdir)
        print(f"generation of {args.citizens:,} citizens (with phones and cards)")
        print(f"  pure generator          {pure:>12,.0f} citizens/s")
        print(f"  generator into SQLite   {stored:>12,.0f} citizens/s")
        print(f"  baseline executemany    {insert_baseline:>12,.0f} rows/s")
        print(f"  ratio stored/baseline   {stored / insert_baseline:>12.3f}")
        print(f"  projected 1M citizens   {1_000_000 / stored:>12.0f} s")
        two, three, lookup_baseline = bench_checks(args.checks, workdir)
        print(f"in-process checks ({args.checks:,} each, sequential, no latency or quotas)")
        print(f"  ID two-element          {two:>12,.0f} checks/s")
        print(f"  carrier three-element   {three:>12,.0f} checks/s")
        print(f"  baseline PK lookup      {lookup_baseline:>12,.0f} lookups/s")
        print(f"  ratio two-element       {two / lookup_baseline:>12.3f}")
        print(f"  ratio three-element     {three / lookup_baseline:>12.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
