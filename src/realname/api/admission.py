"""Admission: at most so many verifications in flight per API process; the rest queue.

Handlers run their database work on the event loop (see
:func:`realname.api.deps.transaction`), between the awaits on the authorities.
Admit every request at once and, when more arrive than the process can serve, the
loop's ready queue grows with the backlog: an authority's answer that came back
after 200 ms then waits behind seconds of other requests' database work, the
resilience layer's per-attempt timeout fires on an answer that had in fact arrived,
and a queue turns into PROVIDER_UNAVAILABLE results and open circuit breakers.
Requests waiting here are parked, not runnable, so the ready queue stays short and
an answer is taken up as soon as it comes.

The limit caps throughput at ``limit / critical path`` (64 flows over two 200 ms
rounds: 160 verifications/s), well above what one process does on its CPU; set
``REALNAME_VERIFICATION_CONCURRENCY`` higher for slower authorities. Waiters are
served first come, first served (``asyncio.Semaphore`` is FIFO).
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

#: Verifications in flight per process unless the settings say otherwise.
DEFAULT_LIMIT = 64


class Admission:
    """A FIFO limit on requests in flight, one semaphore per event loop.

    Per loop, because an :class:`asyncio.Semaphore` belongs to the loop it first
    waits on, and one app may be served by several loops in turn (tests, the CLI).
    """

    def __init__(self, limit: int = DEFAULT_LIMIT) -> None:
        if limit < 1:
            raise ValueError("an admission limit must be at least 1")
        self.limit = limit
        #: Requests holding a place now (on every loop).
        self.in_flight = 0
        self._semaphores: weakref.WeakKeyDictionary[
            asyncio.AbstractEventLoop, asyncio.Semaphore
        ] = weakref.WeakKeyDictionary()

    def _semaphore(self) -> asyncio.Semaphore:
        loop = asyncio.get_running_loop()
        semaphore = self._semaphores.get(loop)
        if semaphore is None:
            semaphore = self._semaphores[loop] = asyncio.Semaphore(self.limit)
        return semaphore

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        """Hold one of the ``limit`` places for the block, waiting for one if need be."""
        async with self._semaphore():
            self.in_flight += 1
            try:
                yield
            finally:
                self.in_flight -= 1
