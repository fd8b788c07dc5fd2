"""Sign-up and log-in by phone and code; enumeration safety; session tokens."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, event, select
from sqlalchemy.orm import Session, sessionmaker

from realname.accounts import otp, possession, service, sessions, unit_of_work
from realname.accounts.errors import OtpInvalid
from realname.authorities.sandbox.sms import SandboxSmsGateway
from realname.privacy.vault import Vault
from realname.store.models import AccountSession, AuditEntry, OtpChallenge
from realname.store.repositories import people, tenants
from tests.accounts.conftest import PHONE_A, PHONE_B, PHONE_C, T0, last_code

pytestmark = [pytest.mark.storage, pytest.mark.anyio]

Sessions = sessionmaker[Session]
#: How long after the code was sent the user answers it.
ANSWERED = timedelta(minutes=1)


async def start(
    sessions_: Sessions,
    vault: Vault,
    gateway: SandboxSmsGateway,
    tenant_id: str,
    phone: str,
    at: timedelta = timedelta(0),
) -> otp.ChallengeStarted:
    with unit_of_work(sessions_) as session:
        return await service.start_signup_or_login(
            session, vault, gateway, tenant_id, phone, now=T0 + at
        )


def complete(
    sessions_: Sessions,
    vault: Vault,
    tenant_id: str,
    phone: str,
    challenge_id: str,
    code: str,
    at: timedelta = timedelta(minutes=1),
) -> service.SignedIn:
    with unit_of_work(sessions_) as session:
        return service.complete(
            session,
            vault,
            tenant_id=tenant_id,
            phone=phone,
            challenge_id=challenge_id,
            code=code,
            now=T0 + at,
        )


async def sign_in(
    sessions_: Sessions,
    vault: Vault,
    gateway: SandboxSmsGateway,
    tenant_id: str,
    phone: str,
    at: timedelta = timedelta(0),
) -> service.SignedIn:
    started = await start(sessions_, vault, gateway, tenant_id, phone, at)
    code = last_code(gateway, phone)
    return complete(sessions_, vault, tenant_id, phone, started.challenge_id, code, at + ANSWERED)


async def test_first_sign_in_creates_the_account_and_the_next_signs_into_it(
    session_factory: Sessions, vault: Vault, gateway: SandboxSmsGateway, tenant_id: str
) -> None:
    first = await sign_in(session_factory, vault, gateway, tenant_id, PHONE_A)
    assert first.created
    assert first.session_expires_at == T0 + ANSWERED + timedelta(days=30)
    with session_factory() as session:
        account = people.get_account(session, first.account.id, tenant_id=tenant_id)
        assert people.read_account_phone(session, vault, account) == PHONE_A
        assert possession.possession_proven(session, vault, account.id, PHONE_A)
        assert not possession.possession_proven(session, vault, account.id, PHONE_B)
        principal = sessions.authenticate_session(session, first.session_token, now=T0)
        assert principal is not None
        assert principal.account_id == account.id
        created = session.scalars(select(AuditEntry)).one()
        assert (created.action, created.target) == ("account.created", f"account:{account.id}")
        challenge = session.scalars(select(OtpChallenge)).one()
        assert (challenge.purpose, challenge.status) == ("signup", "consumed")

    again = await sign_in(session_factory, vault, gateway, tenant_id, PHONE_A, timedelta(hours=1))
    assert not again.created
    assert again.account.id == first.account.id
    assert again.session_token != first.session_token
    with session_factory() as session:
        assert len(session.scalars(select(AuditEntry)).all()) == 1  # log-ins are not audited
        purposes = sorted(session.scalars(select(OtpChallenge.purpose)))
        assert purposes == ["login", "signup"]
        proven = possession.last_proven(session, vault, first.account.id, PHONE_A)
        assert proven == T0 + timedelta(hours=1) + ANSWERED


async def test_an_answered_code_signs_in_once(
    session_factory: Sessions, vault: Vault, gateway: SandboxSmsGateway, tenant_id: str
) -> None:
    started = await start(session_factory, vault, gateway, tenant_id, PHONE_A)
    code = last_code(gateway, PHONE_A)
    complete(session_factory, vault, tenant_id, PHONE_A, started.challenge_id, code)
    with pytest.raises(OtpInvalid):
        complete(session_factory, vault, tenant_id, PHONE_A, started.challenge_id, code)


async def test_the_code_only_works_with_its_own_phone(
    session_factory: Sessions, vault: Vault, gateway: SandboxSmsGateway, tenant_id: str
) -> None:
    started = await start(session_factory, vault, gateway, tenant_id, PHONE_A)
    code = last_code(gateway, PHONE_A)
    with pytest.raises(OtpInvalid) as caught:
        complete(session_factory, vault, tenant_id, PHONE_B, started.challenge_id, code)
    assert caught.value.details == {"attempts_left": 4}
    with session_factory() as session:
        assert people.find_accounts_by_phone(session, vault, tenant_id, PHONE_B) == []
    signed_in = complete(session_factory, vault, tenant_id, PHONE_A, started.challenge_id, code)
    assert signed_in.created


@contextmanager
def statements(engine: Engine) -> Iterator[list[str]]:
    """The SQL text of every statement sent to the database inside the block."""
    seen: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        seen.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


async def test_the_answer_does_not_tell_whether_the_phone_has_an_account(
    session_factory: Sessions,
    engine: Engine,
    vault: Vault,
    gateway: SandboxSmsGateway,
    tenant_id: str,
) -> None:
    await sign_in(session_factory, vault, gateway, tenant_id, PHONE_A)
    later = timedelta(hours=1)

    with statements(engine) as for_existing:
        existing = await start(session_factory, vault, gateway, tenant_id, PHONE_A, later)
    with statements(engine) as for_new:
        new = await start(session_factory, vault, gateway, tenant_id, PHONE_B, later)

    # The same fields, and the same values but for the random id.
    assert dataclasses.asdict(existing).keys() == dataclasses.asdict(new).keys()
    assert dataclasses.replace(existing, challenge_id="") == dataclasses.replace(
        new, challenge_id=""
    )
    assert len(existing.challenge_id) == len(new.challenge_id)
    # The same message apart from the code, and the same database work in the same order.
    texts = [gateway.messages_to(p)[-1].text for p in (PHONE_A, PHONE_B)]
    assert len({re.sub(r"\d{6}", "", t) for t in texts}) == 1
    assert for_existing == for_new
    assert for_existing  # the listener saw the work
    # Only the database knows which flow it was.
    with session_factory() as session:
        rows = session.scalars(select(OtpChallenge).order_by(OtpChallenge.created_at)).all()
        assert [r.purpose for r in rows][-2:] == ["login", "signup"]


async def test_sessions_expire_and_can_be_revoked(
    session_factory: Sessions, vault: Vault, gateway: SandboxSmsGateway, tenant_id: str
) -> None:
    signed_in = await sign_in(session_factory, vault, gateway, tenant_id, PHONE_A)
    token = signed_in.session_token
    assert token.startswith("rns_")
    assert len(token) == 4 + 43
    expires = signed_in.session_expires_at
    with session_factory() as session:
        stored = session.scalars(select(AccountSession.token_hash)).one()
        assert stored == sessions.token_hash(token)
        assert token not in stored
        assert sessions.authenticate_session(session, token, now=expires - timedelta(seconds=1))
        assert sessions.authenticate_session(session, token, now=expires) is None
        assert sessions.authenticate_session(session, token + "x", now=T0) is None
        assert sessions.authenticate_session(session, token, tenant_id=tenant_id, now=T0)
        other = tenants.create_tenant(session, "other lender").id
        assert sessions.authenticate_session(session, token, tenant_id=other, now=T0) is None

    with session_factory.begin() as session:
        assert service.revoke(session, token, now=T0)
        assert not service.revoke(session, token, now=T0)  # already revoked
    with session_factory() as session:
        assert service.authenticate_session(session, token, now=T0) is None


async def test_revoke_all_and_erasure_end_every_session(
    session_factory: Sessions, vault: Vault, gateway: SandboxSmsGateway, tenant_id: str
) -> None:
    first = await sign_in(session_factory, vault, gateway, tenant_id, PHONE_A)
    second = await sign_in(session_factory, vault, gateway, tenant_id, PHONE_A, timedelta(hours=1))
    third = await sign_in(session_factory, vault, gateway, tenant_id, PHONE_C)
    with session_factory.begin() as session:
        assert service.revoke_all(session, first.account.id, now=T0) == 2
    with session_factory() as session:
        assert service.authenticate_session(session, first.session_token, now=T0) is None
        assert service.authenticate_session(session, second.session_token, now=T0) is None
        assert service.authenticate_session(session, third.session_token, now=T0) is not None

    with session_factory.begin() as session:
        account = people.get_account(session, third.account.id)
        assert account.person_id is not None
        person = people.get_person(session, account.person_id)
        people.erase_person(session, vault, person, actor="test")
    with session_factory() as session:
        assert service.authenticate_session(session, third.session_token, now=T0) is None

    with session_factory.begin() as session:
        service.erase_account_traces(session, third.account.id)
        assert sessions.prune(session, before=T0 + timedelta(days=31)) == 2
    with session_factory() as session:
        assert session.scalars(select(AccountSession)).all() == []
        assert not possession.possession_proven(session, vault, third.account.id, PHONE_C)
