"""Journey 2 in a real browser: a re-issued number, then a phone change to a working account.

王小明 signed up and verified L2 on 139 1234 5678 in January 2024; in September 2026
the carrier re-issued that number to 李秀英 (the world of
``tests/web/test_borrower_phone_pages.py``). His session on this device still
works. Re-verifying finds PHONE_RECYCLED: the account is locked; the status page
explains it and offers the change of phone; he proves his new number 186 1234 9999
by SMS, passes the face step-up the ``phone_change`` policy demands, and ends
unlocked at L3 with the old number kept, masked, in the history.

Debian's Chromium driven by Playwright; screenshots at 375 px and 1280 px go to
``REALNAME_ARTIFACTS`` (default ``var/test-artifacts``).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import anyio
import pytest

from realname.accounts import service as accounts
from realname.accounts.sessions import issue_session
from realname.api.app import create_app
from realname.api.context import AppContext
from realname.api.deps import transaction
from realname.authorities.face import LocalFaceEngine, face_capture
from realname.authorities.sandbox import SandboxProvider
from realname.authorities.sandbox.sms import SandboxSmsGateway
from realname.config import Settings
from realname.store.db import upgrade
from realname.store.repositories.checks import record_result
from realname.web.borrower import SESSION_COOKIE, web_tenant_id
from tests.web.browser_support import ARTIFACTS, NEEDS_CHROMIUM, fits_and_shoot, serving
from tests.web.browser_support import browser as browser  # the pytest fixture
from tests.web.test_borrower_phone_pages import ID_NUMBER, NAME, NEW, OLD, WORLD

pytestmark = NEEDS_CHROMIUM

SIGNED_UP = datetime(2024, 1, 10, 9, 30, tzinfo=UTC)


@dataclass
class Served:
    url: str
    gateway: SandboxSmsGateway
    session_token: str

    def last_code(self, phone: str) -> str:
        found = re.search(r"\d{6}", self.gateway.messages_to(phone)[-1].text)
        assert found is not None
        return found[0]


def _signed_up_in_2024(context: AppContext, gateway: SandboxSmsGateway) -> str:
    """The account on the old number, verified L2 in 2024; a session on this device now."""
    with context.session_factory() as session, transaction(session):
        tenant = web_tenant_id(session)
        started = anyio.run(
            lambda: accounts.start_signup_or_login(
                session, context.vault, gateway, tenant, OLD, now=SIGNED_UP
            )
        )
        code = re.search(r"\d{6}", gateway.messages_to(OLD)[-1].text)
        assert code is not None
        signed = accounts.complete(
            session,
            context.vault,
            tenant_id=tenant,
            phone=OLD,
            challenge_id=started.challenge_id,
            code=code[0],
            now=SIGNED_UP,
        )
        record_result(
            session,
            account_id=signed.account.id,
            level_reached="L2",
            level_needed="L2",
            bound_phone_index=context.vault.blind_index("phone", OLD),
            product="default",
            verified_at=SIGNED_UP,
        )
        return issue_session(session, signed.account.id).token


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    settings = Settings(var_dir=tmp_path, database_url=f"sqlite:///{tmp_path / 'web.db'}")
    upgrade(settings.resolved_database_url)
    scenario = WORLD.scenarios[0]
    provider = SandboxProvider.for_scenario(scenario, today=WORLD.today_for(scenario))
    provider.face_engine = LocalFaceEngine()
    gateway = SandboxSmsGateway(provider.store, provider.world_id)
    context = AppContext.from_settings(settings, provider=provider, sms=gateway)
    # In a thread of its own: Playwright's sync API already runs an event loop here.
    with ThreadPoolExecutor(1) as pool:
        token = pool.submit(_signed_up_in_2024, context, gateway).result()
    with serving(create_app(settings, context)) as url:
        yield Served(url, gateway, token)
    context.engine.dispose()


@pytest.mark.parametrize(("width", "height"), [(375, 812), (1280, 800)])
def test_a_borrower_whose_number_was_reissued_changes_phone_and_is_unlocked(
    browser: object, served: Served, width: int, height: int, tmp_path: Path
) -> None:
    from playwright.sync_api import Browser

    assert isinstance(browser, Browser)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    context = browser.new_context(viewport={"width": width, "height": height})
    context.add_cookies(
        [{"name": SESSION_COOKIE, "value": served.session_token, "url": served.url}]
    )
    page = context.new_page()

    def shot(name: str) -> None:
        fits_and_shoot(page, width, f"reissued-{name}")

    page.goto(f"{served.url}/status")
    assert page.inner_text("#verdict") == "已完成实名认证"  # what 2024 established
    shot("status-before")

    # A routine re-check (say, before a credit application) submits the elements again.
    page.goto(f"{served.url}/consent")
    for kind in ("id", "phone"):
        page.check(f"#consent-{kind}")
    page.get_by_role("button", name="同意并继续").click()
    page.wait_for_url("**/identity**")
    assert page.input_value("#phone") == OLD
    page.fill("#name", NAME)
    page.fill("#id_number", ID_NUMBER)
    page.get_by_role("button", name="提交核验").click()

    page.wait_for_url("**/status**")
    assert page.inner_text("#verdict") == "未实名认证"
    locked = page.locator("#locked")
    assert "二次放号" in locked.inner_text()
    cause = page.locator("#cause-PHONE_RECYCLED")
    assert "手机号已被运营商重新放号" in cause.inner_text()
    assert OLD not in page.content()
    assert "139****5678" in page.content()
    shot("status-locked")
    page.click("#locked-change-phone")

    page.wait_for_url("**/phone/change**")
    assert page.inner_text("#current") == "139****5678"
    page.fill("#new_phone", OLD)  # the same number by mistake: a field error, no SMS
    page.get_by_role("button", name="向新号码发送验证码").click()
    page.wait_for_selector("#new_phone-error:not([hidden])")
    assert "这已经是您绑定的手机号" in page.inner_text("#new_phone-error")
    assert served.gateway.messages_to(NEW) == []
    page.fill("#new_phone", NEW)
    shot("change-start")
    page.get_by_role("button", name="向新号码发送验证码").click()

    page.wait_for_selector("#code")
    assert "186****9999" in page.content()
    assert "/v1/sandbox/sms/inbox" in page.content()
    page.fill("#code", "000000")
    page.get_by_role("button", name="确认").click()
    page.wait_for_selector("#code-error")
    assert "验证码不正确" in page.inner_text("#code-error")
    page.fill("#code", served.last_code(NEW))
    shot("change-code")
    page.get_by_role("button", name="确认").click()

    page.wait_for_selector("#step-up-form")
    assert "人脸核身" in page.content()
    # The photo is taken here: a live check on /face would not carry the change.
    assert page.locator("#face_file").count() == 1
    page.fill("#name", NAME)
    page.fill("#id_number", ID_NUMBER[:-1] + "8")  # a typo, caught before any request
    page.locator("#name").focus()
    page.wait_for_selector("#id_number-error:not([hidden])")
    assert "末位校验码不对" in page.inner_text("#id_number-error")
    page.fill("#id_number", ID_NUMBER)
    page.locator("#name").focus()
    page.wait_for_selector("#id_number-error", state="hidden")
    photo = tmp_path / "face.png"
    photo.write_bytes(face_capture("live:p1").content)
    page.set_input_files("#face_file", str(photo))
    page.wait_for_selector("#face-chosen:not([hidden])")
    page.check("#consent-face")
    shot("change-step-up")
    page.get_by_role("button", name="确认更换").click()

    page.wait_for_url("**/phone/changed**", timeout=90_000)
    assert "186****9999" in page.inner_text("#result")
    history = page.inner_text("#history")
    assert "186****9999" in history
    assert "139****5678" in history
    for secret in (OLD, NEW, ID_NUMBER):
        assert secret not in page.content()
    shot("change-done")
    page.get_by_role("link", name="查看认证状态").click()

    page.wait_for_url("**/status**")
    assert page.inner_text("#verdict") == "已完成实名认证"
    assert page.inner_text("#level") == "L3"
    assert page.locator("#locked").count() == 0
    assert "186****9999" in page.content()
    shot("status-unlocked")
    page.get_by_role("link", name="English").click()
    page.wait_for_url("**lang=en**")
    assert page.inner_text("#verdict") == "Verified"
    context.close()
