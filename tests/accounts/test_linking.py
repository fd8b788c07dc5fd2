"""Linking two accounts needs a fresh, answered code on the other account's phone."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from realname.accounts import linking, otp, possession, unit_of_work
from realname.accounts.errors import LinkNotProven, OtpInvalid
from realname.authorities.sandbox.sms import SandboxSmsGateway
from realname.errors import BadRequest, NotFound
from realname.privacy.vault import Vault
from realname.store.models import AccountLink, AuditEntry
from realname.store.repositories import people, tenants
from tests.accounts.conftest import PHONE_A, PHONE_B, PHONE_C, T0, last_code

pytestmark = [pytest.mark.storage, pytest.mark.anyio]

Sessions = sessionmaker[Session]
MINUTE = timedelta(minutes=1)


def account(sessions: Sessions, vault: Vault, tenant_id: str, phone: str) -> str:
    with sessions.begin() as session:
        return people.create_account(session, vault, tenant_id, phone).id


async def prove(
    sessions: Sessions,
    vault: Vault,
    gateway: SandboxSmsGateway,
    tenant_id: str,
    account_id: str,
    other_phone: str,
    *,
    at: timedelta = timedelta(0),
    answer: bool = True,
) -> str:
    """``account_id`` asks for a link code to ``other_phone``; the user answers it at+1 min."""
    with unit_of_work(sessions) as session:
        started = await linking.start_link(
            session,
            vault,
            gateway,
            tenant_id=tenant_id,
            account_id=account_id,
            other_phone=other_phone,
            now=T0 + at,
        )
    if answer:
        with unit_of_work(sessions) as session:
            otp.answer_challenge(
                session,
                vault,
                tenant_id=tenant_id,
                challenge_id=started.challenge_id,
                code=last_code(gateway, other_phone),
                purpose=otp.Purpose.LINK_ACCOUNT,
                account_id=account_id,
                now=T0 + at + MINUTE,
            )
    return started.challenge_id


def link(
    sessions: Sessions,
    tenant_id: str,
    account_id: str,
    other_account_id: str,
    challenge_id: str,
    at: timedelta = 5 * MINUTE,
) -> bool:
    with sessions.begin() as session:
        return linking.link_accounts(
            session,
            tenant_id=tenant_id,
            account_id=account_id,
            other_account_id=other_account_id,
            challenge_id=challenge_id,
            now=T0 + at,
        )


def reason(caught: pytest.ExceptionInfo[LinkNotProven]) -> object:
    return caught.value.details["reason"]


async def test_linking_after_proving_the_other_phone(
    session_factory: Sessions, vault: Vault, gateway: SandboxSmsGateway, tenant_id: str
) -> None:
    mine = account(session_factory, vault, tenant_id, PHONE_A)
    other = account(session_factory, vault, tenant_id, PHONE_B)
    challenge = await prove(session_factory, vault, gateway, tenant_id, mine, PHONE_B)
    assert "关联" in gateway.messages_to(PHONE_B)[-1].text

    assert link(session_factory, tenant_id, mine, other, challenge)
    with session_factory() as session:
        assert linking.linked_accounts(session, mine) == [other]
        assert linking.linked_accounts(session, other) == [mine]
        rows = session.scalars(select(AccountLink)).all()
        assert sorted((r.account_id, r.linked_account_id) for r in rows) == sorted(
            [(mine, other), (other, mine)]
        )
        (entry,) = session.scalars(select(AuditEntry)).all()
        assert (entry.action, entry.target, entry.details) == (
            "accounts.linked",
            f"account:{mine}",
            {"linked_account_id": other, "challenge_id": challenge},
        )
        # Answering the link code proved the other account's phone as well.
        assert possession.possession_proven(session, vault, other, PHONE_B)
        assert not possession.possession_proven(session, vault, mine, PHONE_B)
    # Linking again changes nothing and writes no second audit entry.
    assert not link(session_factory, tenant_id, mine, other, challenge)
    with session_factory() as session:
        assert len(session.scalars(select(AuditEntry)).all()) == 1


async def test_an_unanswered_code_is_not_proof(
    session_factory: Sessions, vault: Vault, gateway: SandboxSmsGateway, tenant_id: str
) -> None:
    mine = account(session_factory, vault, tenant_id, PHONE_A)
    other = account(session_factory, vault, tenant_id, PHONE_B)
    challenge = await prove(session_factory, vault, gateway, tenant_id, mine, PHONE_B, answer=False)
    with pytest.raises(LinkNotProven) as caught:
        link(session_factory, tenant_id, mine, other, challenge)
    assert (caught.value.code, reason(caught)) == ("LINK_NOT_PROVEN", "no_challenge")
    with session_factory() as session:
        assert linking.linked_accounts(session, mine) == []


async def test_the_proof_must_be_fresh(
    session_factory: Sessions, vault: Vault, gateway: SandboxSmsGateway, tenant_id: str
) -> None:
    mine = account(session_factory, vault, tenant_id, PHONE_A)
    other = account(session_factory, vault, tenant_id, PHONE_B)
    challenge = await prove(session_factory, vault, gateway, tenant_id, mine, PHONE_B)
    answered = MINUTE
    with pytest.raises(LinkNotProven) as caught:
        link(session_factory, tenant_id, mine, other, challenge, answered + 10 * MINUTE + MINUTE)
    assert reason(caught) == "stale"
    assert link(session_factory, tenant_id, mine, other, challenge, answered + 10 * MINUTE)


async def test_the_code_must_have_gone_to_the_other_accounts_phone(
    session_factory: Sessions, vault: Vault, gateway: SandboxSmsGateway, tenant_id: str
) -> None:
    mine = account(session_factory, vault, tenant_id, PHONE_A)
    other = account(session_factory, vault, tenant_id, PHONE_B)
    challenge = await prove(session_factory, vault, gateway, tenant_id, mine, PHONE_C)
    with pytest.raises(LinkNotProven) as caught:
        link(session_factory, tenant_id, mine, other, challenge)
    assert reason(caught) == "other_phone"


async def test_the_code_must_be_the_callers_and_a_link_code(
    session_factory: Sessions, vault: Vault, gateway: SandboxSmsGateway, tenant_id: str
) -> None:
    mine = account(session_factory, vault, tenant_id, PHONE_A)
    other = account(session_factory, vault, tenant_id, PHONE_B)
    third = account(session_factory, vault, tenant_id, PHONE_C)
    # A code the third account asked for does not let this account link.
    theirs = await prove(session_factory, vault, gateway, tenant_id, third, PHONE_B)
    with pytest.raises(LinkNotProven) as caught:
        link(session_factory, tenant_id, mine, other, theirs)
    assert reason(caught) == "no_challenge"
    # Nor does a sign-in code to the other phone, answered or not.
    with unit_of_work(session_factory) as session:
        sign_in = await otp.start_challenge(
            session,
            vault,
            gateway,
            tenant_id=tenant_id,
            phone=PHONE_C,
            purpose=otp.Purpose.LOGIN,
            now=T0 + 2 * MINUTE,
        )
    with unit_of_work(session_factory) as session:
        otp.answer_challenge(
            session,
            vault,
            tenant_id=tenant_id,
            challenge_id=sign_in.challenge_id,
            code=last_code(gateway, PHONE_C),
            purpose=otp.Purpose.LOGIN,
            now=T0 + 3 * MINUTE,
        )
    with pytest.raises(LinkNotProven) as caught:
        link(session_factory, tenant_id, mine, third, sign_in.challenge_id)
    assert reason(caught) == "no_challenge"
    # And a link code cannot be answered as if the other account had asked for it.
    with unit_of_work(session_factory) as session:
        started = await linking.start_link(
            session,
            vault,
            gateway,
            tenant_id=tenant_id,
            account_id=mine,
            other_phone=PHONE_C,
            now=T0 + 4 * MINUTE,
        )
    with pytest.raises(OtpInvalid), unit_of_work(session_factory) as session:
        otp.answer_challenge(
            session,
            vault,
            tenant_id=tenant_id,
            challenge_id=started.challenge_id,
            code=last_code(gateway, PHONE_C),
            purpose=otp.Purpose.LINK_ACCOUNT,
            account_id=third,
            now=T0 + 5 * MINUTE,
        )


async def test_a_proof_links_once(
    session_factory: Sessions, vault: Vault, gateway: SandboxSmsGateway, tenant_id: str
) -> None:
    mine = account(session_factory, vault, tenant_id, PHONE_A)
    other = account(session_factory, vault, tenant_id, PHONE_B)
    also_other = account(session_factory, vault, tenant_id, PHONE_B)  # registered twice
    challenge = await prove(session_factory, vault, gateway, tenant_id, mine, PHONE_B)
    assert link(session_factory, tenant_id, mine, other, challenge)
    with pytest.raises(LinkNotProven) as caught:
        link(session_factory, tenant_id, mine, also_other, challenge)
    assert reason(caught) == "used"


async def test_links_are_transitive_and_stay_within_a_tenant(
    session_factory: Sessions, vault: Vault, gateway: SandboxSmsGateway, tenant_id: str
) -> None:
    first = account(session_factory, vault, tenant_id, PHONE_A)
    second = account(session_factory, vault, tenant_id, PHONE_B)
    third = account(session_factory, vault, tenant_id, PHONE_C)
    challenge = await prove(session_factory, vault, gateway, tenant_id, first, PHONE_B)
    link(session_factory, tenant_id, first, second, challenge)
    challenge = await prove(
        session_factory, vault, gateway, tenant_id, second, PHONE_C, at=2 * MINUTE
    )
    link(session_factory, tenant_id, second, third, challenge, at=4 * MINUTE)
    with session_factory() as session:
        assert linking.linked_accounts(session, first) == sorted([second, third])
        assert linking.linked_accounts(session, third) == sorted([first, second])
        assert linking.are_linked(session, first, second)
        assert not linking.are_linked(session, first, third)
        assert len(session.scalars(select(AuditEntry)).all()) == 2

    with session_factory.begin() as session:
        elsewhere = tenants.create_tenant(session, "other lender").id
    foreign = account(session_factory, vault, elsewhere, PHONE_B)
    with pytest.raises(NotFound):
        link(session_factory, tenant_id, first, foreign, challenge)
    with pytest.raises(BadRequest):
        link(session_factory, tenant_id, first, first, challenge)


async def test_proving_a_submitted_phone(
    session_factory: Sessions, vault: Vault, gateway: SandboxSmsGateway, tenant_id: str
) -> None:
    mine = account(session_factory, vault, tenant_id, PHONE_A)
    with unit_of_work(session_factory) as session:
        started = await otp.start_challenge(
            session,
            vault,
            gateway,
            tenant_id=tenant_id,
            phone=PHONE_C,
            purpose=otp.Purpose.POSSESSION,
            account_id=mine,
            now=T0,
        )
    with unit_of_work(session_factory) as session:
        proof = possession.prove_possession(
            session,
            vault,
            tenant_id=tenant_id,
            account_id=mine,
            challenge_id=started.challenge_id,
            code=last_code(gateway, PHONE_C),
            now=T0 + MINUTE,
        )
    assert proof.purpose == "possession"
    with session_factory() as session:
        assert possession.possession_proven(session, vault, mine, PHONE_C)
        assert possession.possession_proven(session, vault, mine, PHONE_C, since=T0 + MINUTE)
        assert not possession.possession_proven(
            session, vault, mine, PHONE_C, since=T0 + 2 * MINUTE
        )
        assert not possession.possession_proven(session, vault, mine, PHONE_A)
