"""Database fixtures: every storage test runs on SQLite and, when configured, PostgreSQL.

* SQLite (a temporary file) always.
* PostgreSQL when ``REALNAME_TEST_POSTGRES_URL`` is set: a fresh schema per test
  session, migrated with :func:`realname.store.db.upgrade`, dropped afterwards.
  When ``CI`` is set and the URL is missing, the PostgreSQL variant *fails*, so a
  CI job cannot pass by silently testing SQLite only.

Tests that use ``engine`` or ``session_factory`` must carry ``@pytest.mark.storage``.
Each test starts with empty tables.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session, sessionmaker

from realname.store.db import make_engine, make_session_factory, normalise_url, upgrade
from realname.store.models import Base

POSTGRES_URL_ENV = "REALNAME_TEST_POSTGRES_URL"


def _backends() -> list[str]:
    backends = ["sqlite"]
    if os.environ.get(POSTGRES_URL_ENV) or os.environ.get("CI"):
        backends.append("postgresql")
    return backends


def _postgres_url(schema: str) -> str:
    base = normalise_url(os.environ[POSTGRES_URL_ENV])
    query = dict(base.query)
    query["options"] = f"-csearch_path={schema}"
    return base.update_query_dict(query).render_as_string(hide_password=False)


@pytest.fixture(scope="session", params=_backends())
def database_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """The URL of a migrated database for this test session (one per backend)."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'realname.db'}"
        upgrade(url)
        yield url
        return

    if not os.environ.get(POSTGRES_URL_ENV):
        pytest.fail(
            f"CI is set but {POSTGRES_URL_ENV} is not: the PostgreSQL storage tests "
            "must run in CI, not be skipped."
        )
    schema = f"realname_test_{uuid.uuid4().hex[:12]}"
    admin = make_engine(os.environ[POSTGRES_URL_ENV])
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        url = _postgres_url(schema)
        upgrade(url)
        yield url
    finally:
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture
def engine(request: pytest.FixtureRequest, database_url: str) -> Iterator[Engine]:
    """An engine on the session's database; tables are emptied after the test."""
    if request.node.get_closest_marker("storage") is None:
        pytest.fail("tests using the database must be marked @pytest.mark.storage")
    engine = make_engine(database_url)
    try:
        yield engine
    finally:
        with engine.begin() as connection:
            for table in reversed(Base.metadata.sorted_tables):
                connection.execute(table.delete())
        engine.dispose()


@pytest.fixture
def session_factory(engine: Engine) -> sessionmaker[Session]:
    return make_session_factory(engine)


@pytest.fixture
def backend(engine: Engine) -> str:
    """``sqlite`` or ``postgresql``: the database the current test runs on."""
    return engine.dialect.name
