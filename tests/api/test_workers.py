"""Several API processes: each takes its share of the provider quotas; ``serve --workers``."""

from __future__ import annotations

from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from realname.api.context import AppContext, deployment_policy, quota_share
from realname.authorities.codes import API_SPECS
from realname.authorities.protocol import Check
from realname.authorities.resilience import ResiliencePolicy, ResilientProvider, RetryPolicy
from realname.config import Settings, get_settings
from tests.authorities.test_resilience import (
    ID,
    NAME,
    PHONE_A,
    VirtualSandboxClock,
    VirtualTime,
    _sandbox,
    wrap,
)


def test_a_quota_share_rounds_down_and_is_never_zero() -> None:
    assert [quota_share(20, workers) for workers in (1, 2, 3, 7, 20, 40)] == [20, 10, 6, 2, 1, 1]
    with pytest.raises(ValueError, match="workers"):
        quota_share(20, 0)


def test_the_deployment_policy_divides_every_documented_quota() -> None:
    for workers in (1, 2, 4):
        policy = deployment_policy(workers)
        for check in Check:
            assert policy.qps_for(check) == max(1, API_SPECS[check].qps // workers)
    # One process keeps the documented quotas.
    assert all(deployment_policy(1).qps_for(check) == API_SPECS[check].qps for check in Check)


def test_each_process_s_provider_gets_its_share(tmp_path: Path) -> None:
    settings = Settings(var_dir=tmp_path, database_url=f"sqlite:///{tmp_path / 'w.db'}", workers=2)
    context = AppContext.from_settings(settings)
    try:
        assert isinstance(context.provider, ResilientProvider)
        check = Check.CARRIER_THREE_ELEMENT
        assert context.provider.policy.qps_for(check) == API_SPECS[check].qps // 2
    finally:
        context.engine.dispose()


@pytest.mark.anyio
@pytest.mark.parametrize(("policy", "throttled"), [("shared", False), ("whole", True)])
async def test_two_processes_keep_to_the_vendor_s_quota_together(
    policy: str, throttled: bool
) -> None:
    """Two processes, one vendor quota (the sandbox counts 20/s across both callers).

    With the quota divided, sixty calls split between the processes all start (queued,
    none dropped) and the vendor never throttles; each process on the whole quota
    would together send twice what the vendor allows.
    """
    time = VirtualTime()
    check = Check.CARRIER_THREE_ELEMENT
    vendor = _sandbox()
    vendor.clock = VirtualSandboxClock(time)
    starts: list[float] = []
    caller: ContextVar[int] = ContextVar("caller")

    class Recording:
        name = vendor.name

        async def carrier_three_element(self, *args: Any, **kwargs: Any) -> Any:
            starts.append(time.now)
            return await vendor.carrier_three_element(*args, **kwargs)

    chosen = deployment_policy(2) if policy == "shared" else ResiliencePolicy()
    # No retries: a throttled call shows as the vendor's refusal, not as a later success.
    chosen = replace(chosen, retry=RetryPolicy(max_attempts=1))
    processes = [wrap(Recording(), time, chosen, seed=n) for n in range(2)]

    async def call(number: int) -> Any:
        caller.set(number)
        return await processes[number % 2].carrier_three_element(NAME, ID, PHONE_A)

    results = await time.gather(*(call(number) for number in range(60)))

    assert len(starts) == 60  # every call reached the vendor: queued, never dropped
    refused = [r for r in results if isinstance(r, BaseException)]
    assert bool(refused) is throttled
    assert (vendor.ledger.of(check).unavailable > 0) is throttled
    if not throttled:
        for i, t in enumerate(starts):
            assert sum(1 for other in starts[i:] if other < t + 1.0) <= API_SPECS[check].qps


runner = CliRunner()


@pytest.fixture
def var_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.setenv("REALNAME_VAR_DIR", str(tmp_path))
    monkeypatch.delenv("REALNAME_DATABASE_URL", raising=False)
    monkeypatch.delenv("REALNAME_MASTER_KEY", raising=False)
    # Set, so that the value ``serve`` writes is undone after the test.
    monkeypatch.setenv("REALNAME_WORKERS", "1")
    get_settings.cache_clear()
    yield tmp_path
    get_settings.cache_clear()


def test_serve_with_workers_migrates_once_then_runs_uvicorn_workers(
    var_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import os

    import uvicorn

    from realname.api import serving
    from realname.cli import app
    from realname.store.db import current_revision, head_revision, make_engine

    calls: list[uvicorn.Config] = []
    monkeypatch.setattr(serving, "run_workers", calls.append)
    result = runner.invoke(app, ["serve", "--workers", "3", "--port", "8123"])
    assert result.exit_code == 0, result.output
    [config] = calls
    # An import string the workers build their own app from, three of them.
    assert config.app == "realname.api.app:create_app_from_env"
    assert (config.factory, config.workers, config.port) == (True, 3, 8123)
    # A worker still importing on a busy machine is not taken for a hung one.
    assert config.timeout_worker_healthcheck >= 30
    # The workers learn how many they are (for their share of the quotas) ...
    assert os.environ["REALNAME_WORKERS"] == "3"
    # ... and find the database migrated and the keyring made, by the parent.
    engine = make_engine(f"sqlite:///{var_dir / 'realname.db'}")
    try:
        assert current_revision(engine) == head_revision()
    finally:
        engine.dispose()
    assert (var_dir / "keyring.json").exists()
    # What a worker runs: the app from the environment, on the divided quotas.
    from realname.api.app import create_app_from_env

    get_settings.cache_clear()
    worker = create_app_from_env()
    try:
        provider = worker.state.context.provider
        check = Check.ID_TWO_ELEMENT
        assert provider.policy.qps_for(check) == max(1, API_SPECS[check].qps // 3)
    finally:
        worker.state.context.engine.dispose()


def test_serve_with_one_worker_runs_the_app_in_process(
    var_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import uvicorn
    from fastapi import FastAPI

    from realname.cli import app

    calls: list[tuple[Any, dict[str, Any]]] = []
    monkeypatch.setattr(uvicorn, "run", lambda target, **kwargs: calls.append((target, kwargs)))
    result = runner.invoke(app, ["serve", "--port", "8124"])
    assert result.exit_code == 0, result.output
    [(target, kwargs)] = calls
    assert isinstance(target, FastAPI)
    assert "workers" not in kwargs
    target.state.context.engine.dispose()


def test_serve_refuses_zero_workers(var_dir: Path) -> None:
    from realname.cli import app

    result = runner.invoke(app, ["serve", "--workers", "0"])
    assert result.exit_code == 2
    assert "--workers" in result.output


def test_serve_with_two_workers_serves_and_shares_the_background_jobs(tmp_path: Path) -> None:
    """The real thing: ``realname serve --workers 2`` as a process, then SIGTERM."""
    import os
    import re
    import signal
    import socket
    import sqlite3
    import subprocess
    import sys
    import time

    import httpx

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    env = {**os.environ, "REALNAME_VAR_DIR": str(tmp_path)}
    for name in ("REALNAME_DATABASE_URL", "REALNAME_MASTER_KEY", "REALNAME_WORKERS"):
        env.pop(name, None)
    command = [sys.executable, "-c", "from realname.cli import app; app()", "serve"]
    command += ["--workers", "2", "--port", str(port)]
    log = (tmp_path / "serve.log").open("wb")
    process = subprocess.Popen(command, env=env, stdout=log, stderr=log)

    def output() -> str:
        return (tmp_path / "serve.log").read_text(encoding="utf-8", errors="replace")

    def leases() -> list[tuple[str, str]]:
        with sqlite3.connect(tmp_path / "realname.db") as db:
            return list(db.execute("SELECT name, holder FROM job_leases"))

    def workers() -> set[str]:
        return set(re.findall(r'"msg": "Started server process \[(\d+)\]"', output()))

    try:
        deadline = time.monotonic() + 120
        ready = None
        while ready is None or ready.status_code != 200 or not leases() or len(workers()) < 2:
            assert process.poll() is None, output()[-3000:]
            assert time.monotonic() < deadline, output()[-3000:]
            time.sleep(0.2)
            try:
                ready = httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=5)
            except httpx.TransportError:
                ready = None
        assert str(process.pid) not in workers()
        # One worker, not the parent, signs the ledger checkpoints.
        [(job, holder)] = leases()
        assert job == "ledger-checkpoint"
        assert f":{process.pid}:" not in holder
        assert any(f":{pid}:" in holder for pid in workers())
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        finally:
            if process.poll() is None:
                process.kill()
            log.close()
    assert process.returncode == 0, output()[-3000:]
    # The worker let its lease go on the way out: another process could take it at once.
    with sqlite3.connect(tmp_path / "realname.db") as db:
        [(expires_at,)] = db.execute("SELECT expires_at FROM job_leases")
    # (SQLite keeps UTC as naive ISO text, which compares as it sorts.)
    assert expires_at < str(datetime.now(UTC).replace(tzinfo=None))


def test_jobs_rerun_unavailable_leaves_the_job_to_the_process_that_holds_it(
    var_dir: Path,
) -> None:
    from datetime import timedelta

    from realname.cli import app
    from realname.jobs.lease import acquire, release
    from realname.jobs.rerun import RERUN_JOB
    from realname.store.db import make_engine, make_session_factory
    from realname.store.types import utcnow

    assert runner.invoke(app, ["db", "upgrade"]).exit_code == 0
    engine = make_engine(f"sqlite:///{var_dir / 'realname.db'}")
    factory = make_session_factory(engine)
    try:
        assert acquire(factory, RERUN_JOB, "api-process", now=utcnow(), ttl=timedelta(minutes=1))
        busy = runner.invoke(app, ["jobs", "rerun-unavailable"])
        assert busy.exit_code == 0, busy.output
        assert "nothing to do" in busy.stdout
        release(factory, RERUN_JOB, "api-process", now=utcnow())
        done = runner.invoke(app, ["jobs", "rerun-unavailable"])
        assert done.exit_code == 0, done.output
        assert "0 pending" in done.stdout
        # The command let the job go when it finished: the API process takes it back.
        assert acquire(factory, RERUN_JOB, "api-process", now=utcnow(), ttl=timedelta(minutes=1))
    finally:
        engine.dispose()


def test_served_with_the_c_http_parser_on_the_asyncio_loop() -> None:
    """``realname serve`` leaves uvicorn on its defaults: with httptools installed (a
    dependency) requests are parsed in C, not by the pure-Python h11; and the loop stays
    asyncio's, whose queues realname.verification.turns reads (uvloop's it cannot)."""
    import asyncio

    import uvicorn

    from realname.verification import turns

    config = uvicorn.Config(lambda scope, receive, send: None)
    config.load()
    assert config.http_protocol_class.__name__ == "HttpToolsProtocol"
    factory = config.get_loop_factory()
    loop = factory() if factory is not None else asyncio.new_event_loop()
    try:
        assert turns.install_on(loop) is not None  # None: a loop the gate cannot read
        turns.remove_from(loop)
    finally:
        loop.close()
