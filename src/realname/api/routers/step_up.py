"""v1 step-ups: pass the factors a 403 ``STEP_UP_REQUIRED`` asked for, then retry once.

A sensitive action (phone change, credit application) refused with
``STEP_UP_REQUIRED`` names a ``step_up_id`` and its ``factors``:

- ``otp``: ``POST /v1/step-ups/{id}/otp`` sends a code to the account's bound phone;
  answer it with ``POST /v1/step-ups/{id}/complete`` ``{"challenge_id", "code"}``.
- ``bank_card`` / ``face``: ``POST /v1/step-ups/{id}/complete`` with ``name``,
  ``id_number`` and the ``bank_card`` and/or ``face`` capture; the verification
  service checks them and every demanded factor it passes is recorded.

When nothing is outstanding, retry the action with the header ``X-Step-Up: <id>``:
it unlocks that action for that account exactly once.
"""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Depends
from pydantic import BaseModel, ConfigDict, Field

from realname.accounts import otp
from realname.api.deps import (
    ContextDep,
    PrincipalDep,
    SessionDep,
    require_scope,
    transaction,
)
from realname.api.routers.users import ChallengeOut, FaceIn
from realname.api.routing import SessionEndingRoute
from realname.errors import BadRequest
from realname.risk.errors import StepUpInvalid
from realname.risk.service import SqlStepUpLedger
from realname.risk.signals import Factor
from realname.store.models import StepUpChallenge
from realname.store.repositories import audit
from realname.store.repositories.people import read_account_phone
from realname.store.types import utcnow
from realname.verification import users
from realname.verification.diagnosis import FactorState
from realname.verification.evidence import Possession
from realname.verification.intake import RawSubmission
from realname.verification.service import verify

router = APIRouter(prefix="/v1/step-ups", tags=["step-up"], route_class=SessionEndingRoute)
Write = Depends(require_scope("users:write"))
Read = Depends(require_scope("users:read"))

#: The product policy whose checks prove the bank-card and face factors.
STEP_UP_PRODUCT = "phone_change"


class StepUpOut(BaseModel):
    step_up_id: str
    action: str
    factors: list[str]
    passed: list[str]
    outstanding: list[str]
    complete: bool = Field(description="Retry the action with X-Step-Up: <step_up_id>")
    expires_at: datetime
    causes: list[str] = Field(
        default=[], description="Why a bank-card or face factor did not pass (cause codes)"
    )


class CompleteIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"challenge_id": "3f1c…", "code": "123456"},
                {"name": "王小明", "id_number": "110105199003071239", "face": {"…": "…"}},
            ]
        },
    )
    challenge_id: str | None = Field(default=None, max_length=64)
    code: str | None = Field(default=None, max_length=16)
    name: str | None = Field(default=None, max_length=64)
    id_number: str | None = Field(default=None, max_length=32)
    bank_card: str | None = Field(default=None, max_length=40)
    face: FaceIn | None = None


def _out(step_up_id: str, row: StepUpChallenge, causes: list[str] | None = None) -> StepUpOut:
    outstanding = SqlStepUpLedger.outstanding(row)
    return StepUpOut(
        step_up_id=step_up_id,
        action=row.action,
        factors=list(row.factors),
        passed=list(row.passed),
        outstanding=[factor.value for factor in Factor if factor in outstanding],
        complete=not outstanding,
        expires_at=row.expires_at,
        causes=causes or [],
    )


@router.get("/{step_up_id}", response_model=StepUpOut, dependencies=[Read])
def get_step_up(step_up_id: str, session: SessionDep, principal: PrincipalDep) -> StepUpOut:
    """The factors demanded, passed and outstanding."""
    ledger = SqlStepUpLedger(session, str(principal.tenant_id), utcnow())
    return _out(step_up_id, ledger.get(step_up_id))


@router.post("/{step_up_id}/otp", response_model=ChallengeOut, dependencies=[Write])
async def send_step_up_code(
    step_up_id: str, session: SessionDep, context: ContextDep, principal: PrincipalDep
) -> ChallengeOut:
    """Send an SMS code to the account's bound phone for the ``otp`` factor."""
    with transaction(session):
        now = utcnow()
        ledger = SqlStepUpLedger(session, str(principal.tenant_id), now)
        row = ledger.get(step_up_id, for_update=True)
        if Factor.OTP not in SqlStepUpLedger.outstanding(row):
            raise StepUpInvalid("No SMS code is outstanding for this step-up.")
        account = users.user_account(session, str(principal.tenant_id), row.account_id)
        started = await otp.start_challenge(
            session,
            context.vault,
            context.sms,
            tenant_id=account.tenant_id,
            phone=read_account_phone(session, context.vault, account),
            purpose=otp.Purpose.POSSESSION,
            account_id=account.id,
            now=now,
        )
        row.otp_challenge_id = started.challenge_id
        return ChallengeOut.model_validate(started, from_attributes=True)


@router.post("/{step_up_id}/complete", response_model=StepUpOut, dependencies=[Write])
async def complete_step_up(
    step_up_id: str,
    body: CompleteIn,
    session: SessionDep,
    context: ContextDep,
    principal: PrincipalDep,
) -> StepUpOut:
    """Pass factors: the SMS code (``otp``), and/or identity with a bank card or a face."""
    tenant_id = str(principal.tenant_id)
    identity = body.name is not None or body.id_number is not None
    if body.code is None and not identity:
        raise BadRequest("Send the SMS code, or name and ID number with a card or face.")
    if identity and (body.name is None or body.id_number is None):
        raise BadRequest("Name and ID number go together.", field="id_number")
    causes: list[str] = []
    passed_now: list[str] = []
    with transaction(session):
        now = utcnow()
        ledger = SqlStepUpLedger(session, tenant_id, now)
        row = ledger.get(step_up_id, for_update=True)
        account = users.user_account(session, tenant_id, row.account_id)
        if body.code is not None:
            if body.challenge_id is None or body.challenge_id != row.otp_challenge_id:
                raise StepUpInvalid("Answer the code sent for this step-up.", field="challenge_id")
            otp.answer_challenge(
                session,
                context.vault,
                tenant_id=account.tenant_id,
                challenge_id=body.challenge_id,
                code=body.code,
                purpose=otp.Purpose.POSSESSION,
                phone=read_account_phone(session, context.vault, account),
                account_id=account.id,
                now=now,
            )
            otp.consume(session, body.challenge_id, now=now)
            ledger.complete(step_up_id, Factor.OTP)
            passed_now.append(Factor.OTP.value)
    if identity:
        with transaction(session):
            now = utcnow()
            ledger = SqlStepUpLedger(session, tenant_id, now)
            row = ledger.get(step_up_id)
            wanted = SqlStepUpLedger.outstanding(row) & {Factor.BANK_CARD, Factor.FACE}
            if not wanted:
                raise StepUpInvalid("No bank-card or face factor is outstanding.")
            # The bound phone carries the L2 channel the face check builds on; the
            # step-up's own SMS code (when passed) is the proof of holding it.
            possession = (
                Possession.PROVEN if Factor.OTP.value in row.passed else Possession.NOT_ASKED
            )
            account = users.user_account(session, tenant_id, row.account_id)
            phone = read_account_phone(session, context.vault, account)
            # verify() commits after reading the history, before asking the authorities.
            outcome = await verify(
                session,
                context.vault,
                context.provider,
                account,
                RawSubmission(
                    name=body.name,
                    id_number=body.id_number,
                    phone=phone,
                    bank_card=body.bank_card,
                    face=body.face.capture() if body.face else None,
                    consent=users.consents_of(session, account, now),
                ),
                policy=context.policies.product(STEP_UP_PRODUCT),
                possession=possession,
                now=now,
            )
            ledger = SqlStepUpLedger(session, tenant_id, utcnow())
            for factor in sorted(wanted, key=list(Factor).index):
                if outcome.diagnosis.factors.get(factor.value) == FactorState.PASSED:
                    ledger.complete(step_up_id, factor)
                    passed_now.append(factor.value)
            causes = list(outcome.diagnosis.codes)
    with transaction(session):
        ledger = SqlStepUpLedger(session, tenant_id, utcnow())
        row = ledger.get(step_up_id)
        audit.append(
            session,
            f"tenant:{tenant_id}",
            "risk.step_up_factors",
            f"account:{row.account_id}",
            {
                "action": row.action,
                "passed_now": passed_now,
                "outstanding": sorted(f.value for f in SqlStepUpLedger.outstanding(row)),
                "causes": causes,
            },
        )
        return _out(step_up_id, row, causes)
