"""An outage leaves PROVIDER_UNAVAILABLE; once the authority answers, the re-run completes."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient

from realname.api.app import create_app
from realname.api.context import AppContext
from realname.authorities.sandbox import SandboxProvider
from realname.authorities.sandbox.sms import SandboxSmsGateway
from realname.config import Settings
from realname.jobs.rerun import pending_accounts, rerun_unavailable
from tests.api.test_app import _issue_key
from tests.api.test_users import FIXTURE, World


@pytest.fixture
def outage(settings: Settings) -> Iterator[tuple[World, AppContext, SandboxProvider]]:
    scenario = FIXTURE.scenario("carrier-times-out")
    provider = SandboxProvider.for_scenario(scenario, today=FIXTURE.today_for(scenario))
    gateway = SandboxSmsGateway(provider.store, provider.world_id)
    context = AppContext.from_settings(settings, provider=provider, sms=gateway)
    key = _issue_key(settings, ["users:write", "users:read"])
    with TestClient(create_app(settings, context), raise_server_exceptions=False) as client:
        yield World(client, gateway, key), context, provider
    context.engine.dispose()


def test_a_verification_left_by_an_outage_completes_when_the_carrier_is_back(
    outage: tuple[World, AppContext, SandboxProvider],
) -> None:
    world, context, provider = outage
    user = world.sign_in("13912345678")
    world.consent(user, ["id", "phone"])
    first = world.client.post(
        f"/v1/users/{user}/verifications",
        json={"name": "王小明", "id_number": "110105199003071239", "phone": "13912345678"},
        headers=world.headers,
    ).json()
    assert (first["level"], [c["code"] for c in first["causes"]]) == (
        "L1",
        ["PROVIDER_UNAVAILABLE"],
    )
    with context.session_factory() as session:
        assert [account for account, _ in pending_accounts(session, 10)] == [user]

    def run() -> tuple[int, int, int]:
        report = asyncio.run(
            rerun_unavailable(
                context.session_factory,
                context.vault,
                provider,
                context.policies,
                now=datetime.now(UTC),
            )
        )
        return report.candidates, report.completed, report.still_unavailable

    assert run() == (1, 0, 1)  # still down: nothing changes, no mismatch invented
    provider.faults.clear()
    assert run() == (1, 1, 0)
    status = world.client.get(f"/v1/users/{user}/status", headers=world.headers).json()
    assert (status["level"], status["causes"]) == ("L2", [])
    with context.session_factory() as session:
        assert pending_accounts(session, 10) == []


def test_the_api_process_re_runs_by_itself_when_the_authority_recovers(
    settings: Settings,
) -> None:
    import time

    quick = settings.model_copy(update={"rerun_interval_seconds": 0.05})
    scenario = FIXTURE.scenario("carrier-times-out")
    provider = SandboxProvider.for_scenario(scenario, today=FIXTURE.today_for(scenario))
    gateway = SandboxSmsGateway(provider.store, provider.world_id)
    context = AppContext.from_settings(quick, provider=provider, sms=gateway)
    key = _issue_key(quick, ["users:write", "users:read"])
    with TestClient(create_app(quick, context), raise_server_exceptions=False) as client:
        world = World(client, gateway, key)
        user = world.sign_in("13912345678")
        world.consent(user, ["id", "phone"])
        first = client.post(
            f"/v1/users/{user}/verifications",
            json={"name": "王小明", "id_number": "110105199003071239", "phone": "13912345678"},
            headers=world.headers,
        ).json()
        assert first["level"] == "L1"
        provider.faults.clear()
        deadline = time.monotonic() + 10
        level = first["level"]
        while level != "L2" and time.monotonic() < deadline:
            time.sleep(0.05)
            level = client.get(f"/v1/users/{user}/status", headers=world.headers).json()["level"]
        assert level == "L2"
    context.engine.dispose()


def test_the_background_loop_also_opens_review_cases(settings: Settings) -> None:
    """The rerun loop runs the review queue's intake (realname.ops.cases)."""
    from sqlalchemy import select

    from realname.jobs.rerun import rerun_forever
    from realname.store.models import ReviewCase
    from tests.web.ops_support import scenario_context, verify_identity_in_use

    context, _gateway = scenario_context(settings)
    account_id = verify_identity_in_use(context)

    async def run_briefly() -> None:
        import anyio

        with anyio.move_on_after(1.0):
            await rerun_forever(context, interval=0.05)

    asyncio.run(run_briefly())
    with context.session_factory() as session:
        opened = session.scalars(select(ReviewCase)).all()
        assert [(case.account_id, case.reason) for case in opened] == [
            (account_id, "IDENTITY_IN_USE")
        ]
    context.engine.dispose()


def test_a_pass_judges_each_account_at_the_time_of_its_turn(
    outage: tuple[World, AppContext, SandboxProvider], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A consent given while a pass waits to read the pending accounts counts.

    On a busy database the read waits; meanwhile the user consents and verifies, the
    authority fails, and the read then finds that account. Judged at a time taken
    before the read, the re-run would find no consent (CONSENT_MISSING, L0).
    """
    import anyio

    from realname.jobs import rerun

    world, context, provider = outage
    user = world.sign_in("13912345678")
    real_pending = rerun._pending
    reads: list[int] = []

    def pending_after_outage(session_factory: Any, limit: int) -> Any:
        if not reads:
            world.consent(user, ["id", "phone"])
            first = world.client.post(
                f"/v1/users/{user}/verifications",
                json={"name": "王小明", "id_number": "110105199003071239", "phone": "13912345678"},
                headers=world.headers,
            ).json()
            assert [c["code"] for c in first["causes"]] == ["PROVIDER_UNAVAILABLE"]
            provider.faults.clear()
        reads.append(1)
        return real_pending(session_factory, limit)

    monkeypatch.setattr(rerun, "_pending", pending_after_outage)

    async def a_few_passes() -> None:
        with anyio.move_on_after(1.0):
            await rerun.rerun_forever(context, interval=0.01)

    asyncio.run(a_few_passes())
    status = world.client.get(f"/v1/users/{user}/status", headers=world.headers).json()
    assert (status["level"], status["causes"]) == ("L2", [])
