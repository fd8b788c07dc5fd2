"""``Annotated`` dependencies shared by the routers: database session, vault, caller."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import Annotated

import anyio.to_thread
from fastapi import Depends, Header, Request
from sqlalchemy.orm import Session

from realname.accounts.errors import RecordedRefusal
from realname.api.context import AppContext
from realname.errors import Forbidden, Unauthorized
from realname.privacy.vault import Vault
from realname.store.repositories.tenants import ApiKeyPrincipal, check_api_key, touch_api_key


def app_context(request: Request) -> AppContext:
    """The app's :class:`AppContext`, for code that already has the request: what
    :data:`ContextDep` gives, without a level of dependency solving per request."""
    context: AppContext = request.app.state.context
    return context


async def get_context(request: Request) -> AppContext:
    """The app's :class:`AppContext`.

    Dependencies that do no I/O are ``async def``: FastAPI runs a plain ``def``
    dependency in the thread pool, a thread hop per request for nothing.
    """
    return app_context(request)


ContextDep = Annotated[AppContext, Depends(get_context)]


@contextmanager
def transaction(session: Session) -> Iterator[Session]:
    """End the session's transaction with the block: commit, or roll back on error.

    A :class:`~realname.accounts.errors.RecordedRefusal` (a wrong SMS code, an
    undeliverable message) is committed too: the refusal itself is state — the
    attempt counter that locks a code after five wrong answers.

    Async handlers wrap their body in it. They run on the event loop, and a
    transaction left open across an ``await`` (such as the step from the handler to
    the dependency's teardown) can hold SQLite's write lock while another request on
    the same loop waits for it — blocking the very loop that would release it.
    """
    try:
        yield session
    except BaseException as error:
        if isinstance(error, RecordedRefusal):
            _commit(session)
        else:
            session.rollback()
        raise
    else:
        _commit(session)


def _commit(session: Session) -> None:
    """Commit the session's transaction, if it has one.

    A session with no transaction (its work already committed by an inner
    :func:`transaction`, as every ``async`` handler's is) has nothing to commit:
    :meth:`Session.commit` would begin an empty ORM transaction only to end it again,
    at a cost noticeable on every request. ``add()`` begins one, so pending objects
    are never skipped.
    """
    if session.in_transaction():
        session.commit()


async def get_session(request: Request) -> AsyncIterator[Session]:
    """One session per request, its transaction ended when the handler returns.

    Opened and closed on the event loop: opening a session does no I/O, and by the
    time this exits the handler has ended its transactions — an ``async`` handler in
    :func:`transaction` blocks before any ``await``, a ``def`` handler in its own
    worker thread (:class:`realname.api.routing.SessionEndingRoute`) — so closing only
    hands the connection back. A ``def`` generator dependency would cost two
    worker-thread hops (enter and exit) on every request. Work left open anyway is
    committed here (rolled back on error); a commit never waits for SQLite's write
    lock, which only a BEGIN does.

    It takes the :class:`Request` rather than :data:`ContextDep`: FastAPI solves a
    sub-dependency's own dependencies again for every dependant that names it
    (only the call is cached), so each level saved is saved on every request.
    """
    with transaction_session(app_context(request)) as session:
        yield session


@contextmanager
def transaction_session(context: AppContext) -> Iterator[Session]:
    """A session of its own for the block, its transaction ended with it as
    :func:`transaction` ends one; closed after.

    For an ``async`` handler that does all its database work in one block: what
    :data:`SessionDep` plus ``with transaction(session)`` amount to, without a
    generator dependency. FastAPI enters each generator dependency through an
    ``asynccontextmanager`` on a per-request ``AsyncExitStack`` and leaves it through
    a shielded one: about 0.2 M instructions a request under callgrind, 2 % of an L2
    verification through ``POST /v1/users/{id}/verifications``.
    """
    with context.session_factory() as session, transaction(session):
        yield session


# "function" scope: commit before the response is sent, so a client that gets
# 200 and asks again sees what it wrote.
SessionDep = Annotated[Session, Depends(get_session, scope="function")]


async def get_vault(context: ContextDep) -> Vault:
    return context.vault


VaultDep = Annotated[Vault, Depends(get_vault)]


def presented_key(authorization: str | None, x_api_key: str | None) -> str | None:
    if x_api_key:
        return x_api_key.strip()
    if authorization:
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() == "bearer" and token.strip():
            return token.strip()
    return None


async def get_principal(
    request: Request,
    authorization: Annotated[str | None, Header()] = None,
    x_api_key: Annotated[str | None, Header()] = None,
) -> ApiKeyPrincipal:
    """The tenant API key behind the request; 401 problem when missing or wrong.

    ``async`` and on its own connection, not the request's session: the check is one
    read that takes no write lock (:func:`~realname.store.repositories.tenants.check_api_key`),
    as brief as the handlers' own database work on the loop, so it is not worth a
    hop to a worker thread. The throttled ``last_used_at`` write, which may wait for
    SQLite's write lock, goes to a worker thread when it is due. Takes the
    :class:`Request`, not :data:`ContextDep`, for the reason :func:`get_session` gives.
    """
    context = app_context(request)
    presented = presented_key(authorization, x_api_key)
    if presented is None:
        raise Unauthorized("Send a tenant API key as 'Authorization: Bearer <key>'.")
    principal, touch_at = check_api_key(context.engine, presented)
    if principal is None:
        raise Unauthorized("The API key is unknown or revoked.")
    if touch_at is not None:
        await anyio.to_thread.run_sync(touch_api_key, context.engine, principal.key_id, touch_at)
    return principal


PrincipalDep = Annotated[ApiKeyPrincipal, Depends(get_principal)]


def require_scope(scope: str) -> Callable[[ApiKeyPrincipal], Awaitable[ApiKeyPrincipal]]:
    """A dependency that admits only keys holding ``scope`` (or the ``*`` scope)."""

    async def check(principal: PrincipalDep) -> ApiKeyPrincipal:
        return _in_scope(principal, scope)

    return check


def scoped_principal(scope: str) -> Callable[..., Awaitable[ApiKeyPrincipal]]:
    """A dependency: the caller, admitted only with ``scope`` (or the ``*`` scope).

    What ``dependencies=[Depends(require_scope(scope))]`` plus :data:`PrincipalDep`
    check, in one dependency, for a route that needs nothing else of the caller:
    FastAPI solves each level of a dependency tree on every request (a level costs
    about as much as a header parameter), and a route named both would solve the key
    check's parameters twice. Same headers, so the same OpenAPI parameters.
    """

    async def principal_in_scope(
        request: Request,
        authorization: Annotated[str | None, Header()] = None,
        x_api_key: Annotated[str | None, Header()] = None,
    ) -> ApiKeyPrincipal:
        return _in_scope(await get_principal(request, authorization, x_api_key), scope)

    return principal_in_scope


def _in_scope(principal: ApiKeyPrincipal, scope: str) -> ApiKeyPrincipal:
    if scope not in principal.scopes and "*" not in principal.scopes:
        raise Forbidden(f"This action needs the '{scope}' scope.", scope=scope)
    return principal
