"""Journey 3 in a real browser: a reviewer unmasks (with a reason) and approves a case.

The case comes from real verification: the sandbox scenario
``identity-verified-elsewhere-by-someone-else`` run through the engine gives the
borrower IDENTITY_IN_USE; the console's intake opens the case when the queue loads.
Debian's Chromium driven by Playwright against a uvicorn thread; screenshots at
375 px and 1280 px go to ``REALNAME_ARTIFACTS`` (default ``var/test-artifacts``).
Afterwards the audit chain holds the unmask and the decision, and the borrower —
signing in on the borrower pages — sees the reviewer's outcome.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from realname.api.app import create_app
from realname.api.context import AppContext
from realname.authorities.sandbox.sms import SandboxSmsGateway
from realname.config import Settings
from realname.ops.operators import create_operator
from realname.store.db import upgrade
from realname.store.models import AuditEntry
from realname.store.repositories.audit import verify_chain
from tests.web.browser_support import ARTIFACTS, NEEDS_CHROMIUM, fits_and_shoot, serving
from tests.web.browser_support import browser as browser  # the pytest fixture
from tests.web.ops_support import ID_NUMBER, NAME, PHONE, scenario_context, verify_identity_in_use

pytestmark = NEEDS_CHROMIUM

PASSWORD = "a-reviewers-passphrase"


@dataclass
class Served:
    url: str
    context: AppContext
    gateway: SandboxSmsGateway

    def last_code(self) -> str:
        found = re.search(r"\d{6}", self.gateway.messages_to(PHONE)[-1].text)
        assert found is not None
        return found[0]


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    settings = Settings(
        var_dir=tmp_path,
        database_url=f"sqlite:///{tmp_path / 'web.db'}",
        rerun_interval_seconds=0,
    )
    upgrade(settings.resolved_database_url)
    context, gateway = scenario_context(settings)
    verify_identity_in_use(context)
    with context.session_factory() as session:
        create_operator(session, "reviewer1", PASSWORD, "reviewer", now=datetime.now(UTC))
        session.commit()
    with serving(create_app(settings, context)) as url:
        yield Served(url, context, gateway)
    context.engine.dispose()


@pytest.mark.parametrize(("width", "height"), [(375, 812), (1280, 800)])
def test_a_reviewer_unmasks_with_a_reason_and_approves(
    browser: object, served: Served, width: int, height: int
) -> None:
    from playwright.sync_api import Browser, Page

    assert isinstance(browser, Browser)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page = browser.new_page(viewport={"width": width, "height": height})

    def shot(name: str, target: Page = page) -> None:
        fits_and_shoot(target, width, f"ops-{name}")

    page.goto(f"{served.url}/ops/queue")
    page.wait_for_url("**/ops/login**")
    page.fill("#username", "reviewer1")
    page.fill("#password", PASSWORD)
    shot("login")
    page.get_by_role("button", name="登录").click()

    page.wait_for_url("**/ops/queue**")
    card = page.locator("li.case-card[data-reason=IDENTITY_IN_USE]")
    assert "身份已被他人账户使用" in card.inner_text()
    assert re.search(r"剩余 2[34] 小时", card.locator(".sla").inner_text())
    shot("queue")
    card.get_by_role("button", name="领取").click()

    page.wait_for_url("**/ops/cases/**")
    assert page.inner_text("#assignee") == "reviewer1"
    assert page.inner_text(".masked-id_number") == "110105********1239"
    assert ID_NUMBER not in page.content()
    assert "IDENTITY_IN_USE" in page.inner_text("main")
    assert page.locator("ol.checks li.check").count() >= 1
    shot("case")

    page.fill("#unmask_reason", "核对")
    page.locator("#unmask").click()
    page.wait_for_selector("#unmask-error")
    assert "至少 10 个字" in page.inner_text("#unmask-error")
    page.fill("#unmask_reason", "借款人来电申诉，核对身份证号与姓名")
    page.locator("#unmask").click()
    page.wait_for_selector("#clear")
    assert page.inner_text(".clear-id_number") == ID_NUMBER
    assert page.inner_text(".clear-name") == NAME
    shot("unmasked")

    page.check("#decision-approve")
    page.select_option("#code", "SAME_PERSON_CONFIRMED")
    page.locator("#decide").click()
    page.wait_for_selector("#done")
    assert "通过" in page.inner_text("#decision")
    assert ID_NUMBER not in page.content()  # the clear values are gone
    actions = page.locator("#audit li").evaluate_all("items => items.map(i => i.dataset.action)")
    assert actions[-2:] == ["ops.unmasked", "ops.case.decided"]
    shot("decided")

    with served.context.session_factory() as session:
        entries = list(session.scalars(select(AuditEntry).order_by(AuditEntry.seq)))
        unmasked = [e for e in entries if e.action == "ops.unmasked"]
        decided = [e for e in entries if e.action == "ops.case.decided"]
        assert [e.actor for e in unmasked + decided] == ["operator:reviewer1"] * 2
        assert unmasked[0].details["reason"] == "借款人来电申诉，核对身份证号与姓名"
        assert decided[0].details["code"] == "SAME_PERSON_CONFIRMED"
        assert ID_NUMBER not in str([e.details for e in entries])
        assert verify_chain(session).ok

    # Support finds the user by ID number: both accounts holding it, masked.
    page.get_by_role("link", name="用户查询").click()
    page.wait_for_url("**/ops/lookup**")
    page.fill("#query", ID_NUMBER)
    page.get_by_role("button", name="查询").click()
    page.wait_for_selector("section.account-file")
    assert page.locator("section.account-file").count() == 2
    assert ID_NUMBER not in page.content()
    assert "人工审核已通过" in page.inner_text("main")
    shot("lookup")

    # The borrower signs in on the borrower pages and sees the reviewer's outcome.
    borrower = browser.new_page(viewport={"width": width, "height": height})
    borrower.goto(f"{served.url}/")
    borrower.fill("#phone", PHONE)
    borrower.get_by_role("button", name="获取验证码").click()
    borrower.wait_for_selector("#code")
    borrower.fill("#code", served.last_code())
    borrower.get_by_role("button", name="登录").click()
    borrower.wait_for_url("**/consent**")
    borrower.goto(f"{served.url}/status")
    assert borrower.inner_text("#verdict") == "已完成实名认证"
    assert borrower.inner_text("#level") == "L2"
    assert "人工审核已通过" in borrower.inner_text("#cause-REVIEW_APPROVED")
    shot("borrower-status-after-review", borrower)
    borrower.close()
    page.close()
