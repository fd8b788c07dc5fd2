"""While the app serves, its event loop gates the finishing of verifications."""

from __future__ import annotations

from fastapi.testclient import TestClient

from realname.api.app import create_app
from realname.config import Settings
from realname.verification import turns


def test_the_serving_loop_has_a_finishing_gate_for_the_apps_life(settings: Settings) -> None:
    app = create_app(settings)
    with TestClient(app) as client:
        assert client.get("/healthz").status_code == 200
        serving = [loop for loop in turns._GATES if loop.is_running()]
        assert len(serving) == 1  # the loop serving the app (TestClient's thread)
    assert serving[0] not in turns._GATES
    app.state.context.engine.dispose()
