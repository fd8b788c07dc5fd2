"""realname.running_loop: asyncio's running loop, remembered per thread while it runs."""

from __future__ import annotations

import asyncio
import os
import threading
from unittest import mock

import pytest

from realname.running_loop import running_loop


def test_is_the_running_loop() -> None:
    async def both() -> tuple[asyncio.AbstractEventLoop, asyncio.AbstractEventLoop]:
        return running_loop(), asyncio.get_running_loop()

    ours, asyncios = asyncio.run(both())
    assert ours is asyncios


def test_outside_a_loop_raises_as_asyncio_does() -> None:
    with pytest.raises(RuntimeError):
        running_loop()


def test_after_the_loop_stopped_it_is_not_handed_out() -> None:
    async def found() -> asyncio.AbstractEventLoop:
        return running_loop()

    first = asyncio.run(found())
    with pytest.raises(RuntimeError):
        running_loop()  # the remembered loop no longer runs
    second = asyncio.run(found())
    assert second is not first


def test_a_remembered_loop_is_handed_out_without_asking_asyncio() -> None:
    async def twice() -> asyncio.AbstractEventLoop:
        loop = running_loop()
        with mock.patch.object(asyncio, "get_running_loop", side_effect=AssertionError):
            again = running_loop()
        assert again is loop
        return loop

    asyncio.run(twice())


def test_each_thread_gets_its_own_loop() -> None:
    found: dict[str, asyncio.AbstractEventLoop] = {}
    loops: dict[str, asyncio.AbstractEventLoop] = {}
    started = threading.Barrier(2)

    async def look(name: str) -> None:
        loops[name] = asyncio.get_running_loop()
        await asyncio.to_thread(started.wait, 5)  # both loops run at once
        found[name] = running_loop()

    threads = [threading.Thread(target=asyncio.run, args=(look(n),)) for n in ("a", "b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert found == loops
    assert found["a"] is not found["b"]


def test_a_loop_now_running_in_another_thread_is_not_this_threads() -> None:
    loop = asyncio.new_event_loop()
    try:
        loop.run_until_complete(_remember())  # remembered by this thread
        running = threading.Event()
        release = threading.Event()

        def run_elsewhere() -> None:
            loop.call_soon(running.set)
            loop.run_until_complete(asyncio.to_thread(release.wait, 5))

        other = threading.Thread(target=run_elsewhere)
        other.start()
        try:
            assert running.wait(5)
            with pytest.raises(RuntimeError):
                running_loop()  # it runs, but not here
        finally:
            release.set()
            other.join(10)
    finally:
        loop.close()


async def _remember() -> None:
    running_loop()


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_forked_child_does_not_take_its_parents_loop() -> None:
    async def fork_inside() -> int:
        running_loop()
        pid = os.fork()
        if pid == 0:  # the child: the loop it was forked inside is not running here
            try:
                running_loop()
            except RuntimeError:
                os._exit(0)
            os._exit(1)
        _, status = os.waitpid(pid, 0)
        return os.waitstatus_to_exitcode(status)

    assert asyncio.run(fork_inside()) == 0
