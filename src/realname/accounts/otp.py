"""SMS one-time codes: issue and send a code, answer it, spend it.

A *challenge* is one code sent to one phone for one :class:`Purpose`. The rules
(defaults of :class:`OtpPolicy`; NIST SP 800-63B §5.1.3.2 on out-of-band codes, and
the usual limits of Chinese SMS verification services):

* the code has 6 digits drawn with :mod:`secrets`, and is valid for 10 minutes;
* after 5 wrong answers the code is locked (guessing succeeds with probability
  5 in 10⁶ per code, and at most 10 codes a day reach one phone);
* a new code to the same phone at most every 60 s, 5 an hour and 10 a day — per
  tenant, because a count shared across lenders would tell one lender that the
  person just applied at another;
* a newer code for the same phone and purpose replaces (supersedes) the older one.

The code is never stored. The row keeps ``HMAC-SHA256(k, challenge id ‖ code)``
where ``k`` is derived from the vault's blind-index key; without the key, the
10⁶ possible codes cannot be tried offline against a copy of the database. The
phone is stored as its blind index only. Answers are compared in constant time
(:func:`hmac.compare_digest`), and the comparison is made — against a MAC of
whatever was submitted — even when the submission is not six digits.

Functions take the caller's ``Session`` and never commit. A wrong answer and an
undelivered message raise errors *after* changing state (see
:class:`~realname.accounts.errors.RecordedRefusal`): commit those.
"""

from __future__ import annotations

import hmac
import math
import secrets
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, cast

from sqlalchemy import CursorResult, delete, select, update
from sqlalchemy.orm import Session

from realname.accounts import _keys
from realname.accounts._locks import lock_key
from realname.accounts.errors import (
    OtpAttemptsExceeded,
    OtpError,
    OtpExpired,
    OtpInvalid,
    OtpRateLimited,
    OtpUndeliverable,
)
from realname.accounts.messages import Language, sms_text
from realname.authorities.sms import SmsGateway
from realname.identity import phone as phones
from realname.privacy.vault import Vault
from realname.store.models import OtpChallenge
from realname.store.types import new_id, utcnow

_CODE_KEY = "otp-code"


class Purpose(StrEnum):
    """What answering a code proves."""

    SIGNUP = "signup"
    LOGIN = "login"
    PHONE_CHANGE = "phone_change"
    LINK_ACCOUNT = "link_account"
    #: The user holds a phone they submitted for verification (DESIGN §3, L2).
    POSSESSION = "possession"


#: Sign-up and log-in are one flow; a code for either replaces a code for the other.
SIGN_IN: frozenset[Purpose] = frozenset({Purpose.SIGNUP, Purpose.LOGIN})


class Status(StrEnum):
    PENDING = "pending"
    VERIFIED = "verified"
    CONSUMED = "consumed"
    LOCKED = "locked"
    SUPERSEDED = "superseded"
    UNDELIVERABLE = "undeliverable"


@dataclass(frozen=True)
class OtpPolicy:
    """The limits on codes; the defaults are the platform's (see the module docstring)."""

    digits: int = 6
    ttl: timedelta = timedelta(minutes=10)
    max_wrong_answers: int = 5
    resend_cooldown: timedelta = timedelta(seconds=60)
    max_per_hour: int = 5
    max_per_day: int = 10

    @property
    def ttl_minutes(self) -> int:
        return max(1, int(self.ttl.total_seconds() // 60))


DEFAULT_POLICY = OtpPolicy()
_HOUR = timedelta(hours=1)
_DAY = timedelta(days=1)


@dataclass(frozen=True)
class ChallengeStarted:
    """What the requester learns: an opaque id, when the code expires, when to resend.

    Deliberately nothing about the phone's accounts (DESIGN §9: same answer shape
    whether or not an identity exists).
    """

    challenge_id: str
    expires_at: datetime
    resend_at: datetime


@dataclass(frozen=True)
class VerifiedChallenge:
    """A challenge answered correctly: what it proved, for whom, and when."""

    challenge_id: str
    tenant_id: str
    purpose: Purpose
    account_id: str | None
    phone_blind_index: str
    verified_at: datetime


# --- pure rules -----------------------------------------------------------------------


def new_code(digits: int = 6) -> str:
    """A uniformly random code of ``digits`` decimal digits (leading zeros kept)."""
    return f"{secrets.randbelow(10**digits):0{digits}d}"


def normalise_code(code: str, digits: int = 6) -> tuple[str, bool]:
    """The submitted code without spaces, full-width digits folded; and whether it is
    well-formed (exactly ``digits`` ASCII digits)."""
    text = "".join(unicodedata.normalize("NFKC", code).split())
    return text, len(text) == digits and text.isascii() and text.isdigit()


def code_mac(vault: Vault, challenge_id: str, code: str) -> str:
    """The stored form of ``code``: HMAC-SHA256 bound to the challenge id, as hex."""
    return _keys.mac_hex(_keys.subkey(vault, _CODE_KEY), challenge_id, code)


def send_wait(previous_sends: Iterable[datetime], now: datetime, policy: OtpPolicy) -> int:
    """Seconds until another code may be sent to a phone, given its earlier sends (0: now).

    The cooldown runs from the newest send; the hourly and daily limits are sliding
    windows, so the wait ends when the oldest send that fills a window leaves it.
    """
    recent = sorted(at for at in previous_sends if now - _DAY < at <= now)
    waits: list[timedelta] = []
    if recent and now - recent[-1] < policy.resend_cooldown:
        waits.append(recent[-1] + policy.resend_cooldown - now)
    last_hour = [at for at in recent if at > now - _HOUR]
    if len(last_hour) >= policy.max_per_hour:
        waits.append(last_hour[len(last_hour) - policy.max_per_hour] + _HOUR - now)
    if len(recent) >= policy.max_per_day:
        waits.append(recent[len(recent) - policy.max_per_day] + _DAY - now)
    if not waits:
        return 0
    return max(1, math.ceil(max(waits).total_seconds()))


def refusal(status: str, expires_at: datetime, now: datetime) -> OtpError | None:
    """Why a challenge in this state cannot be answered at ``now``, before any code is
    compared; ``None`` if it can."""
    if status == Status.LOCKED:
        return OtpAttemptsExceeded()
    if status == Status.UNDELIVERABLE:
        return OtpUndeliverable()
    if status == Status.SUPERSEDED:
        return OtpExpired("A newer verification code was sent; use that one.")
    if status != Status.PENDING:
        return OtpInvalid("This verification code has already been used.")
    if now >= expires_at:
        return OtpExpired()
    return None


# --- sending --------------------------------------------------------------------------


def _previous_sends(
    session: Session, tenant_id: str, phone_index: str, now: datetime
) -> Sequence[datetime]:
    return session.scalars(
        select(OtpChallenge.created_at).where(
            OtpChallenge.tenant_id == tenant_id,
            OtpChallenge.phone_blind_index == phone_index,
            OtpChallenge.created_at > now - _DAY,
        )
    ).all()


def _family(purpose: Purpose) -> frozenset[Purpose]:
    return SIGN_IN if purpose in SIGN_IN else frozenset({purpose})


async def start_challenge(
    session: Session,
    vault: Vault,
    gateway: SmsGateway,
    *,
    tenant_id: str,
    phone: str,
    purpose: Purpose,
    account_id: str | None = None,
    now: datetime | None = None,
    policy: OtpPolicy = DEFAULT_POLICY,
    language: Language = "zh-CN",
) -> ChallengeStarted:
    """Send a new code for ``purpose`` to ``phone`` and record the challenge.

    Raises :class:`~realname.identity.errors.PhoneInvalid` for a number that is not a
    mainland mobile, :class:`OtpRateLimited` (``retry_after`` seconds) when the phone
    had too many codes recently, and :class:`OtpUndeliverable` when the gateway
    could not deliver — after recording the send, which counts against the limits.
    ``account_id`` is the account asking (for linking, possession, phone change).
    """
    national = phones.validate(phone)
    index = vault.blind_index("phone", national)
    when = now or utcnow()
    lock_key(session, f"otp-send:{tenant_id}:{index}")
    wait = send_wait(_previous_sends(session, tenant_id, index, when), when, policy)
    if wait:
        raise OtpRateLimited(wait)

    session.execute(
        update(OtpChallenge)
        .where(
            OtpChallenge.tenant_id == tenant_id,
            OtpChallenge.phone_blind_index == index,
            OtpChallenge.purpose.in_([p.value for p in _family(purpose)]),
            OtpChallenge.status == Status.PENDING.value,
            OtpChallenge.account_id.is_(None)
            if account_id is None
            else OtpChallenge.account_id == account_id,
        )
        .values(status=Status.SUPERSEDED.value)
        .execution_options(synchronize_session=False)
    )

    code = new_code(policy.digits)
    challenge_id = new_id()
    row = OtpChallenge(
        id=challenge_id,
        tenant_id=tenant_id,
        account_id=account_id,
        purpose=purpose.value,
        phone_blind_index=index,
        code_mac=code_mac(vault, challenge_id, code),
        status=Status.PENDING.value,
        attempts=0,
        delivered=False,
        created_at=when,
        expires_at=when + policy.ttl,
    )
    session.add(row)
    session.flush()

    delivery = await gateway.send(
        national, sms_text(purpose.value, code, policy.ttl_minutes, language)
    )
    row.delivered = delivery.delivered
    row.delivery_status = delivery.status[:16]
    row.gateway_message_id = delivery.message_id[:128]
    if not delivery.delivered:
        row.status = Status.UNDELIVERABLE.value
    session.flush()
    if not delivery.delivered:
        raise OtpUndeliverable()
    return ChallengeStarted(
        challenge_id=challenge_id,
        expires_at=row.expires_at,
        resend_at=when + policy.resend_cooldown,
    )


# --- answering ------------------------------------------------------------------------


def _purposes(purpose: Purpose | Iterable[Purpose]) -> frozenset[str]:
    if isinstance(purpose, Purpose):
        return frozenset({purpose.value})
    return frozenset(p.value for p in purpose)


def answer_challenge(
    session: Session,
    vault: Vault,
    *,
    tenant_id: str,
    challenge_id: str,
    code: str,
    purpose: Purpose | Iterable[Purpose],
    phone: str | None = None,
    account_id: str | None = None,
    now: datetime | None = None,
    policy: OtpPolicy = DEFAULT_POLICY,
) -> VerifiedChallenge:
    """Check ``code`` against the challenge; on success mark it verified and return it.

    ``purpose`` is what the caller expects the code to prove; ``phone`` (if given)
    must be the phone the code went to and ``account_id`` (if given) the account that
    asked. An unknown challenge, another tenant's, another purpose's or another
    account's is :class:`OtpInvalid` without counting. A wrong code — or a phone
    that is not the challenge's — counts: :class:`OtpInvalid` with ``attempts_left``,
    and :class:`OtpAttemptsExceeded` on the last allowed wrong answer and after it.
    Also :class:`OtpExpired` and :class:`OtpUndeliverable`.
    """
    when = now or utcnow()
    submitted, well_formed = normalise_code(code, policy.digits)
    # Lock the row first (a row lock on PostgreSQL, the write lock on SQLite) so that
    # parallel guesses are counted one after another, never from the same old count.
    session.execute(
        update(OtpChallenge)
        .where(OtpChallenge.id == challenge_id)
        .values(attempts=OtpChallenge.attempts)
        .execution_options(synchronize_session=False)
    )
    row = session.scalars(
        select(OtpChallenge)
        .where(OtpChallenge.id == challenge_id)
        .execution_options(populate_existing=True)
    ).one_or_none()
    # The MAC is computed whatever happens next, so an unknown challenge costs the same.
    candidate = code_mac(vault, challenge_id, submitted)
    if (
        row is None
        or row.tenant_id != tenant_id
        or row.purpose not in _purposes(purpose)
        or (account_id is not None and row.account_id != account_id)
    ):
        raise OtpInvalid()
    problem = refusal(row.status, row.expires_at, when)
    if problem is not None:
        raise problem

    code_ok = hmac.compare_digest(candidate, row.code_mac) and well_formed
    phone_ok = True
    if phone is not None:
        phone_index = vault.blind_index("phone", phones.validate(phone))
        phone_ok = hmac.compare_digest(phone_index, row.phone_blind_index)
    if not (code_ok and phone_ok):
        row.attempts += 1
        left = policy.max_wrong_answers - row.attempts
        if left <= 0:
            row.status = Status.LOCKED.value
        session.flush()
        if left <= 0:
            raise OtpAttemptsExceeded()
        raise OtpInvalid(attempts_left=left)

    row.status = Status.VERIFIED.value
    row.verified_at = when
    session.flush()
    return VerifiedChallenge(
        challenge_id=row.id,
        tenant_id=row.tenant_id,
        purpose=Purpose(row.purpose),
        account_id=row.account_id,
        phone_blind_index=row.phone_blind_index,
        verified_at=when,
    )


def consume(session: Session, challenge_id: str, *, now: datetime | None = None) -> None:
    """Spend a verified challenge, exactly once (:class:`OtpInvalid` if not verified).

    A compare-and-set in the database, so two requests racing to use one answered
    code cannot both succeed.
    """
    result = cast(
        "CursorResult[Any]",
        session.execute(
            update(OtpChallenge)
            .where(OtpChallenge.id == challenge_id, OtpChallenge.status == Status.VERIFIED.value)
            .values(status=Status.CONSUMED.value, consumed_at=now or utcnow())
        ),
    )
    if result.rowcount != 1:
        raise OtpInvalid("This verification code has already been used.")


def get_challenge(session: Session, challenge_id: str) -> OtpChallenge | None:
    """The stored challenge (for linking and tests); ``None`` when unknown."""
    return session.get(OtpChallenge, challenge_id)


def prune(session: Session, *, before: datetime) -> int:
    """Delete challenges created before ``before``; keep at least a day for the limits.

    Proofs and links that name a pruned challenge keep their row (the reference
    becomes NULL).
    """
    result = cast(
        "CursorResult[Any]",
        session.execute(
            delete(OtpChallenge)
            .where(OtpChallenge.created_at < before)
            .execution_options(synchronize_session=False)
        ),
    )
    return result.rowcount


__all__ = [
    "DEFAULT_POLICY",
    "SIGN_IN",
    "ChallengeStarted",
    "OtpPolicy",
    "Purpose",
    "Status",
    "VerifiedChallenge",
    "answer_challenge",
    "code_mac",
    "consume",
    "get_challenge",
    "new_code",
    "normalise_code",
    "prune",
    "refusal",
    "send_wait",
    "start_challenge",
]
