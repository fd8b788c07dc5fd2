"""What startup built, moved out of the garbage collector's sight.

Everything an API process loads before its first request — modules, SQLAlchemy's
mappers and tables, pydantic schemas, the cause catalogue, FastAPI's routes — lives
as long as the process, yet the cyclic collector walks all of it again on every
full collection (some 260,000 objects; bench/bench_api.py measured collections at
6 % of a verification's CPU). :func:`gc.freeze` moves what exists into a permanent
generation that collections skip, the remedy the Python documentation gives for
long-lived servers; objects made later are collected as before.
"""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any, cast

from starlette.applications import Starlette


def install_gc_freeze(app: Starlette) -> None:
    """Freeze the collector's view once ``app``'s startup has run; unfreeze at shutdown."""
    inner = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(application: Starlette) -> AsyncIterator[Any]:
        async with cast(AbstractAsyncContextManager[Any], inner(application)) as state:
            gc.collect()  # what startup left as garbage is not kept for ever
            gc.freeze()
            try:
                yield state
            finally:
                gc.unfreeze()

    app.router.lifespan_context = lifespan
