"""Changing the bound phone (换绑) with the step-up the product policy demands.

Changing the phone is how an account is taken over, so the ``phone_change`` policy
(DESIGN §3) asks for L3 — or, for a user who never did a face check, the factors it
lists (bank-card four-element plus face) done now. The new number must be proven
held by SMS code first. A user whose account is locked because its number was
re-issued (PHONE_RECYCLED) cannot lean on the old level: the old level was proven
with a number someone else now holds, so they re-verify in full. The old binding is
kept in history (:mod:`realname.store.repositories.bindings`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from realname.accounts.possession import possession_proven
from realname.authorities.protocol import FaceCapture, Provider
from realname.errors import Conflict, RealnameError
from realname.identity import phone as phones
from realname.privacy.vault import Vault
from realname.store.models import Account, VerificationResult
from realname.store.repositories import audit
from realname.store.repositories.bindings import rebind_phone
from realname.verification.diagnosis import Diagnosis, FactorState
from realname.verification.evidence import Possession
from realname.verification.intake import RawSubmission
from realname.verification.levels import Level
from realname.verification.policy import ProductPolicy
from realname.verification.service import LOCKED_RECYCLED, verify

#: How recent the SMS proof of holding the new number must be.
POSSESSION_WINDOW = timedelta(minutes=10)


class StepUpRequired(RealnameError):
    """The change needs more proof; ``factors`` says which, ``causes`` why not yet."""

    code = "STEP_UP_REQUIRED"
    http_status = 403
    default_message = "Changing the bound phone needs further verification."


@dataclass(frozen=True)
class PhoneChanged:
    account_id: str
    masked_phone: str
    stepped_up: bool
    diagnosis: Diagnosis | None


def best_level(session: Session, account_id: str) -> Level:
    levels = session.scalars(
        select(VerificationResult.level_reached).where(VerificationResult.account_id == account_id)
    )
    return max((Level.parse(level) for level in levels), default=Level.L0)


def _alternative_met(diagnosis: Diagnosis, policy: ProductPolicy) -> bool:
    return bool(policy.alternative_factors) and all(
        diagnosis.factors.get(factor) == FactorState.PASSED
        for factor in policy.alternative_factors
    )


async def change_phone(
    session: Session,
    vault: Vault,
    provider: Provider,
    account: Account,
    *,
    new_phone: str,
    name: str | None,
    id_number: str | None,
    bank_card: str | None,
    face: FaceCapture | None,
    consent: frozenset[str],
    policy: ProductPolicy,
    now: datetime,
) -> PhoneChanged:
    """Move ``account`` to ``new_phone`` if the step-up holds; raise what is missing."""
    number = phones.validate(new_phone)
    if account.phone_blind_index == vault.blind_index("phone", number):
        raise Conflict("This number is already the account's bound phone.", field="new_phone")
    if not possession_proven(session, vault, account.id, number, since=now - POSSESSION_WINDOW):
        raise StepUpRequired(
            "Prove you hold the new number with an SMS code first.", factors=["sms_otp"]
        )
    locked = account.status == LOCKED_RECYCLED
    diagnosis = None
    if locked or best_level(session, account.id) < policy.level:
        outcome = await verify(
            session,
            vault,
            provider,
            account,
            RawSubmission(
                name=name,
                id_number=id_number,
                phone=number,
                bank_card=bank_card,
                face=face,
                consent=consent,
            ),
            policy=policy,
            possession=Possession.PROVEN,
            now=now,
        )
        diagnosis = outcome.diagnosis
        if diagnosis.level < policy.level and not _alternative_met(diagnosis, policy):
            raise StepUpRequired(
                factors=[str(policy.level), *policy.alternative_factors],
                causes=diagnosis.codes,
            )
    rebind_phone(session, vault, account, number, at=now)
    account.status = "active"
    audit.append(
        session,
        "system:phone-change",
        "account.phone_changed",
        f"account:{account.id}",
        {"stepped_up": diagnosis is not None, "was_locked": locked},
    )
    return PhoneChanged(
        account_id=account.id,
        masked_phone=phones.mask(number),
        stepped_up=diagnosis is not None,
        diagnosis=diagnosis,
    )
