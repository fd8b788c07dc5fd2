"""What the v1 users API does, as functions over a session (routers stay thin).

Submitting identity elements reads the user's recorded consents (PIPL Art. 29:
sensitive personal information only with separate consent) and whether they proved
holding the submitted phone, runs :func:`realname.verification.service.verify`, and
returns the explained status. The status is always built from what is stored, so
``GET /status`` and the answer to a submission say the same thing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from realname.accounts import limits, otp
from realname.accounts.errors import OtpRateLimited, OtpUndeliverable
from realname.accounts.possession import possession_proven
from realname.authorities.protocol import FaceCapture, Provider
from realname.authorities.sms import SmsGateway
from realname.errors import NotFound
from realname.identity import phone as phones
from realname.ops.outcome import explain_review, overlay_reviews
from realname.privacy.vault import Vault
from realname.store.models import Account, VerificationResult
from realname.store.prepared import deferred_inserts
from realname.store.repositories.checks import StoredResult, latest_result
from realname.store.repositories.consents import active_kinds, grant_consent, withdraw_all
from realname.store.repositories.people import get_account
from realname.verification.catalogue import Language, get_catalogue
from realname.verification.causes import Severity
from realname.verification.evidence import CONSENT_KINDS, Possession
from realname.verification.intake import RawSubmission
from realname.verification.levels import Level
from realname.verification.policy import ProductPolicy
from realname.verification.service import LOCKED_RECYCLED, VerificationOutcome, verify

#: What each consent is for, in the words recorded with it (PIPL Art. 17, 29).
CONSENT_PURPOSES = {
    "id": "核验姓名与身份证号是否一致（实名认证） / verify name and ID number",
    "phone": "向运营商核验手机号实名信息 / verify the phone's real-name registration",
    "bank_card": "向发卡行核验银行卡四要素 / verify the bank card with its issuer",
    "face": "人脸活体检测及与公安登记照片比对 / face liveness and comparison",
}


@dataclass(frozen=True)
class Submitted:
    outcome: VerificationOutcome
    #: The SMS code sent to prove holding the submitted phone, when one was sent.
    phone_challenge: otp.ChallengeStarted | None = None


@dataclass(frozen=True)
class StatusView:
    user_id: str
    level: str
    needed: str
    verified: bool
    account_status: str
    causes: list[dict[str, Any]]
    verified_at: datetime | None


def user_account(session: Session, tenant_id: str, user_id: str) -> Account:
    """The tenant's account ``user_id``; another tenant's id is simply not found."""
    return get_account(session, user_id, tenant_id=tenant_id)


def consents_of(session: Session, account: Account, now: datetime) -> frozenset[str]:
    held = active_kinds(session, account_id=account.id, at=now)
    return frozenset(kind for kind in CONSENT_KINDS if kind in held)


def give_consents(
    session: Session, account: Account, kinds: list[str], now: datetime
) -> frozenset[str]:
    held = consents_of(session, account, now)
    for kind in kinds:
        if kind not in held:
            grant_consent(
                session, kind=kind, purpose=CONSENT_PURPOSES[kind], account_id=account.id, at=now
            )
    return consents_of(session, account, now)


def withdraw_consent(
    session: Session, account: Account, kind: str, now: datetime
) -> frozenset[str]:
    """Withdraw a consent (PIPL Art. 15): later verifications stop using that data."""
    withdraw_all(session, kind=kind, account_id=account.id, at=now)
    return consents_of(session, account, now)


async def submit(
    session: Session,
    vault: Vault,
    provider: Provider,
    account: Account,
    *,
    name: str | None,
    id_number: str | None,
    phone: str | None,
    bank_card: str | None,
    policy: ProductPolicy,
    now: datetime,
    face: FaceCapture | None = None,
    device_id: str | None = None,
    ip: str | None = None,
    sms: SmsGateway | None = None,
) -> Submitted:
    """Verify the submitted elements for ``account`` under ``policy``.

    Attempt limits (DESIGN §9) count failed verifications per ID number, phone,
    device and IP; while one is locked nothing is asked of any authority. An
    authority's outage, missing consent or an unfinished step is not the user's
    failure and is not counted.

    With ``sms`` given, a submitted phone the user has not yet proven to hold gets a
    code now (what L2 needs, DESIGN §3); the answer carries the challenge, and a
    number the gateway cannot reach is recorded as such, so the diagnosis can ask
    the carrier why (suspended, cancelled).

    Everything up to the authorities' answers only reads (save the code sent), so a
    caller may begin the transaction with :func:`realname.store.db.read_only`: the
    verification's writes come after :func:`realname.verification.service.verify`
    has committed it.
    """
    keys = limits.attempt_keys(
        vault, account.tenant_id, id_number=id_number, phone=phone, device_id=device_id, ip=ip
    )
    lock = limits.locked_until(session, keys, now=now)
    possession = Possession.NOT_ASKED
    challenge: otp.ChallengeStarted | None = None
    if phone is not None and phones.is_valid(phone):
        number = phones.validate(phone)
        possession = Possession.PENDING
        if possession_proven(session, vault, account.id, number):
            possession = Possession.PROVEN
        elif sms is not None and lock is None and policy.level >= Level.L2:
            # The code is sent in a transaction of its own that takes the write lock:
            # what was read so far may be a read-only snapshot (the API's is), and a
            # snapshot that starts writing fails if another writer committed since.
            session.commit()
            try:
                challenge = await otp.start_challenge(
                    session,
                    vault,
                    sms,
                    tenant_id=account.tenant_id,
                    phone=number,
                    purpose=otp.Purpose.POSSESSION,
                    account_id=account.id,
                    now=now,
                )
            except OtpUndeliverable:
                possession = Possession.UNDELIVERABLE
            except OtpRateLimited:
                pass  # a code sent moments ago is still valid: answer that one
    raw = RawSubmission(
        name=name,
        id_number=id_number,
        phone=phone,
        bank_card=bank_card,
        face=face,
        consent=consents_of(session, account, now),
    )
    # The verification's rows are bound as they are made and written together at the
    # end (or at the first read after them): the write lock covers SQLite's work only.
    with deferred_inserts(session):
        outcome = await verify(
            session,
            vault,
            provider,
            account,
            raw,
            policy=policy,
            possession=possession,
            now=now,
            locked_until=lock[0] if lock else None,
        )
        if lock is None:
            limits.record(session, keys, _attempt_outcome(outcome), now=now)
    return Submitted(outcome=outcome, phone_challenge=challenge)


#: Causes that are not the user's failing: they do not count toward attempt limits.
_NOT_A_FAILURE = frozenset(
    {"PROVIDER_UNAVAILABLE", "CONSENT_MISSING", "STEPS_INCOMPLETE", "UNDER_REVIEW"}
)


def _attempt_outcome(outcome: VerificationOutcome) -> limits.Outcome:
    failed = any(
        cause.severity is Severity.BLOCKING and cause.code.value not in _NOT_A_FAILURE
        for cause in outcome.diagnosis.causes
    )
    return limits.Outcome.FAILURE if failed else limits.Outcome.SUCCESS


def status(
    session: Session,
    account: Account,
    language: Language,
    result: VerificationResult | StoredResult | None = None,
) -> StatusView:
    """The latest result of ``account``, each cause explained with its remedies.

    ``result`` is that latest result when the caller has just recorded it (the answer
    to a submission): what was stored, without reading it back.
    """
    result = result or latest_result(session, account.id)
    if result is None:
        raise NotFound("This user has not submitted identity elements yet.")
    catalogue = get_catalogue()
    # A reviewer's decisions are laid over the stored result (realname.ops.outcome).
    level, needed, stored_causes = overlay_reviews(session, account.id, result)
    causes = []
    for cause in stored_causes:
        cause = explain_review(cause, language)
        explanation = catalogue.explain(cause, language)
        causes.append(
            {
                "code": cause.code.value,
                "severity": cause.severity.value,
                "title": explanation.title,
                "message": explanation.message,
                "remedies": [
                    {"id": r.id, "kind": r.kind, "label": r.label, "text": r.text}
                    for r in explanation.remedies
                ],
                "details": dict(cause.params),
            }
        )
    return StatusView(
        user_id=account.id,
        level=str(level),
        needed=str(needed),
        verified=level >= needed and account.status != LOCKED_RECYCLED,
        account_status=account.status,
        causes=causes,
        verified_at=result.verified_at,
    )
