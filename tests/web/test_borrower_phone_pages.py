"""Change phone, link the other account, contact support: the pages via a TestClient.

The world is the one of ``tests/api/test_phone_change.py``: 王小明 verified L2 on
139 1234 5678 in 2024; the carrier re-issued that number to 李秀英 in September 2026;
王小明 now uses 186 1234 9999 (in his name, with a card whose reserved phone it is).
"""

from __future__ import annotations

import base64
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from realname.api.app import create_app
from realname.api.context import AppContext
from realname.authorities.face import LocalFaceEngine, face_capture
from realname.authorities.sandbox import SandboxProvider
from realname.authorities.sandbox.sms import SandboxSmsGateway
from realname.config import Settings
from realname.store.db import upgrade
from realname.store.models import Account
from realname.store.repositories.bindings import list_bindings
from realname.store.repositories.checks import record_result
from realname.verification.levels import Level
from realname.verification.policy import ProductPolicy
from realname.web.borrower import SESSION_COOKIE
from realname.web.borrower_phone import step_up_needed
from tests.api.test_phone_change import FIXTURE
from tests.web.test_borrower_pages import Borrower

OLD, NEW = "13912345678", "18612349999"
NAME, ID_NUMBER = "王小明", "110105199003071239"
WORLD = FIXTURE  # the re-issued number and the new phone of tests/api/test_phone_change.py


@dataclass
class World:
    borrower: Borrower
    context: AppContext

    @property
    def client(self) -> TestClient:
        return self.borrower.client

    def user_id(self) -> str:
        with self.context.session_factory() as session:
            account = session.query(Account).one()
            return account.id


def make_world(tmp_path: Path) -> Iterator[World]:
    settings = Settings(var_dir=tmp_path, database_url=f"sqlite:///{tmp_path / 'web.db'}")
    upgrade(settings.resolved_database_url)
    scenario = WORLD.scenarios[0]
    provider = SandboxProvider.for_scenario(scenario, today=WORLD.today_for(scenario))
    provider.face_engine = LocalFaceEngine()
    gateway = SandboxSmsGateway(provider.store, provider.world_id)
    context = AppContext.from_settings(settings, provider=provider, sms=gateway)
    with TestClient(create_app(settings, context), raise_server_exceptions=False) as client:
        yield World(Borrower(client, gateway), context)
    context.engine.dispose()


def verified_in_2024(context: AppContext, user_id: str) -> None:
    """The platform's history: this account verified L2 on the old number in 2024."""
    with context.session_factory() as session:
        record_result(
            session,
            account_id=user_id,
            level_reached="L2",
            level_needed="L2",
            bound_phone_index=context.vault.blind_index("phone", OLD),
            product="default",
            verified_at=datetime(2024, 1, 10, tzinfo=UTC),
        )
        session.commit()


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    yield from make_world(tmp_path)


@pytest.fixture
def locked(world: World) -> World:
    """Signed in on the old number, which the re-check found re-issued."""
    world.borrower.sign_in(OLD)
    world.borrower.consent(["id", "phone"])
    verified_in_2024(world.context, world.user_id())
    done = world.borrower.submit(name=NAME, id_number=ID_NUMBER, phone=OLD)
    assert done.status_code == 303, done.text
    return world


def csrf(world: World, path: str = "/phone/change") -> str:
    return world.borrower.csrf(world.client.get(path).text)


def send_code(world: World, phone: str = NEW) -> str:
    page = world.client.post("/phone/change/code", data={"new_phone": phone, "csrf": csrf(world)})
    assert page.status_code == 200, page.text
    assert "/v1/sandbox/sms/inbox" in page.text  # the sandbox note, as at sign-in
    assert world.borrower.last_code(phone) not in page.text
    found = re.search(r'name="challenge_id" value="([^"]+)"', page.text)
    assert found is not None
    return found[1]


def answer(world: World, challenge: str, code: str | None = None) -> str:
    page = world.client.post(
        "/phone/change/verify",
        data={
            "new_phone": NEW,
            "challenge_id": challenge,
            "code": code or world.borrower.last_code(NEW),
            "csrf": csrf(world),
        },
    )
    assert page.status_code == 200, page.text
    return page.text


def face_fields() -> dict[str, str]:
    capture = face_capture("live:p1")
    return {
        "face": base64.b64encode(capture.content).decode(),
        "face_type": capture.media_type,
    }


def test_the_status_page_explains_the_lock_and_offers_the_change(locked: World) -> None:
    status = locked.client.get("/status")
    assert 'id="locked"' in status.text
    assert "二次放号" in status.text
    assert 'id="locked-change-phone" href="/phone/change?lang=zh-CN"' in status.text
    assert 'id="cause-PHONE_RECYCLED"' in status.text
    assert 'href="/phone/change?lang=zh-CN">更换绑定手机号' in status.text
    assert 'href="/help/PHONE_RECYCLED?lang=zh-CN"' in status.text
    assert "未实名认证" in status.text
    for secret in (OLD, ID_NUMBER, NAME):
        assert secret not in status.text
    english = locked.client.get("/status?lang=en")
    assert "Sensitive actions are paused" in english.text


def test_a_locked_borrower_changes_phone_with_a_face_and_is_unlocked(locked: World) -> None:
    start = locked.client.get("/phone/change")
    assert "139****5678" in start.text
    assert OLD not in start.text
    assert 'id="locked"' in start.text

    challenge = send_code(locked)
    step_up = answer(locked, challenge)
    assert 'id="face_file"' in step_up
    assert 'id="consent-face"' in step_up  # separate face consent, with its purpose
    assert "活体检测" in step_up

    no_face = locked.client.post(
        "/phone/change/confirm",
        data={"new_phone": NEW, "name": NAME, "id_number": ID_NUMBER, "csrf": csrf(locked)},
    )
    assert no_face.status_code == 422
    assert 'id="face-error"' in no_face.text
    assert "请拍摄一张人脸照片" in no_face.text

    fields = {
        "new_phone": NEW,
        "name": NAME,
        "id_number": ID_NUMBER,
        "consents": ["face"],
        **face_fields(),
    }
    done = locked.client.post(
        "/phone/change/confirm", data={**fields, "csrf": csrf(locked)}, follow_redirects=False
    )
    assert done.status_code == 303, done.text
    assert done.headers["location"] == "/phone/changed?lang=zh-CN"
    again = locked.client.post(
        "/phone/change/confirm", data={**fields, "csrf": csrf(locked)}, follow_redirects=False
    )
    assert again.status_code == 303  # a double submit lands on the same result

    result = locked.client.get("/phone/changed")
    assert "186****9999" in result.text
    assert "139****5678" in result.text  # the old binding, kept in history and masked
    for secret in (OLD, NEW, ID_NUMBER):
        assert secret not in result.text
    status = locked.client.get("/status")
    assert 'id="locked"' not in status.text
    assert 'id="level">L3<' in status.text
    assert "已完成实名认证" in status.text
    with locked.context.session_factory() as session:
        bindings = list_bindings(session, locked.user_id())
        account = session.query(Account).one()
        assert account.status == "active"
    assert [b.reason for b in bindings] == ["signup", "phone_change"]


def test_a_wrong_code_an_invalid_or_same_number_get_field_errors(locked: World) -> None:
    invalid = locked.client.post(
        "/phone/change/code?lang=en", data={"new_phone": "12345", "csrf": csrf(locked)}
    )
    assert invalid.status_code == 422
    assert 'id="new_phone-error"' in invalid.text
    assert "11 digits" in invalid.text
    assert 'value="12345"' in invalid.text  # kept in its field
    same = locked.client.post("/phone/change/code", data={"new_phone": OLD, "csrf": csrf(locked)})
    assert same.status_code == 422
    assert "这已经是您绑定的手机号" in same.text
    assert locked.borrower.gateway.messages_to(NEW) == []

    challenge = send_code(locked)
    wrong = locked.client.post(
        "/phone/change/verify",
        data={"new_phone": NEW, "challenge_id": challenge, "code": "000000", "csrf": csrf(locked)},
    )
    assert wrong.status_code == 400
    assert "验证码不正确" in wrong.text
    short = locked.client.post(
        "/phone/change/verify",
        data={"new_phone": NEW, "challenge_id": challenge, "code": "12", "csrf": csrf(locked)},
    )
    assert short.status_code == 422
    assert "请输入 6 位数字验证码" in short.text


def test_bad_identity_fields_name_the_wrong_part(locked: World) -> None:
    answer(locked, send_code(locked))
    typo = locked.client.post(
        "/phone/change/confirm?lang=en",
        data={
            "new_phone": NEW,
            "name": NAME,
            "id_number": ID_NUMBER[:-1] + "8",
            "consents": ["face"],
            **face_fields(),
            "csrf": csrf(locked),
        },
    )
    assert typo.status_code == 422
    assert "check character" in typo.text
    bad_face = locked.client.post(
        "/phone/change/confirm",
        data={
            "new_phone": NEW,
            "name": NAME,
            "id_number": ID_NUMBER,
            "face": "%%%",
            "face_type": "image/png",
            "csrf": csrf(locked),
        },
    )
    assert bad_face.status_code == 422
    assert "无法读取这张照片" in bad_face.text
    assert "请勾选同意后再继续" in bad_face.text  # no face consent yet


def test_a_double_submitted_code_is_harmless(locked: World) -> None:
    challenge = send_code(locked)
    assert send_code(locked) == challenge  # the form sent twice: one SMS, the same code
    assert len(locked.borrower.gateway.messages_to(NEW)) == 1
    code = locked.borrower.last_code(NEW)
    first = answer(locked, challenge, code)
    second = answer(locked, challenge, code)
    assert 'id="step-up-form"' in first
    assert 'id="step-up-form"' in second


def test_posts_without_the_csrf_token_are_refused(locked: World) -> None:
    for path, data in (
        ("/phone/change/code", {"new_phone": NEW}),
        ("/phone/change/verify", {"new_phone": NEW, "challenge_id": "x", "code": "123456"}),
        ("/phone/change/confirm", {"new_phone": NEW, "name": NAME, "id_number": ID_NUMBER}),
    ):
        refused = locked.client.post(path, data={**data, "csrf": "0" * 32})
        assert refused.status_code == 403, path
        assert "页面已过期" in refused.text
    assert locked.borrower.gateway.messages_to(NEW) == []


def test_an_expired_session_returns_to_the_change_after_sign_in(locked: World) -> None:
    token = csrf(locked)
    locked.client.cookies.set(SESSION_COOKIE, "rns_expired")
    answer_page = locked.client.post(
        "/phone/change/code?lang=en", data={"new_phone": NEW, "csrf": token}
    )
    assert answer_page.status_code == 401
    assert "Your session has expired" in answer_page.text
    assert 'lang="en"' in answer_page.text  # the language is kept
    assert 'name="next" value="/phone/change"' in answer_page.text  # and where they were
    assert NEW not in answer_page.text  # the new number is personal data: not kept
    redirect = locked.client.get("/phone/change", follow_redirects=False)
    assert redirect.headers["location"] == "/?expired=1&lang=zh-CN&next=/phone/change"
    assert (
        'name="next" value="/phone/change"' in locked.client.get(redirect.headers["location"]).text
    )
    evil = locked.client.get("/?next=https://evil.example/")
    assert "evil" not in evil.text


def test_support_shows_the_reference_and_the_causes(locked: World) -> None:
    page = locked.client.get("/support")
    assert page.status_code == 200
    assert locked.user_id() in page.text
    assert 'href="/help/PHONE_RECYCLED?lang=zh-CN"' in page.text
    assert OLD not in page.text


def test_step_up_needed_follows_the_policy() -> None:
    policy = ProductPolicy(
        name="phone_change", level=Level.L3, alternative_factors=("bank_card", "face")
    )
    assert step_up_needed(policy, locked=False, best=Level.L3).factors == ()
    locked = step_up_needed(policy, locked=True, best=Level.L3)
    assert locked.factors == ("id_two_element", "face")
    assert locked.bank_card  # offered, as the alternative path names it
    lenient = ProductPolicy(name="phone_change", level=Level.L2, alternative_factors=("bank_card",))
    assert step_up_needed(lenient, locked=False, best=Level.L1).factors == (
        "id_two_element",
        "bank_card",
    )
    assert step_up_needed(lenient, locked=False, best=Level.L2).factors == ()


def test_an_l3_account_not_locked_needs_only_the_new_numbers_code(world: World) -> None:
    world.borrower.sign_in(OLD)
    with world.context.session_factory() as session:
        record_result(
            session,
            account_id=world.user_id(),
            level_reached="L3",
            level_needed="L3",
            bound_phone_index=world.context.vault.blind_index("phone", OLD),
            product="credit_large",
            verified_at=datetime(2026, 11, 1, tzinfo=UTC),
        )
        session.commit()
    step_up = answer(world, send_code(world))
    assert "您的账户已达到所需等级" in step_up
    assert 'id="name"' not in step_up
    assert 'id="face_file"' not in step_up
    done = world.client.post(
        "/phone/change/confirm",
        data={"new_phone": NEW, "csrf": csrf(world)},
        follow_redirects=False,
    )
    assert done.status_code == 303, done.text
    assert "186****9999" in world.client.get("/phone/changed").text


def test_a_face_factor_not_yet_done_links_to_the_face_page(world: World) -> None:
    world.borrower.sign_in(NEW)
    with world.context.session_factory() as session:
        record_result(
            session,
            account_id=world.user_id(),
            level_reached="L0",
            level_needed="L3",
            product="credit_large",
        )
        session.commit()
    status = world.client.get("/status")
    assert re.search(
        r'人脸核身</span><a class="state" href="/face\?lang=zh-CN">尚未进行', status.text
    )
    assert "身份证二要素核验" in status.text
