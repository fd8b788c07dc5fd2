"""Seed a database with real verifications: fixture scenarios run through the HTTP API.

Each scenario gets its own sandbox world (its registry, faults and day) but every
app writes to the same database, under one tenant, so the operations metrics see a
platform with several applicants. Each applicant signs in with a number of their own
(:data:`SIGN_IN_PHONES`, added to the scenario's carrier registry) so no two
scenarios share an account; the submitted phone is then proved by SMS as the API
asks. What the API answered is returned, for the tests to compare with the metrics.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from fastapi.testclient import TestClient

from realname.api.app import create_app
from realname.api.context import AppContext
from realname.authorities.face import LocalFaceEngine
from realname.authorities.protocol import Check
from realname.authorities.sandbox import SandboxProvider, load_fixture_file
from realname.authorities.sandbox.config import LatencyModel, SandboxConfig
from realname.authorities.sandbox.fixtures import Phone, Scenario
from realname.authorities.sandbox.sms import SandboxSmsGateway
from realname.config import Settings
from realname.ops.cases import sync_review_cases
from realname.store.db import make_engine, make_session_factory
from realname.store.repositories.tenants import create_tenant, issue_api_key
from realname.verification.levels import Level
from realname.verification.policy import PolicyBook, default_policies
from tests.api.scenario_http import sms_code as _code
from tests.api.scenario_http import submit_scenario

FIXTURE = load_fixture_file(
    Path(__file__).resolve().parents[1] / "data" / "scenarios" / "public.yaml"
)
#: Small but non-zero simulated latencies, so percentiles have something to rank.
LATENCY = SandboxConfig(latency={check: LatencyModel(4, 0.5) for check in Check})
_ENGINE: LocalFaceEngine | None = None


def face_engine() -> LocalFaceEngine:
    global _ENGINE
    if _ENGINE is None:
        _ENGINE = LocalFaceEngine()
    return _ENGINE


@dataclass(frozen=True)
class Answer:
    scenario: str
    user_id: str
    level: str
    causes: tuple[str, ...]
    #: What the sandbox itself billed for the run (its ledger), in fen.
    billed_fen: int


def policies() -> PolicyBook:
    """The default book plus one product per level (``level-L2``…), as the scenarios need."""
    book = default_policies()
    products = dict(book.products)
    for level in Level:
        products[f"level-{level}"] = book.with_level(level)
    return PolicyBook(products=products, credit_tiers=book.credit_tiers)


def new_tenant(settings: Settings, name: str) -> tuple[str, dict[str, str]]:
    """A tenant and the headers of an API key with every scope."""
    engine = make_engine(settings.resolved_database_url)
    try:
        with make_session_factory(engine)() as session:
            tenant = create_tenant(session, name)
            _, key = issue_api_key(session, tenant.id, ["*"])
            session.commit()
            return tenant.id, {"Authorization": f"Bearer {key}"}
    finally:
        engine.dispose()


def run(
    settings: Settings,
    headers: dict[str, str],
    scenario_id: str,
    sign_in_phone: str,
    *,
    credit: bool = False,
) -> Answer:
    """Sign in, consent, submit (proving the phone if asked); optionally apply for credit."""
    scenario: Scenario = FIXTURE.scenario(scenario_id)
    phone = Phone(number=sign_in_phone, carrier="cbn", owner=None, status="normal")
    registry = scenario.registry.model_copy(update={"phones": [*scenario.registry.phones, phone]})
    world = scenario.model_copy(update={"registry": registry})
    submit = scenario.submit
    provider = SandboxProvider.for_scenario(
        world,
        today=FIXTURE.today_for(scenario),
        config=LATENCY,
        face_engine=face_engine() if submit.face else None,
    )
    gateway = SandboxSmsGateway(provider.store, provider.world_id)
    context = dataclasses.replace(
        AppContext.from_settings(settings, provider=provider, sms=gateway), policies=policies()
    )
    with TestClient(create_app(settings, context), raise_server_exceptions=False) as client:
        started = client.post("/v1/users/sign-in", json={"phone": sign_in_phone}, headers=headers)
        assert started.status_code == 200, started.text
        done = client.post(
            "/v1/users/sign-in/verify",
            json={
                "phone": sign_in_phone,
                "challenge_id": started.json()["challenge_id"],
                "code": _code(gateway, sign_in_phone),
            },
            headers=headers,
        )
        assert done.status_code == 200, done.text
        user = done.json()["user_id"]
        result = submit_scenario(client, headers, gateway, scenario, user)
        if credit:
            applied = client.post(
                "/v1/credit/applications?lang=en",
                json={
                    "user_id": user,
                    "amount_fen": 300000,
                    "term_months": 12,
                    "currency": "CNY",
                    "income_fen": 1200000,
                    "expenses_fen": 400000,
                    "seniority_years": 5,
                    "age": 35,
                    "records": False,
                },
                headers=headers,
            )
            assert applied.status_code == 200, applied.text
    context.engine.dispose()
    return Answer(
        scenario_id,
        user,
        str(result["level"]),
        tuple(sorted(c["code"] for c in result["causes"])),
        provider.ledger.total_fen,
    )


def open_review_cases(settings: Settings) -> int:
    """Run the review queue's intake once (what opening the queue page does)."""
    engine = make_engine(settings.resolved_database_url)
    try:
        with make_session_factory(engine)() as session:
            opened = sync_review_cases(session, datetime.now(UTC))
            session.commit()
            return opened
    finally:
        engine.dispose()
