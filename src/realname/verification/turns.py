"""Finishing a verification waits while work that asks an authority is ready to run.

A verification on the event loop alternates CPU with waits on the authorities: it
reads and plans, asks (a round trip), asks again, then records the result and
answers. Hiding those round trips needs work that *starts* asking — a request
just received, a second round to send — to run as soon as it is ready, so that its
wait overlaps other CPU. asyncio runs ready callbacks first come, first served,
and that defeats it: when many verifications' last answers arrive together (with
a steady latency they do, round after round), their finishing work is queued
first, and the next requests, which yield at least once on their way in (a
checkpoint in the middleware or the body reader), queue behind *all* of it. Every
flow then asks its authorities in the same few milliseconds and waits in the same
200 ms, and the loop sits idle while they do: measured in process on
``bench/bench_api.py``'s app at 200 flows and 200 ms per call, the loop was idle in
``select`` 21 % of the time and ran at 0.57 of a core, the flows moving as one
wave (a trace of every call's start and end).

:class:`FinishingGate` reorders the two kinds: a verification about to finish
(:func:`finishing_turn`, after its last answer) waits while anything else is
ready to run on the loop. Starting work, which is short and ends in a wait on an
authority, goes first; the long finishing work fills the time the authorities
take. A finisher never waits longer than :data:`MAX_GAP` after the previous ones
went, whatever arrives meanwhile, so steady other traffic cannot starve
verifications.

The finishers waiting when their moment comes go together, a cohort of at most
:data:`COHORT`, back to back: on SQLite their writes then share one transaction
and one commit (:mod:`realname.store.group_commit`), and each is told whether
others of its cohort follow it, so the last one commits at once.

Knowing what is ready means reading asyncio's ready queue and timer heap
(``loop._ready``, ``loop._scheduled``), which asyncio does not expose: no library
or public API offers a priority between callbacks. On a loop without them (uvloop)
:func:`install_on` does nothing and finishers go first come, first served, as before.
"""

from __future__ import annotations

import asyncio
import weakref
from collections import deque
from typing import Any

from realname.running_loop import running_loop

#: Longest time (seconds) finishers wait after the previous one went, whatever else
#: is ready: a bound on how long other traffic can hold verifications back.
MAX_GAP = 0.05
#: Finishers let go together at most: they run back to back, and on SQLite their
#: writes share one transaction (realname.store.group_commit), which holds the
#: database's write lock for all of them.
COHORT = 8

_GATES: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, FinishingGate] = (
    weakref.WeakKeyDictionary()
)


class FinishingGate:
    """Lets finishers of one event loop go in cohorts, when nothing else is ready."""

    def __init__(
        self, loop: asyncio.AbstractEventLoop, *, max_gap: float = MAX_GAP, cohort: int = COHORT
    ) -> None:
        self._loop = loop
        self._max_gap = max_gap
        self._cohort = cohort
        self._waiting: deque[asyncio.Future[None]] = deque()
        self._pumping = False
        self._last_went = loop.time()
        #: Finishers of the cohort let go last that have not yet taken their turn.
        self._cohort_left = 0

    @property
    def waiting(self) -> int:
        """Finishers waiting for their turn now."""
        return sum(not future.done() for future in self._waiting)

    async def turn(self) -> bool:
        """Wait for this finisher's turn (at once when nothing else is ready); whether
        others of its cohort are to run right after it."""
        if not self._waiting and not self._busy():
            self._last_went = self._loop.time()
            return False
        future: asyncio.Future[None] = self._loop.create_future()
        self._waiting.append(future)
        if not self._pumping:
            self._pumping = True
            self._loop.call_soon(self._pump)
        await future
        self._cohort_left = max(0, self._cohort_left - 1)
        return self._cohort_left > 0

    def _busy(self) -> bool:
        """Other work is ready: callbacks queued, or a timer already due.

        Both are read from the loop each time: asyncio replaces its timer heap with
        a new list when it sweeps out cancelled timers.
        """
        loop: Any = self._loop
        if loop._ready:
            return True
        timers: list[asyncio.TimerHandle] = loop._scheduled
        # A cancelled timer is not work; asyncio drops it at its next iteration.
        return bool(timers) and not timers[0].cancelled() and timers[0].when() <= loop.time()

    def _pump(self) -> None:
        """Run once per loop iteration while finishers wait: let one go if it may."""
        waiting = self._waiting
        while waiting and waiting[0].done():  # its request was cancelled meanwhile
            waiting.popleft()
        if not waiting:
            self._pumping = False
            return
        now = self._loop.time()
        if not self._busy() or now - self._last_went >= self._max_gap:
            # A cohort: they run back to back, and share one commit (group_commit).
            released = 0
            while waiting and released < self._cohort:
                future = waiting.popleft()
                if not future.done():
                    future.set_result(None)
                    released += 1
            self._cohort_left = released
            self._last_went = now
        if waiting:
            self._loop.call_soon(self._pump)
        else:
            self._pumping = False


def install_on(loop: asyncio.AbstractEventLoop) -> FinishingGate | None:
    """Put a gate on ``loop`` (``None`` when the loop's queues cannot be read)."""
    if not isinstance(getattr(loop, "_ready", None), deque) or not isinstance(
        getattr(loop, "_scheduled", None), list
    ):
        return None
    gate = _GATES[loop] = FinishingGate(loop)
    return gate


def remove_from(loop: asyncio.AbstractEventLoop) -> None:
    _GATES.pop(loop, None)


async def finishing_turn() -> bool:
    """Wait for the turn to finish a verification on this loop's gate, if it has one;
    whether other finishers are let go with this one and run right after it."""
    gate = _GATES.get(running_loop())
    if gate is None:
        return False
    return await gate.turn()
