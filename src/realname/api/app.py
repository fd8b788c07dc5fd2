"""The FastAPI application: routers, the problem+json error model, request ids."""

from __future__ import annotations

import logging
import re
import time

from fastapi import FastAPI
from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from realname import __version__
from realname.api import idempotency, problems
from realname.api.admission import AdmissionMiddleware
from realname.api.context import AppContext
from realname.api.finishing import install_finishing_gate
from realname.api.gc_tuning import install_gc_tuning
from realname.api.routers import (
    credentials,
    credit,
    face,
    health,
    identity,
    sandbox,
    step_up,
    tenants,
    users,
    webhooks,
)
from realname.config import Settings, get_settings
from realname.credentials.jobs import install_checkpointer
from realname.jobs.rerun import install_rerun_loop
from realname.logs import request_id_var
from realname.randomness import token_bytes
from realname.store.wal import install_wal_checkpointer
from realname.web import face as face_page
from realname.web import pages
from realname.webhooks.dispatcher import install_dispatcher

logger = logging.getLogger("realname.api")

# A caller-supplied request id is echoed only if it is short and plain, so that a
# header cannot smuggle personal data or log-forging characters into our logs.
_SAFE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")


def create_app(settings: Settings | None = None, context: AppContext | None = None) -> FastAPI:
    context = context or AppContext.from_settings(settings or get_settings())
    app = FastAPI(
        title="realname",
        version=__version__,
        summary="Real-name verification that says why not — and fixes what it can.",
        docs_url="/docs",
        openapi_url="/openapi.json",
    )
    app.state.context = context
    problems.install(app)
    # Installed before request_ids, so it runs inside it: replays get request ids too.
    idempotency.install(app)
    # Verifying requests wait for a place before anything of theirs runs.
    app.add_middleware(AdmissionMiddleware, admission=context.admission)
    app.add_middleware(RequestIds)

    app.include_router(health.router)
    app.include_router(tenants.router)
    app.include_router(identity.router)
    app.include_router(users.router)
    app.include_router(webhooks.router)
    app.include_router(sandbox.router)
    app.include_router(credit.router)
    app.include_router(credentials.router)
    app.include_router(step_up.router)
    app.include_router(face.router)
    pages.install(app)
    app.include_router(face_page.router)
    install_wal_checkpointer(app, context.engine)
    install_dispatcher(app)
    install_checkpointer(app)
    install_rerun_loop(app, interval=context.settings.rerun_interval_seconds)
    install_finishing_gate(app, context.engine)
    install_gc_tuning(app)  # last: it wraps every other startup
    return app


def create_app_from_env() -> FastAPI:
    """The application of one worker process of ``realname serve --workers N``.

    uvicorn starts each worker as a fresh interpreter and calls this factory
    (``realname.api.app:create_app_from_env``): the settings come from the
    environment the parent passed on (it sets ``REALNAME_WORKERS``), and the logs go
    through the same scrubbing JSON handler as in the parent.
    """
    from realname.logs import configure_logging

    settings = get_settings()
    configure_logging(settings.log_level)
    return create_app(settings)


class RequestIds:
    """Give every HTTP request an id (``X-Request-ID``, echoed if the caller's is safe),
    bind it to the logs of the request, and log one ``request served`` line.

    A plain ASGI middleware rather than ``@app.middleware("http")``: Starlette's
    ``BaseHTTPMiddleware`` runs the app in a task of its own and streams the response
    through a memory channel, which costs every request a noticeable share of the
    time a small endpoint takes.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        supplied = Headers(scope=scope).get("x-request-id", "")
        # 32 random hex digits, as uuid4().hex was, without building a UUID object.
        request_id = supplied if _SAFE_REQUEST_ID.match(supplied) else token_bytes(16).hex()
        status: int | None = None

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                MutableHeaders(scope=message)["X-Request-ID"] = request_id
            await send(message)

        token = request_id_var.set(request_id)
        started = time.perf_counter()
        try:
            await self.app(scope, receive, send_with_id)
        finally:
            request_id_var.reset(token)
        if logger.isEnabledFor(logging.INFO):
            logger.info(
                "request served",
                extra={
                    "request_id": request_id,
                    "method": scope["method"],
                    "route": _route_template(scope),
                    "status": status,
                    "duration_ms": round((time.perf_counter() - started) * 1000, 1),
                },
            )


def _route_template(scope: Scope) -> str:
    """The matched route's template (``/v1/users/{id}``), never the concrete path."""
    route = scope.get("route")
    path = getattr(route, "path", None)
    return path if isinstance(path, str) else "unmatched"
