"""WAL checkpoints leave the request path: the API's engine leaves them to a thread
that its lifespan runs, and that thread really copies the log back."""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import Engine, text

from realname.api.app import create_app
from realname.config import Settings
from realname.store.db import make_engine, upgrade
from realname.store.wal import SAFETY_NET_PAGES, WalCheckpointer, background_file

THREAD = "realname-wal-checkpoint"


def _autocheckpoint(engine: Engine) -> int:
    with engine.connect() as connection:
        return int(connection.execute(text("PRAGMA wal_autocheckpoint")).scalar_one())


def _writer(path: Path) -> sqlite3.Connection:
    """A connection that never checkpoints by itself (and stays open: the last
    connection to close a database checkpoints it)."""
    db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA wal_autocheckpoint=0")
    db.execute("CREATE TABLE IF NOT EXISTS t (id INTEGER PRIMARY KEY, payload TEXT)")
    return db


def _fill(db: sqlite3.Connection, rows: int) -> None:
    """Commit ``rows`` rows, one transaction each."""
    for i in range(rows):
        db.execute("INSERT INTO t (payload) VALUES (?)", ("x" * 500 + str(i),))


def test_only_an_engine_asked_to_leaves_checkpoints_to_the_thread(tmp_path: Path) -> None:
    default = make_engine(f"sqlite:///{tmp_path / 'a.db'}")
    background = make_engine(f"sqlite:///{tmp_path / 'b.db'}", background_checkpoints=True)
    memory = make_engine("sqlite://", background_checkpoints=True)
    try:
        assert _autocheckpoint(default) == 1000  # SQLite's own default
        assert background_file(default) is None
        assert _autocheckpoint(background) == SAFETY_NET_PAGES
        assert background_file(background) == tmp_path / "b.db"
        assert background_file(memory) is None  # nothing on disk to checkpoint
    finally:
        for engine in (default, background, memory):
            engine.dispose()


def test_the_thread_copies_the_log_back_and_a_last_time_on_stop(tmp_path: Path) -> None:
    path = tmp_path / "w.db"
    writer = _writer(path)
    _fill(writer, 200)
    size = path.stat().st_size
    assert Path(f"{path}-wal").stat().st_size > 100_000  # the rows are in the log only

    checkpointer = WalCheckpointer(path, interval=0.05)
    checkpointer.start()
    deadline = time.monotonic() + 10
    while checkpointer.runs < 2 and time.monotonic() < deadline:
        time.sleep(0.02)
    copied = path.stat().st_size
    assert copied > size + 100_000  # ... and now in the database file too
    _fill(writer, 200)  # more log while it runs ...
    checkpointer.stop()  # ... copied by the last checkpoint at the latest
    assert path.stat().st_size > copied + 100_000
    assert checkpointer.runs >= 3
    assert not any(t.name == THREAD for t in threading.enumerate())
    writer.close()


def test_the_api_lifespan_runs_the_thread(tmp_path: Path) -> None:
    settings = Settings(var_dir=tmp_path, database_url=f"sqlite:///{tmp_path / 'api.db'}")
    upgrade(settings.resolved_database_url)
    app = create_app(settings)
    assert not any(t.name == THREAD for t in threading.enumerate())
    with TestClient(app) as client:
        assert client.get("/healthz").status_code == 200
        assert any(t.name == THREAD for t in threading.enumerate())
    assert not any(t.name == THREAD for t in threading.enumerate())
    app.state.context.engine.dispose()
