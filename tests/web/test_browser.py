"""The help pages in a real browser: Debian's Chromium, driven by Playwright.

Screenshots are written to ``REALNAME_ARTIFACTS`` (default ``var/test-artifacts``) so
a person can look at them. With CI set, a missing Chromium fails instead of skipping.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from realname.api.app import create_app
from realname.config import Settings
from realname.store.db import upgrade
from tests.web.browser_support import ARTIFACTS, NEEDS_CHROMIUM, serving
from tests.web.browser_support import browser as browser  # the pytest fixture

pytestmark = NEEDS_CHROMIUM


@pytest.fixture(scope="module")
def base_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    directory = tmp_path_factory.mktemp("browser")
    settings = Settings(var_dir=directory, database_url=f"sqlite:///{directory / 'web.db'}")
    upgrade(settings.resolved_database_url)
    with serving(create_app(settings)) as url:
        yield url


@pytest.mark.parametrize(("width", "height"), [(375, 812), (1280, 800)])
def test_help_pages_fit_the_screen_and_switch_language(
    browser: object, base_url: str, width: int, height: int
) -> None:
    from playwright.sync_api import Browser

    assert isinstance(browser, Browser)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page = browser.new_page(viewport={"width": width, "height": height})
    page.goto(f"{base_url}/help")
    assert page.locator("h1").inner_text() == "为什么显示“未实名认证”？"
    assert page.evaluate("document.scrollingElement.scrollWidth") <= width
    page.screenshot(path=str(ARTIFACTS / f"help-index-{width}.png"), full_page=True)

    page.get_by_text("手机号登记在他人名下").click()
    page.wait_for_url("**/help/PHONE_OWNED_BY_OTHER**")
    assert page.locator("#use_bank_card strong").inner_text() == "改用本人银行卡验证"
    page.screenshot(path=str(ARTIFACTS / f"help-phone-owned-{width}.png"), full_page=True)

    page.get_by_role("link", name="English").click()
    page.wait_for_url("**lang=en**")
    assert page.locator("h1").inner_text() == "The number is registered to someone else"
    assert page.evaluate("document.scrollingElement.scrollWidth") <= width
    page.close()
