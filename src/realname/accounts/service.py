"""Sign-up and log-in by phone and SMS code — one flow, enumeration-safe.

:func:`start_signup_or_login` answers the same way whether or not the phone already
has an account (DESIGN §9): the same fields, the same message text, the same
queries in the same order — it always looks the phone up, so an account's existence
changes only the purpose recorded in the database (for the funnel), never the answer
or the work done. Only after the code is answered, when the user has proved holding
the phone, does :func:`complete` create the account or sign into the existing one.

Each successful sign-in records a phone proof (L0, DESIGN §3) and issues a session
token (:mod:`realname.accounts.sessions`). Nothing here commits; wrong codes must be
committed all the same (see :func:`realname.accounts.errors.unit_of_work`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete
from sqlalchemy.orm import Session

from realname.accounts import otp, possession, sessions
from realname.accounts.messages import Language
from realname.accounts.sessions import (
    DEFAULT_SESSION_TTL,
    SessionPrincipal,
    authenticate_session,
    revoke,
    revoke_all,
)
from realname.authorities.sms import SmsGateway
from realname.identity import phone as phones
from realname.privacy.vault import Vault
from realname.store.models import Account, AccountSession, OtpChallenge, PhoneProof
from realname.store.repositories import audit
from realname.store.repositories.people import create_account, find_accounts_by_phone
from realname.store.types import utcnow


@dataclass(frozen=True)
class SignedIn:
    """The account (new when ``created``) and the session token to give the client."""

    account: Account
    created: bool
    session_token: str
    session_expires_at: datetime


async def start_signup_or_login(
    session: Session,
    vault: Vault,
    gateway: SmsGateway,
    tenant_id: str,
    phone: str,
    *,
    now: datetime | None = None,
    policy: otp.OtpPolicy = otp.DEFAULT_POLICY,
    language: Language = "zh-CN",
) -> otp.ChallengeStarted:
    """Send a sign-in code to ``phone``; the answer does not say whether it has an account.

    Errors: :class:`~realname.identity.errors.PhoneInvalid`,
    :class:`~realname.accounts.errors.OtpRateLimited`,
    :class:`~realname.accounts.errors.OtpUndeliverable` (commit it).
    """
    national = phones.validate(phone)
    existing = find_accounts_by_phone(session, vault, tenant_id, national)
    purpose = otp.Purpose.LOGIN if existing else otp.Purpose.SIGNUP
    return await otp.start_challenge(
        session,
        vault,
        gateway,
        tenant_id=tenant_id,
        phone=national,
        purpose=purpose,
        now=now,
        policy=policy,
        language=language,
    )


def complete(
    session: Session,
    vault: Vault,
    *,
    tenant_id: str,
    phone: str,
    challenge_id: str,
    code: str,
    now: datetime | None = None,
    policy: otp.OtpPolicy = otp.DEFAULT_POLICY,
    session_ttl: timedelta = DEFAULT_SESSION_TTL,
) -> SignedIn:
    """Answer the sign-in code; create the account on first success; start a session.

    ``phone`` is the number the user typed (the challenge stores only its blind index,
    having no data key to encrypt it under); a phone other than the challenge's
    counts as a wrong answer. With several accounts on one phone, the oldest is
    signed into. Errors as for :func:`realname.accounts.otp.answer_challenge`.
    """
    when = now or utcnow()
    national = phones.validate(phone)
    verified = otp.answer_challenge(
        session,
        vault,
        tenant_id=tenant_id,
        challenge_id=challenge_id,
        code=code,
        purpose=otp.SIGN_IN,
        phone=national,
        now=when,
        policy=policy,
    )
    otp.consume(session, verified.challenge_id, now=when)
    # Looked up again, not taken from the challenge: an account may have been created
    # (on another device) since the code was sent.
    existing = find_accounts_by_phone(session, vault, tenant_id, national)
    created = not existing
    account = existing[0] if existing else create_account(session, vault, tenant_id, national)
    possession.record_proof(
        session,
        account_id=account.id,
        phone_blind_index=verified.phone_blind_index,
        purpose=otp.Purpose.SIGNUP if created else otp.Purpose.LOGIN,
        challenge_id=verified.challenge_id,
        at=when,
    )
    issued = sessions.issue_session(session, account.id, now=when, ttl=session_ttl)
    if created:
        # Last in the transaction: the audit chain stays locked until commit.
        audit.append(
            session,
            f"account:{account.id}",
            "account.created",
            f"account:{account.id}",
            {"tenant_id": tenant_id, "via": "sms_otp"},
            at=when,
        )
    return SignedIn(
        account=account,
        created=created,
        session_token=issued.token,
        session_expires_at=issued.expires_at,
    )


def erase_account_traces(session: Session, account_id: str) -> None:
    """Delete the account's sessions, phone proofs and challenges (on erasure, PIPL Art. 47).

    Attempt-limit events name no account and leave with their window; links name only
    account ids and stay, as the accounts themselves do.
    """
    for model in (AccountSession, PhoneProof, OtpChallenge):
        session.execute(
            delete(model)
            .where(model.account_id == account_id)
            .execution_options(synchronize_session=False)
        )


__all__ = [
    "SessionPrincipal",
    "SignedIn",
    "authenticate_session",
    "complete",
    "erase_account_traces",
    "revoke",
    "revoke_all",
    "start_signup_or_login",
]
