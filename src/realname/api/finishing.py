"""The app's event loop lets verifications finish only when nothing else is ready,
and those that finish together share one SQLite transaction.

See :mod:`realname.verification.turns` for why the first: it keeps the authorities'
round trips overlapping other work when many flows are in flight; and
:mod:`realname.store.group_commit` for the second.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any, cast

from sqlalchemy import Engine
from starlette.applications import Starlette

from realname.store import group_commit
from realname.store.db import SQLITE_BUSY_TIMEOUT_MS, sqlite_file
from realname.verification import turns


def install_finishing_gate(app: Starlette, engine: Engine) -> None:
    """Gate the finishing of verifications on the loop that runs ``app``, for its life;
    on a SQLite file, let those finishing together commit together."""
    inner = app.router.lifespan_context
    database = sqlite_file(engine)

    @asynccontextmanager
    async def lifespan(application: Starlette) -> AsyncIterator[Any]:
        loop = asyncio.get_running_loop()
        gate = turns.install_on(loop)
        if gate is not None and database is not None:
            group_commit.install_on(loop, engine, database, SQLITE_BUSY_TIMEOUT_MS / 1000)
        try:
            async with cast(AbstractAsyncContextManager[Any], inner(application)) as state:
                yield state
        finally:
            group_commit.remove_from(loop)
            turns.remove_from(loop)

    app.router.lifespan_context = lifespan
