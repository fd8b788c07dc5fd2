"""v1 credit: assess one application — decision, limit (授信额度), level, reasons.

Each application is stored as decided (amount, term, outcome, limit, score, reason
codes, model version — not the declared income or household, which are used and
dropped) so that a declined applicant can ask for the human review PIPL Art. 24
gives them, and the operations funnel can count credit decisions.

Third-party records come from the sandbox world the configured provider answers
from; a deployment without a sandbox gets no records (declared income then counts at
the policy's haircut).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session

from realname.api.context import AppContext
from realname.api.deps import ContextDep, PrincipalDep, SessionDep, require_scope, transaction
from realname.api.routing import SessionEndingRoute
from realname.authorities.sandbox.thirdparty import NO_RECORDS, SandboxThirdParty
from realname.authorities.thirdparty import ThirdPartyProvider, ThirdPartyRecords
from realname.credit.decision import decide
from realname.credit.features import Applicant, Home, Job, Marital
from realname.credit.reviews import request_review
from realname.credit.scorecard import default_scorecard
from realname.errors import NotFound, RealnameError
from realname.risk import service as risk
from realname.risk.signals import Action as RiskAction
from realname.store.models import Account, CreditApplication
from realname.store.repositories import audit
from realname.store.repositories.credit_applications import get_application, record_application
from realname.store.repositories.people import get_person, read_identity
from realname.verification import users
from realname.verification.levels import Level
from realname.verification.service import LOCKED_RECYCLED

router = APIRouter(prefix="/v1/credit", tags=["credit"], route_class=SessionEndingRoute)
Assess = Depends(require_scope("users:write"))

MIN_AMOUNT_FEN = 50_000
MAX_AMOUNT_FEN = 20_000_000
TERMS = (3, 6, 12, 18, 24, 36, 48, 60)


def get_thirdparty(context: ContextDep) -> ThirdPartyProvider | None:
    """The sandbox behind the configured provider (through its wrappers), if any."""
    provider: object = context.provider
    for _ in range(4):
        store, world = getattr(provider, "store", None), getattr(provider, "world", None)
        if store is not None and isinstance(world, str):
            return SandboxThirdParty(store, world)
        provider = getattr(provider, "inner", None)
        if provider is None:
            break
    return None


ThirdPartyDep = Annotated[ThirdPartyProvider | None, Depends(get_thirdparty)]


class ApplicationIn(BaseModel):
    """Money in integer fen; income and expenses per month; seniority in years."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "user_id": "5b0e…",
                    "amount_fen": 300000,
                    "term_months": 12,
                    "currency": "CNY",
                    "income_fen": 1200000,
                    "expenses_fen": 400000,
                    "assets_fen": 5000000,
                    "debt_fen": 0,
                    "seniority_years": 5,
                    "home": "owner",
                    "job": "fixed",
                    "marital": "married",
                    "age": 35,
                    "records": False,
                }
            ]
        },
    )
    user_id: str = Field(max_length=64)
    amount_fen: int = Field(ge=MIN_AMOUNT_FEN, le=MAX_AMOUNT_FEN, strict=True)
    term_months: Literal[3, 6, 12, 18, 24, 36, 48, 60]
    currency: Literal["CNY"]
    income_fen: int | None = Field(default=None, ge=0, le=10_000_000_000, strict=True)
    expenses_fen: int = Field(ge=0, le=10_000_000_000, strict=True)
    assets_fen: int | None = Field(default=None, ge=0, le=10_000_000_000_000, strict=True)
    debt_fen: int | None = Field(default=None, ge=0, le=10_000_000_000_000, strict=True)
    price_fen: int | None = Field(default=None, gt=0, le=10_000_000_000, strict=True)
    seniority_years: int = Field(ge=0, le=60)
    home: Home | None = None
    job: Job | None = None
    marital: Marital | None = None
    age: int = Field(ge=18, le=100)
    records: bool

    def applicant(self) -> Applicant:
        return Applicant(
            amount_fen=self.amount_fen,
            term_months=self.term_months,
            income_fen=self.income_fen,
            expenses_fen=self.expenses_fen,
            assets_fen=self.assets_fen,
            debt_fen=self.debt_fen,
            price_fen=self.price_fen,
            seniority_years=self.seniority_years,
            home=self.home,
            job=self.job,
            marital=self.marital,
            age=self.age,
            records=self.records,
        )


class ReasonOut(BaseModel):
    code: str
    text: str
    source: Literal["scorecard", "policy"]
    characteristic: str | None
    bin: str | None
    points_lost: int


class DecisionOut(BaseModel):
    application_id: str
    user_id: str
    decision: Literal["approve", "refer", "decline"]
    credit_limit_fen: int = Field(description="授信额度 in fen; 0 when declined")
    currency: Literal["CNY"] = "CNY"
    level_required: str
    level: str
    product: str
    score: int
    pd_bp: int = Field(description="Calibrated probability of default in basis points")
    reasons: list[ReasonOut]
    review_available: bool = Field(description="A human can review an automated decline")
    review_state: Literal["not_offered", "available", "requested", "decided"] = Field(
        description="Where the human review of this decision stands"
    )
    income_verified: bool
    model_version: str


def _level(session: Session, account: Account) -> Level:
    """The level reached; none before a first submission or on a recycled number."""
    try:
        view = users.status(session, account, "en")
    except NotFound:
        return Level.L0
    return Level.L0 if view.account_status == LOCKED_RECYCLED else Level.parse(view.level)


def _records(
    session: Session, context: AppContext, thirdparty: ThirdPartyProvider | None, account: Account
) -> ThirdPartyRecords:
    person_id = account.person_id
    if thirdparty is None or person_id is None:
        return NO_RECORDS
    try:
        identity = read_identity(session, context.vault, get_person(session, person_id))
    except RealnameError:
        return NO_RECORDS
    id_number = identity.get("id_number")
    return thirdparty.records(id_number) if id_number else NO_RECORDS


@router.post("/applications", response_model=DecisionOut, dependencies=[Assess])
def assess(
    body: ApplicationIn,
    session: SessionDep,
    context: ContextDep,
    principal: PrincipalDep,
    thirdparty: ThirdPartyDep,
    request: Request,
    lang: Annotated[Literal["zh-CN", "en"], Query()] = "zh-CN",
) -> DecisionOut:
    """Approve, refer or decline; 409 ``STEPS_INCOMPLETE`` names the level still needed.

    Adaptive step-up (``credit_drawdown``, :mod:`realname.risk.service`) comes first:
    a 403 ``STEP_UP_REQUIRED`` names the ``step_up_id``, ``factors`` and ranked
    ``reasons``; retry with ``X-Step-Up: <id>`` once they are passed. Signals read:
    ``X-Device-Id``, the client address, the optional consented ``X-Risk-Behaviour``.
    """
    account = users.user_account(session, str(principal.tenant_id), body.user_id)
    with transaction(session):
        gate = risk.guard(
            session, context.vault, account, RiskAction.CREDIT_DRAWDOWN, request, datetime.now(UTC)
        )
    gate.raise_if_refused()
    level = _level(session, account)
    decision = decide(
        body.applicant(),
        level=level,
        records=_records(session, context, thirdparty, account),
        scorecard=default_scorecard(),
        book=context.policies,
        language=lang,
    )
    application = record_application(
        session,
        tenant_id=str(principal.tenant_id),
        account_id=account.id,
        product=decision.product,
        amount_fen=body.amount_fen,
        term_months=body.term_months,
        decision=decision.outcome,
        limit_fen=decision.limit_fen,
        score=decision.score,
        pd_bp=round(decision.pd * 10_000),
        level=str(level),
        level_required=str(decision.level_required),
        reasons=[r.code for r in decision.reasons],
        model_version=decision.model_version,
        review_available=decision.review_available,
        at=datetime.now(UTC),
    )
    audit.append(
        session,
        f"tenant:{principal.tenant_id}",
        "credit.assessed",
        f"account:{account.id}",
        {
            "application": application.id,
            "decision": decision.outcome,
            "score": decision.score,
            "limit_fen": decision.limit_fen,
            "model_version": decision.model_version,
            "reasons": [r.code for r in decision.reasons],
        },
    )
    return DecisionOut(
        application_id=application.id,
        user_id=account.id,
        decision=decision.outcome,
        credit_limit_fen=decision.limit_fen,
        level_required=str(decision.level_required),
        level=str(level),
        product=decision.product,
        score=decision.score,
        pd_bp=round(decision.pd * 10_000),
        reasons=[ReasonOut.model_validate(r, from_attributes=True) for r in decision.reasons],
        review_available=decision.review_available,
        review_state=application.review_state,
        income_verified=decision.income_verified,
        model_version=decision.model_version,
    )


class ApplicationOut(BaseModel):
    """A stored application as decided; reason codes only (the texts are in the decision)."""

    application_id: str
    user_id: str
    created_at: datetime
    product: str
    amount_fen: int
    term_months: int
    decision: Literal["approve", "refer", "decline"]
    credit_limit_fen: int
    score: int
    pd_bp: int
    level: str
    level_required: str
    reasons: list[str]
    model_version: str
    review_state: Literal["not_offered", "available", "requested", "decided"]
    review_requested_at: datetime | None
    review_outcome: str | None

    @classmethod
    def of(cls, application: CreditApplication) -> ApplicationOut:
        return cls(
            application_id=application.id,
            user_id=application.account_id,
            created_at=application.created_at,
            product=application.product,
            amount_fen=application.amount_fen,
            term_months=application.term_months,
            decision=application.decision,
            credit_limit_fen=application.limit_fen,
            score=application.score,
            pd_bp=application.pd_bp,
            level=application.level,
            level_required=application.level_required,
            reasons=list(application.reasons),
            model_version=application.model_version,
            review_state=application.review_state,
            review_requested_at=application.review_requested_at,
            review_outcome=application.review_outcome,
        )


@router.get(
    "/applications/{application_id}",
    response_model=ApplicationOut,
    dependencies=[Depends(require_scope("users:read"))],
)
def read_application(
    application_id: str, session: SessionDep, principal: PrincipalDep
) -> ApplicationOut:
    """The decision as stored, and where its human review stands."""
    return ApplicationOut.of(get_application(session, str(principal.tenant_id), application_id))


@router.post(
    "/applications/{application_id}/review",
    response_model=ApplicationOut,
    status_code=202,
    dependencies=[Assess],
)
def ask_for_review(
    application_id: str, session: SessionDep, principal: PrincipalDep
) -> ApplicationOut:
    """A person reviews an automated decline (PIPL Art. 24): the case joins the
    operations queue; the answer appears here as ``review_outcome`` (approve: the
    decline is overturned; reject: it stands; resubmit: apply again with more
    information). 409 ``REVIEW_NOT_AVAILABLE`` for a decision that is not a decline."""
    application = get_application(session, str(principal.tenant_id), application_id)
    reviewed = request_review(
        session, application, actor=f"tenant:{principal.tenant_id}", now=datetime.now(UTC)
    )
    return ApplicationOut.of(reviewed)
