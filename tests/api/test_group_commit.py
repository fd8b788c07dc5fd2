"""Through the API: verifications that finish together share commits, and every one
of them is stored, answered only once durable, and chained in the audit log."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
from bench.bench_api import (
    PRODUCT,
    build_realname,
    eligible_people,
    in_process_client,
    make_world,
    sign_up,
    verification,
)

from realname.authorities.sandbox import SandboxStore
from realname.store import group_commit
from realname.store.db import read_only
from realname.store.repositories.audit import verify_chain

FLOWS = 24


def test_verifications_finishing_together_commit_together_and_each_is_stored(
    tmp_path: Path,
) -> None:
    make_world(tmp_path / "sandbox.db", 400)
    # Every check takes 20 ms: answers arrive together, as under load.
    realname = build_realname(tmp_path / "realname", tmp_path / "sandbox.db", latency_ms=20)
    with SandboxStore(tmp_path / "sandbox.db") as store:
        people = eligible_people(store, realname.context.policies.product(PRODUCT), FLOWS)
    assert len(people) == FLOWS
    users = asyncio.run(sign_up(realname, people))

    async def verify_all() -> tuple[int, int, list[httpx.Response], list[httpx.Response]]:
        async with in_process_client(realname) as client:
            batch = group_commit.batch_of(asyncio.get_running_loop())
            assert batch is not None
            answers = await asyncio.gather(
                *(client.post(path, json=body) for path, body in map(verification, users))
            )
            commits, members = batch.commits, batch.members
            statuses = [await client.get(f"/v1/users/{user_id}/status") for user_id, _ in users]
            return commits, members, answers, statuses

    commits, members, answers, statuses = asyncio.run(verify_all())
    try:
        assert [a.status_code for a in answers] == [200] * FLOWS
        assert {a.json()["level"] for a in answers} == {"L2"}
        # Each answer was durable when given: the status read afterwards says the same.
        assert [s.json()["level"] for s in statuses] == ["L2"] * FLOWS
        assert members == FLOWS
        assert commits < members  # finishing together, they shared transactions
        with read_only(), realname.context.session_factory() as session:
            chain = verify_chain(session)
        assert chain.ok, chain.problems
        assert chain.checked >= FLOWS  # one entry per verification, chained in turn
    finally:
        realname.close()
