"""``realname ops``: add operators and list the queue from the shell."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from realname.cli import app
from realname.config import get_settings
from realname.privacy.keys import load_keyring
from realname.privacy.vault import Vault
from realname.store.db import make_engine, make_session_factory
from realname.store.models import Operator
from tests.ops.conftest import PASSWORD, borrower, result

runner = CliRunner()


@pytest.fixture
def var_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.setenv("REALNAME_VAR_DIR", str(tmp_path))
    monkeypatch.delenv("REALNAME_DATABASE_URL", raising=False)
    monkeypatch.delenv("REALNAME_MASTER_KEY", raising=False)
    get_settings.cache_clear()
    assert runner.invoke(app, ["db", "upgrade"]).exit_code == 0
    yield tmp_path
    get_settings.cache_clear()


def test_operator_add_reads_the_password_from_stdin(var_dir: Path) -> None:
    added = runner.invoke(
        app,
        ["ops", "operator-add", "Alice", "--role", "supervisor", "--password-stdin"],
        input=PASSWORD + "\n",
    )
    assert added.exit_code == 0, added.output
    assert "alice" in added.output
    again = runner.invoke(
        app,
        ["ops", "operator-add", "alice", "--role", "reviewer", "--password-stdin"],
        input=PASSWORD + "\n",
    )
    assert again.exit_code == 2
    assert "OPS_INVALID_OPERATOR" in again.output
    engine = make_engine(get_settings().resolved_database_url)
    with make_session_factory(engine)() as session:
        stored = session.scalar(select(Operator))
        assert stored is not None
        assert (stored.username, stored.role) == ("alice", "supervisor")
    engine.dispose()


def test_queue_lists_open_cases_with_their_sla(var_dir: Path) -> None:
    settings = get_settings()
    engine = make_engine(settings.resolved_database_url)
    with make_session_factory(engine)() as session:
        account = borrower(session, Vault(load_keyring(settings)))
        result(session, account, "UNDER_REVIEW")
        session.commit()
    engine.dispose()
    listed = runner.invoke(app, ["ops", "queue"], env={"COLUMNS": "160"})
    assert listed.exit_code == 0, listed.output
    assert "Needs manual review" in listed.output
    assert "1 open, 1 new" in listed.output
    assert "left" in listed.output
    bad = runner.invoke(app, ["ops", "queue", "--reason", "NOPE"])
    assert bad.exit_code == 2
