"""``realname sandbox serve`` as a process: it starts, verifies signatures and answers."""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from pydantic import SecretStr

from realname.authorities.protocol import CarrierMismatch
from realname.authorities.sandbox import SandboxStore, generate_into
from realname.authorities.tencentcloud import (
    TencentCloudAuthError,
    TencentCloudProvider,
    TencentCloudSettings,
)
from tests.authorities.http.support import PUBLIC, TODAY

ID, KEY = "AKIDcli", "cli-secret"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def serve(*options: str) -> Iterator[str]:
    """Run ``realname sandbox serve`` until the block ends; yields its URL."""
    port = _free_port()
    command = [
        sys.executable,
        "-c",
        "from realname.cli import app; app()",
        "sandbox",
        "serve",
        "--port",
        str(port),
        "--secret-id",
        ID,
        "--secret-key",
        KEY,
        *options,
    ]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        while True:
            if process.poll() is not None:
                output = process.stdout.read().decode() if process.stdout else ""
                pytest.fail(f"serve exited with {process.returncode}: {output}")
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    pytest.fail("serve did not start listening")
                time.sleep(0.1)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=10)
        if process.stdout:
            process.stdout.close()


def _adapter(url: str, key: str = KEY, world: str | None = None) -> TencentCloudProvider:
    settings = TencentCloudSettings(
        secret_id=ID, secret_key=SecretStr(key), endpoint=url, timeout_seconds=5
    )
    headers = {"X-Sandbox-World": world} if world else None
    return TencentCloudProvider(settings, headers=headers, today=lambda: TODAY)


def test_serve_a_fixture_file() -> None:
    with serve("--fixtures", str(PUBLIC), "--world", "name-typo") as url:
        typo = asyncio.run(
            _adapter(url).carrier_three_element("王晓明", "110105199003071239", "13912345678")
        )
        assert typo.mismatch is CarrierMismatch.NAME
        parent = asyncio.run(
            _adapter(url, world="phone-of-a-parent").id_two_element("王建国", "11010519700101803X")
        )
        assert parent.code == "0"
        with pytest.raises(TencentCloudAuthError):
            asyncio.run(_adapter(url, key="wrong").phone_status("13912345678"))


def test_serve_a_generated_world(tmp_path: Path) -> None:
    db = tmp_path / "sandbox.db"
    with SandboxStore(db) as store:
        generate_into(store, 50, 7, today=TODAY, world="generated")
        row = store.query("SELECT name, id_number FROM citizens LIMIT 1")[0]
    with serve("--db", str(db)) as url:
        answer = asyncio.run(_adapter(url).id_two_element(str(row[0]), str(row[1])))
    assert (answer.code, answer.provider) == ("0", "tencentcloud")


def test_serve_refuses_an_unknown_world(tmp_path: Path) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            "from realname.cli import app; app()",
            "sandbox",
            "serve",
            "--secret-id",
            ID,
            "--secret-key",
            KEY,
            "--db",
            str(tmp_path / "empty.db"),
            "--world",
            "nowhere",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "no world 'nowhere'" in result.stderr
