"""A borrower in a real browser: a parent's phone, then the bank-card path to L2.

Debian's Chromium driven by Playwright, against a uvicorn thread serving a sandbox
world made from the fixture scenario ``bank-card-path-with-a-parents-phone``; the SMS
codes are read from the sandbox gateway object. Screenshots go to
``REALNAME_ARTIFACTS`` (default ``var/test-artifacts``).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from realname.api.app import create_app
from realname.api.context import AppContext
from realname.authorities.sandbox import SandboxProvider, load_fixture_file
from realname.authorities.sandbox.sms import SandboxSmsGateway
from realname.config import Settings
from realname.store.db import upgrade
from tests.web.browser_support import ARTIFACTS, NEEDS_CHROMIUM, fits_and_shoot, serving
from tests.web.browser_support import browser as browser  # the pytest fixture

pytestmark = NEEDS_CHROMIUM

FIXTURE = load_fixture_file(
    Path(__file__).resolve().parents[1] / "data" / "scenarios" / "public.yaml"
)
PHONE = "13912345678"


@dataclass
class Served:
    url: str
    gateway: SandboxSmsGateway

    def last_code(self) -> str:
        found = re.search(r"\d{6}", self.gateway.messages_to(PHONE)[-1].text)
        assert found is not None
        return found[0]


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    settings = Settings(var_dir=tmp_path, database_url=f"sqlite:///{tmp_path / 'web.db'}")
    upgrade(settings.resolved_database_url)
    scenario = FIXTURE.scenario("bank-card-path-with-a-parents-phone")
    today = FIXTURE.today_for(scenario)
    assert today is not None
    provider = SandboxProvider.for_scenario(scenario, today=today)
    gateway = SandboxSmsGateway(provider.store, provider.world_id)
    context = AppContext.from_settings(settings, provider=provider, sms=gateway)
    with serving(create_app(settings, context)) as url:
        yield Served(url, gateway)
    context.engine.dispose()


@pytest.mark.parametrize(("width", "height"), [(375, 812), (1280, 800)])
def test_a_borrower_with_a_parents_phone_reaches_l2_with_a_bank_card(
    browser: object, served: Served, width: int, height: int
) -> None:
    from playwright.sync_api import Browser, Page

    assert isinstance(browser, Browser)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page = browser.new_page(viewport={"width": width, "height": height})

    def shot(name: str, target: Page = page) -> None:
        fits_and_shoot(target, width, f"borrower-{name}")

    page.goto(f"{served.url}/")
    assert page.locator("h1").inner_text() == "登录或注册"
    page.fill("#phone", PHONE)
    shot("sign-in")
    page.get_by_role("button", name="获取验证码").click()
    page.wait_for_selector("#code")
    code = served.last_code()
    assert code not in page.content()
    page.fill("#code", code)
    shot("code")
    page.get_by_role("button", name="登录").click()

    page.wait_for_url("**/consent**")
    for kind in ("id", "phone", "bank_card"):
        page.check(f"#consent-{kind}")
    shot("consent")
    page.get_by_role("button", name="同意并继续").click()

    page.wait_for_url("**/identity**")
    assert page.input_value("#phone") == PHONE
    page.fill("#name", "王小明")
    page.fill("#id_number", "110105199003071238")  # a typo in the check character
    page.locator("#phone").focus()
    page.wait_for_selector("#id_number-error:not([hidden])")
    assert "末位校验码不对" in page.inner_text("#id_number-error")
    shot("identity-typo")
    page.fill("#id_number", "110105199003071239")
    page.locator("#name").focus()
    page.wait_for_selector("#id_number-error", state="hidden")
    page.get_by_role("button", name="提交核验").click()

    page.wait_for_url("**/status**")
    assert page.inner_text("#verdict") == "未实名认证"
    assert page.inner_text("#level") == "L1"
    cause = page.locator("#cause-PHONE_OWNED_BY_OTHER")
    assert "手机号登记在他人名下" in cause.inner_text()
    assert "110105199003071239" not in page.content()
    shot("status-parents-phone")
    cause.get_by_role("link", name="改用本人银行卡验证").click()

    page.wait_for_url("**/identity?focus=bank_card**")
    assert page.evaluate("document.activeElement.id") == "bank_card"
    page.fill("#name", "王小明")
    page.fill("#id_number", "110105199003071239")
    page.fill("#bank_card", "6222020200112230004")
    shot("identity-card")
    page.get_by_role("button", name="提交核验").click()

    page.wait_for_url("**/status**")
    assert page.inner_text("#verdict") == "已完成实名认证"
    assert page.inner_text("#level") == "L2"
    assert "6222020200112230004" not in page.content()
    shot("status-l2")
    page.get_by_role("link", name="English").click()
    page.wait_for_url("**lang=en**")
    assert page.inner_text("#verdict") == "Verified"
    page.close()
