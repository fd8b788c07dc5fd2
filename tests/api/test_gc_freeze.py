"""Startup's objects are frozen out of the collector's walks while the app serves."""

from __future__ import annotations

import gc

from fastapi.testclient import TestClient

from realname.api.app import create_app
from realname.config import Settings


def test_startup_objects_are_frozen_while_serving_and_released_after(settings: Settings) -> None:
    app = create_app(settings)
    with TestClient(app) as client:
        assert client.get("/healthz").status_code == 200
        assert gc.get_freeze_count() > 10_000  # modules, mappers, schemas ...
    assert gc.get_freeze_count() == 0
    app.state.context.engine.dispose()
