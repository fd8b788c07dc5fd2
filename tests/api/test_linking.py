"""IDENTITY_IN_USE's remedy: prove control of the other account by SMS, link, re-verify."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from realname.api.app import create_app
from realname.api.context import AppContext
from realname.authorities.sandbox import SandboxProvider
from realname.authorities.sandbox.sms import SandboxSmsGateway
from realname.config import Settings
from realname.verification.scenarios import seed_platform_accounts
from tests.api.test_app import _issue_key
from tests.api.test_users import FIXTURE, World

SUBMISSION = {"name": "王小明", "id_number": "110105199003071239", "phone": "18612348888"}


def _code(world: World, phone: str) -> str:
    found = re.search(r"\d{6}", world.gateway.messages_to(phone)[-1].text)
    assert found is not None
    return found[0]


def test_linking_the_other_account_turns_identity_in_use_into_a_duplicate(
    settings: Settings,
) -> None:
    scenario = FIXTURE.scenario("identity-verified-elsewhere-by-someone-else")
    provider = SandboxProvider.for_scenario(scenario, today=FIXTURE.today_for(scenario))
    gateway = SandboxSmsGateway(provider.store, provider.world_id)
    context = AppContext.from_settings(settings, provider=provider, sms=gateway)
    key = _issue_key(settings, ["users:write", "users:read"])
    with TestClient(create_app(settings, context), raise_server_exceptions=False) as client:
        world = World(client, gateway, key)
        tenant = client.get("/v1/tenant", headers=world.headers).json()["tenant_id"]
        with context.session_factory() as session:
            other = seed_platform_accounts(session, context.vault, scenario, tenant)["acc1"].id
            session.commit()
        user = world.sign_in("18612348888")
        world.consent(user, ["id", "phone"])
        first = client.post(
            f"/v1/users/{user}/verifications", json=SUBMISSION, headers=world.headers
        ).json()
        assert {c["code"] for c in first["causes"]} == {"IDENTITY_IN_USE", "PHONE_OWNED_BY_OTHER"}

        started = client.post(
            f"/v1/users/{user}/links/challenge",
            json={"other_user_id": other},
            headers=world.headers,
        ).json()
        wrong = client.post(
            f"/v1/users/{user}/links",
            json={"other_user_id": other, "challenge_id": started["challenge_id"], "code": "1"},
            headers=world.headers,
        )
        assert wrong.status_code == 400
        assert wrong.json()["code"] == "OTP_INVALID"
        linked = client.post(
            f"/v1/users/{user}/links",
            json={
                "other_user_id": other,
                "challenge_id": started["challenge_id"],
                "code": _code(world, "13912345678"),
            },
            headers=world.headers,
        )
        assert linked.status_code == 200, linked.text
        assert linked.json()["linked"] == [other]
        assert client.get(f"/v1/users/{other}/links", headers=world.headers).json()["linked"] == [
            user
        ]

        again = client.post(
            f"/v1/users/{user}/verifications", json=SUBMISSION, headers=world.headers
        ).json()
        assert {c["code"] for c in again["causes"]} == {"DUPLICATE_ACCOUNT", "PHONE_OWNED_BY_OTHER"}
    context.engine.dispose()
