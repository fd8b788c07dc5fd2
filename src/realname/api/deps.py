"""``Annotated`` dependencies shared by the routers: database session, vault, caller."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import Annotated

from fastapi import Depends, Header, Request
from sqlalchemy.orm import Session

from realname.accounts.errors import RecordedRefusal
from realname.api.context import AppContext
from realname.errors import Forbidden, Unauthorized
from realname.privacy.vault import Vault
from realname.store.repositories.tenants import ApiKeyPrincipal, authenticate_request


async def get_context(request: Request) -> AppContext:
    """The app's :class:`AppContext`.

    Dependencies that do no I/O are ``async def``: FastAPI runs a plain ``def``
    dependency in the thread pool, a thread hop per request for nothing.
    """
    context: AppContext = request.app.state.context
    return context


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
            session.commit()
        else:
            session.rollback()
        raise
    else:
        session.commit()


def get_session(context: ContextDep) -> Iterator[Session]:
    """One session per request, its transaction ended when the handler returns."""
    with context.session_factory() as session, transaction(session):
        yield session


# "function" scope: commit before the response is sent, so a client that gets
# 200 and asks again sees what it wrote.
SessionDep = Annotated[Session, Depends(get_session, scope="function")]


async def get_loop_session(context: ContextDep) -> AsyncIterator[Session]:
    """The request's session for ``async def`` handlers, which run on the event loop
    and end each of their transactions themselves (:func:`transaction`).

    Opening a session does no I/O, and closing one whose transactions have ended only
    hands its connection back, so neither needs the hop to a worker thread and back
    that a plain ``def`` dependency costs on every request. A transaction a handler
    left open is rolled back, never committed.
    """
    with context.session_factory() as session:
        yield session


LoopSessionDep = Annotated[Session, Depends(get_loop_session, scope="function")]


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
    context: ContextDep,
    authorization: Annotated[str | None, Header()] = None,
    x_api_key: Annotated[str | None, Header()] = None,
) -> ApiKeyPrincipal:
    """The tenant API key behind the request; 401 problem when missing or wrong.

    A read on its own connection, not the request's session: authenticating takes
    no write lock (see :func:`~realname.store.repositories.tenants.authenticate_request`)
    and leaves no transaction open across the await between this dependency and the
    handler. It runs on the event loop: one indexed read (and a SHA-256) costs less
    than the hop to a worker thread and back, which every request would pay.
    """
    presented = presented_key(authorization, x_api_key)
    if presented is None:
        raise Unauthorized("Send a tenant API key as 'Authorization: Bearer <key>'.")
    principal = authenticate_request(context.engine, presented)
    if principal is None:
        raise Unauthorized("The API key is unknown or revoked.")
    return principal


PrincipalDep = Annotated[ApiKeyPrincipal, Depends(get_principal)]


def require_scope(scope: str) -> Callable[[ApiKeyPrincipal], Awaitable[ApiKeyPrincipal]]:
    """A dependency that admits only keys holding ``scope`` (or the ``*`` scope)."""

    async def check(principal: PrincipalDep) -> ApiKeyPrincipal:
        if scope not in principal.scopes and "*" not in principal.scopes:
            raise Forbidden(f"This action needs the '{scope}' scope.", scope=scope)
        return principal

    return check
