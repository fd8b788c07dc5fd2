"""AttemptTimeout behaves as asyncio.timeout: a timeout, or an outside cancellation."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager as AsyncContextManager

import pytest

from realname.authorities.attempt_timeout import AttemptTimeout

pytestmark = pytest.mark.anyio


async def test_a_slow_call_times_out_and_the_task_carries_on() -> None:
    with pytest.raises(TimeoutError):
        async with AttemptTimeout(0.01):
            await asyncio.sleep(10)
    current = asyncio.current_task()
    assert current is not None
    assert current.cancelling() == 0  # our cancellation was taken back
    await asyncio.sleep(0)  # and nothing is left pending: the task runs on


async def test_a_fast_call_returns_its_value_and_leaves_no_timer_behind() -> None:
    async with AttemptTimeout(5):
        value = await asyncio.sleep(0, result="answer")
    assert value == "answer"
    await asyncio.sleep(0.02)  # long after: no late cancellation reaches the task


async def test_a_delay_already_passed_times_out_at_the_first_wait() -> None:
    with pytest.raises(TimeoutError):
        async with AttemptTimeout(0):
            await asyncio.sleep(1)


async def test_a_cancellation_from_outside_is_not_turned_into_a_timeout() -> None:
    entered = asyncio.Event()

    async def attempt() -> None:
        async with AttemptTimeout(10):
            entered.set()
            await asyncio.sleep(10)

    task = asyncio.ensure_future(attempt())
    await entered.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


@pytest.mark.parametrize("make", [asyncio.timeout, AttemptTimeout], ids=["asyncio", "ours"])
async def test_a_cancellation_requested_before_the_timeout_fires_stays_a_cancellation(
    make: Callable[[float], AsyncContextManager[object]],
) -> None:
    """The timeout fires while another cancellation of the task is pending: the task
    ends cancelled, not timed out — the same with asyncio's timeout and ours."""

    async def attempt() -> None:
        async with make(0):
            me = asyncio.current_task()
            assert me is not None
            me.cancel()  # somebody else's request, before the timeout's
            await asyncio.sleep(10)

    task = asyncio.ensure_future(attempt())
    with pytest.raises(asyncio.CancelledError):
        await task


@pytest.mark.parametrize("make", [asyncio.timeout, AttemptTimeout], ids=["asyncio", "ours"])
async def test_a_cancellation_swallowed_before_the_block_does_not_hide_its_timeout(
    make: Callable[[float], AsyncContextManager[object]],
) -> None:
    """Requests already counted when the block starts (Task.cancelling) are not the
    block's business: its own expiry still ends it as a timeout, as in asyncio."""
    outcome: list[str] = []

    async def attempt() -> None:
        me = asyncio.current_task()
        assert me is not None
        me.cancel()
        # Swallowed without uncancel(): the request stays counted.
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.sleep(10)
        try:
            async with make(0):
                await asyncio.sleep(10)
        except TimeoutError:
            outcome.append("timeout")
        except asyncio.CancelledError:
            outcome.append("cancelled")

    await asyncio.ensure_future(attempt())
    assert outcome == ["timeout"]


async def test_an_error_of_the_call_passes_through_unchanged() -> None:
    async def failing_call() -> None:
        async with AttemptTimeout(5):
            await asyncio.sleep(0)
            raise ValueError("bad answer")

    with pytest.raises(ValueError, match="bad answer"):
        await failing_call()


async def test_outside_a_task_it_refuses() -> None:
    loop = asyncio.get_running_loop()
    # In a plain callback of the loop no task is current.
    failure: list[BaseException] = []

    def in_callback() -> None:
        try:
            AttemptTimeout(1)
        except RuntimeError as error:
            failure.append(error)

    loop.call_soon(in_callback)
    await asyncio.sleep(0.01)
    assert len(failure) == 1
    assert "inside a task" in str(failure[0])
