"""The admission limit: so many requests in flight, the rest wait their turn in order."""

from __future__ import annotations

import asyncio

import pytest

from realname.api.admission import Admission


async def _run(admission: Admission, count: int) -> tuple[int, list[int]]:
    most = 0
    order: list[int] = []

    async def request(number: int) -> None:
        nonlocal most
        async with admission.slot():
            order.append(number)
            most = max(most, admission.in_flight)
            await asyncio.sleep(0.01)  # an authority's answer

    await asyncio.gather(*(request(number) for number in range(count)))
    return most, order


def test_no_more_than_the_limit_are_in_flight_and_waiters_go_in_order() -> None:
    admission = Admission(3)
    most, order = asyncio.run(_run(admission, 10))
    assert most == 3
    assert order == list(range(10))  # first come, first served
    assert admission.in_flight == 0


def test_one_admission_serves_one_loop_after_another() -> None:
    # An app outlives an event loop in tests and CLI runs: each loop gets its own queue.
    admission = Admission(2)
    assert asyncio.run(_run(admission, 4))[0] == 2
    assert asyncio.run(_run(admission, 4))[0] == 2


def test_a_limit_below_one_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        Admission(0)
