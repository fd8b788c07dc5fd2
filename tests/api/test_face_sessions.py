"""Face sessions over HTTP: challenge, frames, result; replays, expiry, consent, bad frames."""

from __future__ import annotations

import base64
import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from realname.api.app import create_app
from realname.api.context import AppContext
from realname.authorities.face import LocalFaceEngine, live_sequence, replay_sequence
from realname.authorities.face.images import encode_jpeg
from realname.authorities.sandbox import SandboxProvider, parse_fixture
from realname.authorities.sandbox.sms import SandboxSmsGateway
from realname.config import Settings
from realname.store.models import Account, FaceSession
from realname.store.repositories.checks import list_checks
from tests.api.test_app import _issue_key
from tests.api.test_users import World

FIXTURE = parse_fixture(
    """
today: 2026-12-01
scenarios:
  - id: face
    registry:
      citizens:
        - ref: a
          name: 王小明
          id_number: "110105199003071239"
          valid_until: 2031-05-01
          portrait: p1
      phones:
        - {number: "13912345678", carrier: cmcc, owner: a, status: normal, owner_since: 2020-09-15}
    submit: {name: 王小明, id_number: "110105199003071239", phone: "13912345678"}
    product_level: L2
    expect: {level: L2, causes: []}
""",
    file="inline",
)
PHONE = "13912345678"
IDENTITY = {"name": "王小明", "id_number": "110105199003071239", "phone": PHONE}


@pytest.fixture
def world(settings: Settings) -> Iterator[World]:
    scenario = FIXTURE.scenarios[0]
    provider = SandboxProvider.for_scenario(scenario, today=FIXTURE.today_for(scenario))
    provider.face_engine = LocalFaceEngine()
    gateway = SandboxSmsGateway(provider.store, provider.world_id)
    context = AppContext.from_settings(settings, provider=provider, sms=gateway)
    key = _issue_key(settings, ["users:write", "users:read"])
    with TestClient(create_app(settings, context), raise_server_exceptions=False) as client:
        client.app_context = context  # type: ignore[attr-defined]
        yield World(client, gateway, key)
    context.engine.dispose()


def _l2_user(world: World, consents: list[str] | None = None) -> str:
    user = world.sign_in(PHONE)
    world.consent(user, consents or ["id", "phone", "face"])
    body = world.client.post(
        f"/v1/users/{user}/verifications", json=IDENTITY, headers=world.headers
    ).json()
    assert body["level"] == "L2", body
    return user


def _frames(images: list[Any]) -> list[dict[str, str]]:
    return [
        {"media_type": "image/jpeg", "content_base64": base64.b64encode(encode_jpeg(i)).decode()}
        for i in images
    ]


def _start(world: World, user: str) -> dict[str, Any]:
    response = world.client.post(f"/v1/users/{user}/face/sessions", json={}, headers=world.headers)
    assert response.status_code == 200, response.text
    started: dict[str, Any] = response.json()
    return started


def _upload(world: World, user: str, started: dict[str, Any], frames: list[Any]) -> Any:
    return world.client.post(
        f"/v1/users/{user}/face/sessions/{started['session_id']}/frames",
        json={"nonce": started["nonce"], "frames": frames},
        headers=world.headers,
    )


def test_a_live_capture_of_the_right_person_reaches_l3_and_cannot_be_replayed(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    user = _l2_user(world)
    started = _start(world, user)
    assert 2 <= len(started["actions"]) <= 3
    assert set(started["actions"]) <= {"blink", "turn_left", "turn_right", "open_mouth"}
    frames = _frames(live_sequence("p1", started["actions"]))

    done = _upload(world, user, started, frames)
    assert done.status_code == 200, done.text
    result = done.json()
    assert result["state"] == "passed"
    assert result["level"] == "L3"
    assert result["causes"] == []
    assert result["result"]["liveness"]["passed"] is True
    assert result["result"]["similarity"] >= 70
    assert [a["action"] for a in result["result"]["liveness"]["actions"]] == started["actions"]
    status = world.client.get(f"/v1/users/{user}/status", headers=world.headers).json()
    assert status["level"] == "L3"
    fetched = world.client.get(
        f"/v1/users/{user}/face/sessions/{started['session_id']}", headers=world.headers
    ).json()
    assert fetched == result

    # The provider's checks are recorded with their cost and raw codes.
    context: AppContext = world.client.app_context  # type: ignore[attr-defined]
    with context.session_factory() as session:
        checks = {c.check_kind: c for c in list_checks(session, user)}
        assert checks["face_compare"].outcome == "match"
        assert checks["face_compare"].raw_code == "Success"
        assert checks["face_compare"].cost_fen > 0
        row = session.get(FaceSession, started["session_id"])
        assert row is not None
        assert row.frames_ciphertext is None

    # Frames are biometric data: no log line carries any part of one.
    assert "request served" in caplog.text
    assert all(frame["content_base64"][100:160] not in caplog.text for frame in frames)
    assert started["nonce"] not in caplog.text

    again = _upload(world, user, started, frames)
    assert again.status_code == 409
    assert again.json()["code"] == "FACE_CHALLENGE_USED"


def test_a_flat_photo_replay_fails_liveness(world: World) -> None:
    user = _l2_user(world)
    started = _start(world, user)
    result = _upload(world, user, started, _frames(replay_sequence("p1"))).json()
    assert result["state"] == "failed"
    assert result["causes"] == ["FACE_LIVENESS_FAILED"]
    assert result["level"] == "L2"
    assert result["result"]["liveness"]["reason"] == "flat_replay"
    assert result["result"]["liveness"]["liveness_info_tag"] == "03"
    status = world.client.get(f"/v1/users/{user}/status", headers=world.headers).json()
    assert [c["code"] for c in status["causes"]] == ["FACE_LIVENESS_FAILED"]
    context: AppContext = world.client.app_context  # type: ignore[attr-defined]
    with context.session_factory() as session:
        kinds = [(c.check_kind, c.provider, c.raw_code) for c in list_checks(session, user)]
    assert ("face_liveness", "local", "1002") in kinds
    assert "face_compare" not in [kind for kind, _, _ in kinds]


def test_someone_else_doing_the_actions_is_a_face_mismatch(world: World) -> None:
    user = _l2_user(world)
    started = _start(world, user)
    result = _upload(world, user, started, _frames(live_sequence("p2", started["actions"])))
    body = result.json()
    assert body["state"] == "failed", body
    assert body["result"]["liveness"]["passed"] is True
    assert "FACE_MISMATCH" in body["causes"]
    assert body["level"] == "L2"


def test_an_expired_challenge_is_refused(world: World) -> None:
    user = _l2_user(world)
    started = _start(world, user)
    context: AppContext = world.client.app_context  # type: ignore[attr-defined]
    with context.session_factory() as session:
        row = session.get(FaceSession, started["session_id"])
        assert row is not None
        row.expires_at = datetime.now(UTC) - timedelta(seconds=1)
        session.commit()
    late = _upload(world, user, started, _frames(live_sequence("p1", started["actions"])))
    assert late.status_code == 410
    assert late.json()["code"] == "FACE_CHALLENGE_EXPIRED"
    fetched = world.client.get(
        f"/v1/users/{user}/face/sessions/{started['session_id']}", headers=world.headers
    ).json()
    assert fetched["state"] == "expired"


def test_face_consent_is_required(world: World) -> None:
    user = _l2_user(world, ["id", "phone"])
    response = world.client.post(f"/v1/users/{user}/face/sessions", json={}, headers=world.headers)
    assert response.status_code == 403
    assert response.json()["code"] == "CONSENT_MISSING"
    # Withdrawn after the start: the upload is refused too.
    world.consent(user, ["face"])
    started = _start(world, user)
    world.client.delete(f"/v1/users/{user}/consents/face", headers=world.headers)
    refused = _upload(world, user, started, _frames(live_sequence("p1", started["actions"])))
    assert refused.status_code == 403
    assert refused.json()["code"] == "CONSENT_MISSING"


def test_l2_comes_first(world: World) -> None:
    user = world.sign_in(PHONE)
    world.consent(user, ["id", "phone", "face"])
    response = world.client.post(f"/v1/users/{user}/face/sessions", headers=world.headers)
    assert response.status_code == 409
    assert response.json()["code"] == "STEPS_INCOMPLETE"


def test_bad_frames_are_422_with_a_code_and_do_not_spend_the_nonce(world: World) -> None:
    user = _l2_user(world)
    started = _start(world, user)
    good = _frames(live_sequence("p1", started["actions"]))
    cases = [
        (good[:1], "FACE_FRAMES_COUNT"),
        (good * 3, "FACE_FRAMES_COUNT"),
        ([good[0], {"media_type": "image/jpeg", "content_base64": "%%%"}], "FACE_FRAME_INVALID"),
        (
            [good[0], {"media_type": "image/jpeg", "content_base64": "aGVsbG8="}],
            "FACE_FRAME_INVALID",
        ),
        (
            [good[0], {"media_type": "image/gif", "content_base64": "aGVsbG8="}],
            "FACE_FRAME_INVALID",
        ),
        (
            [good[0], {"media_type": "image/jpeg", "content_base64": "A" * 2_100_000}],
            "FACE_FRAME_TOO_LARGE",
        ),
    ]
    for frames, code in cases:
        response = _upload(world, user, started, frames)
        assert response.status_code == 422, response.text
        assert response.json()["code"] == code
    wrong_nonce = world.client.post(
        f"/v1/users/{user}/face/sessions/{started['session_id']}/frames",
        json={"nonce": "not-it", "frames": good},
        headers=world.headers,
    )
    assert wrong_nonce.status_code == 403
    assert wrong_nonce.json()["code"] == "FACE_CHALLENGE_INVALID"
    assert _upload(world, user, started, good).json()["state"] == "passed"


def test_frames_are_kept_encrypted_only_with_a_retention_period(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    from realname.verification import face_sessions

    context: AppContext = world.client.app_context  # type: ignore[attr-defined]
    monkeypatch.setattr(context.settings, "face_frame_retention_days", 7)
    user = _l2_user(world)
    started = _start(world, user)
    images = live_sequence("p1", started["actions"])
    frames = _frames(images)
    assert _upload(world, user, started, frames).json()["state"] == "passed"
    with context.session_factory() as session:
        row = session.get(FaceSession, started["session_id"])
        assert row is not None
        assert row.frames_ciphertext is not None
        assert base64.b64decode(frames[0]["content_base64"])[:64] not in row.frames_ciphertext
        account = session.get(Account, user)
        assert account is not None
        kept = face_sessions.read_frames(context.vault, session, account, row.id)
        assert kept == [base64.b64decode(f["content_base64"]) for f in frames]
        assert face_sessions.purge_frames(session, datetime.now(UTC) + timedelta(days=6)) == 0
        assert face_sessions.purge_frames(session, datetime.now(UTC) + timedelta(days=8)) == 1
        session.commit()
        session.refresh(row)
        assert row.frames_ciphertext is None
        assert row.result["liveness"]["passed"] is True
