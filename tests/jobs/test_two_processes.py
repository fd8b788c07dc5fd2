"""Two API processes on one database run each singleton loop once, and hand it over.

Each "process" is a whole app (``create_app``) with an engine of its own on the same
SQLite file, its lifespan running as ``realname serve --workers 2`` would run it.
"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from realname.api.app import create_app
from realname.api.context import AppContext
from realname.authorities.sandbox import SandboxProvider
from realname.authorities.sandbox.sms import SandboxSmsGateway
from realname.config import Settings
from realname.credentials import jobs as credential_jobs
from realname.credentials import ledger_store
from realname.credentials.events import EventType, LedgerEvent
from realname.jobs.rerun import pending_accounts
from realname.store.models import LedgerCheckpoint, VerificationResult
from tests.api.test_app import _issue_key
from tests.api.test_users import FIXTURE, World

SCENARIO = "carrier-times-out"
PERSON = {"name": "王小明", "id_number": "110105199003071239", "phone": "13912345678"}


class Counted:
    """An authority that answers a little slowly and counts the checks it was asked.

    Slow enough that two processes re-running the same result would overlap.
    """

    def __init__(self, inner: SandboxProvider, delay: float = 0.05) -> None:
        self.inner = inner
        self.name = inner.name
        self.delay = delay
        self.calls = 0

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self.inner, name)
        if not inspect.iscoroutinefunction(attribute):
            return attribute

        async def counted(*args: Any, **kwargs: Any) -> Any:
            self.calls += 1
            await asyncio.sleep(self.delay)
            return await attribute(*args, **kwargs)

        return counted


@dataclass
class Process:
    context: AppContext
    client: TestClient
    provider: Counted
    running: bool = True

    def stop(self) -> None:
        if self.running:
            self.running = False
            self.client.__exit__(None, None, None)
            self.context.engine.dispose()


def _start(settings: Settings) -> Process:
    scenario = FIXTURE.scenario(SCENARIO)
    sandbox = SandboxProvider.for_scenario(scenario, today=FIXTURE.today_for(scenario))
    sandbox.faults.clear()  # this process's authority is up
    provider = Counted(sandbox)
    gateway = SandboxSmsGateway(sandbox.store, sandbox.world_id)
    context = AppContext.from_settings(settings, provider=provider, sms=gateway)  # type: ignore[arg-type]
    client = TestClient(create_app(settings, context), raise_server_exceptions=False)
    client.__enter__()
    return Process(context, client, provider)


def _wait_for(condition: Callable[[], bool], timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


@pytest.fixture
def front(settings: Settings) -> Iterator[tuple[World, AppContext]]:
    """The process users talk to, its authority down and its own re-run loop off."""
    quiet = settings.model_copy(update={"rerun_interval_seconds": 0})
    scenario = FIXTURE.scenario(SCENARIO)
    provider = SandboxProvider.for_scenario(scenario, today=FIXTURE.today_for(scenario))
    gateway = SandboxSmsGateway(provider.store, provider.world_id)
    context = AppContext.from_settings(quiet, provider=provider, sms=gateway)
    key = _issue_key(quiet, ["users:write", "users:read"])
    with TestClient(create_app(quiet, context), raise_server_exceptions=False) as client:
        yield World(client, gateway, key), context
    context.engine.dispose()


def _outage(world: World, user: str) -> None:
    answer = world.client.post(
        f"/v1/users/{user}/verifications", json=PERSON, headers=world.headers
    ).json()
    assert [cause["code"] for cause in answer["causes"]] == ["PROVIDER_UNAVAILABLE"]


def test_one_process_re_runs_a_result_and_another_takes_over_when_it_stops(
    settings: Settings, front: tuple[World, AppContext]
) -> None:
    world, context = front
    user = world.sign_in(PERSON["phone"])
    world.consent(user, ["id", "phone"])
    _outage(world, user)

    def results() -> int:
        with context.session_factory() as session:
            return (
                session.scalar(
                    select(func.count())
                    .select_from(VerificationResult)
                    .where(VerificationResult.account_id == user)
                )
                or 0
            )

    def settled() -> bool:
        with context.session_factory() as session:
            return pending_accounts(session, 10) == []

    quick = settings.model_copy(update={"rerun_interval_seconds": 0.05})
    first, second = _start(quick), _start(quick)
    try:
        _wait_for(settled)
        time.sleep(0.5)  # many more passes of both loops
        # One re-run, by one process: one more result, one process asked the authority.
        assert results() == 2
        assert sorted([first.provider.calls > 0, second.provider.calls > 0]) == [False, True]
        holder, other = (first, second) if first.provider.calls else (second, first)
        asked = holder.provider.calls

        holder.stop()
        _outage(world, user)  # the authority fails the user again ...
        _wait_for(settled)  # ... and the remaining process re-runs it
        time.sleep(0.3)
        assert results() == 4
        assert other.provider.calls > 0
        assert holder.provider.calls == asked
    finally:
        first.stop()
        second.stop()


def _append_leaf(context: AppContext, seed: int) -> None:
    event = LedgerEvent(EventType.ISSUED, bytes([seed]) * 32, 1_700_000_000 + seed)
    with context.session_factory.begin() as session:
        ledger_store.append_many(session, [event], at=datetime.now(UTC))


def _sizes(context: AppContext) -> list[int]:
    with context.session_factory() as session:
        return list(session.scalars(select(LedgerCheckpoint.tree_size)))


def _spy_on_signers(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """The session factory of each app that signed a checkpoint, in order."""
    signers: list[object] = []
    real = credential_jobs.checkpoint_once

    def spied(session_factory: Any, me: Any, **kwargs: Any) -> str | None:
        note = real(session_factory, me, **kwargs)
        if note is not None:
            signers.append(session_factory)
        return note

    monkeypatch.setattr(credential_jobs, "checkpoint_once", spied)
    return signers


def test_one_process_signs_the_checkpoints_and_another_takes_over(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Which app ran checkpoint passes, by its session factory."""
    signers = _spy_on_signers(monkeypatch)
    first, second = _start(settings), _start(settings)
    try:
        for seed in range(1, 4):
            _append_leaf(first.context, seed)
            _wait_for(lambda seed=seed: seed in _sizes(first.context))  # type: ignore[misc]
            time.sleep(0.3)
        assert _sizes(first.context) == [0, 1, 2, 3]  # the empty log's head first
        assert len(set(map(id, signers))) == 1  # one process signed them all
        holder, other = (
            (first, second) if signers[0] is first.context.session_factory else (second, first)
        )
        holder.stop()
        _append_leaf(other.context, 4)
        _wait_for(lambda: 4 in _sizes(other.context))
        assert signers[-1] is other.context.session_factory
    finally:
        first.stop()
        second.stop()


def test_a_checkpointer_that_dies_holding_the_lease_is_replaced_when_it_runs_out(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A crash: the holder stops without releasing; the other signs once the lease ran out."""
    import anyio

    from realname.credentials import service
    from realname.jobs.lease import Lease

    signers = _spy_on_signers(monkeypatch)
    contexts = [
        AppContext.from_settings(settings, provider=object(), sms=object())  # type: ignore[arg-type]
        for _ in range(2)
    ]
    first, second = contexts
    me = service.institution_from_env(first.vault, var_dir=settings.var_dir)
    ttl = timedelta(seconds=1)
    dying = Lease(first.session_factory, credential_jobs.CHECKPOINT_JOB, ttl)

    async def never_released() -> None:
        """What a killed process does on its way out: nothing."""

    dying.released = never_released  # type: ignore[method-assign]
    surviving = Lease(second.session_factory, credential_jobs.CHECKPOINT_JOB, ttl)

    async def until(size: int) -> float:
        started = time.monotonic()
        while size not in await anyio.to_thread.run_sync(_sizes, first):
            assert time.monotonic() - started < 10, "timed out"
            await anyio.sleep(0.02)
        return time.monotonic() - started

    async def scenario() -> float:
        crash, stop = anyio.CancelScope(), anyio.CancelScope()

        async def run(scope: anyio.CancelScope, context: AppContext, lease: Lease) -> None:
            with scope:
                await credential_jobs.run_checkpointer(
                    context.session_factory, me, interval=0.05, lease=lease
                )

        async with anyio.create_task_group() as group:
            group.start_soon(run, crash, first, dying)
            await until(0)  # the first process took the lease and signed the empty head
            group.start_soon(run, stop, second, surviving)
            await anyio.to_thread.run_sync(_append_leaf, first, 1)
            await until(1)
            crash.cancel()
            await anyio.to_thread.run_sync(_append_leaf, second, 2)
            waited = await until(2)
            stop.cancel()
        return waited

    try:
        waited = asyncio.run(scenario())
    finally:
        for context in contexts:
            context.engine.dispose()
    assert signers[:2] == [first.session_factory] * 2
    assert signers[2:] == [second.session_factory]
    # Not before the dead holder's lease ran out (renewed at most 0.05 s before the crash).
    assert waited > 0.8
