"""bench/bench_writes.py runs end to end on tiny numbers, and counts what it says."""

from __future__ import annotations

import asyncio

import pytest

from bench import bench_writes


def test_statements_and_pages_of_a_few_verifications(capsys: pytest.CaptureFixture[str]) -> None:
    writes = asyncio.run(bench_writes.run(3, 200))
    assert writes.requests == 3
    # Each verification commits once after the authorities answer (and once before).
    assert writes.commits == 3
    kinds = [bench_writes._kind(sql) for sql in writes.statements]
    assert kinds.count("COMMIT") == 6
    # Five checks, three elements, three attempt keys: one multi-row INSERT each.
    assert kinds.count("INSERT verification_checks") == 3
    assert kinds.count("INSERT identity_elements") == 3
    assert kinds.count("INSERT audit_log") == 3
    assert writes.frames >= 3 * 8  # at least a page of each table written
    assert writes.by_btree["verification_results"] >= 1
    bench_writes.report(writes, show=True)
    out = capsys.readouterr().out
    assert "WAL frames (pages)" in out
    assert "INSERT INTO verification_results" in out
