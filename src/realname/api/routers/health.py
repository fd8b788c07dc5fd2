"""Liveness and readiness probes for orchestrators and load balancers."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel

from realname import __version__
from realname.api.deps import ContextDep
from realname.api.routing import SessionEndingRoute
from realname.errors import RealnameError
from realname.store.db import check_ready

router = APIRouter(tags=["health"], route_class=SessionEndingRoute)


class Health(BaseModel):
    status: str
    version: str


class ServiceUnavailable(RealnameError):
    code = "NOT_READY"
    http_status = 503
    default_message = "The service is not ready: the database is unreachable or not migrated."


@router.get("/healthz", response_model=Health)
def healthz() -> Health:
    """The process is up. Touches nothing else, so a slow database never kills it."""
    return Health(status="ok", version=__version__)


@router.get("/readyz", response_model=Health)
def readyz(context: ContextDep) -> Health:
    """The process can serve: the database answers and its schema is at the latest migration."""
    try:
        check_ready(context.engine)
    except Exception as exc:
        raise ServiceUnavailable() from exc
    return Health(status="ready", version=__version__)
