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

The limit caps throughput at ``limit / critical path`` (256 flows over two 200 ms
rounds: 640 verifications/s), above what one process does on its CPU (a few
milliseconds per verification), so with authorities this fast the cap does not bind
and latency is hidden. It must not be so high that the admitted requests' CPU work
outlasts an authority's per-attempt timeout (3 s): when every answer comes back at
once, the last waits behind ``limit`` x the CPU of one step (256 x a few ms, well
under it). Set ``REALNAME_VERIFICATION_CONCURRENCY`` higher for slower authorities,
lower for a slower machine. Waiters are served first come, first served
(``asyncio.Semaphore`` is FIFO).
"""

from __future__ import annotations

import asyncio
import re
import weakref
from contextlib import AbstractAsyncContextManager

from starlette.types import ASGIApp, Receive, Scope, Send

from realname.running_loop import running_loop

#: Verifications in flight per process unless the settings say otherwise.
DEFAULT_LIMIT = 256


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
        loop = running_loop()
        semaphore = self._semaphores.get(loop)
        if semaphore is None:
            semaphore = self._semaphores[loop] = asyncio.Semaphore(self.limit)
        return semaphore

    def slot(self) -> AbstractAsyncContextManager[None]:
        """Hold one of the ``limit`` places for the block, waiting for one if need be."""
        return _Slot(self)


class _Slot(AbstractAsyncContextManager[None]):
    """One :meth:`Admission.slot`.

    A class rather than an ``@asynccontextmanager`` generator: it is entered on every
    verifying request, and the generator's machinery (a generator, its ``asend``/
    ``athrow`` steps, the exception bookkeeping on exit) costs several times what
    taking a semaphore does.
    """

    __slots__ = ("_admission", "_semaphore")

    def __init__(self, admission: Admission) -> None:
        self._admission = admission

    async def __aenter__(self) -> None:
        # The running loop's semaphore, looked up on entry as the generator did.
        self._semaphore = self._admission._semaphore()
        await self._semaphore.acquire()
        self._admission.in_flight += 1

    async def __aexit__(self, *exc_info: object) -> None:
        self._admission.in_flight -= 1
        self._semaphore.release()


#: The requests that run a verification (paid authority calls): the ones admitted.
VERIFYING = re.compile(r"^/v1/users/[^/]+/(verifications|phone-change|face/sessions/[^/]+/frames)$")


class AdmissionMiddleware:
    """Hold an admission place for the whole of a verifying request.

    Around the request, not inside its handler: the handler's dependencies (the API
    key check, the request's session) already take SQLite's write lock in worker
    threads, and with a thousand requests let through to them at once they queue on
    that lock and on the thread pool, and the admitted verifications' database
    work waits behind them. Parked here, a waiting request costs nothing.
    """

    def __init__(self, app: ASGIApp, admission: Admission) -> None:
        self.app = app
        self.admission = admission

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "POST" and VERIFYING.match(scope["path"]):
            async with self.admission.slot():
                await self.app(scope, receive, send)
            return
        await self.app(scope, receive, send)
