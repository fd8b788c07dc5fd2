"""POST /v1/credit/applications end to end: a signed-in L2 user, STEPS_INCOMPLETE, 422s."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from realname.api.app import create_app
from realname.api.context import AppContext
from realname.api.routers.credit import router
from realname.authorities.sandbox import SandboxProvider
from realname.authorities.sandbox.sms import SandboxSmsGateway
from realname.config import Settings
from tests.api.test_app import _issue_key
from tests.api.test_users import FIXTURE, World

APPLICATION: dict[str, Any] = {
    "amount_fen": 300_000,
    "term_months": 12,
    "currency": "CNY",
    "income_fen": 1_200_000,
    "expenses_fen": 300_000,
    "assets_fen": 5_000_000,
    "debt_fen": 0,
    "seniority_years": 12,
    "home": "owner",
    "job": "fixed",
    "marital": "married",
    "age": 36,
    "records": False,
}

#: Changes to APPLICATION that the scorecard declines (records, part-time, low income).
DECLINED: dict[str, Any] = {
    "records": True,
    "job": "partime",
    "seniority_years": 0,
    "home": "other",
    "income_fen": 150_000,
}


@pytest.fixture
def world(settings: Settings) -> Iterator[World]:
    scenario = FIXTURE.scenario("happy-l2-phone")
    today = FIXTURE.today_for(scenario)
    assert today is not None
    provider = SandboxProvider.for_scenario(scenario, today=today)
    gateway = SandboxSmsGateway(provider.store, provider.world_id)
    context = AppContext.from_settings(settings, provider=provider, sms=gateway)
    key = _issue_key(settings, ["users:write", "users:read"])
    app = create_app(settings, context)
    app.include_router(router)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield World(client, gateway, key)
    context.engine.dispose()


def _l2_user(world: World) -> str:
    user = world.sign_in("13912345678")
    world.consent(user, ["id", "phone"])
    response = world.client.post(
        f"/v1/users/{user}/verifications",
        json={"name": "王小明", "id_number": "110105199003071239", "phone": "13912345678"},
        headers=world.headers,
    )
    assert response.json()["level"] == "L2", response.text
    return user


def _apply(world: World, user: str, **changes: Any) -> Any:
    return world.client.post(
        "/v1/credit/applications?lang=en",
        json={**APPLICATION, "user_id": user, **changes},
        headers=world.headers,
    )


def test_an_l2_user_asking_for_3000_yuan_is_assessed(world: World) -> None:
    user = _l2_user(world)
    response = _apply(world, user)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["decision"] == "approve"
    assert (body["level"], body["level_required"]) == ("L2", "L2")
    assert isinstance(body["credit_limit_fen"], int)
    assert 0 < body["credit_limit_fen"] <= 500_000
    assert body["model_version"].startswith("cd-")
    assert "王小明" not in response.text

    declined = _apply(world, user, **DECLINED)
    assert declined.status_code == 200, declined.text
    assert declined.json()["decision"] == "decline"
    assert declined.json()["review_available"] is True
    assert declined.json()["reasons"][0]["points_lost"] > 0


def test_each_decision_is_stored_and_readable_by_its_tenant_only(
    world: World, settings: Settings
) -> None:
    user = _l2_user(world)
    approved = _apply(world, user).json()
    declined = _apply(world, user, **DECLINED).json()
    assert approved["review_state"] == "not_offered"
    assert declined["review_state"] == "available"

    stored = world.client.get(
        f"/v1/credit/applications/{declined['application_id']}", headers=world.headers
    )
    assert stored.status_code == 200, stored.text
    body = stored.json()
    assert (body["decision"], body["amount_fen"], body["term_months"]) == ("decline", 300_000, 12)
    assert body["reasons"] == [r["code"] for r in declined["reasons"]]
    assert body["credit_limit_fen"] == 0
    assert "income" not in stored.text  # declared income is used, not kept

    other = {"Authorization": f"Bearer {_issue_key(settings, ['users:read'])}"}
    foreign = world.client.get(
        f"/v1/credit/applications/{declined['application_id']}", headers=other
    )
    assert foreign.status_code == 404
    assert foreign.json()["code"] == "APPLICATION_NOT_FOUND"


def test_8000_yuan_needs_l3(world: World) -> None:
    user = _l2_user(world)
    response = _apply(world, user, amount_fen=800_000)
    assert response.status_code == 409, response.text
    body = response.json()
    assert body["code"] == "STEPS_INCOMPLETE"
    assert body["needed"] == "L3"
    assert body["level"] == "L2"


def test_a_user_without_verification_gets_steps_incomplete(world: World) -> None:
    user = world.sign_in("13912345678")
    response = _apply(world, user)
    assert response.status_code == 409
    assert response.json()["needed"] == "L2"


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"currency": "USD"}, "currency"),
        ({"amount_fen": 100}, "amount_fen"),
        ({"amount_fen": 3000.5}, "amount_fen"),
        ({"amount_fen": 1_000_000_000}, "amount_fen"),
        ({"term_months": 7}, "term_months"),
        ({"home": "castle"}, "home"),
    ],
)
def test_bad_input_is_a_422_naming_the_field(
    world: World, changes: dict[str, Any], field: str
) -> None:
    response = _apply(world, "nobody", **changes)
    assert response.status_code == 422, response.text
    assert field in [e["field"] for e in response.json()["errors"]]


def test_a_declined_applicant_gets_a_human_review_through_the_operations_queue(
    world: World,
) -> None:
    from datetime import UTC, datetime

    from realname.ops import cases
    from realname.ops.operators import Principal, Role, create_operator

    user = _l2_user(world)
    approved = _apply(world, user).json()
    declined = _apply(world, user, **DECLINED).json()
    refused = world.client.post(
        f"/v1/credit/applications/{approved['application_id']}/review", headers=world.headers
    )
    assert refused.status_code == 409
    assert refused.json()["code"] == "REVIEW_NOT_AVAILABLE"

    asked = world.client.post(
        f"/v1/credit/applications/{declined['application_id']}/review", headers=world.headers
    )
    assert asked.status_code == 202, asked.text
    assert asked.json()["review_state"] == "requested"
    again = world.client.post(
        f"/v1/credit/applications/{declined['application_id']}/review", headers=world.headers
    )
    assert again.status_code == 202
    assert again.json()["review_requested_at"] == asked.json()["review_requested_at"]

    context: AppContext = world.client.app.state.context  # type: ignore[attr-defined]
    now = datetime.now(UTC)
    with context.session_factory() as session:
        queue = cases.list_queue(session, now=now, reason="CREDIT_DECLINE_REVIEW")
        assert [cases.get_case(session, item.id).reference for item in queue] == [
            declined["application_id"]
        ]
        created = create_operator(session, "rita", "a long enough password", Role.REVIEWER, now=now)
        rita = Principal(id=created.id, username=created.username, role=Role.REVIEWER)
        decided = cases.decide(
            session,
            rita,
            queue[0].id,
            decision="approve",
            code="CREDIT_OVERRIDE_APPROVED",
            now=now,
        )
        assert decided.level_granted is None  # a credit review grants no verification level
        session.commit()

    answered = world.client.get(
        f"/v1/credit/applications/{declined['application_id']}", headers=world.headers
    ).json()
    assert (answered["review_state"], answered["review_outcome"]) == ("decided", "approve")
    status = world.client.get(f"/v1/users/{user}/status", headers=world.headers).json()
    assert status["level"] == "L2"
    assert "REVIEW_APPROVED" not in {c["code"] for c in status["causes"]}
