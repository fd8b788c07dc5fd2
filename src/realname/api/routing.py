"""API routes whose plain ``def`` handlers end their transaction in their own thread.

FastAPI runs a ``def`` handler in a worker thread, and the exit of the request's
session dependency (:func:`realname.api.deps.get_session`, which commits) in another
worker-thread call that the event loop schedules afterwards. In between, the
handler's transaction stays open — on SQLite holding the database's write lock
(every transaction begins IMMEDIATE). If the loop meanwhile runs database work of
its own (an ``async`` handler, a background job) whose BEGIN waits for that lock,
the loop blocks, the exit that would release the lock is never scheduled, and both
wait out the whole busy timeout.

:class:`SessionEndingRoute` wraps each ``def`` handler so that the sessions it was
given are committed (or rolled back, as :func:`~realname.api.deps.transaction`
does) in the handler's own thread, before it returns; the dependency's exit then
finds nothing to do. ``async`` handlers end their transactions themselves.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from contextlib import ExitStack
from typing import Any

from fastapi.routing import APIRoute
from sqlalchemy.orm import Session

from realname.api.deps import transaction


def end_transactions_in_thread(handler: Callable[..., Any]) -> Callable[..., Any]:
    """``handler``, ending the transactions of the sessions it is given when it ends."""

    @functools.wraps(handler)
    def run(*args: Any, **kwargs: Any) -> Any:
        with ExitStack() as stack:
            for value in kwargs.values():
                if isinstance(value, Session):
                    stack.enter_context(transaction(value))
            return handler(*args, **kwargs)

    return run


class SessionEndingRoute(APIRoute):
    """An :class:`APIRoute` whose ``def`` handler ends its transactions in its thread."""

    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        if not inspect.iscoroutinefunction(endpoint):
            endpoint = end_transactions_in_thread(endpoint)
        super().__init__(path, endpoint, **kwargs)
