"""Job leases: one holder at a time, renewal, hand-over on release and on expiry."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.orm import Session, sessionmaker

from realname.config import Settings
from realname.jobs.lease import Lease, acquire, holder_id, release
from realname.store.db import make_engine, make_session_factory
from realname.store.models import JobLease

T0 = datetime(2026, 12, 4, 3, 0, tzinfo=UTC)
TTL = timedelta(seconds=10)


@pytest.fixture
def factories(settings: Settings) -> Iterator[tuple[sessionmaker[Session], sessionmaker[Session]]]:
    """Two engines on one database file: what two API processes have."""
    first = make_engine(settings.resolved_database_url)
    second = make_engine(settings.resolved_database_url)
    yield make_session_factory(first), make_session_factory(second)
    first.dispose()
    second.dispose()


def _holder(factory: sessionmaker[Session], name: str) -> str | None:
    with factory() as session:
        row = session.get(JobLease, name)
        return row.holder if row is not None else None


def test_one_holder_at_a_time_until_the_lease_runs_out(
    factories: tuple[sessionmaker[Session], sessionmaker[Session]],
) -> None:
    a, b = factories
    assert acquire(a, "job", "A", now=T0, ttl=TTL)
    assert not acquire(b, "job", "B", now=T0 + timedelta(seconds=1), ttl=TTL)
    # The holder renews: the lease now runs to T0 + 5 s + TTL.
    assert acquire(a, "job", "A", now=T0 + timedelta(seconds=5), ttl=TTL)
    assert not acquire(b, "job", "B", now=T0 + timedelta(seconds=12), ttl=TTL)
    # A holder that stopped renewing (a crash) is replaced once the lease ran out ...
    assert acquire(b, "job", "B", now=T0 + timedelta(seconds=15), ttl=TTL)
    assert _holder(a, "job") == "B"
    # ... and the old holder, back, does not get it: nobody runs the job twice.
    assert not acquire(a, "job", "A", now=T0 + timedelta(seconds=16), ttl=TTL)
    # Other jobs are leased separately.
    assert acquire(a, "other", "A", now=T0 + timedelta(seconds=16), ttl=TTL)


def test_a_released_lease_is_taken_over_at_once(
    factories: tuple[sessionmaker[Session], sessionmaker[Session]],
) -> None:
    a, b = factories
    assert acquire(a, "job", "A", now=T0, ttl=TTL)
    release(b, "job", "B", now=T0)  # not B's to release: nothing changes
    assert not acquire(b, "job", "B", now=T0 + timedelta(seconds=1), ttl=TTL)
    release(a, "job", "A", now=T0 + timedelta(seconds=2))
    assert acquire(b, "job", "B", now=T0 + timedelta(seconds=2), ttl=TTL)


def test_racing_processes_take_a_new_lease_exactly_once(
    factories: tuple[sessionmaker[Session], sessionmaker[Session]],
) -> None:
    """Eight threads on two engines ask for twenty fresh leases at the same instant."""
    engines = factories
    won: dict[str, list[str]] = {}
    barrier = threading.Barrier(8)
    lock = threading.Lock()

    def contender(index: int) -> None:
        factory = engines[index % 2]
        holder = f"holder-{index}"
        for job in range(20):
            barrier.wait()
            if acquire(factory, f"job-{job}", holder, now=T0, ttl=TTL):
                with lock:
                    won.setdefault(f"job-{job}", []).append(holder)

    threads = [threading.Thread(target=contender, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(won) == sorted(f"job-{job}" for job in range(20))
    assert all(len(holders) == 1 for holders in won.values()), won
    for job, holders in won.items():
        assert _holder(engines[0], job) == holders[0]


def test_the_lease_object_renews_and_lets_go(
    factories: tuple[sessionmaker[Session], sessionmaker[Session]],
) -> None:
    a, b = factories
    clock = [T0]
    first = Lease(a, "job", TTL, clock=lambda: clock[0])
    second = Lease(b, "job", TTL, clock=lambda: clock[0])
    assert first.holder != second.holder
    assert first.hold()
    assert not second.hold()
    clock[0] += timedelta(seconds=8)
    assert first.hold()  # renewed before it ran out
    clock[0] += timedelta(seconds=8)
    assert not second.hold()
    first.let_go()
    assert second.hold()


def test_holder_ids_name_the_process_and_differ_per_holder() -> None:
    import os

    one, two = holder_id(), holder_id()
    assert one != two
    assert f":{os.getpid()}:" in one
    assert len(one) <= 128
