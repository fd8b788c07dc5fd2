"""v1 users: sign in by phone + SMS code, consent, submit identity, read the status."""

from __future__ import annotations

import base64
import binascii
from datetime import datetime
from typing import Annotated, Any, Literal, cast, get_args

from fastapi import APIRouter, Depends, Header, Query, Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.responses import Response

from realname.accounts import linking, otp
from realname.accounts import service as accounts
from realname.accounts.possession import prove_possession
from realname.api.deps import (
    ContextDep,
    PrincipalDep,
    SessionDep,
    app_context,
    require_scope,
    scoped_principal,
    transaction,
    transaction_session,
)
from realname.api.fast_path import FastPathRoute, fast_path, json_body, json_response
from realname.authorities.protocol import FaceCapture
from realname.errors import BadRequest
from realname.identity import phone as phones
from realname.privacy.erasure import erase_user
from realname.privacy.export import export_user
from realname.risk import service as risk
from realname.risk.signals import Action as RiskAction
from realname.store import group_commit
from realname.store.db import read_only
from realname.store.repositories.people import read_account_phone
from realname.store.repositories.tenants import ApiKeyPrincipal
from realname.store.types import utcnow
from realname.verification import users
from realname.verification.catalogue import Language
from realname.verification.phone_change import change_phone

router = APIRouter(prefix="/v1/users", tags=["users"], route_class=FastPathRoute)
Write = Depends(require_scope("users:write"))
Read = Depends(require_scope("users:read"))
_writer = scoped_principal("users:write")
#: The caller, admitted only with ``users:write``, for routes needing nothing else of
#: it: one dependency in place of ``dependencies=[Write]`` plus :data:`PrincipalDep`.
Writer = Annotated[ApiKeyPrincipal, Depends(_writer)]


class SignInIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"phone": "13912345678"}]}
    )
    phone: str = Field(max_length=32)


class ChallengeOut(BaseModel):
    challenge_id: str
    expires_at: datetime
    resend_at: datetime


class ProveIn(BaseModel):
    """The answer to an SMS code: which challenge, and the code received."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"challenge_id": "3f1c…", "code": "123456"}]},
    )
    challenge_id: str = Field(max_length=64)
    code: str = Field(max_length=16)


class SignInVerifyIn(ProveIn):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"phone": "13912345678", "challenge_id": "3f1c…", "code": "123456"}]
        },
    )
    phone: str = Field(max_length=32)


class SignedInOut(BaseModel):
    user_id: str
    created: bool
    session_token: str
    session_expires_at: datetime


ConsentKind = Literal["id", "phone", "bank_card", "face"]


class ConsentsIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"kinds": ["id", "phone"]}]}
    )
    kinds: list[ConsentKind] = Field(min_length=1, max_length=4)


class ConsentsOut(BaseModel):
    active: list[str]


class FaceIn(BaseModel):
    """A camera capture: a JPEG/PNG still, or an animated PNG of a short sequence."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"media_type": "image/jpeg", "content_base64": "/9j/4AAQ…"}]
        },
    )
    media_type: Literal["image/jpeg", "image/png"]
    content_base64: str = Field(max_length=8_000_000)

    def capture(self) -> FaceCapture:
        try:
            content = base64.b64decode(self.content_base64, validate=True)
        except binascii.Error:
            raise BadRequest("The face capture is not valid base64.", field="face") from None
        return FaceCapture(content=content, media_type=self.media_type)


class IdentityIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "product": "credit_small",
                    "name": "王小明",
                    "id_number": "110105199003071239",
                    "phone": "13912345678",
                }
            ]
        },
    )
    product: str = Field(default="default", max_length=64)
    name: str = Field(max_length=64)
    id_number: str = Field(max_length=32)
    phone: str | None = Field(default=None, max_length=32)
    bank_card: str | None = Field(default=None, max_length=40)
    face: FaceIn | None = None


class PhoneIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"phone": "18612349999"}]},
    )
    phone: str = Field(max_length=32)


class ProvenOut(BaseModel):
    proven: bool
    proven_at: datetime


class PhoneChangeIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "new_phone": "18612349999",
                    "name": "王小明",
                    "id_number": "110105199003071239",
                    "bank_card": "6222020200112230004",
                }
            ]
        },
    )
    new_phone: str = Field(max_length=32)
    name: str | None = Field(default=None, max_length=64)
    id_number: str | None = Field(default=None, max_length=32)
    bank_card: str | None = Field(default=None, max_length=40)
    face: FaceIn | None = None


class PhoneChangedOut(BaseModel):
    user_id: str
    phone: str = Field(description="The new bound phone, masked")
    stepped_up: bool


class LinkChallengeIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"other_user_id": "5b0e…"}]},
    )
    other_user_id: str = Field(max_length=64)


class LinkIn(ProveIn):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"other_user_id": "5b0e…", "challenge_id": "3f1c…", "code": "123456"}]
        },
    )
    other_user_id: str = Field(max_length=64)


class LinksOut(BaseModel):
    user_id: str
    linked: list[str]


class RemedyOut(BaseModel):
    id: str
    kind: str
    label: str
    text: str


class CauseOut(BaseModel):
    code: str
    severity: str
    title: str
    message: str
    remedies: list[RemedyOut]
    details: dict[str, Any]


class StatusOut(BaseModel):
    user_id: str
    level: str
    needed: str
    verified: bool
    account_status: str
    causes: list[CauseOut]
    verified_at: datetime | None


class SubmittedOut(StatusOut):
    phone_challenge: ChallengeOut | None = Field(
        default=None,
        description="An SMS code was sent to the submitted phone: answer it with "
        "POST /v1/users/{id}/phones/prove, then submit again.",
    )


def _status_out(view: users.StatusView) -> StatusOut:
    return StatusOut.model_validate(view, from_attributes=True)


@router.post("/sign-in", response_model=ChallengeOut, dependencies=[Write])
async def start_sign_in(
    body: SignInIn, session: SessionDep, context: ContextDep, principal: PrincipalDep
) -> ChallengeOut:
    """Send a 6-digit SMS code; the answer is the same whether or not the phone has an account."""
    with transaction(session):
        started = await accounts.start_signup_or_login(
            session, context.vault, context.sms, str(principal.tenant_id), body.phone, now=utcnow()
        )
        return ChallengeOut.model_validate(started, from_attributes=True)


@router.post("/sign-in/verify", response_model=SignedInOut, dependencies=[Write])
def verify_sign_in(
    body: SignInVerifyIn, session: SessionDep, context: ContextDep, principal: PrincipalDep
) -> SignedInOut:
    """Answer the code: the account (created on first sign-in) and a session token."""
    signed = accounts.complete(
        session,
        context.vault,
        tenant_id=str(principal.tenant_id),
        phone=body.phone,
        challenge_id=body.challenge_id,
        code=body.code,
        now=utcnow(),
    )
    return SignedInOut(
        user_id=signed.account.id,
        created=signed.created,
        session_token=signed.session_token,
        session_expires_at=signed.session_expires_at,
    )


@router.post("/{user_id}/consents", response_model=ConsentsOut, dependencies=[Write])
def give_consents(
    user_id: str, body: ConsentsIn, session: SessionDep, principal: PrincipalDep
) -> ConsentsOut:
    """Record the user's separate consent per data kind (PIPL Art. 29), with its purpose."""
    account = users.user_account(session, str(principal.tenant_id), user_id)
    active = users.give_consents(session, account, list(body.kinds), utcnow())
    return ConsentsOut(active=sorted(active))


@router.delete("/{user_id}/consents/{kind}", response_model=ConsentsOut, dependencies=[Write])
def withdraw_consent(
    user_id: str, kind: ConsentKind, session: SessionDep, principal: PrincipalDep
) -> ConsentsOut:
    """Withdraw one consent (PIPL Art. 15); the next verification will not use that data."""
    account = users.user_account(session, str(principal.tenant_id), user_id)
    return ConsentsOut(active=sorted(users.withdraw_consent(session, account, kind, utcnow())))


#: What ``?lang=`` and ``X-Device-Id`` accept (FastAPI checks them from the signature
#: below; the fast path checks the same bounds).
_LANGUAGES: tuple[str, ...] = get_args(Language)
_DEVICE_ID_MAX = 128


async def _submit_fast(request: Request) -> Response | None:
    """:func:`submit_identity` for a well-formed request, read without FastAPI's
    per-parameter machinery (:mod:`realname.api.fast_path`); ``None`` for anything
    else, which FastAPI then refuses exactly as it would have."""
    body = await json_body(request, IdentityIn)
    if body is None:
        return None
    headers = request.headers
    lang = request.query_params.get("lang", "zh-CN")
    device_id = headers.get("x-device-id")
    if lang not in _LANGUAGES or (device_id is not None and len(device_id) > _DEVICE_ID_MAX):
        return None
    principal = await _writer(request, headers.get("authorization"), headers.get("x-api-key"))
    submitted = await submit_identity(
        request.path_params["user_id"],
        body,
        principal,
        request,
        cast(Language, lang),
        device_id,
    )
    return json_response(submitted)


@router.post("/{user_id}/verifications", response_model=SubmittedOut)
@fast_path(_submit_fast)
async def submit_identity(
    user_id: str,
    body: IdentityIn,
    principal: Writer,
    request: Request,
    lang: Annotated[Language, Query()] = "zh-CN",
    x_device_id: Annotated[str | None, Header(max_length=_DEVICE_ID_MAX)] = None,
) -> SubmittedOut:
    """Verify name, ID number and, as the product needs, phone or bank card; say why not.

    ``X-Device-Id`` (from the borrower's app or page) and the client address feed the
    attempt limits; they are kept only as keyed hashes.
    """
    # Admitted by realname.api.admission.AdmissionMiddleware before this runs.
    context = app_context(request)  # not ContextDep: one dependency level less
    # Its own session, not SessionDep: all its database work is this one block.
    with transaction_session(context) as session:
        # Its writes may share a transaction with other verifications finishing
        # now: the answer waits for that commit (settled, below).
        group_commit.allow(session)
        # What the verification reads before asking the authorities is a snapshot
        # that takes no write lock (users.submit ends it); its writes come after.
        with read_only():
            account = users.user_account(session, str(principal.tenant_id), user_id)
        try:
            policy = context.policies.product(body.product)
        except KeyError:
            raise BadRequest("Unknown product.", field="product") from None
        submitted = await users.submit(
            session,
            context.vault,
            context.provider,
            account,
            name=body.name,
            id_number=body.id_number,
            phone=body.phone,
            bank_card=body.bank_card,
            face=body.face.capture() if body.face else None,
            policy=policy,
            now=utcnow(),
            device_id=x_device_id,
            ip=request.client.host if request.client else None,
            sms=context.sms,
        )
        view = users.status(session, account, lang, submitted.outcome.result)
    await group_commit.settled(session)
    # Built after the commit: SQLite's write lock is not held while it is.
    return _submitted_out(view, submitted.phone_challenge)


def _submitted_out(view: users.StatusView, challenge: otp.ChallengeStarted | None) -> SubmittedOut:
    """The answer to a submission, validated once from the view's attributes (not
    built as a :class:`StatusOut`, dumped and validated again)."""
    out = SubmittedOut.model_validate(view, from_attributes=True)
    if challenge is not None:
        out.phone_challenge = ChallengeOut.model_validate(challenge, from_attributes=True)
    return out


@router.post("/{user_id}/phones/challenge", response_model=ChallengeOut, dependencies=[Write])
async def start_phone_proof(
    user_id: str,
    body: PhoneIn,
    session: SessionDep,
    context: ContextDep,
    principal: PrincipalDep,
) -> ChallengeOut:
    """Send an SMS code to a phone the user wants to use (a new number, a card's phone)."""
    with transaction(session):
        account = users.user_account(session, str(principal.tenant_id), user_id)
        started = await otp.start_challenge(
            session,
            context.vault,
            context.sms,
            tenant_id=account.tenant_id,
            phone=phones.validate(body.phone),
            purpose=otp.Purpose.POSSESSION,
            account_id=account.id,
            now=utcnow(),
        )
        return ChallengeOut.model_validate(started, from_attributes=True)


@router.post("/{user_id}/phones/prove", response_model=ProvenOut, dependencies=[Write])
def prove_phone(
    user_id: str, body: ProveIn, session: SessionDep, context: ContextDep, principal: PrincipalDep
) -> ProvenOut:
    """Answer the code: the user holds that phone (what L2 and a phone change need)."""
    account = users.user_account(session, str(principal.tenant_id), user_id)
    proof = prove_possession(
        session,
        context.vault,
        tenant_id=account.tenant_id,
        account_id=account.id,
        challenge_id=body.challenge_id,
        code=body.code,
        now=utcnow(),
    )
    return ProvenOut(proven=True, proven_at=proof.proven_at)


@router.post("/{user_id}/phone-change", response_model=PhoneChangedOut, dependencies=[Write])
async def change_bound_phone(
    user_id: str,
    body: PhoneChangeIn,
    session: SessionDep,
    context: ContextDep,
    principal: PrincipalDep,
    request: Request,
) -> PhoneChangedOut:
    """Change the bound phone (换绑): new number proven by SMS, plus the policy's step-up.

    A 403 ``STEP_UP_REQUIRED`` problem lists the ``factors`` still needed and the
    ``causes`` that stood in the way. Adaptive step-up (``phone_change``,
    :mod:`realname.risk.service`) runs first: its 403 also carries a ``step_up_id`` and
    ranked ``reasons``; pass the factors at ``/v1/step-ups/{id}`` and retry with
    ``X-Step-Up: <id>``. Signals: ``X-Device-Id``, the client address, the optional
    consented ``X-Risk-Behaviour``.
    """
    with transaction(session):
        gate = risk.guard(
            session,
            context.vault,
            users.user_account(session, str(principal.tenant_id), user_id),
            RiskAction.PHONE_CHANGE,
            request,
            utcnow(),
        )
    gate.raise_if_refused()
    with transaction(session):
        account = users.user_account(session, str(principal.tenant_id), user_id)
        now = utcnow()
        changed = await change_phone(
            session,
            context.vault,
            context.provider,
            account,
            new_phone=body.new_phone,
            name=body.name,
            id_number=body.id_number,
            bank_card=body.bank_card,
            face=body.face.capture() if body.face else None,
            consent=users.consents_of(session, account, now),
            policy=context.policies.product("phone_change"),
            now=now,
        )
        return PhoneChangedOut(
            user_id=changed.account_id, phone=changed.masked_phone, stepped_up=changed.stepped_up
        )


@router.get("/{user_id}/status", response_model=StatusOut, dependencies=[Read])
def get_status(
    user_id: str,
    session: SessionDep,
    principal: PrincipalDep,
    lang: Annotated[Literal["zh-CN", "en"], Query()] = "zh-CN",
) -> StatusOut:
    """The level reached and needed, and every cause in plain words with its remedies."""
    account = users.user_account(session, str(principal.tenant_id), user_id)
    return _status_out(users.status(session, account, lang))


@router.post("/{user_id}/links/challenge", response_model=ChallengeOut, dependencies=[Write])
async def start_link(
    user_id: str,
    body: LinkChallengeIn,
    session: SessionDep,
    context: ContextDep,
    principal: PrincipalDep,
) -> ChallengeOut:
    """Send a code to the other account's phone: answering it proves control of both."""
    with transaction(session):
        account = users.user_account(session, str(principal.tenant_id), user_id)
        other = users.user_account(session, str(principal.tenant_id), body.other_user_id)
        started = await linking.start_link(
            session,
            context.vault,
            context.sms,
            tenant_id=account.tenant_id,
            account_id=account.id,
            other_phone=read_account_phone(session, context.vault, other),
            now=utcnow(),
        )
        return ChallengeOut.model_validate(started, from_attributes=True)


@router.post("/{user_id}/links", response_model=LinksOut, dependencies=[Write])
def link(
    user_id: str, body: LinkIn, session: SessionDep, context: ContextDep, principal: PrincipalDep
) -> LinksOut:
    """Link two accounts of one person (DUPLICATE_ACCOUNT's remedy) once both are proven."""
    account = users.user_account(session, str(principal.tenant_id), user_id)
    now = utcnow()
    otp.answer_challenge(
        session,
        context.vault,
        tenant_id=account.tenant_id,
        challenge_id=body.challenge_id,
        code=body.code,
        purpose=otp.Purpose.LINK_ACCOUNT,
        account_id=account.id,
        now=now,
    )
    linking.link_accounts(
        session,
        tenant_id=account.tenant_id,
        account_id=account.id,
        other_account_id=body.other_user_id,
        challenge_id=body.challenge_id,
        now=now,
    )
    return LinksOut(user_id=account.id, linked=linking.linked_accounts(session, account.id))


@router.get("/{user_id}/links", response_model=LinksOut, dependencies=[Read])
def list_links(user_id: str, session: SessionDep, principal: PrincipalDep) -> LinksOut:
    """The accounts linked to this one (directly or through others)."""
    account = users.user_account(session, str(principal.tenant_id), user_id)
    return LinksOut(user_id=account.id, linked=linking.linked_accounts(session, account.id))


class ErasedOut(BaseModel):
    user_id: str
    erased: bool
    accounts: int
    elements_deleted: int
    credentials_revoked: int


@router.delete(
    "/{user_id}",
    response_model=ErasedOut,
    dependencies=[Depends(require_scope("users:erase"))],
)
def erase(
    user_id: str, session: SessionDep, context: ContextDep, principal: PrincipalDep
) -> ErasedOut:
    """Erase the user on request (PIPL Art. 47): data key shredded, traces deleted,
    credentials revoked. The account id and its non-personal history remain."""
    account = users.user_account(session, str(principal.tenant_id), user_id)
    erased = erase_user(
        session, context.vault, account, actor=f"tenant:{principal.tenant_id}", now=utcnow()
    )
    return ErasedOut(
        user_id=account.id,
        erased=True,
        accounts=erased.accounts,
        elements_deleted=erased.elements_deleted,
        credentials_revoked=erased.credentials_revoked,
    )


@router.get(
    "/{user_id}/export",
    dependencies=[Depends(require_scope("users:export"))],
    responses={
        200: {
            "description": "The user's own data, unmasked (PIPL Art. 45)",
            "content": {
                "application/json": {
                    "example": {
                        "format": "realname.export/1",
                        "generated_at": "2026-12-03T08:00:00+00:00",
                        "identity": {"name": "王小明", "id_number": "110105199003071239"},
                        "accounts": [{"account_id": "5b0e…", "phone": "13912345678"}],
                        "consents": [{"kind": "id", "purpose": "…"}],
                        "audit": [{"action": "user.verified", "by": "tenant"}],
                    }
                }
            },
        }
    },
)
def export(
    user_id: str, session: SessionDep, context: ContextDep, principal: PrincipalDep
) -> dict[str, Any]:
    """A copy of everything held about the user, for the user (PIPL Art. 45).

    Unmasked, because it is the data subject's own: relay it to them only. Needs the
    ``users:export`` scope; producing it is audited. 410 ``DATA_ERASED`` after erasure.
    """
    account = users.user_account(session, str(principal.tenant_id), user_id)
    copy = export_user(
        session, context.vault, account, actor=f"tenant:{principal.tenant_id}", now=utcnow()
    )
    return copy.document
