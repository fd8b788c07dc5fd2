"""The borrower's pages through a TestClient: sign-in, consent, identity, status."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from realname.api.app import create_app
from realname.api.context import AppContext
from realname.authorities.sandbox import SandboxProvider, load_fixture_file
from realname.authorities.sandbox.sms import SandboxSmsGateway
from realname.config import Settings
from realname.store.db import upgrade
from realname.web.borrower import SESSION_COOKIE

FIXTURE = load_fixture_file(
    Path(__file__).resolve().parents[1] / "data" / "scenarios" / "public.yaml"
)
PHONE = "13912345678"
NAME, ID_NUMBER, CARD = "王小明", "110105199003071239", "6222020200112230004"


class Borrower:
    def __init__(self, client: TestClient, gateway: SandboxSmsGateway) -> None:
        self.client = client
        self.gateway = gateway

    def csrf(self, html: str) -> str:
        found = re.search(r'name="csrf" value="([0-9a-f]+)"', html)
        assert found is not None
        return found[1]

    def sign_in(self, phone: str = PHONE) -> None:
        page = self.client.get("/")
        code_page = self.client.post(
            "/sign-in", data={"phone": phone, "csrf": self.csrf(page.text)}
        )
        assert code_page.status_code == 200, code_page.text
        assert phone[:3] + "****" + phone[-4:] in code_page.text
        challenge = re.search(r'name="challenge_id" value="([^"]+)"', code_page.text)
        assert challenge is not None
        code = self.last_code(phone)
        assert code not in code_page.text
        done = self.client.post(
            "/sign-in/verify",
            data={
                "phone": phone,
                "challenge_id": challenge[1],
                "code": code,
                "csrf": self.csrf(code_page.text),
            },
            follow_redirects=False,
        )
        assert done.status_code == 303, done.text
        cookie = done.headers["set-cookie"]
        assert "HttpOnly" in cookie
        assert "SameSite=lax" in cookie

    def last_code(self, phone: str) -> str:
        found = re.search(r"\d{6}", self.gateway.messages_to(phone)[-1].text)
        assert found is not None
        return found[0]

    def consent(self, kinds: list[str]) -> None:
        page = self.client.get("/consent")
        done = self.client.post(
            "/consent", data={"kinds": kinds, "csrf": self.csrf(page.text)}, follow_redirects=False
        )
        assert done.status_code == 303, done.text

    def submit(self, **fields: str) -> httpx.Response:
        page = self.client.get("/identity")
        response: httpx.Response = self.client.post(
            "/identity", data={**fields, "csrf": self.csrf(page.text)}, follow_redirects=False
        )
        return response


@pytest.fixture
def borrower(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Borrower]:
    settings = Settings(var_dir=tmp_path, database_url=f"sqlite:///{tmp_path / 'web.db'}")
    upgrade(settings.resolved_database_url)
    scenario = FIXTURE.scenario(getattr(request, "param", "bank-card-path-with-a-parents-phone"))
    today = FIXTURE.today_for(scenario)
    assert today is not None
    provider = SandboxProvider.for_scenario(scenario, today=today)
    gateway = SandboxSmsGateway(provider.store, provider.world_id)
    context = AppContext.from_settings(settings, provider=provider, sms=gateway)
    with TestClient(create_app(settings, context), raise_server_exceptions=False) as client:
        yield Borrower(client, gateway)
    context.engine.dispose()


def test_the_sign_in_page_is_chinese_and_switches_to_english(borrower: Borrower) -> None:
    page = borrower.client.get("/")
    assert page.status_code == 200
    assert "登录或注册" in page.text
    assert 'lang="zh-CN"' in page.text
    english = borrower.client.get("/?lang=en")
    assert "Sign in or sign up" in english.text
    assert 'lang="en"' in english.text
    assert "http://" not in page.text.replace("http://www.w3.org", "")
    assert "https://" not in page.text


def test_the_code_page_tells_a_developer_about_the_sandbox_inbox(borrower: Borrower) -> None:
    page = borrower.client.get("/")
    code_page = borrower.client.post(
        "/sign-in", data={"phone": PHONE, "csrf": borrower.csrf(page.text)}
    )
    assert "/v1/sandbox/sms/inbox" in code_page.text
    assert borrower.last_code(PHONE) not in code_page.text


def test_a_post_without_the_csrf_token_is_refused(borrower: Borrower) -> None:
    borrower.client.get("/")
    refused = borrower.client.post("/sign-in", data={"phone": PHONE, "csrf": "0" * 32})
    assert refused.status_code == 403
    assert borrower.gateway.messages_to(PHONE) == []
    borrower.sign_in()
    consent = borrower.client.post("/consent", data={"kinds": ["id"]}, follow_redirects=False)
    assert consent.status_code == 403
    assert "页面已过期" in consent.text


def test_a_bad_phone_gets_a_field_error_in_the_users_language(borrower: Borrower) -> None:
    page = borrower.client.get("/?lang=en")
    answer = borrower.client.post(
        "/sign-in?lang=en", data={"phone": "12345", "csrf": borrower.csrf(page.text)}
    )
    assert answer.status_code == 422
    assert 'id="phone-error"' in answer.text
    assert "12345" in answer.text  # the typed phone is kept in its field


def test_consent_lists_each_kind_with_its_purpose(borrower: Borrower) -> None:
    borrower.sign_in()
    page = borrower.client.get("/consent")
    for kind in ("id", "phone", "bank_card", "face"):
        assert f'id="consent-{kind}"' in page.text
    assert "敏感信息，单独同意" in page.text
    page_en = borrower.client.get("/consent?lang=en")
    assert "separate consent" in page_en.text
    empty = borrower.client.post("/consent", data={"csrf": borrower.csrf(page.text)})
    assert empty.status_code == 422


def test_the_identity_page_prefills_the_phone_and_can_focus_the_card(borrower: Borrower) -> None:
    borrower.sign_in()
    page = borrower.client.get("/identity?focus=bank_card")
    assert f'value="{PHONE}"' in page.text
    assert re.search(r'id="bank_card"[^>]*autofocus', page.text, re.S)


def test_inline_validation_names_the_part_of_the_id_that_is_wrong(borrower: Borrower) -> None:
    borrower.sign_in()
    csrf = borrower.csrf(borrower.client.get("/identity").text)
    typo = ID_NUMBER[:-1] + "8"
    answer = borrower.client.post(
        "/identity/validate?lang=en", json={"id_number": typo}, headers={"X-CSRF-Token": csrf}
    )
    assert answer.status_code == 200
    report = answer.json()["id_number"]
    assert (report["valid"], report["part"]) == (False, "checksum")
    assert "check character" in report["message"]
    zh = borrower.client.post(
        "/identity/validate", json={"id_number": typo}, headers={"X-CSRF-Token": csrf}
    ).json()
    assert "校验码" in zh["id_number"]["message"]
    good = borrower.client.post(
        "/identity/validate", json={"id_number": ID_NUMBER}, headers={"X-CSRF-Token": csrf}
    ).json()["id_number"]
    assert good["valid"]
    assert good["masked"] == "110105********1239"
    assert borrower.client.post("/identity/validate", json={"id_number": typo}).status_code == 403


def test_the_server_validates_again_on_submit(borrower: Borrower) -> None:
    borrower.sign_in()
    answer = borrower.submit(name=NAME, id_number=ID_NUMBER[:-1] + "8", phone=PHONE)
    assert answer.status_code == 422
    assert "末位校验码不对" in answer.text


def test_the_status_explains_the_parents_phone_with_masked_data_only(borrower: Borrower) -> None:
    borrower.sign_in()
    borrower.consent(["id", "phone", "bank_card"])
    done = borrower.submit(name=NAME, id_number=ID_NUMBER, phone=PHONE)
    assert done.status_code == 303
    status = borrower.client.get("/status")
    assert "手机号登记在他人名下" in status.text
    assert 'href="/identity?focus=bank_card&amp;lang=zh-CN"' in status.text
    assert 'href="/help/PHONE_OWNED_BY_OTHER?lang=zh-CN"' in status.text
    assert 'http-equiv="refresh"' not in status.text
    assert "139****5678" in status.text
    for secret in (PHONE, ID_NUMBER, NAME, CARD):
        assert secret not in status.text
    done = borrower.submit(name=NAME, id_number=ID_NUMBER, phone=PHONE, bank_card=CARD)
    status = borrower.client.get("/status?lang=en")
    assert 'id="level">L2<' in status.text
    assert "Verified" in status.text


@pytest.mark.parametrize("borrower", ["registered-twice-with-new-number"], indirect=True)
def test_a_phone_other_than_the_signed_in_one_is_proven_by_sms(borrower: Borrower) -> None:
    borrower.sign_in("18612349999")
    borrower.consent(["id", "phone"])
    answer = borrower.submit(name=NAME, id_number=ID_NUMBER, phone=PHONE)
    text = answer.text
    assert answer.status_code == 200
    assert 'name="code"' in text
    challenge = re.search(r'name="challenge_id" value="([^"]+)"', text)
    assert challenge is not None
    fields = {"name": NAME, "id_number": ID_NUMBER, "phone": PHONE, "bank_card": ""}
    wrong = borrower.client.post(
        "/identity",
        data={
            **fields,
            "challenge_id": challenge[1],
            "code": "000000",
            "csrf": borrower.csrf(text),
        },
    )
    assert "验证码不正确" in wrong.text
    done = borrower.client.post(
        "/identity",
        data={
            **fields,
            "challenge_id": challenge[1],
            "code": borrower.last_code(PHONE),
            "csrf": borrower.csrf(text),
        },
        follow_redirects=False,
    )
    assert done.status_code == 303, done.text
    assert borrower.client.get("/status").status_code == 200


def test_an_expired_session_returns_to_sign_in_keeping_the_phone(borrower: Borrower) -> None:
    borrower.sign_in()
    csrf = borrower.csrf(borrower.client.get("/identity").text)
    borrower.client.cookies.set(SESSION_COOKIE, "rns_expired")
    answer = borrower.client.post(
        "/identity", data={"name": NAME, "id_number": ID_NUMBER, "phone": PHONE, "csrf": csrf}
    )
    assert answer.status_code == 401
    assert "登录已过期" in answer.text
    assert f'value="{PHONE}"' in answer.text
    assert ID_NUMBER not in answer.text
    redirect = borrower.client.get("/status", follow_redirects=False)
    assert redirect.status_code == 303
    assert redirect.headers["location"].startswith("/?expired=1")


def test_signing_out_revokes_the_session(borrower: Borrower) -> None:
    borrower.sign_in()
    page = borrower.client.get("/consent")
    borrower.client.post("/sign-out", data={"csrf": borrower.csrf(page.text)})
    assert borrower.client.get("/status", follow_redirects=False).status_code == 303


@pytest.mark.parametrize("borrower", ["carrier-times-out"], indirect=True)
def test_the_status_refreshes_itself_while_an_authority_is_down(borrower: Borrower) -> None:
    borrower.sign_in()
    borrower.consent(["id", "phone"])
    borrower.submit(name=NAME, id_number=ID_NUMBER, phone=PHONE)
    status = borrower.client.get("/status")
    assert 'id="cause-PROVIDER_UNAVAILABLE"' in status.text
    assert '<meta http-equiv="refresh" content="15">' in status.text
    assert "暂时无法核验" in status.text


def make_old_account(borrower: Borrower, phone: str) -> None:
    """An account signed up on ``phone`` a year ago (its codes long expired)."""
    import anyio

    from realname.accounts import service as accounts
    from realname.api.deps import transaction
    from realname.web.borrower import web_tenant_id

    context = borrower.client.app.state.context  # type: ignore[attr-defined]
    then = datetime.now(UTC) - timedelta(days=365)
    with context.session_factory() as session, transaction(session):
        tenant = web_tenant_id(session)
        started = anyio.run(
            lambda: accounts.start_signup_or_login(
                session, context.vault, borrower.gateway, tenant, phone, now=then
            )
        )
        accounts.complete(
            session,
            context.vault,
            tenant_id=tenant,
            phone=phone,
            challenge_id=started.challenge_id,
            code=borrower.last_code(phone),
            now=then,
        )


@pytest.mark.parametrize("borrower", ["registered-twice-with-new-number"], indirect=True)
def test_the_other_account_is_linked_after_a_code_on_its_phone(borrower: Borrower) -> None:
    make_old_account(borrower, PHONE)
    borrower.sign_in("18612349999")  # today's account
    page = borrower.client.get("/link")
    assert page.status_code == 200
    same = borrower.client.post(
        "/link/code", data={"phone": "18612349999", "csrf": borrower.csrf(page.text)}
    )
    assert same.status_code == 422
    assert "这是您当前登录的号码" in same.text
    missing = borrower.client.post("/link/code", data={"phone": PHONE})
    assert missing.status_code == 403
    code_page = borrower.client.post(
        "/link/code", data={"phone": PHONE, "csrf": borrower.csrf(page.text)}
    )
    assert code_page.status_code == 200, code_page.text
    assert "139****5678" in code_page.text
    challenge = re.search(r'name="challenge_id" value="([^"]+)"', code_page.text)
    assert challenge is not None
    fields = {"phone": PHONE, "challenge_id": challenge[1], "csrf": borrower.csrf(page.text)}
    wrong = borrower.client.post("/link/verify", data={**fields, "code": "000000"})
    assert wrong.status_code == 400
    assert "验证码不正确" in wrong.text
    code = borrower.last_code(PHONE)
    done = borrower.client.post("/link/verify", data={**fields, "code": code})
    assert done.status_code == 200, done.text
    assert "账号已关联" in done.text
    again = borrower.client.post("/link/verify", data={**fields, "code": code})
    assert "账号已关联" in again.text  # a double submit is harmless
    assert PHONE not in done.text.replace(f'value="{PHONE}"', "")


def test_the_status_links_every_remedy_and_support(borrower: Borrower) -> None:
    borrower.sign_in()
    borrower.consent(["id", "phone"])
    borrower.submit(name=NAME, id_number=ID_NUMBER, phone=PHONE)
    status = borrower.client.get("/status")
    assert 'href="/phone/change?lang=zh-CN"' in status.text
    assert 'href="/link?lang=zh-CN"' in status.text
    assert 'href="/support?lang=zh-CN"' in status.text
    support = borrower.client.get("/support?lang=en")
    assert "Contact support" in support.text
    assert 'href="/help/PHONE_OWNED_BY_OTHER?lang=en"' in support.text


def test_the_status_lists_needed_factors_not_yet_attempted() -> None:
    from realname.verification.levels import Level
    from realname.web.borrower import missing_factors

    assert missing_factors(set(), Level.L2) == ["id_two_element", "bound_channel"]
    assert missing_factors({"id_two_element", "bank_card_four_element"}, Level.L3) == ["face"]
    assert missing_factors({"id_two_element", "carrier_three_element"}, Level.L2) == []
