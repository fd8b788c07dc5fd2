"""One-time codes against a real database: send, answer, expire, lock, limit, store."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import Engine, select, text
from sqlalchemy.orm import Session, sessionmaker

from realname.accounts import otp, unit_of_work
from realname.accounts.errors import (
    OtpAttemptsExceeded,
    OtpExpired,
    OtpInvalid,
    OtpRateLimited,
    OtpUndeliverable,
)
from realname.authorities.sandbox.sms import SandboxSmsGateway
from realname.identity.errors import PhoneInvalid
from realname.privacy.keys import Keyring
from realname.privacy.vault import Vault
from realname.store.models import Base, OtpChallenge, Tenant
from realname.store.repositories import tenants
from tests.accounts.conftest import (
    PHONE_A,
    PHONE_B,
    SUSPENDED,
    T0,
    UNKNOWN,
    last_code,
    wrong,
)

pytestmark = [pytest.mark.storage, pytest.mark.anyio]

Sessions = sessionmaker[Session]


async def send(
    sessions: Sessions,
    vault: Vault,
    gateway: SandboxSmsGateway,
    tenant_id: str,
    phone: str = PHONE_A,
    *,
    at: timedelta = timedelta(0),
    purpose: otp.Purpose = otp.Purpose.SIGNUP,
) -> otp.ChallengeStarted:
    with unit_of_work(sessions) as session:
        return await otp.start_challenge(
            session,
            vault,
            gateway,
            tenant_id=tenant_id,
            phone=phone,
            purpose=purpose,
            now=T0 + at,
        )


def answer(
    sessions: Sessions,
    vault: Vault,
    tenant_id: str,
    challenge_id: str,
    code: str,
    *,
    at: timedelta = timedelta(minutes=1),
    purpose: otp.Purpose = otp.Purpose.SIGNUP,
) -> otp.VerifiedChallenge:
    with unit_of_work(sessions) as session:
        return otp.answer_challenge(
            session,
            vault,
            tenant_id=tenant_id,
            challenge_id=challenge_id,
            code=code,
            purpose=purpose,
            now=T0 + at,
        )


def stored(sessions: Sessions, challenge_id: str) -> OtpChallenge:
    with sessions() as session:
        row = session.get(OtpChallenge, challenge_id)
        assert row is not None
        return row


async def test_happy_path_reads_the_code_from_the_outbox(
    session_factory: Sessions, vault: Vault, gateway: SandboxSmsGateway, tenant_id: str
) -> None:
    started = await send(session_factory, vault, gateway, tenant_id, "+86 139-1234-5678")
    assert started.expires_at == T0 + timedelta(minutes=10)
    assert started.resend_at == T0 + timedelta(seconds=60)
    (message,) = gateway.messages_to(PHONE_A)
    assert message.delivered
    code = last_code(gateway, PHONE_A)
    assert message.text == f"【realname】验证码 {code}，10分钟内有效，请勿告诉他人。"

    verified = answer(session_factory, vault, tenant_id, started.challenge_id, code)
    assert verified.purpose is otp.Purpose.SIGNUP
    assert verified.phone_blind_index == vault.blind_index("phone", PHONE_A)
    assert verified.verified_at == T0 + timedelta(minutes=1)
    row = stored(session_factory, started.challenge_id)
    assert (row.status, row.delivered, row.delivery_status) == ("verified", True, "DELIVRD")

    # A code is good once: answering it again is refused.
    with pytest.raises(OtpInvalid):
        answer(session_factory, vault, tenant_id, started.challenge_id, code)


async def test_the_code_expires_after_ten_minutes(
    session_factory: Sessions, vault: Vault, gateway: SandboxSmsGateway, tenant_id: str
) -> None:
    first = await send(session_factory, vault, gateway, tenant_id)
    code = last_code(gateway, PHONE_A)
    with pytest.raises(OtpExpired) as caught:
        answer(
            session_factory, vault, tenant_id, first.challenge_id, code, at=timedelta(minutes=10)
        )
    assert caught.value.code == "OTP_EXPIRED"

    second = await send(session_factory, vault, gateway, tenant_id, at=timedelta(minutes=11))
    code = last_code(gateway, PHONE_A)
    just_in_time = timedelta(minutes=21) - timedelta(microseconds=1)
    answer(session_factory, vault, tenant_id, second.challenge_id, code, at=just_in_time)


async def test_five_wrong_answers_lock_the_code(
    session_factory: Sessions, vault: Vault, gateway: SandboxSmsGateway, tenant_id: str
) -> None:
    started = await send(session_factory, vault, gateway, tenant_id)
    code = last_code(gateway, PHONE_A)
    for left in (4, 3, 2, 1):
        with pytest.raises(OtpInvalid) as caught:
            answer(session_factory, vault, tenant_id, started.challenge_id, wrong(code))
        assert caught.value.details == {"attempts_left": left}
    with pytest.raises(OtpAttemptsExceeded):
        answer(session_factory, vault, tenant_id, started.challenge_id, wrong(code))
    # Now even the right code is refused: each wrong answer was committed.
    with pytest.raises(OtpAttemptsExceeded):
        answer(session_factory, vault, tenant_id, started.challenge_id, code)
    row = stored(session_factory, started.challenge_id)
    assert (row.status, row.attempts) == ("locked", 5)


async def test_malformed_answers_count_as_wrong_and_full_width_digits_are_read(
    session_factory: Sessions, vault: Vault, gateway: SandboxSmsGateway, tenant_id: str
) -> None:
    started = await send(session_factory, vault, gateway, tenant_id)
    code = last_code(gateway, PHONE_A)
    with pytest.raises(OtpInvalid):
        answer(session_factory, vault, tenant_id, started.challenge_id, code + "0")
    full_width = code.translate(str.maketrans("0123456789", "０１２３４５６７８９"))
    answer(session_factory, vault, tenant_id, started.challenge_id, f" {full_width} ")
    assert stored(session_factory, started.challenge_id).attempts == 1


async def test_refusals_that_do_not_count(
    session_factory: Sessions, vault: Vault, gateway: SandboxSmsGateway, tenant_id: str
) -> None:
    started = await send(session_factory, vault, gateway, tenant_id)
    code = last_code(gateway, PHONE_A)
    with session_factory.begin() as session:
        other_tenant = tenants.create_tenant(session, "other lender").id
    with pytest.raises(OtpInvalid):
        answer(session_factory, vault, other_tenant, started.challenge_id, code)
    with pytest.raises(OtpInvalid):
        answer(
            session_factory,
            vault,
            tenant_id,
            started.challenge_id,
            code,
            purpose=otp.Purpose.LINK_ACCOUNT,
        )
    with pytest.raises(OtpInvalid) as unknown:
        answer(session_factory, vault, tenant_id, "no-such-challenge", code)
    assert "attempts_left" not in unknown.value.details
    assert stored(session_factory, started.challenge_id).attempts == 0
    answer(session_factory, vault, tenant_id, started.challenge_id, code)


async def test_a_new_code_replaces_the_old_one(
    session_factory: Sessions, vault: Vault, gateway: SandboxSmsGateway, tenant_id: str
) -> None:
    first = await send(session_factory, vault, gateway, tenant_id)
    first_code = last_code(gateway, PHONE_A)
    # Sign-up and log-in are one flow: a log-in code replaces a sign-up code.
    second = await send(
        session_factory,
        vault,
        gateway,
        tenant_id,
        at=timedelta(seconds=61),
        purpose=otp.Purpose.LOGIN,
    )
    second_code = last_code(gateway, PHONE_A)
    with pytest.raises(OtpExpired):
        answer(session_factory, vault, tenant_id, first.challenge_id, first_code)
    answer(
        session_factory,
        vault,
        tenant_id,
        second.challenge_id,
        second_code,
        purpose=otp.Purpose.LOGIN,
    )


async def test_resend_cooldown(
    session_factory: Sessions, vault: Vault, gateway: SandboxSmsGateway, tenant_id: str
) -> None:
    await send(session_factory, vault, gateway, tenant_id)
    with pytest.raises(OtpRateLimited) as caught:
        await send(session_factory, vault, gateway, tenant_id, at=timedelta(seconds=30))
    assert (caught.value.code, caught.value.retry_after) == ("OTP_RATE_LIMITED", 30)
    assert len(gateway.messages_to(PHONE_A)) == 1  # nothing was sent
    # Another phone is not held back, and neither is this one a minute later.
    await send(session_factory, vault, gateway, tenant_id, PHONE_B, at=timedelta(seconds=30))
    await send(session_factory, vault, gateway, tenant_id, at=timedelta(seconds=60))


async def test_hourly_and_daily_limits(
    session_factory: Sessions, vault: Vault, gateway: SandboxSmsGateway, tenant_id: str
) -> None:
    for minute in range(5):
        await send(session_factory, vault, gateway, tenant_id, at=timedelta(minutes=minute))
    with pytest.raises(OtpRateLimited) as hourly:
        await send(session_factory, vault, gateway, tenant_id, at=timedelta(minutes=5))
    assert hourly.value.retry_after == 55 * 60
    for minute in range(60, 65):
        await send(session_factory, vault, gateway, tenant_id, at=timedelta(minutes=minute))
    with pytest.raises(OtpRateLimited) as daily:
        await send(session_factory, vault, gateway, tenant_id, at=timedelta(hours=3))
    assert daily.value.retry_after == 21 * 3600
    assert len(gateway.messages_to(PHONE_A)) == 10

    # The limits are per tenant: another lender's user is not held back.
    with session_factory.begin() as session:
        other_tenant = tenants.create_tenant(session, "other lender").id
    await send(session_factory, vault, gateway, other_tenant, at=timedelta(hours=3))
    await send(session_factory, vault, gateway, tenant_id, at=timedelta(days=1))


@pytest.mark.parametrize("phone", [SUSPENDED, UNKNOWN])
async def test_an_undeliverable_number(
    session_factory: Sessions,
    vault: Vault,
    gateway: SandboxSmsGateway,
    tenant_id: str,
    phone: str,
) -> None:
    with pytest.raises(OtpUndeliverable) as caught:
        await send(session_factory, vault, gateway, tenant_id, phone)
    assert caught.value.code == "OTP_UNDELIVERABLE"
    assert [m.delivered for m in gateway.messages_to(phone)] == [False]
    with session_factory() as session:
        row = session.scalars(select(OtpChallenge)).one()
    assert (row.status, row.delivered, row.delivery_status) == ("undeliverable", False, "UNDELIV")
    # The attempt was recorded, so it counts against the phone's limits ...
    with pytest.raises(OtpRateLimited):
        await send(session_factory, vault, gateway, tenant_id, phone, at=timedelta(seconds=10))
    # ... and the code, though a developer can read it in the sandbox, is no good.
    with pytest.raises(OtpUndeliverable):
        answer(session_factory, vault, tenant_id, row.id, last_code(gateway, phone))


async def test_not_a_mobile_number(
    session_factory: Sessions, vault: Vault, gateway: SandboxSmsGateway, tenant_id: str
) -> None:
    with pytest.raises(PhoneInvalid):
        await send(session_factory, vault, gateway, tenant_id, "010-12345678")
    assert gateway.outbox == []


async def test_the_code_is_not_stored(
    session_factory: Sessions,
    engine: Engine,
    vault: Vault,
    gateway: SandboxSmsGateway,
    tenant_id: str,
) -> None:
    started = await send(session_factory, vault, gateway, tenant_id)
    code = last_code(gateway, PHONE_A)
    with pytest.raises(OtpInvalid):
        answer(session_factory, vault, tenant_id, started.challenge_id, wrong(code))

    # Hex digests may contain any six digits by chance; a stored code would stand
    # alone or between non-hex characters.
    standalone = re.compile(rf"(?<![0-9a-fA-F]){code}(?![0-9a-fA-F])")
    values: list[object] = []
    with engine.connect() as connection:
        for table in Base.metadata.sorted_tables:
            for row in connection.execute(text(f"SELECT * FROM {table.name}")):
                values.extend(row)
    assert values
    for value in values:
        if isinstance(value, bytes):
            assert code.encode() not in value
        else:
            assert not standalone.search(str(value))
            assert PHONE_A not in str(value)

    row = stored(session_factory, started.challenge_id)
    assert row.code_mac == otp.code_mac(vault, started.challenge_id, code)
    # Without the key, the MAC says nothing: another key gives another MAC.
    assert row.code_mac != otp.code_mac(Vault(Keyring.generate()), started.challenge_id, code)


async def test_prune_removes_old_challenges(
    session_factory: Sessions, vault: Vault, gateway: SandboxSmsGateway, tenant_id: str
) -> None:
    await send(session_factory, vault, gateway, tenant_id)
    await send(session_factory, vault, gateway, tenant_id, PHONE_B, at=timedelta(days=1))
    with session_factory.begin() as session:
        assert otp.prune(session, before=T0 + timedelta(hours=1)) == 1
    with session_factory() as session:
        assert len(session.scalars(select(OtpChallenge)).all()) == 1


async def test_unit_of_work_keeps_recorded_refusals_and_drops_the_rest(
    session_factory: Sessions, vault: Vault, gateway: SandboxSmsGateway, tenant_id: str
) -> None:
    started = await send(session_factory, vault, gateway, tenant_id)
    code = last_code(gateway, PHONE_A)
    with pytest.raises(OtpInvalid), unit_of_work(session_factory) as session:
        otp.answer_challenge(
            session,
            vault,
            tenant_id=tenant_id,
            challenge_id=started.challenge_id,
            code=wrong(code),
            purpose=otp.Purpose.SIGNUP,
            now=T0,
        )

    async def write_then_refuse() -> None:
        with unit_of_work(session_factory) as session:
            tenants.create_tenant(session, "written, then rolled back")
            await otp.start_challenge(
                session,
                vault,
                gateway,
                tenant_id=tenant_id,
                phone=PHONE_A,
                purpose=otp.Purpose.SIGNUP,
                now=T0,
            )

    with pytest.raises(OtpRateLimited):
        await write_then_refuse()
    assert stored(session_factory, started.challenge_id).attempts == 1
    with session_factory() as session:
        assert session.scalars(select(Tenant.name)).all() == ["lender"]
