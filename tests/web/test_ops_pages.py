"""The operations console through a TestClient: login, roles, queue, case, lookup."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from realname.api.app import create_app
from realname.api.context import AppContext
from realname.config import Settings
from realname.ops.operators import create_operator
from realname.store.db import upgrade
from realname.web.ops_auth import OPS_COOKIE

PASSWORD = "correct horse battery"


class Console:
    def __init__(self, client: TestClient, context: AppContext) -> None:
        self.client = client
        self.context = context

    def add(self, username: str, role: str) -> None:
        with self.context.session_factory() as session:
            create_operator(session, username, PASSWORD, role, now=datetime.now(UTC))
            session.commit()

    @staticmethod
    def csrf(html: str) -> str:
        found = re.search(r'name="csrf" value="([0-9a-f]+)"', html)
        assert found is not None
        return found[1]

    def log_in(self, username: str, password: str = PASSWORD, **extra: str) -> object:
        page = self.client.get("/ops/login")
        return self.client.post(
            "/ops/login",
            data={
                "username": username,
                "password": password,
                "csrf": self.csrf(page.text),
                **extra,
            },
            follow_redirects=False,
        )


@pytest.fixture
def console(tmp_path: Path) -> Iterator[Console]:
    settings = Settings(
        var_dir=tmp_path,
        database_url=f"sqlite:///{tmp_path / 'ops.db'}",
        rerun_interval_seconds=0,
    )
    upgrade(settings.resolved_database_url)
    context = AppContext.from_settings(settings)
    with TestClient(create_app(settings, context), raise_server_exceptions=False) as client:
        yield Console(client, context)
    context.engine.dispose()


def test_the_console_asks_for_a_login_and_keeps_where_you_were_going(console: Console) -> None:
    answer = console.client.get("/ops/queue?reason=UNDER_REVIEW", follow_redirects=False)
    assert answer.status_code == 303
    assert answer.headers["location"].startswith("/ops/login?next=%2Fops%2Fqueue")
    page = console.client.get(answer.headers["location"])
    assert "运营台登录" in page.text
    assert "/ops/queue?reason=UNDER_REVIEW" in page.text


def test_a_wrong_password_is_refused_and_the_cookie_is_separate(console: Console) -> None:
    console.add("alice", "reviewer")
    wrong = console.log_in("alice", "not the password")
    assert wrong.status_code == 401
    assert "用户名或密码不正确" in wrong.text
    assert 'value="alice"' in wrong.text
    unknown = console.log_in("nobody")
    assert unknown.status_code == 401
    assert "用户名或密码不正确" in unknown.text
    done = console.log_in("alice")
    assert done.status_code == 303
    cookie = done.headers["set-cookie"]
    assert cookie.startswith(f"{OPS_COOKIE}=")
    assert "HttpOnly" in cookie
    assert "SameSite=strict" in cookie
    assert "Path=/ops" in cookie


def test_logins_are_rate_limited_per_username(console: Console) -> None:
    console.add("bob", "reviewer")
    for _ in range(5):
        assert console.log_in("bob", "wrong password!").status_code == 401
    limited = console.log_in("bob")
    assert limited.status_code == 429
    assert "15 分钟" in limited.text


def test_a_login_without_the_csrf_token_is_refused(console: Console) -> None:
    console.add("carol", "reviewer")
    console.client.get("/ops/login")
    refused = console.client.post(
        "/ops/login", data={"username": "carol", "password": PASSWORD, "csrf": "0" * 32}
    )
    assert refused.status_code == 403
