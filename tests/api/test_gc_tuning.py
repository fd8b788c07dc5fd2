"""While the app serves, startup's objects are frozen out of the collector's walks
and young collections are rarer; both are undone at shutdown."""

from __future__ import annotations

import gc

from fastapi.testclient import TestClient

from realname.api.app import create_app
from realname.api.gc_tuning import YOUNG_THRESHOLD
from realname.config import Settings


def test_the_collector_is_tuned_while_serving_and_restored_after(settings: Settings) -> None:
    before = gc.get_threshold()
    app = create_app(settings)
    with TestClient(app) as client:
        assert client.get("/healthz").status_code == 200
        assert gc.get_freeze_count() > 10_000  # modules, mappers, schemas ...
        assert gc.get_threshold()[0] == YOUNG_THRESHOLD
    assert gc.get_freeze_count() == 0
    assert gc.get_threshold() == before
    app.state.context.engine.dispose()
