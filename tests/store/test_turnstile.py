"""The writer turnstile: who may reach SQLite's write lock, and that they always get out."""

from __future__ import annotations

import fcntl
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from realname.store.db import make_engine, read_only
from realname.store.turnstile import SUFFIX

#: In another process: can the turnstile's lock file be locked right now?
_PROBE = """
import fcntl, os, sys
fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT)
try:
    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
except BlockingIOError:
    print("taken")
else:
    print("free")
"""


def _from_another_process(database: Path) -> str:
    lock_file = database.with_name(database.name + SUFFIX)
    done = subprocess.run(
        [sys.executable, "-c", _PROBE, str(lock_file)],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return done.stdout.strip()


@pytest.fixture
def database(tmp_path: Path) -> Path:
    return tmp_path / "realname.db"


@pytest.fixture
def engine(database: Path) -> Iterator[Engine]:
    engine = make_engine(f"sqlite:///{database}")
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE t (id INTEGER PRIMARY KEY, who TEXT)"))
    yield engine
    engine.dispose()


def test_a_writer_holds_the_turnstile_from_begin_to_commit(
    engine: Engine, database: Path
) -> None:
    """Other processes' writers queue on the lock file while a transaction writes."""
    assert _from_another_process(database) == "free"
    with engine.connect() as connection:
        connection.begin()
        assert _from_another_process(database) == "taken"
        connection.execute(text("INSERT INTO t (who) VALUES ('a')"))
        connection.commit()
        assert _from_another_process(database) == "free"


def test_rollback_and_a_closed_connection_let_the_next_writer_in(
    engine: Engine, database: Path
) -> None:
    with engine.connect() as connection:
        connection.begin()
        connection.rollback()
    assert _from_another_process(database) == "free"
    connection = engine.connect()
    connection.begin()
    connection.invalidate()  # the pool closes the driver's connection
    assert _from_another_process(database) == "free"
    with engine.begin() as fresh:  # and nothing in this process is left waiting
        fresh.execute(text("INSERT INTO t (who) VALUES ('b')"))


def test_a_reader_does_not_take_the_turnstile(engine: Engine, database: Path) -> None:
    with read_only(), engine.connect() as connection:
        connection.begin()
        assert connection.execute(text("SELECT count(*) FROM t")).scalar() == 0
        assert _from_another_process(database) == "free"
        connection.rollback()


def test_a_thread_waits_its_turn_instead_of_failing(engine: Engine) -> None:
    """The second writer waits for the first one's commit, however long it writes."""
    order: list[str] = []
    holding = threading.Event()

    def first() -> None:
        with engine.begin() as connection:
            connection.execute(text("INSERT INTO t (who) VALUES ('first')"))
            holding.set()
            time.sleep(0.3)
            order.append("first commits")

    thread = threading.Thread(target=first)
    thread.start()
    assert holding.wait(30)
    with engine.begin() as connection:
        order.append("second begins")
        seen = connection.execute(text("SELECT who FROM t")).scalars().all()
        connection.execute(text("INSERT INTO t (who) VALUES ('second')"))
    thread.join(30)
    assert order == ["first commits", "second begins"]
    assert seen == ["first"]


def test_a_thread_never_waits_for_itself(engine: Engine, database: Path) -> None:
    """A second connection of the holding thread goes straight to SQLite, which answers
    'locked' after its busy timeout, as it did before the turnstile."""
    with engine.connect() as holder:
        holder.begin()
        with engine.connect() as other:
            driver = other.connection.driver_connection
            assert driver is not None
            driver.execute("PRAGMA busy_timeout=50")
            with pytest.raises(Exception, match="locked"):
                other.begin()
        assert _from_another_process(database) == "taken"  # still the holder's
        holder.commit()
    assert _from_another_process(database) == "free"


def test_a_writer_in_another_process_waits_for_this_ones_commit(
    engine: Engine, database: Path
) -> None:
    script = (
        "import sys\n"
        "from sqlalchemy import text\n"
        "from realname.store.db import make_engine\n"
        "engine = make_engine('sqlite:///' + sys.argv[1])\n"
        "with engine.begin() as c:\n"
        "    print(c.execute(text('SELECT group_concat(who) FROM t')).scalar())\n"
        "    c.execute(text(\"INSERT INTO t (who) VALUES ('child')\"))\n"
    )
    with engine.connect() as connection:
        connection.begin()
        connection.execute(text("INSERT INTO t (who) VALUES ('parent')"))
        child = subprocess.Popen(
            [sys.executable, "-c", script, str(database)],
            stdout=subprocess.PIPE,
            text=True,
            env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
        )
        time.sleep(0.5)  # the child is at its BEGIN by now, waiting
        assert child.poll() is None
        connection.commit()
    out, _ = child.communicate(timeout=60)
    assert child.returncode == 0
    assert out.strip() == "parent"  # it began only after the parent's commit
    lock_file = database.with_name(database.name + SUFFIX)
    fd = os.open(lock_file, os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # nobody left holding it
    finally:
        os.close(fd)
