"""The cyclic garbage collector tuned for a server holding hundreds of requests.

Two costs grew with the number of verifications in flight (measured in process on
bench/bench_api.py's app and flows, timing collections with ``gc.callbacks``):

* **Full collections walked startup.** Everything loaded before the first request —
  modules, SQLAlchemy's mappers and tables, pydantic schemas, the cause catalogue,
  FastAPI's routes, some 260,000 objects — lives as long as the process, yet every
  full collection walked it again (6 % of a verification's CPU). :func:`gc.freeze`
  moves what exists into a permanent generation that collections skip, the remedy
  the Python documentation gives for long-lived servers.
* **Young collections walked the requests in flight.** A request waiting 200 ms on
  an authority keeps its coroutines, futures and timers alive; with hundreds of
  them the default young-generation threshold (700 allocations) ran a collection
  every few requests, each walking all of them, and none of it garbage. At 1,000
  flows this doubled the verification engine's CPU per verification (0.41 ms at 16
  flows, 0.81 ms at 1,000). A threshold of :data:`YOUNG_THRESHOLD` allocations
  brought it back to 0.51 ms. Memory is not at stake: reference counting frees
  everything that is not in a cycle at once, whatever the thresholds.
"""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any, cast

from starlette.applications import Starlette

#: Allocations between two young-generation collections (CPython's default: 700).
YOUNG_THRESHOLD = 50_000
#: Young collections per middle one, middle collections per full one (defaults 10, 10).
OLDER_THRESHOLDS = (20, 100)


def install_gc_tuning(app: Starlette) -> None:
    """Once ``app``'s startup has run: freeze what it built and raise the thresholds;
    at shutdown, put both back as they were."""
    inner = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(application: Starlette) -> AsyncIterator[Any]:
        async with cast(AbstractAsyncContextManager[Any], inner(application)) as state:
            # No collection first: startup's few cycles of garbage stay frozen, while a
            # full collection here would walk every object again at each start (a
            # tenth of a second; the test suite starts apps hundreds of times).
            gc.freeze()
            before = gc.get_threshold()
            gc.set_threshold(YOUNG_THRESHOLD, *OLDER_THRESHOLDS)
            try:
                yield state
            finally:
                gc.set_threshold(*before)
                gc.unfreeze()

    app.router.lifespan_context = lifespan
