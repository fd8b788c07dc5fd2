"""The help page per cause code, rendered from the catalogue, in zh-CN and English."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from realname.verification.catalogue import get_catalogue
from realname.verification.causes import CauseCode
from tests.api.conftest import client, settings

__all__ = ["client", "settings"]


def test_the_index_lists_every_cause_in_chinese_by_default(client: TestClient) -> None:
    page = client.get("/help")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert '<html lang="zh-CN">' in page.text
    for code in CauseCode:
        assert f'href="/help/{code.value}?lang=zh-CN"' in page.text
    assert "为什么显示" in page.text


@pytest.mark.parametrize("code", list(CauseCode))
def test_every_cause_has_a_help_page_with_its_remedies(client: TestClient, code: CauseCode) -> None:
    catalogue = get_catalogue()
    page = client.get(f"/help/{code.value}?lang=en")
    assert page.status_code == 200
    explanation = catalogue.explain(catalogue.cause(code), "en")
    assert explanation.title.replace("'", "&#39;") in page.text
    assert catalogue.help(code, "en").replace("'", "&#39;")[:40] in page.text
    for remedy in explanation.remedies:
        assert f'id="{remedy.id}"' in page.text
    assert "{" not in page.text.split("<main>")[1]


def test_language_switch_and_unknown_codes(client: TestClient) -> None:
    zh = client.get("/help/PHONE_OWNED_BY_OTHER")
    assert "手机号登记在他人名下" in zh.text
    assert 'href="?lang=en"' in zh.text
    missing = client.get("/help/NO_SUCH_CODE?lang=en")
    assert missing.status_code == 404
    assert "no such reason code" in missing.text


def test_the_stylesheet_is_served_locally(client: TestClient) -> None:
    css = client.get("/static/style.css")
    assert css.status_code == 200
    assert "http" not in css.text
