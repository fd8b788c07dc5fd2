"""The request's session for async handlers: committed when they succeed, else rolled back."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from realname.api.app import create_app
from realname.api.deps import SessionDep, transaction
from realname.config import Settings
from realname.store.models import Tenant
from realname.store.repositories.tenants import create_tenant


def _names(session: Session) -> set[str]:
    return set(session.scalars(select(Tenant.name)))


@pytest.mark.parametrize("in_handler_transaction", [True, False])
def test_an_async_handlers_loop_session_commits_its_work_or_rolls_it_back(
    settings: Settings, in_handler_transaction: bool
) -> None:
    app = create_app(settings)

    async def write(name: str, session: SessionDep, fail: bool = False) -> dict[str, str]:
        if in_handler_transaction:
            with transaction(session):
                create_tenant(session, name)
        else:
            create_tenant(session, name)  # left for the dependency to commit
        if fail:
            raise RuntimeError("after the write")
        return {"name": name}

    app.add_api_route("/write", write, methods=["POST"])
    with TestClient(app, raise_server_exceptions=False) as client:
        assert client.post("/write", params={"name": "Kept"}).status_code == 200
        failed = client.post("/write", params={"name": "Dropped", "fail": True})
        assert failed.status_code == 500
        with app.state.context.session_factory() as session:
            names = _names(session)
    app.state.context.engine.dispose()
    assert "Kept" in names
    # Work committed by the handler's own transaction() stays; work left open is undone.
    assert ("Dropped" in names) is in_handler_transaction
