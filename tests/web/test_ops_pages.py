"""The operations console through a TestClient: login, roles, queue, case, lookup."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from realname.api.app import create_app
from realname.api.context import AppContext
from realname.config import Settings
from realname.ops.operators import create_operator
from realname.store.db import upgrade
from realname.store.models import Account, AuditEntry, OperatorSession, ReviewCase
from realname.verification import users
from realname.web.ops_auth import OPS_COOKIE
from tests.web.ops_support import ID_NUMBER, NAME, PHONE, scenario_context, verify_identity_in_use

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
    context, _gateway = scenario_context(settings)
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


def _case_id(console: Console) -> str:
    console.client.get("/ops/queue")  # loading the queue runs the intake
    with console.context.session_factory() as session:
        case = session.scalar(select(ReviewCase))
        assert case is not None
        return case.id


def test_a_reviewer_works_a_case_from_real_verification(console: Console) -> None:
    account_id = verify_identity_in_use(console.context)
    console.add("alice", "reviewer")
    assert console.log_in("alice").status_code == 303
    queue = console.client.get("/ops/queue")
    assert queue.status_code == 200
    assert "身份已被他人账户使用" in queue.text
    assert re.search(r"剩余 2[34] 小时 \d+ 分", queue.text)
    assert "https://" not in queue.text
    case_id = _case_id(console)
    page = console.client.get(f"/ops/cases/{case_id}")
    assert "王*明" in page.text or "*小明" in page.text
    assert ID_NUMBER not in page.text
    assert NAME not in page.text
    assert PHONE not in page.text
    assert "id_two_element" in page.text or "身份证" in page.text
    assert "IDENTITY_IN_USE" in page.text
    csrf = console.csrf(page.text)

    short = console.client.post(
        f"/ops/cases/{case_id}/unmask", data={"csrf": csrf, "unmask_reason": "why"}
    )
    assert short.status_code == 422
    assert "至少 10 个字" in short.text
    assert ID_NUMBER not in short.text
    shown = console.client.post(
        f"/ops/cases/{case_id}/unmask",
        data={"csrf": csrf, "unmask_reason": "核对身份证照片与账户信息是否一致"},
    )
    assert shown.status_code == 200
    assert ID_NUMBER in shown.text
    assert NAME in shown.text
    assert ID_NUMBER not in console.client.get(f"/ops/cases/{case_id}").text

    missing = console.client.post(
        f"/ops/cases/{case_id}/decision", data={"csrf": csrf, "decision": "approve", "code": ""}
    )
    assert missing.status_code == 422
    assert 'value="approve" checked' in missing.text.replace('id="decision-approve" ', "")
    for _ in range(2):  # a double submit is harmless
        done = console.client.post(
            f"/ops/cases/{case_id}/decision",
            data={"csrf": csrf, "decision": "approve", "code": "SAME_PERSON_CONFIRMED"},
            follow_redirects=False,
        )
        assert done.status_code == 303
    after = console.client.get(done.headers["location"])
    assert "决定已记录" in after.text
    assert "ops.case.decided" in after.text
    assert "ops.unmasked" in after.text
    with console.context.session_factory() as session:
        actions = [e.action for e in session.scalars(select(AuditEntry).order_by(AuditEntry.seq))]
        assert actions[-2:] == ["ops.unmasked", "ops.case.decided"]
        assert actions.count("ops.case.decided") == 1
        account = users.user_account(session, after_tenant(session, account_id), account_id)
        view = users.status(session, account, "zh-CN")
        assert (view.level, view.verified) == ("L2", True)
        assert any(c["code"] == "REVIEW_APPROVED" for c in view.causes)
    assert 'id="empty"' in console.client.get("/ops/queue").text


def after_tenant(session: object, account_id: str) -> str:
    from sqlalchemy.orm import Session

    from realname.store.models import Account

    assert isinstance(session, Session)
    account = session.get(Account, account_id)
    assert account is not None
    return account.tenant_id


def test_an_auditor_reads_but_cannot_decide(console: Console) -> None:
    verify_identity_in_use(console.context)
    console.add("audra", "auditor")
    console.log_in("audra")
    case_id = _case_id(console)
    page = console.client.get(f"/ops/cases/{case_id}?lang=en")
    assert "Auditors are read-only" in page.text
    assert 'id="decide"' not in page.text
    assert 'id="unmask"' not in page.text
    refused = console.client.post(
        f"/ops/cases/{case_id}/decision?lang=en",
        data={"csrf": console.csrf(page.text), "decision": "approve", "code": "DOCUMENTS_VERIFIED"},
    )
    assert refused.status_code == 403
    assert "Your role does not allow this action" in refused.text


def test_a_post_without_csrf_is_refused(console: Console) -> None:
    verify_identity_in_use(console.context)
    console.add("alice", "reviewer")
    console.log_in("alice")
    case_id = _case_id(console)
    refused = console.client.post(
        f"/ops/cases/{case_id}/decision",
        data={"csrf": "0" * 32, "decision": "approve", "code": "DOCUMENTS_VERIFIED"},
    )
    assert refused.status_code == 403
    with console.context.session_factory() as session:
        assert session.scalar(select(ReviewCase.state)) == "open"


def test_an_expired_session_returns_to_login_keeping_the_decision(console: Console) -> None:
    verify_identity_in_use(console.context)
    console.add("alice", "reviewer")
    console.log_in("alice")
    case_id = _case_id(console)
    console.client.get("/ops/queue")
    csrf = console.csrf(console.client.get(f"/ops/cases/{case_id}").text)
    with console.context.session_factory() as session:  # the idle timeout passes
        for row in session.scalars(select(OperatorSession)):
            row.last_seen_at -= timedelta(hours=1)
        session.commit()
    bounced = console.client.post(
        f"/ops/cases/{case_id}/decision",
        data={"csrf": csrf, "decision": "resubmit", "code": "BLURRY_PHOTO"},
        follow_redirects=False,
    )
    assert bounced.status_code == 303
    login = console.client.get(bounced.headers["location"])
    assert "登录已过期" in login.text
    again = console.log_in("alice", next=f"/ops/cases/{case_id}", keep=_keep(login.text))
    target = again.headers["location"]
    assert "decision=resubmit" in target
    assert "code=BLURRY_PHOTO" in target
    page = console.client.get(target)
    assert 'value="resubmit" id="decision-resubmit" checked' in page.text
    assert 'value="BLURRY_PHOTO" selected' in page.text


def _keep(html: str) -> str:
    import html as html_lib

    found = re.search(r'name="keep" value="([^"]*)"', html)
    assert found is not None
    return html_lib.unescape(found[1])


def test_support_finds_a_user_by_id_number_and_phone_masked(console: Console) -> None:
    verify_identity_in_use(console.context)
    console.add("sam", "auditor")
    console.log_in("sam")
    page = console.client.get("/ops/lookup")
    csrf = console.csrf(page.text)
    bad = console.client.post("/ops/lookup", data={"csrf": csrf, "query": "12345"})
    assert bad.status_code == 422
    assert "请输入 11 位手机号" in bad.text
    by_id = console.client.post("/ops/lookup", data={"csrf": csrf, "query": ID_NUMBER})
    assert by_id.status_code == 200
    assert by_id.text.count('class="account-file"') == 2  # this user and the earlier account
    assert ID_NUMBER not in by_id.text
    assert PHONE not in by_id.text
    assert "身份已在其他账户" in by_id.text or "IDENTITY_IN_USE" in by_id.text
    assert "186****8888" in by_id.text
    with console.context.session_factory() as session:
        searched = session.scalar(select(AuditEntry).where(AuditEntry.action == "ops.lookup"))
        assert searched is not None
        assert (searched.actor, searched.details["kind"]) == ("operator:sam", "id_number")
        assert ID_NUMBER not in str(searched.details)
    by_phone = console.client.post("/ops/lookup", data={"csrf": csrf, "query": PHONE})
    assert by_phone.text.count('class="account-file"') == 1
    assert "L1" in by_phone.text
    assert "L2" in by_phone.text


def test_the_console_speaks_english_on_request(console: Console) -> None:
    verify_identity_in_use(console.context)
    console.add("erin", "supervisor")
    console.log_in("erin")
    queue = console.client.get("/ops/queue?lang=en")
    assert 'lang="en"' in queue.text
    assert "Identity in use on another account" in queue.text
    assert re.search(r"2[34] h \d+ min left", queue.text)
    assert 'href="/ops/queue?lang=zh-CN"' in queue.text
    case_id = _case_id(console)
    page = console.client.get(f"/ops/cases/{case_id}?lang=en")
    assert "Reassign to" in page.text  # supervisors can reassign
    assert "Same person" in page.text or "Confirmed the same person" in page.text
    assert "https://" not in page.text
    filtered = console.client.get("/ops/queue?lang=en&reason=UNDER_REVIEW")
    assert 'id="empty"' in filtered.text


def test_a_credit_decline_review_shows_the_application_it_reviews(console: Console) -> None:
    from realname.credit.reviews import request_review
    from realname.store.repositories.credit_applications import record_application

    account_id = verify_identity_in_use(console.context)
    now = datetime.now(UTC)
    with console.context.session_factory() as session:
        account = session.get(Account, account_id)
        assert account is not None
        application = record_application(
            session,
            tenant_id=account.tenant_id,
            account_id=account.id,
            product="credit_small",
            amount_fen=300_000,
            term_months=12,
            decision="decline",
            limit_fen=0,
            score=512,
            pd_bp=1234,
            level="L2",
            level_required="L2",
            reasons=["SC_JOB", "SC_INCOME"],
            model_version="cd-test",
            review_available=True,
            at=now,
        )
        case_id = request_review(session, application, actor="test", now=now).review_case_id
        session.commit()
    console.add("alice", "reviewer")
    assert console.log_in("alice").status_code == 303
    page = console.client.get(f"/ops/cases/{case_id}?lang=en")
    assert page.status_code == 200, page.text
    assert "Credit application" in page.text
    assert "¥3,000.00" in page.text
    assert "SC_JOB" in page.text
    assert "12.34%" in page.text
