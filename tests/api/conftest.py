from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from realname.api.app import create_app
from realname.config import Settings
from realname.store.db import upgrade


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    settings = Settings(var_dir=tmp_path, database_url=f"sqlite:///{tmp_path / 'api.db'}")
    upgrade(settings.resolved_database_url)
    return settings


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    app = create_app(settings)
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client
    app.state.context.engine.dispose()
