"""The ledger checkpointer: sign a checkpoint at least every second while leaves arrive.

Appends are made durable by their own transactions (an issuance and its ledger event
commit together); the checkpointer then covers every leaf appended since the last
checkpoint with one signature, so signing cost is per second, not per append (group
commit). On an idle log a pass writes nothing.

Every API process runs the loop, but only the holder of the ``ledger-checkpoint``
lease (:mod:`realname.jobs.lease`) signs: one signature per tree size across the
deployment, and another process takes over when the holder stops. (Without it, on
PostgreSQL, where nothing serialises the passes, two processes could both sign the
same new tree head and one would fail on the table's key, the tree size.)
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any, cast

import anyio
import anyio.to_thread
from sqlalchemy.orm import Session, sessionmaker
from starlette.applications import Starlette

from realname.credentials import service
from realname.jobs.lease import Lease

__all__ = [
    "CHECKPOINT_JOB",
    "DEFAULT_INTERVAL",
    "checkpoint_lease_ttl",
    "checkpoint_once",
    "checkpointing",
    "install_checkpointer",
]

logger = logging.getLogger(__name__)

DEFAULT_INTERVAL = 1.0
#: The lease whose holder signs the checkpoints.
CHECKPOINT_JOB = "ledger-checkpoint"


def checkpoint_lease_ttl(interval: float) -> timedelta:
    """Ten passes, and at least 10 s: a holder that stops is replaced within seconds,
    and one slow pass (a busy database) does not hand the job around."""
    return timedelta(seconds=max(10 * interval, 10.0))


def _utcnow() -> datetime:
    return datetime.now(UTC)


def checkpoint_once(
    session_factory: sessionmaker[Session],
    me: service.Institution,
    *,
    clock: Callable[[], datetime] = _utcnow,
) -> str | None:
    """One pass: sign and store a checkpoint if there are new leaves; answer it or ``None``."""
    with session_factory.begin() as session:
        return service.checkpoint_now(session, me, at=clock())


async def run_checkpointer(
    session_factory: sessionmaker[Session],
    me: service.Institution,
    *,
    interval: float = DEFAULT_INTERVAL,
    lease: Lease | None = None,
) -> None:
    """Checkpoint every ``interval`` seconds while this process holds the lease (by
    default :data:`CHECKPOINT_JOB`); errors are logged and the loop goes on."""
    lease = lease or Lease(session_factory, CHECKPOINT_JOB, checkpoint_lease_ttl(interval))
    try:
        while True:
            if await lease.held():
                try:
                    await anyio.to_thread.run_sync(partial(checkpoint_once, session_factory, me))
                except Exception as exc:
                    logger.warning(
                        "ledger checkpoint failed", extra={"exc_type": type(exc).__name__}
                    )
            await anyio.sleep(interval)
    finally:
        await lease.released()


@asynccontextmanager
async def checkpointing(
    session_factory: sessionmaker[Session],
    me: service.Institution,
    *,
    interval: float = DEFAULT_INTERVAL,
    lease: Lease | None = None,
) -> AsyncIterator[None]:
    """Run :func:`run_checkpointer` in the background for the duration of the block."""
    async with anyio.create_task_group() as group:
        group.start_soon(
            partial(run_checkpointer, session_factory, me, interval=interval, lease=lease)
        )
        try:
            yield
        finally:
            group.cancel_scope.cancel()


def install_checkpointer(app: Starlette, *, interval: float = DEFAULT_INTERVAL) -> None:
    """Start the checkpointer with ``app``'s lifespan, around any lifespan it already has.

    The institution is ``app.state.credentials_institution`` when set (see
    :mod:`realname.api.routers.credentials`), else built from the environment.
    """
    from realname.api.routers.credentials import INSTITUTION_STATE

    inner = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(application: Starlette) -> AsyncIterator[Any]:
        context = application.state.context
        me: service.Institution | None = getattr(application.state, INSTITUTION_STATE, None)
        if me is None:
            settings = context.settings
            me = service.institution_from_env(
                context.vault, host=settings.host, port=settings.port, var_dir=settings.var_dir
            )
            setattr(application.state, INSTITUTION_STATE, me)
        async with (
            cast(AbstractAsyncContextManager[Any], inner(application)) as state,
            checkpointing(
                context.session_factory,
                me,
                interval=interval,
                lease=Lease(
                    context.session_factory,
                    CHECKPOINT_JOB,
                    checkpoint_lease_ttl(interval),
                    context.lease_holder,
                ),
            ),
        ):
            yield state

    app.router.lifespan_context = lifespan
