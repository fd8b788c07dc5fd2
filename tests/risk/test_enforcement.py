"""Adaptive step-up enforced over HTTP (credit application) and the persistent ledger."""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from realname.accounts.limits import attempt_keys
from realname.api.app import create_app
from realname.api.context import AppContext
from realname.api.routers import step_up
from realname.authorities.face import LocalFaceEngine, face_capture
from realname.authorities.sandbox import SandboxProvider, parse_fixture
from realname.authorities.sandbox.sms import SandboxSmsGateway
from realname.config import Settings
from realname.privacy.keys import Keyring
from realname.privacy.vault import Vault
from realname.risk.ledger import StepUpLedger
from realname.risk.policy import decide, default_policy
from realname.risk.service import (
    EdgeSignals,
    SqlStepUpLedger,
    check_action,
    enforcement_setting,
    gather,
    parse_behaviour,
    remember_device,
    resolve_mode,
)
from realname.risk.signals import Action, Factor
from realname.store.db import upgrade
from realname.store.models import AttemptEvent, AuditEntry, OtpChallenge, StepUpChallenge
from realname.store.repositories import people, tenants
from tests.api.test_app import _issue_key
from tests.api.test_users import World
from tests.risk.conftest import USUAL_DEVICE, quiet

PHONE = "13912345678"  # home province 江苏省
JIANGSU_IP = "218.2.135.1"
IDENTITY = {"name": "王小明", "id_number": "110105199003071239"}
FIXTURE = parse_fixture(
    """
today: 2026-12-01
scenarios:
  - id: returning-borrower
    registry:
      citizens:
        - ref: a
          name: 王小明
          id_number: "110105199003071239"
          valid_until: 2031-05-01
          portrait: p1
      phones:
        - {number: "13912345678", carrier: cmcc, owner: a, status: normal, owner_since: 2016-03-01}
      bank_cards:
        - {number: "6222020200112230004", owner: a, reserved_phone: "13912345678", status: normal}
    submit: {name: 王小明, id_number: "110105199003071239", phone: "13912345678"}
    product_level: L2
    expect: {level: L2, causes: []}
""",
    file="inline",
)
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


class Borrower:
    def __init__(self, world: World, context: AppContext, provider: SandboxProvider) -> None:
        self.world, self.context, self.provider = world, context, provider
        self.user = world.sign_in(PHONE)
        world.consent(self.user, ["id", "phone", "bank_card", "face"])
        self.verify()
        # A returning user: this device already passed an action before.
        with context.session_factory() as session:
            remember_device(session, context.vault, self.user, USUAL_DEVICE, datetime.now(UTC))
            # ... and signed in a while ago (the SMS resend wait has passed).
            for challenge in session.scalars(select(OtpChallenge)):
                challenge.created_at -= timedelta(hours=1)
            session.commit()

    def verify(self) -> None:
        response = self.world.client.post(
            f"/v1/users/{self.user}/verifications",
            json={**IDENTITY, "phone": PHONE},
            headers={**self.world.headers, "X-Device-Id": USUAL_DEVICE},
        )
        assert response.status_code == 200, response.text

    def apply(self, **headers: str) -> Any:
        return self.world.client.post(
            "/v1/credit/applications?lang=en",
            json={**APPLICATION, "user_id": self.user},
            headers={**self.world.headers, "X-Device-Id": USUAL_DEVICE, **headers},
        )

    def post(self, path: str, body: dict[str, Any] | None = None) -> Any:
        return self.world.client.post(path, json=body, headers=self.world.headers)

    def swap_sim(self) -> None:
        """The carrier replaced the SIM two days ago (what a SIM-swap takeover does)."""
        store = self.provider.store
        swapped = (self.provider.clock.today() - timedelta(days=2)).isoformat()
        with store.transaction():
            store.query(
                "UPDATE phones SET sim_changed = ? WHERE world_id = ? AND number = ?",
                (swapped, self.provider.world_id, PHONE),
            )

    def last_decision(self) -> dict[str, Any]:
        with self.context.session_factory() as session:
            entry = session.scalars(
                select(AuditEntry)
                .where(AuditEntry.action == "risk.decided")
                .order_by(AuditEntry.seq.desc())
            ).first()
            assert entry is not None
            return dict(entry.details)


@pytest.fixture
def borrower(tmp_path: Path) -> Iterator[Borrower]:
    settings = Settings(var_dir=tmp_path, database_url=f"sqlite:///{tmp_path / 'api.db'}")
    upgrade(settings.resolved_database_url)
    scenario = FIXTURE.scenarios[0]
    today = FIXTURE.today_for(scenario)
    assert today is not None
    provider = SandboxProvider.for_scenario(scenario, today=today)
    provider.face_engine = LocalFaceEngine()
    gateway = SandboxSmsGateway(provider.store, provider.world_id)
    context = AppContext.from_settings(settings, provider=provider, sms=gateway)
    key = _issue_key(settings, ["users:write", "users:read"])
    app = create_app(settings, context)
    app.include_router(step_up.router)
    app.state.risk_enforcement = "enforce"
    with TestClient(app, raise_server_exceptions=False, client=(JIANGSU_IP, 50000)) as client:
        yield Borrower(World(client, gateway, key), context, provider)
    context.engine.dispose()


def _face() -> dict[str, str]:
    capture = face_capture("live:p1")
    return {
        "media_type": capture.media_type,
        "content_base64": base64.b64encode(capture.content).decode(),
    }


def test_a_returning_user_on_a_known_device_gets_credit_without_step_up(
    borrower: Borrower,
) -> None:
    response = borrower.apply()
    assert response.status_code == 200, response.text
    assert response.json()["decision"] == "approve"
    audited = borrower.last_decision()
    assert audited["outcome"] == "allow"
    assert audited["step_up"] == []
    assert audited["score"] < 40
    # Every decision lists its reasons (here: tenure is not known, counted as risky).
    assert audited["reasons"] == ["NEW_SIM"]
    assert PHONE not in json.dumps(audited)
    assert USUAL_DEVICE not in json.dumps(audited)


def test_after_a_sim_swap_credit_needs_face_and_the_step_up_unlocks_once(
    borrower: Borrower,
) -> None:
    borrower.swap_sim()
    borrower.verify()  # the carrier check now reports the swap
    refused = borrower.apply()
    assert refused.status_code == 403, refused.text
    problem = refused.json()
    assert problem["code"] == "STEP_UP_REQUIRED"
    assert problem["factors"] == ["otp", "face"]
    assert set(problem["step_up"]) & {"face", "bank_card"}
    # The check reports the swap but not its date: counted as recent (unknown is never safe).
    assert {reason["code"] for reason in problem["reasons"][:2]} == {
        "SIM_SWAP_LAST_72H",
        "SIM_SWAP_RECENT",
    }
    assert problem["reasons"][0]["text"]["zh-CN"]
    assert problem["reasons"][0]["text"]["en"]
    scores = [reason["score"] for reason in problem["reasons"]]
    assert scores == sorted(scores, reverse=True)
    step_up_id = problem["step_up_id"]
    audited = borrower.last_decision()
    assert (audited["outcome"], audited["score"]) == ("step_up", problem["score"])
    assert "SIM_SWAP_RECENT" in audited["reasons"]

    # Not completed yet: the id unlocks nothing.
    early = borrower.apply(**{"X-Step-Up": step_up_id})
    assert early.status_code == 409
    assert early.json()["code"] == "STEP_UP_INVALID"

    # OTP to the bound phone.
    sent = borrower.post(f"/v1/step-ups/{step_up_id}/otp")
    assert sent.status_code == 200, sent.text
    code = re.search(r"\d{6}", borrower.world.gateway.messages_to(PHONE)[-1].text)
    assert code is not None
    otp_done = borrower.post(
        f"/v1/step-ups/{step_up_id}/complete",
        {"challenge_id": sent.json()["challenge_id"], "code": code[0]},
    )
    assert otp_done.status_code == 200, otp_done.text
    assert otp_done.json()["outstanding"] == ["face"]
    assert otp_done.json()["complete"] is False

    # A face that is not the citizen's does not pass the factor.
    other = face_capture("live:p2")
    wrong_face = borrower.post(
        f"/v1/step-ups/{step_up_id}/complete",
        {
            **IDENTITY,
            "face": {
                "media_type": other.media_type,
                "content_base64": base64.b64encode(other.content).decode(),
            },
        },
    )
    assert wrong_face.status_code == 200, wrong_face.text
    assert wrong_face.json()["outstanding"] == ["face"]

    face_done = borrower.post(f"/v1/step-ups/{step_up_id}/complete", {**IDENTITY, "face": _face()})
    assert face_done.status_code == 200, face_done.text
    assert face_done.json()["complete"] is True, face_done.text
    assert face_done.json()["passed"] == ["otp", "face"]

    unlocked = borrower.apply(**{"X-Step-Up": step_up_id})
    assert unlocked.status_code == 200, unlocked.text
    assert borrower.last_decision()["outcome"] == "unlocked"

    reused = borrower.apply(**{"X-Step-Up": step_up_id})
    assert reused.status_code == 409
    assert reused.json()["code"] == "STEP_UP_INVALID"
    assert borrower.last_decision()["outcome"] == "step_up_refused"

    # Without the header the swap still asks again: the grant was for one retry.
    assert borrower.apply().json()["code"] == "STEP_UP_REQUIRED"


def test_a_step_up_is_bound_to_its_action(borrower: Borrower) -> None:
    borrower.swap_sim()
    borrower.verify()
    step_up_id = borrower.apply().json()["step_up_id"]
    with borrower.context.session_factory() as session:
        ledger = SqlStepUpLedger(session, _tenant_of(session, borrower.user), datetime.now(UTC))
        ledger.complete(step_up_id, Factor.OTP)
        ledger.complete(step_up_id, Factor.FACE)
        assert not ledger.consume(step_up_id, borrower.user, Action.PHONE_CHANGE)
        session.commit()
    assert borrower.apply(**{"X-Step-Up": step_up_id}).status_code == 200


def _tenant_of(session: Session, account_id: str) -> str:
    return people.get_account(session, account_id).tenant_id


def test_unknown_and_absurd_signals_count_as_risky(borrower: Borrower) -> None:
    refused = borrower.apply(**{"X-Device-Id": "curl/8.0"})
    assert refused.status_code == 403, refused.text
    reasons = {reason["code"]: reason for reason in refused.json()["reasons"]}
    assert reasons["UNRECOGNISED_DEVICE_ID"]["unknown"] is False
    assert reasons["NEW_DEVICE"]["unknown"] is True
    assert "face" in refused.json()["step_up"]

    behaviour, consent, notes = parse_behaviour(
        json.dumps({"consent": True, "fill_seconds": -5, "corrections": -1})
    )
    assert consent
    assert notes == ()
    assert behaviour is not None
    assert (behaviour.fill_seconds, behaviour.corrections) == (None, None)
    assert parse_behaviour("{not json") == (None, False, ("BEHAVIOUR_MALFORMED",))
    assert parse_behaviour("x" * 5000)[2] == ("BEHAVIOUR_MALFORMED",)


def test_behaviour_without_consent_is_ignored_and_noted(borrower: Borrower) -> None:
    bot_like = {"fill_seconds": 1, "paste_identity_fields": 3}
    ignored = borrower.apply(**{"X-Risk-Behaviour": json.dumps(bot_like)})
    assert ignored.status_code == 200, ignored.text
    audited = borrower.last_decision()
    assert audited["notes"] == ["BEHAVIOUR_IGNORED_NO_CONSENT"]
    assert "INHUMAN_FILL_TIME" not in audited["reasons"]

    consented = borrower.apply(**{"X-Risk-Behaviour": json.dumps({**bot_like, "consent": True})})
    assert consented.status_code == 403, consented.text
    codes = [reason["code"] for reason in consented.json()["reasons"]]
    assert {"INHUMAN_FILL_TIME", "PASTED_IDENTITY"} <= set(codes)
    assert consented.json()["notes"] == []


def test_monitor_mode_decides_and_audits_but_refuses_nothing(borrower: Borrower) -> None:
    borrower.world.client.app.state.risk_enforcement = "monitor"  # type: ignore[attr-defined]
    response = borrower.apply(**{"X-Device-Id": "curl/8.0"})
    assert response.status_code == 200, response.text
    assert borrower.last_decision()["outcome"] == "monitor_step_up"


# --- the persistent ledger on SQLite and PostgreSQL ------------------------------------

VAULT = Vault(Keyring.generate())


def _account(session: Session) -> tuple[str, str]:
    tenant = tenants.create_tenant(session, "T")
    account = people.create_account(session, VAULT, tenant.id, PHONE)
    return tenant.id, account.id


@pytest.mark.storage
def test_sql_ledger_unlocks_once_and_keeps_no_token(
    session_factory: sessionmaker[Session],
) -> None:
    now = datetime.now(UTC)
    with session_factory() as session:
        tenant_id, account_id = _account(session)
        ledger: StepUpLedger = SqlStepUpLedger(session, tenant_id, now)
        decision = decide(quiet(sim_swap_recent=True), default_policy())
        challenge = ledger.open(account_id, decision)
        session.commit()
        stored = session.scalars(select(StepUpChallenge)).one()
        assert challenge not in stored.id_hash
        assert not ledger.consume(challenge, account_id, Action.CREDIT_DRAWDOWN)
        assert ledger.complete(challenge, Factor.OTP) == {Factor.FACE}
        with pytest.raises(Exception, match="not asked"):
            ledger.complete(challenge, Factor.BANK_CARD)
        assert ledger.complete(challenge, Factor.FACE) == frozenset()
        assert not ledger.consume(challenge, "someone-else", Action.CREDIT_DRAWDOWN)
        assert not SqlStepUpLedger(session, "other-tenant", now).consume(
            challenge, account_id, Action.CREDIT_DRAWDOWN
        )
        session.commit()
    # Each retry runs in its own transaction: the guarded update lets one through.
    wins = []
    for _ in range(2):
        with session_factory() as session:
            ledger = SqlStepUpLedger(session, tenant_id, now)
            wins.append(ledger.consume(challenge, account_id, Action.CREDIT_DRAWDOWN))
            session.commit()
    assert wins == [True, False]
    with session_factory() as session:
        expired = SqlStepUpLedger(session, tenant_id, now + timedelta(hours=1))
        other = expired.open(account_id, decision)
        with pytest.raises(Exception, match="unknown"):
            SqlStepUpLedger(session, tenant_id, now + timedelta(hours=2)).complete(
                other, Factor.OTP
            )


@pytest.mark.storage
def test_signals_from_the_store_treat_unknown_as_unknown(
    session_factory: sessionmaker[Session],
) -> None:
    now = datetime.now(UTC)
    with session_factory() as session:
        _, account_id = _account(session)
        account = people.get_account(session, account_id)
        edge = EdgeSignals(device_id="curl/8.0", ip=JIANGSU_IP)
        signals = gather(session, VAULT, account, Action.PHONE_CHANGE, edge, now)
        assert signals.device_id is None
        assert signals.device_known is None
        assert signals.sim_swap_recent is None  # never checked: unknown, not "no swap"
        assert signals.days_since_verification is None
        assert signals.phone_home_province == "江苏省"
        gate = check_action(
            session, VAULT, account, Action.PHONE_CHANGE, edge=edge, mode="enforce", now=now
        )
        assert gate.outcome == "step_up"
        assert gate.step_up_id is not None
        assert gate.refusal is not None
        assert gate.refusal.code == "STEP_UP_REQUIRED"
        session.commit()


def test_a_phone_change_from_an_unknown_device_is_stepped_up_first(borrower: Borrower) -> None:
    refused = borrower.world.client.post(
        f"/v1/users/{borrower.user}/phone-change",
        json={"new_phone": "18612349999", **IDENTITY},
        headers={**borrower.world.headers, "X-Device-Id": "not a device"},
    )
    assert refused.status_code == 403, refused.text
    assert refused.json()["code"] == "STEP_UP_REQUIRED"
    assert refused.json()["action"] == "phone_change"
    assert refused.json()["step_up_id"]
    assert borrower.last_decision()["action"] == "phone_change"


OTHER_PHONE = "13912340000"
SHARED_DEVICE = "0b7e4a3c-58a1-4f61-9f0e-5a0c2d8e6b11"


@pytest.mark.storage
def test_the_device_graph_counts_other_people_not_other_accounts(
    session_factory: sessionmaker[Session],
) -> None:
    now = datetime.now(UTC)
    with session_factory() as session:
        tenant_id, account_id = _account(session)
        account = people.get_account(session, account_id)
        edge = EdgeSignals(device_id=SHARED_DEVICE, ip=JIANGSU_IP)
        assert gather(session, VAULT, account, Action.LOGIN, edge, now).device_other_people == 0
        someone = people.create_account(session, VAULT, tenant_id, OTHER_PHONE)
        remember_device(session, VAULT, someone.id, SHARED_DEVICE, now)
        # Another tenant's account on the same device is not this tenant's business.
        elsewhere = tenants.create_tenant(session, "U")
        stranger = people.create_account(session, VAULT, elsewhere.id, OTHER_PHONE)
        remember_device(session, VAULT, stranger.id, SHARED_DEVICE, now)
        session.flush()
        signals = gather(session, VAULT, account, Action.LOGIN, edge, now)
        assert signals.device_other_people == 1
        assert signals.device_known is False
        no_device = gather(session, VAULT, account, Action.LOGIN, EdgeSignals(ip=JIANGSU_IP), now)
        assert no_device.device_other_people is None  # unknown device, unknown graph


@pytest.mark.storage
def test_auto_mode_enforces_once_a_tenant_sends_devices(
    session_factory: sessionmaker[Session],
) -> None:
    now = datetime.now(UTC)
    with session_factory() as session:
        tenant_id, account_id = _account(session)
        bare = EdgeSignals(ip=JIANGSU_IP)
        # An integration that sends no device signals yet: decide and audit, refuse nothing.
        assert resolve_mode(session, tenant_id, bare, "auto") == (
            "monitor",
            ("MONITOR_NO_DEVICE_SIGNALS",),
        )
        # Signals present (even a malformed device id): enforced.
        for edge in (
            EdgeSignals(device_id=SHARED_DEVICE),
            EdgeSignals(device_id="curl/8.0"),
            EdgeSignals(notes=("BEHAVIOUR_MALFORMED",)),
        ):
            assert resolve_mode(session, tenant_id, edge, "auto") == ("enforce", ())
        # Explicit settings win either way.
        assert resolve_mode(session, tenant_id, bare, "enforce") == ("enforce", ())
        assert (
            resolve_mode(session, tenant_id, EdgeSignals(device_id=SHARED_DEVICE), "monitor")[0]
            == "monitor"
        )
        # Once the tenant's clients have sent a device, leaving the header out does not
        # switch enforcement off: the missing device is unknown, and unknown is not safe.
        remember_device(session, VAULT, account_id, SHARED_DEVICE, now)
        session.flush()
        assert resolve_mode(session, tenant_id, bare, "auto") == ("enforce", ())
        account = people.get_account(session, account_id)
        gate = check_action(
            session, VAULT, account, Action.PHONE_CHANGE, edge=bare, mode="enforce", now=now
        )
        assert gate.outcome == "step_up"
        session.rollback()


def test_the_setting_defaults_to_auto(monkeypatch: pytest.MonkeyPatch) -> None:
    class _State:
        pass

    class _App:
        state = _State()

    class _Request:
        app = _App()

    request: Any = _Request()
    monkeypatch.delenv("REALNAME_RISK_ENFORCEMENT", raising=False)
    assert enforcement_setting(request) == "auto"
    monkeypatch.setenv("REALNAME_RISK_ENFORCEMENT", "monitor")
    assert enforcement_setting(request) == "monitor"
    monkeypatch.setenv("REALNAME_RISK_ENFORCEMENT", "ENFORCE ")
    assert enforcement_setting(request) == "enforce"
    monkeypatch.setenv("REALNAME_RISK_ENFORCEMENT", "off")  # unknown: the default, not weaker
    assert enforcement_setting(request) == "auto"


@pytest.mark.storage
def test_velocity_counts_each_key_over_the_hour_and_the_day(
    session_factory: sessionmaker[Session],
) -> None:
    now = datetime.now(UTC)
    with session_factory() as session:
        tenant_id, account_id = _account(session)
        account = people.get_account(session, account_id)
        keys = {
            key.kind.value: key
            for key in attempt_keys(VAULT, tenant_id, phone=PHONE, device_id=SHARED_DEVICE)
        }
        ages = {"phone": [5, 30, 90, 600, 1500], "device": [10]}  # minutes ago
        for kind, minutes in ages.items():
            for age in minutes:
                session.add(
                    AttemptEvent(
                        tenant_id=tenant_id,
                        key_kind=kind,
                        key_hash=keys[kind].digest,
                        outcome="failure",
                        at=now - timedelta(minutes=age),
                    )
                )
        # Someone else's phone, and a future timestamp, count for nobody here.
        other = attempt_keys(VAULT, tenant_id, phone=OTHER_PHONE)[0]
        session.add(
            AttemptEvent(
                tenant_id=tenant_id,
                key_kind="phone",
                key_hash=other.digest,
                outcome="failure",
                at=now,
            )
        )
        session.add(
            AttemptEvent(
                tenant_id=tenant_id,
                key_kind="phone",
                key_hash=keys["phone"].digest,
                outcome="failure",
                at=now + timedelta(minutes=5),
            )
        )
        session.flush()
        edge = EdgeSignals(device_id=SHARED_DEVICE, ip=JIANGSU_IP)
        velocity = gather(session, VAULT, account, Action.LOGIN, edge, now).velocity
        assert (velocity.phone_1h, velocity.phone_24h) == (2, 4)
        assert (velocity.device_1h, velocity.device_24h) == (1, 1)
        assert (velocity.ip_1h, velocity.ip_24h) == (0, 0)
        assert velocity.id_number_1h is None  # the account has no ID number yet
        session.rollback()
