"""Proven phones: an account's holder answered a code sent to a phone (possession).

DESIGN §3 builds every level on possession: L0 is an account whose phone passed an
SMS code, L2 binds a carrier three-element or bank-card four-element match to a code
answered on that phone. Every successful sign-in, link and possession challenge
leaves a :class:`~realname.store.models.PhoneProof`; the verification engine asks
:func:`possession_proven` instead of trusting a client's word.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import bindparam, func, select
from sqlalchemy.orm import Session

from realname.accounts import otp
from realname.identity import phone as phones
from realname.privacy.vault import Vault
from realname.store.models import PhoneProof
from realname.store.prepared import Prepared
from realname.store.tables import table_of
from realname.store.types import new_id, utcnow


def record_proof(
    session: Session,
    *,
    account_id: str,
    phone_blind_index: str,
    purpose: otp.Purpose,
    challenge_id: str | None,
    at: datetime | None = None,
) -> PhoneProof:
    """Record that the holder of ``account_id`` proved holding the phone, now."""
    proof = PhoneProof(
        id=new_id(),
        account_id=account_id,
        phone_blind_index=phone_blind_index,
        purpose=purpose.value,
        challenge_id=challenge_id,
        proven_at=at or utcnow(),
    )
    session.add(proof)
    session.flush()
    return proof


_PROOFS = table_of(PhoneProof)
#: Built once: asked on every verification with a phone.
_LAST_PROVEN = Prepared(
    select(func.max(_PROOFS.c.proven_at)).where(
        _PROOFS.c.account_id == bindparam("account_id"),
        _PROOFS.c.phone_blind_index == bindparam("index"),
    )
)


def last_proven(session: Session, vault: Vault, account_id: str, phone: str) -> datetime | None:
    """When the holder of ``account_id`` last proved holding ``phone`` (``None``: never)."""
    index = vault.blind_index("phone", phones.validate(phone))
    proven: datetime | None = _LAST_PROVEN.scalar(
        session, {"account_id": account_id, "index": index}
    )
    return proven


def possession_proven(
    session: Session,
    vault: Vault,
    account_id: str,
    phone: str,
    *,
    since: datetime | None = None,
) -> bool:
    """Whether the holder of ``account_id`` proved holding ``phone`` (at or after ``since``)."""
    proven = last_proven(session, vault, account_id, phone)
    return proven is not None and (since is None or proven >= since)


def prove_possession(
    session: Session,
    vault: Vault,
    *,
    tenant_id: str,
    account_id: str,
    challenge_id: str,
    code: str,
    now: datetime | None = None,
) -> PhoneProof:
    """Answer a :attr:`~realname.accounts.otp.Purpose.POSSESSION` challenge the account
    started for a submitted phone, spend it, and record the proof.

    Start the challenge with :func:`realname.accounts.otp.start_challenge` (purpose
    ``POSSESSION``, ``account_id`` set). Errors as for
    :func:`~realname.accounts.otp.answer_challenge`.
    """
    when = now or utcnow()
    verified = otp.answer_challenge(
        session,
        vault,
        tenant_id=tenant_id,
        challenge_id=challenge_id,
        code=code,
        purpose=otp.Purpose.POSSESSION,
        account_id=account_id,
        now=when,
    )
    otp.consume(session, verified.challenge_id, now=when)
    return record_proof(
        session,
        account_id=account_id,
        phone_blind_index=verified.phone_blind_index,
        purpose=otp.Purpose.POSSESSION,
        challenge_id=verified.challenge_id,
        at=when,
    )


__all__ = ["last_proven", "possession_proven", "prove_possession", "record_proof"]
