from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from realname.errors import BadRequest, NotFound
from realname.privacy.keys import Keyring
from realname.privacy.vault import Vault
from realname.store.models import Consent
from realname.store.repositories import checks, consents, people, tenants

pytestmark = pytest.mark.storage

VAULT = Vault(Keyring.generate())


def account(session: Session) -> tuple[str, str, str]:
    tenant = tenants.create_tenant(session, "T")
    acct = people.create_account(session, VAULT, tenant.id, "13912345678")
    assert acct.person_id is not None
    return tenant.id, acct.id, acct.person_id


def test_checks_keep_raw_answer_and_cost_in_fen(session_factory: sessionmaker[Session]) -> None:
    with session_factory.begin() as session:
        tenant_id, account_id, _ = account(session)
        checks.record_check(
            session,
            tenant_id=tenant_id,
            account_id=account_id,
            check_kind="carrier_three_element",
            provider="sandbox",
            outcome="inconsistent",
            raw_code="2",
            raw_message="不一致",
            provider_request_id="req-1",
            billable=True,
            cost_fen=35,
            latency_ms=120,
        )
        checks.record_check(
            session,
            tenant_id=tenant_id,
            account_id=account_id,
            check_kind="id_two_element",
            provider="sandbox",
            outcome="timeout",
        )
        with pytest.raises(BadRequest):
            checks.record_check(
                session,
                tenant_id=tenant_id,
                account_id=account_id,
                check_kind="x",
                provider="x",
                outcome="x",
                cost_fen=0.35,  # type: ignore[arg-type]
            )
        with pytest.raises(BadRequest):
            checks.record_check(
                session,
                tenant_id=tenant_id,
                account_id=account_id,
                check_kind="x",
                provider="x",
                outcome="x",
                latency_ms=-1,
            )
    with session_factory() as session:
        first, second = checks.list_checks(session, account_id)
        assert (first.raw_code, first.cost_fen, first.billable) == ("2", 35, True)
        assert (second.cost_fen, second.billable, second.raw_code) == (0, False, None)
        assert sum(c.cost_fen for c in (first, second)) == 35


def test_results_keep_causes_in_order(session_factory: sessionmaker[Session]) -> None:
    with session_factory.begin() as session:
        _, account_id, _ = account(session)
        checks.record_result(session, account_id=account_id, level_reached="L0", level_needed="L2")
        checks.record_result(
            session,
            account_id=account_id,
            level_reached="L1",
            level_needed="L2",
            causes=[
                checks.CauseRecord("PHONE_OWNED_BY_OTHER", "blocking"),
                checks.CauseRecord(
                    "BANK_CARD_PHONE_MISMATCH", "blocking", {"part": "reserved_phone"}
                ),
                checks.CauseRecord("PHONE_PORTED", "info"),
            ],
        )
        with pytest.raises(BadRequest):
            checks.record_result(
                session,
                account_id=account_id,
                level_reached="L0",
                level_needed="L1",
                causes=[checks.CauseRecord("X", "fatal")],
            )
    with session_factory() as session:
        latest = checks.latest_result(session, account_id)
        assert latest is not None
        assert latest.level_reached == "L1"
        assert [(c.ordinal, c.code) for c in latest.causes] == [
            (0, "PHONE_OWNED_BY_OTHER"),
            (1, "BANK_CARD_PHONE_MISMATCH"),
            (2, "PHONE_PORTED"),
        ]
        assert latest.causes[1].details == {"part": "reserved_phone"}
        assert checks.latest_result(session, "no-account") is None


def test_consent_grant_withdraw_and_history(session_factory: sessionmaker[Session]) -> None:
    t0 = datetime(2024, 1, 1, tzinfo=UTC)
    with session_factory.begin() as session:
        _, account_id, person_id = account(session)
        assert not consents.has_consent(session, kind="face", person_id=person_id)
        consent = consents.grant_consent(
            session, kind="face", purpose="人脸核身 / face verification", person_id=person_id, at=t0
        )
        consents.grant_consent(
            session, kind="phone", purpose="carrier check", account_id=account_id
        )
        assert consents.has_consent(session, kind="face", person_id=person_id)
        assert consents.has_consent(
            session, kind="phone", person_id=person_id, account_id=account_id
        )
        assert not consents.has_consent(session, kind="phone", person_id=person_id)
        assert not consents.has_consent(session, kind="bank_card", account_id=account_id)
        assert not consents.has_consent(
            session, kind="face", person_id=person_id, at=t0 - timedelta(seconds=1)
        )

        withdrawn = consents.withdraw_consent(session, consent.id, at=t0 + timedelta(days=1))
        assert consents.withdraw_consent(session, consent.id).withdrawn_at == withdrawn.withdrawn_at
        assert not consents.has_consent(session, kind="face", person_id=person_id)
        # Processing on day 0 was covered by the consent in force then.
        assert consents.has_consent(
            session, kind="face", person_id=person_id, at=t0 + timedelta(hours=1)
        )
        assert consents.withdraw_all(session, kind="phone", account_id=account_id) == 1
        assert not consents.has_consent(session, kind="phone", account_id=account_id)


def test_consent_validation(session_factory: sessionmaker[Session]) -> None:
    with session_factory.begin() as session:
        _, _, person_id = account(session)
        with pytest.raises(BadRequest):
            consents.grant_consent(session, kind="dna", purpose="x", person_id=person_id)
        with pytest.raises(BadRequest):
            consents.grant_consent(session, kind="face", purpose="  ", person_id=person_id)
        with pytest.raises(BadRequest):
            consents.grant_consent(session, kind="face", purpose="x")
        with pytest.raises(NotFound):
            consents.withdraw_consent(session, "nope")


def test_database_refuses_a_consent_without_subject(session_factory: sessionmaker[Session]) -> None:
    with session_factory() as session:
        session.add(Consent(id="c-1", kind="face", purpose="x"))
        with pytest.raises(IntegrityError):
            session.flush()
