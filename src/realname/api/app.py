"""The FastAPI application: routers, the problem+json error model, request ids."""

from __future__ import annotations

import logging
import re
import time
import uuid
from collections.abc import Awaitable, Callable

from fastapi import FastAPI, Request, Response

from realname import __version__
from realname.api import idempotency, problems
from realname.api.context import AppContext
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

    @app.middleware("http")
    async def request_ids(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        supplied = request.headers.get("x-request-id", "")
        request_id = supplied if _SAFE_REQUEST_ID.match(supplied) else uuid.uuid4().hex
        token = request_id_var.set(request_id)
        started = time.perf_counter()
        try:
            response = await call_next(request)
        finally:
            request_id_var.reset(token)
        response.headers["X-Request-ID"] = request_id
        logger.info(
            "request served",
            extra={
                "request_id": request_id,
                "method": request.method,
                "route": _route_template(request),
                "status": response.status_code,
                "duration_ms": round((time.perf_counter() - started) * 1000, 1),
            },
        )
        return response

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
    install_dispatcher(app)
    install_checkpointer(app)
    install_rerun_loop(app, interval=context.settings.rerun_interval_seconds)
    return app


def _route_template(request: Request) -> str:
    """The matched route's template (``/v1/users/{id}``), never the concrete path."""
    route = request.scope.get("route")
    path = getattr(route, "path", None)
    return path if isinstance(path, str) else "unmatched"
