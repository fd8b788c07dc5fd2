"""The app's event loop lets verifications finish only when nothing else is ready.

See :mod:`realname.verification.turns` for why: it keeps the authorities' round
trips overlapping other work when many flows are in flight.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any, cast

from starlette.applications import Starlette

from realname.verification.turns import install_on, remove_from


def install_finishing_gate(app: Starlette) -> None:
    """Gate the finishing of verifications on the loop that runs ``app``, for its life."""
    inner = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(application: Starlette) -> AsyncIterator[Any]:
        loop = asyncio.get_running_loop()
        install_on(loop)
        try:
            async with cast(AbstractAsyncContextManager[Any], inner(application)) as state:
                yield state
        finally:
            remove_from(loop)

    app.router.lifespan_context = lifespan
