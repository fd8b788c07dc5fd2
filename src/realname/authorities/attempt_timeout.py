"""A timeout for one provider attempt: :func:`asyncio.timeout`, asking for the loop once.

Why not :func:`asyncio.timeout` itself: on CPython 3.11 it looks the running loop
up three times per use (the factory, ``current_task()`` in ``__aenter__``, and
``reschedule()``), and 3.11's C accelerator checks the process id on every such
lookup — a ``getpid`` system call each time (3.12 stopped doing that). Each
verification makes five provider calls, so fifteen system calls a verification went
to timeouts alone; on a virtual machine a system call costs far more than the few
hundred nanoseconds it takes itself (strace and py-spy of ``bench/bench_api.py``).
This one asks once, through :func:`realname.running_loop.running_loop`, and hands
the loop on (``current_task(loop)`` does not ask).

The semantics are asyncio's, including the rules for cancellations that meet
(``Task.uncancel``): when the delay passes, the task is cancelled; when that
cancellation ends the block and no other cancellation of the task is pending, the
block raises :class:`TimeoutError`; a cancellation from outside goes on as it is.
"""

from __future__ import annotations

import asyncio
from types import TracebackType

from realname.running_loop import running_loop


class AttemptTimeout:
    """``async with AttemptTimeout(seconds):`` — :class:`TimeoutError` once they pass.

    Armed when made (use it at once, in an ``async with``), inside a task.
    """

    __slots__ = ("_cancelling", "_expired", "_handle", "_task")

    def __init__(self, delay: float) -> None:
        loop = running_loop()
        task = asyncio.current_task(loop)
        if task is None:
            raise RuntimeError("a timeout must be used inside a task")
        self._task = task
        #: Cancellations of the task already pending: not ours to turn into a timeout.
        self._cancelling = task.cancelling()
        self._expired = False
        self._handle: asyncio.Handle = (
            loop.call_later(delay, self._expire) if delay > 0 else loop.call_soon(self._expire)
        )

    def _expire(self) -> None:
        self._task.cancel()
        self._expired = True

    async def __aenter__(self) -> AttemptTimeout:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._handle.cancel()
        # Our own cancellation is taken back whatever ended the block; it becomes a
        # TimeoutError only when it is what ended it and nothing else asked to cancel.
        if (
            self._expired
            and self._task.uncancel() <= self._cancelling
            and exc_type is asyncio.CancelledError
        ):
            raise TimeoutError from exc
