"""Finishers of verifications let ready work go first, then go in cohorts, never starved."""

from __future__ import annotations

import asyncio
import time

import pytest

from realname.verification.turns import FinishingGate, finishing_turn, install_on, remove_from


async def _starter(name: str, steps: int, log: list[str]) -> None:
    """Work that stays ready to run for ``steps`` loop iterations (like a request on
    its way in, yielding at checkpoints), then ends."""
    for step in range(steps):
        log.append(f"{name}{step}")
        await asyncio.sleep(0)


async def _finisher(name: str, log: list[str]) -> None:
    await finishing_turn()
    log.append(name)


async def _without_a_gate_a_finisher_goes_at_once() -> None:
    log: list[str] = []
    starter = asyncio.create_task(_starter("s", 3, log))
    await _finisher("f", log)  # no yield at all: it runs before the starter's first step
    await starter
    assert log == ["f", "s0", "s1", "s2"]


async def _ready_work_goes_before_a_finisher() -> None:
    loop = asyncio.get_running_loop()
    install_on(loop)
    try:
        log: list[str] = []
        starters = [asyncio.create_task(_starter(name, 3, log)) for name in ("a", "b")]
        finisher = asyncio.create_task(_finisher("F", log))
        await asyncio.gather(*starters, finisher)
        # First come, first served would have put F after a0 and b0.
        assert log == ["a0", "b0", "a1", "b1", "a2", "b2", "F"]
    finally:
        remove_from(loop)


async def _finishers_waiting_together_go_together_in_arrival_order() -> None:
    loop = asyncio.get_running_loop()
    install_on(loop)
    try:
        log: list[str] = []

        async def finish_then_start(name: str) -> None:
            await finishing_turn()
            log.append(name)
            await _starter(name.lower(), 2, log)  # the next request of the same flow

        starter = asyncio.create_task(_starter("s", 1, log))
        flows = [asyncio.create_task(finish_then_start(name)) for name in ("A", "B", "C")]
        await asyncio.gather(starter, *flows)
        # They go as one cohort once nothing else is ready, back to back (each to its
        # first wait), so their writes can share a commit (realname.store.group_commit).
        assert log == ["s0", "A", "a0", "B", "b0", "C", "c0", "a1", "b1", "c1"]
    finally:
        remove_from(loop)


async def _a_cohort_is_bounded_and_each_finisher_knows_whether_others_follow() -> None:
    loop = asyncio.get_running_loop()
    gate = FinishingGate(loop, cohort=2)
    told: list[tuple[str, bool]] = []

    async def finish(name: str) -> None:
        told.append((name, await gate.turn()))

    starter = asyncio.create_task(_starter("s", 1, []))
    await asyncio.gather(starter, *(finish(name) for name in ("A", "B", "C")))
    # Two go together (A is told B follows); C waits for the next idle moment, alone.
    assert told == [("A", True), ("B", False), ("C", False)]


async def _a_finisher_that_goes_at_once_is_told_nobody_follows() -> None:
    gate = FinishingGate(asyncio.get_running_loop())
    assert await gate.turn() is False


async def _a_timer_already_due_is_ready_work() -> None:
    loop = asyncio.get_running_loop()
    gate = FinishingGate(loop)
    log: list[str] = []
    loop.call_later(0, log.append, "timer")
    time.sleep(0.002)  # the timer is due, but still in the heap, not yet queued
    await gate.turn()
    log.append("finisher")
    assert log == ["timer", "finisher"]


async def _steady_other_work_cannot_starve_a_finisher() -> None:
    loop = asyncio.get_running_loop()
    gate = FinishingGate(loop, max_gap=0.05)
    stop = False

    async def busy() -> None:
        while not stop:
            await asyncio.sleep(0)

    spinner = asyncio.create_task(busy())
    await asyncio.sleep(0)
    started = time.monotonic()
    await asyncio.wait_for(gate.turn(), timeout=5)
    waited = time.monotonic() - started
    stop = True
    await spinner
    assert waited < 1.0  # bounded by the gap (0.05 s), not by the other work


async def _a_cancelled_finisher_does_not_hold_up_the_next() -> None:
    loop = asyncio.get_running_loop()
    gate = FinishingGate(loop)
    log: list[str] = []
    starter = asyncio.create_task(_starter("s", 5, log))
    await asyncio.sleep(0)

    async def finish(name: str) -> None:
        await gate.turn()
        log.append(name)

    first = asyncio.create_task(finish("first"))
    second = asyncio.create_task(finish("second"))
    await asyncio.sleep(0)
    first.cancel()
    await asyncio.gather(starter, second)
    with pytest.raises(asyncio.CancelledError):
        await first
    assert log[-1] == "second"
    assert "first" not in log
    assert gate.waiting == 0


def test_a_loop_whose_queues_cannot_be_read_gets_no_gate() -> None:
    class OtherLoop:  # uvloop, for instance, keeps its queues in C
        pass

    assert install_on(OtherLoop()) is None  # type: ignore[arg-type]


# The cases run on a fresh asyncio loop each (the gate reads that loop's queues).


def test_without_a_gate_a_finisher_goes_at_once() -> None:
    asyncio.run(_without_a_gate_a_finisher_goes_at_once())


def test_ready_work_goes_before_a_finisher() -> None:
    asyncio.run(_ready_work_goes_before_a_finisher())


def test_finishers_waiting_together_go_together_in_arrival_order() -> None:
    asyncio.run(_finishers_waiting_together_go_together_in_arrival_order())


def test_a_cohort_is_bounded_and_each_finisher_knows_whether_others_follow() -> None:
    asyncio.run(_a_cohort_is_bounded_and_each_finisher_knows_whether_others_follow())


def test_a_finisher_that_goes_at_once_is_told_nobody_follows() -> None:
    asyncio.run(_a_finisher_that_goes_at_once_is_told_nobody_follows())


def test_a_timer_already_due_is_ready_work() -> None:
    asyncio.run(_a_timer_already_due_is_ready_work())


def test_steady_other_work_cannot_starve_a_finisher() -> None:
    asyncio.run(_steady_other_work_cannot_starve_a_finisher())


def test_a_cancelled_finisher_does_not_hold_up_the_next() -> None:
    asyncio.run(_a_cancelled_finisher_does_not_hold_up_the_next())
