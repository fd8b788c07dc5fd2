"""A borrower whose number was re-issued is locked, then changes phone with step-up."""

from __future__ import annotations

import base64
import re
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient

from realname.api.app import create_app
from realname.api.context import AppContext
from realname.authorities.face import face_capture
from realname.authorities.sandbox import SandboxProvider, parse_fixture
from realname.authorities.sandbox.sms import SandboxSmsGateway
from realname.config import Settings
from realname.store.models import Account
from realname.store.repositories.bindings import list_bindings
from realname.store.repositories.checks import record_result
from tests.api.test_app import _issue_key
from tests.api.test_users import World

FIXTURE = parse_fixture(
    """
today: 2026-12-01
scenarios:
  - id: reissued-then-new-phone
    registry:
      citizens:
        - ref: a
          name: 王小明
          id_number: "110105199003071239"
          valid_until: 2031-05-01
          portrait: p1
        - {ref: b, name: 李秀英, id_number: "31010419650412245X", valid_until: 2029-01-01}
      phones:
        - {number: "13912345678", carrier: cmcc, owner: b, status: normal, owner_since: 2026-09-15}
        - {number: "18612349999", carrier: cucc, owner: a, status: normal, owner_since: 2025-02-01}
      bank_cards:
        - {number: "6222020200112230004", owner: a, reserved_phone: "18612349999", status: normal}
    submit: {name: 王小明, id_number: "110105199003071239", phone: "13912345678"}
    product_level: L2
    expect: {level: L1, causes: [PHONE_RECYCLED]}
""",
    file="inline",
)
IDENTITY = {"name": "王小明", "id_number": "110105199003071239"}


@pytest.fixture
def world(settings: Settings) -> Iterator[World]:
    scenario = FIXTURE.scenarios[0]
    provider = SandboxProvider.for_scenario(scenario, today=FIXTURE.today_for(scenario))
    from realname.authorities.face import LocalFaceEngine

    provider.face_engine = LocalFaceEngine()
    gateway = SandboxSmsGateway(provider.store, provider.world_id)
    context = AppContext.from_settings(settings, provider=provider, sms=gateway)
    key = _issue_key(settings, ["users:write", "users:read"])
    with TestClient(create_app(settings, context), raise_server_exceptions=False) as client:
        client.app_context = context  # type: ignore[attr-defined]
        yield World(client, gateway, key)
    context.engine.dispose()


def _prove(world: World, user: str, phone: str) -> None:
    started = world.client.post(
        f"/v1/users/{user}/phones/challenge", json={"phone": phone}, headers=world.headers
    )
    assert started.status_code == 200, started.text
    code = re.search(r"\d{6}", world.gateway.messages_to(phone)[-1].text)
    assert code is not None
    proved = world.client.post(
        f"/v1/users/{user}/phones/prove",
        json={"challenge_id": started.json()["challenge_id"], "code": code[0]},
        headers=world.headers,
    )
    assert proved.status_code == 200, proved.text


def _face() -> dict[str, str]:
    capture = face_capture("live:p1")
    return {
        "media_type": capture.media_type,
        "content_base64": base64.b64encode(capture.content).decode(),
    }


def test_a_reissued_number_locks_the_account_until_the_phone_is_changed(world: World) -> None:
    user = world.sign_in("13912345678")
    world.consent(user, ["id", "phone", "bank_card", "face"])
    context: AppContext = world.client.app_context  # type: ignore[attr-defined]
    with context.session_factory() as session:
        # The platform's history: this account verified L2 on this number in 2024.
        record_result(
            session,
            account_id=user,
            level_reached="L2",
            level_needed="L2",
            bound_phone_index=context.vault.blind_index("phone", "13912345678"),
            product="default",
            verified_at=datetime(2024, 1, 10, tzinfo=UTC),
        )
        session.commit()

    body = world.client.post(
        f"/v1/users/{user}/verifications",
        json={**IDENTITY, "phone": "13912345678"},
        headers=world.headers,
    ).json()
    assert body["level"] == "L1"
    assert [c["code"] for c in body["causes"]] == ["PHONE_RECYCLED"]
    assert body["account_status"] == "locked_recycled"
    assert body["verified"] is False

    # Changing phone needs the new number proven by SMS first ...
    refused = world.client.post(
        f"/v1/users/{user}/phone-change",
        json={"new_phone": "18612349999", **IDENTITY},
        headers=world.headers,
    )
    assert refused.status_code == 403
    assert refused.json()["code"] == "STEP_UP_REQUIRED"
    assert refused.json()["factors"] == ["sms_otp"]

    # ... and, with the account locked, full re-verification up to the policy (L3).
    _prove(world, user, "18612349999")
    no_face = world.client.post(
        f"/v1/users/{user}/phone-change",
        json={"new_phone": "18612349999", **IDENTITY},
        headers=world.headers,
    )
    assert no_face.status_code == 403
    assert no_face.json()["code"] == "STEP_UP_REQUIRED"
    assert "face" in no_face.json()["factors"]

    changed = world.client.post(
        f"/v1/users/{user}/phone-change",
        json={"new_phone": "18612349999", **IDENTITY, "face": _face()},
        headers=world.headers,
    )
    assert changed.status_code == 200, changed.text
    assert changed.json() == {"user_id": user, "phone": "186****9999", "stepped_up": True}

    status = world.client.get(f"/v1/users/{user}/status", headers=world.headers).json()
    assert status["account_status"] == "active"
    assert status["level"] == "L3"
    with context.session_factory() as session:
        bindings = list_bindings(session, user)
    assert [b.reason for b in bindings] == ["signup", "phone_change"]
    assert bindings[0].unbound_at is not None
    assert bindings[1].unbound_at is None


def test_a_face_capture_must_be_base64(world: World) -> None:
    user = world.sign_in("18612349999")
    response = world.client.post(
        f"/v1/users/{user}/verifications",
        json={**IDENTITY, "face": {"media_type": "image/png", "content_base64": "%%%"}},
        headers=world.headers,
    )
    assert response.status_code == 400
    assert response.json()["field"] == "face"


def test_a_reissued_number_revokes_the_accounts_credentials(
    world: World, settings: Settings
) -> None:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from sqlalchemy import func, select

    from realname.credentials import service as credentials
    from realname.credentials.sdjwt import public_key_to_jwk
    from realname.store.models import CredentialRevocation, LedgerLeaf, Person
    from realname.store.repositories.people import add_identity_element

    user = world.sign_in("13912345678")
    world.consent(user, ["id", "phone"])
    context: AppContext = world.client.app_context  # type: ignore[attr-defined]
    me = credentials.Institution(
        "did:web:bank-a.test",
        "Bank A",
        "http://bank-a.test",
        context.vault.keyring.index_key,
        quorum=2,
        witness_state=settings.var_dir / "witness.json",
    )
    now = datetime.now(UTC)
    with context.session_factory() as session:
        # This account was verified L2 on this number in 2024, and got a credential.
        record_result(
            session,
            account_id=user,
            level_reached="L2",
            level_needed="L2",
            bound_phone_index=context.vault.blind_index("phone", "13912345678"),
            product="default",
            verified_at=datetime(2024, 1, 10, tzinfo=UTC),
        )
        account = session.get(Account, user)
        assert account is not None
        person = session.get(Person, account.person_id)
        assert person is not None
        add_identity_element(session, context.vault, person, "name", "王小明")
        add_identity_element(session, context.vault, person, "id_number", "110105199003071239")
        holder = public_key_to_jwk(Ed25519PrivateKey.generate().public_key())
        credentials.issue_for_account(session, context.vault, me, account, holder, now=now)
        session.commit()

    body = world.client.post(
        f"/v1/users/{user}/verifications",
        json={**IDENTITY, "phone": "13912345678"},
        headers=world.headers,
    ).json()
    assert [c["code"] for c in body["causes"]] == ["PHONE_RECYCLED"]
    with context.session_factory() as session:
        reasons = session.scalars(select(CredentialRevocation.reason)).all()
        leaves = session.scalar(select(func.count()).select_from(LedgerLeaf))
    assert reasons == ["phone_reissued"]
    assert leaves == 2  # the issuance and its revocation
