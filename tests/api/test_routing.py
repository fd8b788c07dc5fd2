"""A def handler's transaction ends in its own thread, before its dependency's exit."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi import APIRouter, Depends, FastAPI
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from sqlalchemy import select

from realname.api.app import create_app
from realname.api.deps import SessionDep
from realname.api.routing import SessionEndingRoute
from realname.config import Settings
from realname.store.models import Tenant
from realname.store.repositories.tenants import create_tenant


def _app(settings: Settings, route_class: type[APIRoute], seen: dict[str, bool]) -> FastAPI:
    app = create_app(settings)
    router = APIRouter(route_class=route_class)

    def probe(session: SessionDep) -> Iterator[None]:
        """Exits after the handler and before the session dependency: what is open then?"""
        try:
            yield
        finally:
            seen["open_after_handler"] = session.in_transaction()

    @router.post("/write", dependencies=[Depends(probe, scope="function")])
    def write(name: str, session: SessionDep, fail: bool = False) -> dict[str, str]:
        create_tenant(session, name)
        if fail:
            raise RuntimeError("after the write")
        return {"name": name}

    app.include_router(router)
    return app


def _names(app: FastAPI) -> set[str]:
    with app.state.context.session_factory() as session:
        return set(session.scalars(select(Tenant.name)))


@pytest.mark.parametrize("fail", [False, True])
def test_a_def_handlers_work_is_ended_in_its_thread(settings: Settings, fail: bool) -> None:
    seen: dict[str, bool] = {}
    app = _app(settings, SessionEndingRoute, seen)
    with TestClient(app, raise_server_exceptions=False) as client:
        response = client.post("/write", params={"name": "Kept", "fail": fail})
        assert response.status_code == (500 if fail else 200)
        names = _names(app)
    app.state.context.engine.dispose()
    # Committed (or rolled back) before the handler returned: SQLite's write lock is
    # not held while the event loop schedules the dependencies' exits.
    assert seen["open_after_handler"] is False
    assert ("Kept" in names) is not fail


def test_a_plain_route_leaves_it_to_the_dependency(settings: Settings) -> None:
    """The hazard the route class removes: the transaction outlives the handler."""
    seen: dict[str, bool] = {}
    app = _app(settings, APIRoute, seen)
    with TestClient(app) as client:
        assert client.post("/write", params={"name": "Later"}).status_code == 200
        names = _names(app)
    app.state.context.engine.dispose()
    assert seen["open_after_handler"] is True
    assert "Later" in names
