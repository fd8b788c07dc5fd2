"""Linking two accounts of one person (DESIGN §4, DUPLICATE_ACCOUNT).

A person who registered twice — with two phone numbers, say — and verified the other
account is told DUPLICATE_ACCOUNT: link them. Linking needs proof of control of
*both* accounts: the caller is signed into one (its session proves it), and the user
answers a :attr:`~realname.accounts.otp.Purpose.LINK_ACCOUNT` code sent to the other
account's phone, at most 10 minutes before the link is made. Without that proof the
case is IDENTITY_IN_USE and goes to review, not here.

The flow: :func:`start_link` (sends the code; does not say whether the number has an
account), :func:`realname.accounts.otp.answer_challenge` with ``purpose=LINK_ACCOUNT``
and the caller's ``account_id``, then :func:`link_accounts`, which spends the answered
code, stores the link in both directions, records the other phone as proven, and
writes one audit entry per link.
"""

from __future__ import annotations

import hmac
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from realname.accounts import otp, possession
from realname.accounts.errors import LinkNotProven
from realname.accounts.messages import Language
from realname.authorities.sms import SmsGateway
from realname.errors import BadRequest
from realname.privacy.vault import Vault
from realname.store.models import AccountLink, OtpChallenge
from realname.store.repositories import audit
from realname.store.repositories.people import get_account
from realname.store.types import utcnow

#: How long an answered link code stays good for linking.
LINK_PROOF_MAX_AGE = timedelta(minutes=10)
#: Bound on the breadth-first walk of :func:`linked_accounts`.
_MAX_GROUP = 1000


async def start_link(
    session: Session,
    vault: Vault,
    gateway: SmsGateway,
    *,
    tenant_id: str,
    account_id: str,
    other_phone: str,
    now: datetime | None = None,
    policy: otp.OtpPolicy = otp.DEFAULT_POLICY,
    language: Language = "zh-CN",
) -> otp.ChallengeStarted:
    """Send a link code to ``other_phone`` on behalf of the signed-in ``account_id``."""
    get_account(session, account_id, tenant_id=tenant_id)
    return await otp.start_challenge(
        session,
        vault,
        gateway,
        tenant_id=tenant_id,
        phone=other_phone,
        purpose=otp.Purpose.LINK_ACCOUNT,
        account_id=account_id,
        now=now,
        policy=policy,
        language=language,
    )


def are_linked(session: Session, account_id: str, other_account_id: str) -> bool:
    """Whether the two accounts are linked directly."""
    return (
        session.get(AccountLink, {"account_id": account_id, "linked_account_id": other_account_id})
        is not None
    )


def linked_accounts(session: Session, account_id: str) -> list[str]:
    """Ids of every account linked to ``account_id``, directly or through others, sorted.

    A link is proven control of both accounts, so a chain of links is control of all.
    """
    seen = {account_id}
    frontier = [account_id]
    while frontier and len(seen) < _MAX_GROUP:
        found = session.scalars(
            select(AccountLink.linked_account_id).where(AccountLink.account_id.in_(frontier))
        ).all()
        frontier = sorted(set(found) - seen)
        seen.update(frontier)
    return sorted(seen - {account_id})


def _proof(
    session: Session,
    *,
    tenant_id: str,
    account_id: str,
    challenge_id: str,
    other_phone_index: str | None,
    now: datetime,
    max_age: timedelta,
) -> OtpChallenge:
    challenge = session.scalars(
        select(OtpChallenge)
        .where(OtpChallenge.id == challenge_id)
        .execution_options(populate_existing=True)
    ).one_or_none()
    if (
        challenge is None
        or challenge.tenant_id != tenant_id
        or challenge.purpose != otp.Purpose.LINK_ACCOUNT.value
        or challenge.account_id != account_id
        or challenge.verified_at is None
    ):
        raise LinkNotProven("no_challenge")
    if challenge.status == otp.Status.CONSUMED.value:
        raise LinkNotProven("used")
    if challenge.status != otp.Status.VERIFIED.value:
        raise LinkNotProven("no_challenge")
    if now - challenge.verified_at > max_age:
        raise LinkNotProven("stale")
    if other_phone_index is None or not hmac.compare_digest(
        other_phone_index, challenge.phone_blind_index
    ):
        raise LinkNotProven("other_phone")
    return challenge


def link_accounts(
    session: Session,
    *,
    tenant_id: str,
    account_id: str,
    other_account_id: str,
    challenge_id: str,
    actor: str | None = None,
    now: datetime | None = None,
    max_age: timedelta = LINK_PROOF_MAX_AGE,
) -> bool:
    """Link ``account_id`` (the signed-in caller) with ``other_account_id``.

    ``challenge_id`` must be a link code the caller's account asked for, sent to the
    other account's phone, answered within ``max_age`` and not yet used; otherwise
    :class:`~realname.accounts.errors.LinkNotProven` with its ``reason``. Returns
    ``True`` when a new link was made, ``False`` when the accounts were already
    linked (nothing is checked or changed then; the code stays unspent). Both
    accounts must belong to ``tenant_id`` (:class:`~realname.errors.NotFound`
    otherwise).
    """
    if account_id == other_account_id:
        raise BadRequest("An account cannot be linked to itself.")
    when = now or utcnow()
    get_account(session, account_id, tenant_id=tenant_id)
    other = get_account(session, other_account_id, tenant_id=tenant_id)
    if are_linked(session, account_id, other_account_id):
        return False
    challenge = _proof(
        session,
        tenant_id=tenant_id,
        account_id=account_id,
        challenge_id=challenge_id,
        other_phone_index=other.phone_blind_index,
        now=when,
        max_age=max_age,
    )
    otp.consume(session, challenge.id, now=when)
    for one, two in ((account_id, other_account_id), (other_account_id, account_id)):
        session.add(
            AccountLink(
                account_id=one, linked_account_id=two, challenge_id=challenge.id, linked_at=when
            )
        )
    possession.record_proof(
        session,
        account_id=other_account_id,
        phone_blind_index=challenge.phone_blind_index,
        purpose=otp.Purpose.LINK_ACCOUNT,
        challenge_id=challenge.id,
        at=when,
    )
    session.flush()
    # Last in the transaction: the audit chain stays locked until commit.
    audit.append(
        session,
        actor or f"account:{account_id}",
        "accounts.linked",
        f"account:{account_id}",
        {"linked_account_id": other_account_id, "challenge_id": challenge.id},
        at=when,
    )
    return True


__all__ = [
    "LINK_PROOF_MAX_AGE",
    "are_linked",
    "link_accounts",
    "linked_accounts",
    "start_link",
]
