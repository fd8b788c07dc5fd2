"""The v1 users API end to end: SMS sign-in, consent, identity submission, status."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from realname.api.app import create_app
from realname.api.context import AppContext
from realname.authorities.protocol import Check
from realname.authorities.sandbox import SandboxProvider, load_fixture_file
from realname.authorities.sandbox.sms import SandboxSmsGateway
from realname.config import Settings
from tests.api.test_app import _issue_key

FIXTURE = load_fixture_file(
    Path(__file__).resolve().parents[1] / "data" / "scenarios" / "public.yaml"
)


class World:
    def __init__(self, client: TestClient, gateway: SandboxSmsGateway, key: str) -> None:
        self.client = client
        self.gateway = gateway
        self.headers = {"Authorization": f"Bearer {key}"}

    def sign_in(self, phone: str) -> str:
        started = self.client.post("/v1/users/sign-in", json={"phone": phone}, headers=self.headers)
        assert started.status_code == 200, started.text
        text = self.gateway.messages_to(phone)[-1].text
        code = re.search(r"\d{6}", text)
        assert code is not None
        done = self.client.post(
            "/v1/users/sign-in/verify",
            json={"phone": phone, "challenge_id": started.json()["challenge_id"], "code": code[0]},
            headers=self.headers,
        )
        assert done.status_code == 200, done.text
        user_id: str = done.json()["user_id"]
        return user_id

    def consent(self, user_id: str, kinds: list[str]) -> None:
        response = self.client.post(
            f"/v1/users/{user_id}/consents", json={"kinds": kinds}, headers=self.headers
        )
        assert response.status_code == 200, response.text


@pytest.fixture
def world(request: pytest.FixtureRequest, settings: Settings) -> Iterator[World]:
    scenario = FIXTURE.scenario(request.param)
    provider = SandboxProvider.for_scenario(scenario, today=FIXTURE.today_for(scenario))
    gateway = SandboxSmsGateway(provider.store, provider.world_id)
    context = AppContext.from_settings(settings, provider=provider, sms=gateway)
    key = _issue_key(settings, ["users:write", "users:read"])
    with TestClient(create_app(settings, context), raise_server_exceptions=False) as client:
        yield World(client, gateway, key)
    context.engine.dispose()


@pytest.mark.parametrize("world", ["happy-l2-phone"], indirect=True)
def test_a_borrower_reaches_l2_through_the_api(world: World) -> None:
    user = world.sign_in("13912345678")
    world.consent(user, ["id", "phone"])
    response = world.client.post(
        f"/v1/users/{user}/verifications",
        json={"name": "王小明", "id_number": "110105199003071239", "phone": "13912345678"},
        headers=world.headers,
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["level"], body["needed"], body["verified"]) == ("L2", "L2", True)
    assert body["causes"] == []
    status = world.client.get(f"/v1/users/{user}/status", headers=world.headers).json()
    assert status["level"] == "L2"
    assert "王小明" not in response.text
    assert "110105199003071239" not in response.text


@pytest.mark.parametrize("world", ["phone-of-a-parent"], indirect=True)
def test_the_status_explains_a_parents_phone_with_remedies(world: World) -> None:
    user = world.sign_in("13912345678")
    world.consent(user, ["id", "phone", "bank_card"])
    response = world.client.post(
        f"/v1/users/{user}/verifications?lang=en",
        json={"name": "王小明", "id_number": "110105199003071239", "phone": "13912345678"},
        headers=world.headers,
    )
    body = response.json()
    assert body["level"] == "L1"
    [cause] = body["causes"]
    assert cause["code"] == "PHONE_OWNED_BY_OTHER"
    assert cause["severity"] == "blocking"
    assert "someone else" in cause["message"]
    assert [r["id"] for r in cause["remedies"]][:2] == ["use_bank_card", "change_phone"]
    zh = world.client.get(f"/v1/users/{user}/status", headers=world.headers).json()
    assert zh["causes"][0]["title"] == "手机号登记在他人名下"


@pytest.mark.parametrize("world", ["happy-l2-phone"], indirect=True)
def test_without_phone_consent_the_carrier_is_not_asked(world: World) -> None:
    user = world.sign_in("13912345678")
    world.consent(user, ["id"])
    body = world.client.post(
        f"/v1/users/{user}/verifications",
        json={"name": "王小明", "id_number": "110105199003071239", "phone": "13912345678"},
        headers=world.headers,
    ).json()
    assert body["level"] == "L1"
    assert [c["code"] for c in body["causes"]] == ["CONSENT_MISSING"]
    assert body["causes"][0]["details"] == {"kinds": ["phone"]}


@pytest.mark.parametrize("world", ["happy-l2-phone"], indirect=True)
def test_a_typo_in_the_id_number_says_which_part(world: World) -> None:
    user = world.sign_in("13912345678")
    world.consent(user, ["id", "phone"])
    body = world.client.post(
        f"/v1/users/{user}/verifications",
        json={"name": "王小明", "id_number": "110105199003071238", "phone": "13912345678"},
        headers=world.headers,
    ).json()
    assert body["level"] == "L0"
    assert body["causes"][0]["code"] == "ID_NUMBER_INVALID"
    assert body["causes"][0]["details"] == {"part": "checksum"}


@pytest.mark.parametrize("world", ["happy-l2-phone"], indirect=True)
def test_wrong_codes_are_counted_and_lock_the_code(world: World) -> None:
    started = world.client.post(
        "/v1/users/sign-in", json={"phone": "13912345678"}, headers=world.headers
    ).json()
    answers = []
    for _ in range(6):
        answers.append(
            world.client.post(
                "/v1/users/sign-in/verify",
                json={
                    "phone": "13912345678",
                    "challenge_id": started["challenge_id"],
                    "code": "000000",
                },
                headers=world.headers,
            )
        )
    codes = [a.json()["code"] for a in answers]
    assert codes[0] == "OTP_INVALID"
    assert codes[-1] == "OTP_ATTEMPTS_EXCEEDED"
    assert all(a.headers["content-type"] == "application/problem+json" for a in answers)


@pytest.mark.parametrize("world", ["happy-l2-phone"], indirect=True)
def test_unknown_users_and_bad_bodies_are_problems(world: World) -> None:
    missing = world.client.get("/v1/users/nope/status", headers=world.headers)
    assert missing.status_code == 404
    user = world.sign_in("13912345678")
    no_result = world.client.get(f"/v1/users/{user}/status", headers=world.headers)
    assert no_result.status_code == 404
    bad = world.client.post(
        f"/v1/users/{user}/verifications", json={"name": "王小明"}, headers=world.headers
    )
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["field"] == "id_number"
    product = world.client.post(
        f"/v1/users/{user}/verifications",
        json={"product": "nope", "name": "王小明", "id_number": "110105199003071239"},
        headers=world.headers,
    )
    assert product.status_code == 400
    assert product.json()["field"] == "product"


@pytest.mark.parametrize("world", ["name-typo"], indirect=True)
def test_repeated_failures_lock_further_attempts_without_asking_anyone(world: World) -> None:
    user = world.sign_in("13912345678")
    world.consent(user, ["id", "phone"])
    wrong = {"name": "王晓明", "id_number": "110105199003071239", "phone": "13912345678"}
    codes = []
    for _ in range(6):
        body = world.client.post(
            f"/v1/users/{user}/verifications",
            json=wrong,
            headers={**world.headers, "X-Device-Id": "device-1"},
        ).json()
        codes.append([c["code"] for c in body["causes"]])
    assert codes[:5] == [["NAME_ID_MISMATCH"]] * 5
    assert codes[5] == ["ATTEMPTS_LOCKED"]
    assert "until" in body["causes"][0]["details"]
    context: AppContext = world.client.app.state.context  # type: ignore[attr-defined]
    ledger = context.provider.ledger  # type: ignore[attr-defined]
    # Five attempts asked the registry; the locked sixth asked nobody.
    assert ledger.of(Check.ID_TWO_ELEMENT).calls == 5


@pytest.mark.parametrize("world", ["happy-l2-phone"], indirect=True)
def test_a_withdrawn_consent_stops_the_phone_check(world: World) -> None:
    user = world.sign_in("13912345678")
    world.consent(user, ["id", "phone"])
    left = world.client.delete(f"/v1/users/{user}/consents/phone", headers=world.headers)
    assert left.status_code == 200
    assert left.json() == {"active": ["id"]}
    body = world.client.post(
        f"/v1/users/{user}/verifications",
        json={"name": "王小明", "id_number": "110105199003071239", "phone": "13912345678"},
        headers=world.headers,
    ).json()
    assert [c["code"] for c in body["causes"]] == ["CONSENT_MISSING"]
    bad = world.client.delete(f"/v1/users/{user}/consents/dna", headers=world.headers)
    assert bad.status_code == 422


@pytest.mark.parametrize("world", ["happy-l2-phone"], indirect=True)
def test_a_developer_reads_the_sandbox_sms_inbox(world: World, settings: Settings) -> None:
    world.client.post("/v1/users/sign-in", json={"phone": "13912345678"}, headers=world.headers)
    sandbox_key = {"Authorization": f"Bearer {_issue_key(settings, ['sandbox:read'])}"}
    inbox = world.client.post(
        "/v1/sandbox/sms/inbox", json={"phone": "139 1234 5678"}, headers=sandbox_key
    )
    assert inbox.status_code == 200
    [message] = inbox.json()["messages"]
    assert re.search(r"\d{6}", message["text"])
    assert message["delivered"] is True
    denied = world.client.post(
        "/v1/sandbox/sms/inbox", json={"phone": "13912345678"}, headers=world.headers
    )
    assert denied.status_code == 403


@pytest.mark.parametrize("world", ["happy-l2-phone"], indirect=True)
def test_resubmitting_the_same_elements_stores_nothing_new(world: World) -> None:
    from sqlalchemy import func, select

    from realname.store.models import IdentityElement

    user = world.sign_in("13912345678")
    world.consent(user, ["id", "phone"])
    context: AppContext = world.client.app.state.context  # type: ignore[attr-defined]
    submission = {"name": "王小明", "id_number": "110105199003071239", "phone": "13912345678"}
    counts = []
    for _ in range(2):
        world.client.post(f"/v1/users/{user}/verifications", json=submission, headers=world.headers)
        with context.session_factory() as session:
            counts.append(session.scalar(select(func.count()).select_from(IdentityElement)))
    assert counts[0] == counts[1] == 3


@pytest.mark.parametrize("world", ["happy-l2-phone"], indirect=True)
def test_erasure_on_request_removes_every_trace(world: World, settings: Settings) -> None:
    from sqlalchemy import func, select

    from realname.store.models import Account, AccountSession, IdentityElement, Person

    user = world.sign_in("13912345678")
    world.consent(user, ["id", "phone"])
    world.client.post(
        f"/v1/users/{user}/verifications",
        json={"name": "王小明", "id_number": "110105199003071239", "phone": "13912345678"},
        headers=world.headers,
    )
    from realname.store.repositories.tenants import issue_api_key

    context: AppContext = world.client.app.state.context  # type: ignore[attr-defined]
    tenant = world.client.get("/v1/tenant", headers=world.headers).json()["tenant_id"]
    with context.session_factory() as session:
        _, erase_key = issue_api_key(session, tenant, ["users:erase", "users:read"])
        session.commit()
    eraser = {"Authorization": f"Bearer {erase_key}"}
    assert world.client.delete(f"/v1/users/{user}", headers=world.headers).status_code == 403
    erased = world.client.delete(f"/v1/users/{user}", headers=eraser)
    assert erased.status_code == 200, erased.text
    assert erased.json()["erased"] is True
    assert erased.json()["elements_deleted"] == 3
    again = world.client.delete(f"/v1/users/{user}", headers=eraser)
    assert again.status_code == 404

    with context.session_factory() as session:
        account = session.get(Account, user)
        assert account is not None
        assert (account.status, account.phone_ciphertext, account.phone_blind_index) == (
            "erased",
            None,
            None,
        )
        person = session.get(Person, account.person_id)
        assert person is not None
        assert person.wrapped_dek is None
        assert session.scalar(select(func.count()).select_from(IdentityElement)) == 0
        assert session.scalar(select(func.count()).select_from(AccountSession)) == 0
    status = world.client.get(f"/v1/users/{user}/status", headers=eraser).json()
    assert status["account_status"] == "erased"


@pytest.mark.parametrize("world", ["happy-l2-phone"], indirect=True)
def test_the_user_gets_a_copy_of_their_own_data_and_nothing_after_erasure(
    world: World,
) -> None:
    from realname.store.repositories.tenants import issue_api_key

    user = world.sign_in("13912345678")
    world.consent(user, ["id", "phone"])
    verified = world.client.post(
        f"/v1/users/{user}/verifications",
        json={"name": "王小明", "id_number": "110105199003071239", "phone": "13912345678"},
        headers=world.headers,
    )
    assert verified.json()["level"] == "L2", verified.text
    context: AppContext = world.client.app.state.context  # type: ignore[attr-defined]
    tenant = world.client.get("/v1/tenant", headers=world.headers).json()["tenant_id"]
    with context.session_factory() as session:
        _, key = issue_api_key(session, tenant, ["users:export", "users:erase"])
        session.commit()
    exporter = {"Authorization": f"Bearer {key}"}

    assert world.client.get(f"/v1/users/{user}/export", headers=world.headers).status_code == 403
    response = world.client.get(f"/v1/users/{user}/export", headers=exporter)
    assert response.status_code == 200, response.text
    copy = response.json()
    # The subject's own data comes back whole, not masked.
    assert copy["identity"]["name"] == "王小明"
    assert copy["identity"]["id_number"] == "110105199003071239"
    (account,) = copy["accounts"]
    assert account["phone"] == "13912345678"
    assert account["verification_results"][-1]["level_reached"] == "L2"
    # Which authorities were asked about them, and what they answered.
    assert {"id_two_element", "carrier_three_element"} <= {c["check"] for c in account["checks"]}
    assert {c["kind"] for c in copy["consents"]} == {"id", "phone"}
    assert "user.exported" not in {e["action"] for e in copy["audit"]}  # the copy is then audited

    again = world.client.get(f"/v1/users/{user}/export", headers=exporter).json()
    assert "user.exported" in {e["action"] for e in again["audit"]}

    assert world.client.delete(f"/v1/users/{user}", headers=exporter).status_code == 200
    gone = world.client.get(f"/v1/users/{user}/export", headers=exporter)
    assert gone.status_code == 410
    assert gone.json()["code"] == "DATA_ERASED"


@pytest.mark.parametrize("world", ["happy-l2-phone"], indirect=True)
def test_submitting_identity_needs_a_known_key_with_the_write_scope(
    world: World, settings: Settings
) -> None:
    user = world.sign_in("13912345678")
    world.consent(user, ["id", "phone"])
    path = f"/v1/users/{user}/verifications"
    body = {"name": "王小明", "id_number": "110105199003071239", "phone": "13912345678"}
    missing = world.client.post(path, json=body)
    unknown = world.client.post(path, json=body, headers={"Authorization": "Bearer rk_nope"})
    read_only = {"X-Api-Key": _issue_key(settings, ["users:read"])}
    denied = world.client.post(path, json=body, headers=read_only)
    assert (missing.status_code, missing.json()["code"]) == (401, "UNAUTHORIZED")
    assert (unknown.status_code, unknown.json()["code"]) == (401, "UNAUTHORIZED")
    assert (denied.status_code, denied.json()["code"]) == (403, "FORBIDDEN")
    assert denied.json()["scope"] == "users:write"
    assert denied.headers["content-type"] == "application/problem+json"
    # The same key through X-Api-Key, with the write scope: admitted.
    writer = {"X-Api-Key": world.headers["Authorization"].removeprefix("Bearer ")}
    admitted = world.client.post(path, json=body, headers=writer, params={"lang": "en"})
    assert admitted.status_code == 200, admitted.text
    assert admitted.json()["level"] == "L2"
    wrong_lang = world.client.post(path, json=body, headers=writer, params={"lang": "fr"})
    assert wrong_lang.status_code == 422
    assert [e["field"] for e in wrong_lang.json()["errors"]] == ["query.lang"]


@pytest.mark.parametrize("world", ["happy-l2-phone"], indirect=True)
def test_the_answer_to_a_verification_is_built_after_its_commit(
    world: World, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another process can write while the answer is being built: the verification's
    transaction (which holds SQLite's write lock) has ended by then."""
    import sqlite3

    from realname.api.routers import users as users_router

    build = users_router._submitted_out
    lock: list[str] = []

    def probing(*args: Any) -> Any:
        other = sqlite3.connect(settings.var_dir / "api.db", timeout=0, isolation_level=None)
        try:
            other.execute("BEGIN IMMEDIATE")
            other.execute("ROLLBACK")
            lock.append("free")
        except sqlite3.OperationalError:
            lock.append("held")
        finally:
            other.close()
        return build(*args)

    monkeypatch.setattr(users_router, "_submitted_out", probing)
    user = world.sign_in("13912345678")
    world.consent(user, ["id", "phone"])
    response = world.client.post(
        f"/v1/users/{user}/verifications",
        json={"name": "王小明", "id_number": "110105199003071239", "phone": "13912345678"},
        headers=world.headers,
    )
    assert response.status_code == 200, response.text
    assert response.json()["level"] == "L2"
    assert lock == ["free"]
