"""Run fixture scenarios (DESIGN §5) through the real engine: ``realname diagnose``.

Each scenario gets its own sandbox world (the in-process sandbox provider and its
SMS gateway) and its own tenant in one throwaway store, so the whole path runs as in
production: local validation, the platform's history from the store, the planner's
provider calls, the diagnosis, and what is written back. The run answers SMS codes
itself, so a number the gateway can deliver to counts as held (DESIGN §5, OTP
possession).

A scenario passes when the level reached equals ``expect.level`` and the set of
cause codes equals ``expect.causes`` (codes of severity ``info`` that DESIGN §4 does
not list are ignored; today every code the engine emits is listed).
"""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from pathlib import Path

from sqlalchemy.orm import Session

from realname.authorities.errors import FaceEngineMissing
from realname.authorities.protocol import FaceCapture, FaceEngine
from realname.authorities.sandbox.fixtures import FixtureFile, Scenario, load_fixture_file
from realname.authorities.sandbox.provider import SandboxProvider
from realname.authorities.sandbox.sms import SandboxSmsGateway
from realname.privacy.keys import Keyring
from realname.privacy.vault import Vault
from realname.store.db import make_engine, make_session_factory, upgrade
from realname.store.models import Account, Person
from realname.store.repositories.checks import record_result
from realname.store.repositories.people import add_identity_element, create_account
from realname.store.repositories.tenants import create_tenant
from realname.verification.causes import CauseCode
from realname.verification.evidence import CONSENT_KINDS, Possession
from realname.verification.intake import RawSubmission
from realname.verification.levels import Level
from realname.verification.policy import PolicyBook, default_policies
from realname.verification.service import verify

#: Codes DESIGN §4 lists; an ``info`` cause outside it would be ignored in comparisons.
LISTED_CODES = frozenset(code.value for code in CauseCode)

CaptureSource = Callable[[str], FaceCapture]


@dataclass(frozen=True)
class ScenarioResult:
    id: str
    passed: bool
    expected_level: str
    expected_causes: tuple[str, ...]
    got_level: str | None
    got_causes: tuple[str, ...]
    cost_fen: int = 0
    rounds: int = 0
    error: str | None = None
    severities: dict[str, str] = field(default_factory=dict)

    def as_json(self) -> dict[str, object]:
        return {
            "id": self.id,
            "passed": self.passed,
            "expected": {"level": self.expected_level, "causes": list(self.expected_causes)},
            "got": {"level": self.got_level, "causes": list(self.got_causes)},
            **({"error": self.error} if self.error else {}),
        }


@dataclass(frozen=True)
class FaceSupport:
    """The face engine the sandbox delegates to, and how capture names become images."""

    engine: FaceEngine
    capture: CaptureSource


def _compared(codes: list[str], severities: dict[str, str]) -> set[str]:
    return {
        code for code in codes if code in LISTED_CODES or severities.get(code) != "info"
    }


class ScenarioRunner:
    """Runs scenarios against one throwaway store (a SQLite file in a temp dir)."""

    def __init__(
        self,
        *,
        face: FaceSupport | None = None,
        policies: PolicyBook | None = None,
        database_url: str | None = None,
    ) -> None:
        self._tmp = tempfile.TemporaryDirectory(prefix="realname-diagnose-")
        url = database_url or f"sqlite:///{Path(self._tmp.name) / 'diagnose.db'}"
        upgrade(url)
        self.engine = make_engine(url)
        self.sessions = make_session_factory(self.engine)
        self.vault = Vault(Keyring.generate())
        self.face = face
        self.policies = policies or default_policies()

    def close(self) -> None:
        self.engine.dispose()
        self._tmp.cleanup()

    def __enter__(self) -> ScenarioRunner:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def run_file(self, path: Path, *, today: date | None = None) -> list[ScenarioResult]:
        fixture = load_fixture_file(path)
        return [self.run(fixture, scenario, today=today) for scenario in fixture.scenarios]

    def run(
        self, fixture: FixtureFile, scenario: Scenario, *, today: date | None = None
    ) -> ScenarioResult:
        day = fixture.today_for(scenario) or today or datetime.now(UTC).date()
        expected = tuple(scenario.expect.causes)
        try:
            return asyncio.run(self._run(scenario, day))
        except FaceEngineMissing as error:
            return ScenarioResult(
                id=scenario.id,
                passed=False,
                expected_level=scenario.expect.level.value,
                expected_causes=expected,
                got_level=None,
                got_causes=(),
                error=error.code,
            )

    async def _run(self, scenario: Scenario, day: date) -> ScenarioResult:
        now = datetime.combine(day, time(12, 0), tzinfo=UTC)
        provider = SandboxProvider.for_scenario(
            scenario, today=day, face_engine=self.face.engine if self.face else None
        )
        gateway = SandboxSmsGateway(provider.store, provider.world_id)
        submit = scenario.submit
        with self.sessions() as session:
            tenant = create_tenant(session, f"scenario {scenario.id}")
            accounts = seed_platform_accounts(session, self.vault, scenario, tenant.id)
            account = accounts.get(submit.account) if submit.account else None
            if account is None:
                account = create_account(session, self.vault, tenant.id, submit.phone)
            possession = Possession.NOT_ASKED
            if submit.phone is not None:
                delivery = await gateway.send(submit.phone, "realname code")
                possession = Possession.PROVEN if delivery.delivered else Possession.UNDELIVERABLE
            face = None
            if submit.face is not None:
                if self.face is None:
                    raise FaceEngineMissing()
                face = self.face.capture(submit.face)
            raw = RawSubmission(
                name=submit.name,
                id_number=submit.id_number,
                phone=submit.phone,
                bank_card=submit.bank_card,
                face=face,
                consent=frozenset(c.value for c in submit.consent)
                if submit.consent is not None
                else frozenset(CONSENT_KINDS),
            )
            policy = self.policies.with_level(Level.parse(scenario.product_level.value))
            outcome = await verify(
                session,
                self.vault,
                provider,
                account,
                raw,
                policy=policy,
                possession=possession,
                now=now,
            )
            session.commit()
        diagnosis = outcome.diagnosis
        severities = {c.code.value: c.severity.value for c in diagnosis.causes}
        got = diagnosis.codes
        passed = str(diagnosis.level) == scenario.expect.level.value and _compared(
            got, severities
        ) == set(scenario.expect.causes)
        return ScenarioResult(
            id=scenario.id,
            passed=passed,
            expected_level=scenario.expect.level.value,
            expected_causes=tuple(scenario.expect.causes),
            got_level=str(diagnosis.level),
            got_causes=tuple(got),
            cost_fen=outcome.cost_fen,
            rounds=outcome.rounds,
            severities=severities,
        )


def seed_platform_accounts(
    session: Session, vault: Vault, scenario: Scenario, tenant_id: str
) -> dict[str, Account]:
    """Create the scenario's ``platform.accounts`` with their verified history."""
    citizens = {citizen.ref: citizen for citizen in scenario.registry.citizens}
    accounts: dict[str, Account] = {}
    for spec in scenario.platform.accounts:
        account = create_account(session, vault, tenant_id, spec.phone)
        accounts[spec.ref] = account
        if spec.verified is None:
            continue
        citizen = citizens[spec.verified.citizen]
        person = session.get(Person, account.person_id)
        assert person is not None
        add_identity_element(session, vault, person, "name", citizen.name)
        add_identity_element(session, vault, person, "id_number", citizen.id_number)
        add_identity_element(session, vault, person, "phone", spec.phone)
        level = Level.parse(spec.verified.level.value)
        record_result(
            session,
            account_id=account.id,
            level_reached=str(level),
            level_needed=str(level),
            bound_phone_index=vault.blind_index("phone", spec.phone) if level >= Level.L2 else None,
            product="imported",
            verified_at=datetime.combine(spec.verified.at, time(12, 0), tzinfo=UTC),
        )
    session.flush()
    return accounts
