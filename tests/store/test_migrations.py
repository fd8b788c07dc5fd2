from __future__ import annotations

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, inspect

from realname.store.db import (
    MIGRATIONS_DIR,
    alembic_config,
    current_revision,
    head_revision,
    upgrade,
)
from realname.store.models import Base


def test_migrations_ship_inside_the_package() -> None:
    assert MIGRATIONS_DIR.parent.name == "store"
    assert (MIGRATIONS_DIR / "env.py").is_file()
    assert (MIGRATIONS_DIR / "script.py.mako").is_file()
    assert (MIGRATIONS_DIR / "versions" / "__init__.py").is_file()


@pytest.mark.storage
def test_migrated_schema_matches_the_models(engine: Engine) -> None:
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        assert compare_metadata(context, Base.metadata) == []
    assert set(inspect(engine).get_table_names()) >= set(Base.metadata.tables)


@pytest.mark.storage
def test_schema_diff_would_notice_a_missing_column(engine: Engine) -> None:
    """The comparison above can fail: a model column the migration lacks is reported."""
    from sqlalchemy import Column, MetaData, String

    metadata = MetaData()
    for table in Base.metadata.sorted_tables:
        table.to_metadata(metadata)
    metadata.tables["tenants"].append_column(Column("extra", String(10)))
    with engine.connect() as connection:
        context = MigrationContext.configure(connection)
        diff = compare_metadata(context, metadata)
    assert [d[0] for d in diff] == ["add_column"]


@pytest.mark.storage
def test_downgrade_to_base_and_back(engine: Engine, database_url: str) -> None:
    with engine.begin() as connection:
        config = alembic_config(database_url)
        config.attributes["connection"] = connection
        command.downgrade(config, "base")
    assert current_revision(engine) is None
    assert "people" not in inspect(engine).get_table_names()
    upgrade(database_url)
    assert current_revision(engine) == head_revision()


@pytest.mark.parametrize("url", ["postgresql+psycopg://u@h/db", "sqlite:///x.db"])
def test_offline_sql_can_be_generated(url: str, capsys: pytest.CaptureFixture[str]) -> None:
    command.upgrade(alembic_config(url), "head", sql=True)
    sql = capsys.readouterr().out
    assert "CREATE TABLE audit_log" in sql
    assert "CREATE TABLE identity_elements" in sql
