"""Changing the bound phone (换绑) from the borrower's pages.

Three steps, each a plain form (CSRF-protected like every borrower form):

1. ``/phone/change``: the new number (the masked binding history is shown);
2. ``/phone/change/code``: an SMS code sent to the new number — holding it is the
   first thing :func:`realname.verification.phone_change.change_phone` demands;
3. ``/phone/change/verify`` then ``/phone/change/confirm``: the step-up the
   ``phone_change`` product policy requires (:func:`step_up_needed`), then the
   change itself; the result page shows the new binding and the old ones, masked.

A re-issued number (PHONE_RECYCLED) locks the account's sensitive actions; this is
its one-click remedy from the status page, and the change unlocks the account.

Step state lives in the form itself (the new number, the challenge id), never in a
server-side draft: a double submit of any step finds the work already done and
answers as if it had just done it (a proven number is not asked for again; a number
already bound leads to the result page). The face capture travels as a base64 field
that ``borrower.js`` fills from the camera input; the live camera page is ``/face``.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from datetime import date
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from realname.accounts import otp
from realname.accounts.errors import AccountsError, OtpRateLimited
from realname.accounts.possession import possession_proven, prove_possession
from realname.authorities.protocol import FaceCapture
from realname.errors import Conflict, RealnameError
from realname.identity import masking
from realname.identity import phone as phones
from realname.identity.errors import IdentityError
from realname.identity.inspection import inspect_elements
from realname.privacy.vault import DataErased, Vault
from realname.risk import service as risk
from realname.risk.signals import Action as RiskAction
from realname.store.models import Account, Person
from realname.store.repositories.bindings import BINDINGS_TABLE, list_bindings
from realname.store.repositories.people import read_account_phone
from realname.store.types import utcnow
from realname.verification import users
from realname.verification.catalogue import Language, get_catalogue
from realname.verification.causes import CauseCode
from realname.verification.levels import Level
from realname.verification.phone_change import (
    POSSESSION_WINDOW,
    StepUpRequired,
    best_level,
    change_phone,
)
from realname.verification.policy import ProductPolicy
from realname.verification.service import LOCKED_RECYCLED
from realname.web.borrower import (
    CHROME,
    CONSENT_TEXT,
    FIELD_ERRORS,
    SESSION_COOKIE,
    LangQuery,
    _context,
    _csrf_ok,
    _expired_page,
    _form,
    _is_sandbox,
    _one,
    _otp_message,
    _render,
    _signed_in,
    _to_sign_in,
    _unit,
    field_message,
    pending_challenge,
)

router = APIRouter(include_in_schema=False)

#: The product policy that says what a phone change needs (policies.yaml).
POLICY = "phone_change"
#: The largest face capture accepted from the form (decoded bytes).
MAX_FACE_BYTES = 4_000_000
FACE_TYPES = frozenset({"image/jpeg", "image/png"})

WORDS: dict[Language, dict[str, str]] = {
    "zh-CN": {
        "title": "更换绑定手机号",
        "lead": "新号码须登记在您本人名下并正在使用；我们会向新号码发送短信验证码。",
        "current": "当前绑定",
        "new_phone": "新手机号",
        "send": "向新号码发送验证码",
        "code_title": "确认新号码",
        "code_lead": "验证码已发送至 {phone}，10 分钟内有效。",
        "confirm_code": "确认",
        "step_up_title": "验证您的身份",
        "step_up_lead": "更换手机号是最敏感的操作，按规定需要{factors}。",
        "step_up_none": "您的账户已达到所需等级，确认后即可更换。",
        "face": "人脸照片",
        "face_hint": "用前置摄像头拍一张正脸照：光线充足，整张脸在画面内，只有您一人。",
        "face_pick": "拍照或选择照片",
        "card_hint": "选填。如果新号码不是登记在您本人名下，"
        "请填写一张本人名下、预留手机号为新号码的银行卡。",
        "face_chosen": "已选择照片",
        "consent_needed": "请勾选同意后再继续。",
        "change": "确认更换",
        "done_title": "手机号已更换",
        "done_lead": "您的账户现在绑定 {phone}，以后请用新号码登录。",
        "history": "绑定记录",
        "bound_since": "绑定于",
        "unbound_at": "解绑于",
        "now": "当前",
        "reason_signup": "注册",
        "reason_phone_change": "换绑",
        "back_status": "查看认证状态",
        "locked": "您的手机号已被运营商重新分配给他人，账户的敏感操作已暂停。"
        "更换为您本人正在使用的号码并验证身份后即可恢复。",
        "same_phone": "这已经是您绑定的手机号，请填写新号码。",
        "not_proven": "新号码的验证码已过期，请重新获取。",
        "face_invalid": "无法读取这张照片，请重新拍摄（JPEG 或 PNG，不超过 4 MB）。",
        "face_required": "请拍摄一张人脸照片。",
        "failed": "身份验证未通过，手机号没有更换：",
        "refused": "本次操作需要额外的安全验证，请联系客服协助。",
    },
    "en": {
        "title": "Change the bound phone",
        "lead": "The new number must be registered in your name and in use; we text it a code.",
        "current": "Bound now",
        "new_phone": "New mobile number",
        "send": "Text a code to the new number",
        "code_title": "Confirm the new number",
        "code_lead": "A code was sent to {phone}; it is valid for 10 minutes.",
        "confirm_code": "Confirm",
        "step_up_title": "Verify it is you",
        "step_up_lead": "Changing the phone is the most sensitive action; it needs {factors}.",
        "step_up_none": "Your account has the level needed; confirm to change.",
        "face": "Face photo",
        "face_hint": "Take a photo with the front camera: good light, your whole face in the "
        "frame, nobody else in view.",
        "face_pick": "Take or choose a photo",
        "card_hint": "Optional. If the new number is not registered in your name, add a card "
        "in your name whose reserved phone is the new number.",
        "face_chosen": "Photo chosen",
        "consent_needed": "Tick the box to agree before continuing.",
        "change": "Change the phone",
        "done_title": "Phone changed",
        "done_lead": "Your account is now bound to {phone}; sign in with the new number.",
        "history": "Binding history",
        "bound_since": "bound",
        "unbound_at": "unbound",
        "now": "current",
        "reason_signup": "sign-up",
        "reason_phone_change": "phone change",
        "back_status": "See your verification status",
        "locked": "Your number was re-issued to someone else by the carrier, so sensitive "
        "actions on your account are paused. Change to a number you use and verify "
        "yourself to restore them.",
        "same_phone": "This is already your bound phone; enter the new number.",
        "not_proven": "The code for the new number has expired; request a new one.",
        "face_invalid": "That photo could not be read; take it again (JPEG or PNG, up to 4 MB).",
        "face_required": "Take a face photo.",
        "failed": "Verification did not pass, so the phone was not changed:",
        "refused": "This action needs extra security checks; contact support for help.",
    },
}


@dataclass(frozen=True)
class StepUpNeeds:
    """What the borrower must present, beyond the new number's SMS code."""

    identity: bool
    face: bool
    bank_card: bool

    @property
    def factors(self) -> tuple[str, ...]:
        """The factors the borrower must pass (a card offered as optional is not one)."""
        named = ("id_two_element",) if self.identity else ()
        card = ("bank_card",) if self.bank_card and not self.face else ()
        return (*named, *card, *(("face",) if self.face else ()))


def step_up_needed(policy: ProductPolicy, *, locked: bool, best: Level) -> StepUpNeeds:
    """The step-up :func:`~realname.verification.phone_change.change_phone` will demand.

    Mirrors its rule: an account that reached the policy's level, and is not locked by
    a re-issued number, needs only the new number's code; otherwise the borrower
    verifies again now — name and ID number, a face when the level or the alternative
    factors include it, and a bank card when the alternative names one (shown as
    optional when the level alone can be reached without it).
    """
    if not locked and best >= policy.level:
        return StepUpNeeds(identity=False, face=False, bank_card=False)
    alternatives = set(policy.alternative_factors)
    face = policy.level >= Level.L3 or "face" in alternatives
    return StepUpNeeds(identity=True, face=face, bank_card="bank_card" in alternatives)


def _mask_binding(vault: Vault, person: Person | None, binding: Any) -> str:
    if person is None or binding.phone_ciphertext is None:
        return "***"
    try:
        phone = vault.decrypt(
            person,
            binding.phone_ciphertext,
            table=BINDINGS_TABLE,
            row_id=binding.id,
            field="phone",
        )
    except DataErased:
        return "***"
    return masking.mask_phone(phone)


def binding_history(
    session: Session, vault: Vault, account: Account, lang: Language
) -> list[dict[str, str]]:
    """The account's bindings, newest first, masked: what the borrower may see."""
    words = WORDS[lang]
    person = session.get(Person, account.person_id) if account.person_id else None
    rows = list_bindings(session, account.id)
    if not rows:
        return [
            {
                "phone": masking.mask_phone(read_account_phone(session, vault, account)),
                "reason": words["reason_signup"],
                "since": account.created_at.date().isoformat(),
                "until": words["now"],
            }
        ]
    return [
        {
            "phone": _mask_binding(vault, person, row),
            "reason": words.get(f"reason_{row.reason}", row.reason),
            "since": row.bound_at.date().isoformat(),
            "until": row.unbound_at.date().isoformat() if row.unbound_at else words["now"],
        }
        for row in reversed(rows)
    ]


def _page(
    request: Request,
    lang: Language,
    step: str,
    values: dict[str, Any],
    *,
    status_code: int = 200,
) -> HTMLResponse:
    return _render(
        request,
        "phone_change.html",
        lang,
        {"w": WORDS[lang], "step": step, "errors": {}, **values},
        status_code=status_code,
        switch=f"/phone/change?lang={'en' if lang == 'zh-CN' else 'zh-CN'}",
    )


def _start_page(
    request: Request,
    session: Session,
    account: Account,
    lang: Language,
    *,
    new_phone: str = "",
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    vault = _context(request).vault
    return _page(
        request,
        lang,
        "start",
        {
            "new_phone": new_phone,
            "errors": errors or {},
            "locked": account.status == LOCKED_RECYCLED,
            "current": masking.mask_phone(read_account_phone(session, vault, account)),
            "history": binding_history(session, vault, account, lang),
        },
        status_code=status_code,
    )


def _needs(session: Session, request: Request, account: Account) -> StepUpNeeds:
    policy = _context(request).policies.product(POLICY)
    return step_up_needed(
        policy, locked=account.status == LOCKED_RECYCLED, best=best_level(session, account.id)
    )


def _step_up_page(
    request: Request,
    session: Session,
    account: Account,
    lang: Language,
    values: dict[str, str],
    errors: dict[str, str],
    *,
    causes: list[dict[str, str]] | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    needs = _needs(session, request, account)
    catalogue = get_catalogue()
    held = users.consents_of(session, account, utcnow())
    wanted = [kind for kind in ("bank_card", "face") if getattr(needs, kind)]
    factor_words = [catalogue.word("factor", factor, lang) for factor in needs.factors]
    joiner = "、" if lang == "zh-CN" else ", "
    return _page(
        request,
        lang,
        "step_up",
        {
            "needs": needs,
            "factor_text": joiner.join(factor_words),
            "values": values,
            "masked_new": masking.mask_phone(values["new_phone"]),
            "errors": errors,
            "causes": causes or [],
            "consents": [
                {
                    "kind": kind,
                    "label": catalogue.word("consent_kind", kind, lang),
                    "purpose": CONSENT_TEXT[lang][kind],
                }
                for kind in wanted
                if kind not in held
            ],
        },
        status_code=status_code,
    )


def _code_page(
    request: Request,
    lang: Language,
    new_phone: str,
    challenge_id: str,
    errors: dict[str, str],
    status_code: int = 200,
) -> HTMLResponse:
    return _page(
        request,
        lang,
        "code",
        {
            "new_phone": new_phone,
            "masked_new": masking.mask_phone(new_phone),
            "challenge_id": challenge_id,
            "sandbox": _is_sandbox(_context(request)),
            "errors": errors,
        },
        status_code=status_code,
    )


def _signed_in_or_none(request: Request) -> Account | None:
    with _unit(request) as session:
        return _signed_in(request, session)


def _check_new_phone(
    session: Session, request: Request, account: Account, new_phone: str, lang: Language
) -> str | None:
    """The field error for ``new_phone``, or ``None`` when it can be the new binding."""
    if not new_phone:
        return FIELD_ERRORS[lang]["required"]
    report = inspect_elements(today=date.today(), phone_value=new_phone)["phone"]
    if not report.valid:
        return field_message(report, "phone", lang)
    if _is_bound(request, account, new_phone):
        return WORDS[lang]["same_phone"]
    return None


def _is_bound(request: Request, account: Account, phone: str) -> bool:
    """Whether ``phone`` is already the account's bound phone."""
    try:
        number = phones.validate(phone)
    except IdentityError:
        return False
    index = _context(request).vault.blind_index("phone", number)
    return account.phone_blind_index == index


@router.get("/phone/change", response_class=HTMLResponse)
def start(request: Request, lang: LangQuery = "zh-CN") -> Response:
    with _unit(request) as session:
        account = _signed_in(request, session)
        if account is None:
            return _to_sign_in(lang, "/phone/change")
        return _start_page(request, session, account, lang)


@router.post("/phone/change/code", response_class=HTMLResponse)
async def send_code(request: Request, lang: LangQuery = "zh-CN") -> Response:
    form = await _form(request)
    new_phone = _one(form, "new_phone")
    account = _signed_in_or_none(request)
    if account is None:
        return _expired_page(request, lang, next_path="/phone/change")
    context = _context(request)
    with _unit(request) as session:
        if not _csrf_ok(request.cookies.get(SESSION_COOKIE), _one(form, "csrf")):
            return _start_page(
                request,
                session,
                account,
                lang,
                new_phone=new_phone,
                errors={"form": CHROME[lang]["csrf"]},
                status_code=403,
            )
        error = _check_new_phone(session, request, account, new_phone, lang)
        if error:
            return _start_page(
                request,
                session,
                account,
                lang,
                new_phone=new_phone,
                errors={"new_phone": error},
                status_code=422,
            )
    try:
        with _unit(request) as session:
            started = await otp.start_challenge(
                session,
                context.vault,
                context.sms,
                tenant_id=account.tenant_id,
                phone=new_phone,
                purpose=otp.Purpose.POSSESSION,
                account_id=account.id,
                now=utcnow(),
                language=lang,
            )
    except OtpRateLimited:
        with _unit(request) as session:
            pending = pending_challenge(
                session,
                context.vault,
                account_id=account.id,
                phone=new_phone,
                purpose=otp.Purpose.POSSESSION.value,
                now=utcnow(),
            )
            if pending is not None:  # a second submit: carry on with the first code
                return _code_page(request, lang, new_phone, pending, {})
            return _start_page(
                request,
                session,
                account,
                lang,
                new_phone=new_phone,
                errors={"new_phone": CHROME[lang]["rate_limited"]},
                status_code=429,
            )
    except RealnameError:
        with _unit(request) as session:
            return _start_page(
                request,
                session,
                account,
                lang,
                new_phone=new_phone,
                errors={"form": CHROME[lang]["error"]},
                status_code=400,
            )
    return _code_page(request, lang, new_phone, started.challenge_id, {})


@router.post("/phone/change/verify", response_class=HTMLResponse)
async def verify_code(request: Request, lang: LangQuery = "zh-CN") -> Response:
    form = await _form(request)
    new_phone, challenge_id = _one(form, "new_phone"), _one(form, "challenge_id")
    code = _one(form, "code")
    account = _signed_in_or_none(request)
    if account is None:
        return _expired_page(request, lang, next_path="/phone/change")
    if not _csrf_ok(request.cookies.get(SESSION_COOKIE), _one(form, "csrf")):
        return _code_page(
            request, lang, new_phone, challenge_id, {"code": CHROME[lang]["csrf"]}, 403
        )
    context = _context(request)
    with _unit(request) as session:
        phone_error = _check_new_phone(session, request, account, new_phone, lang)
        if phone_error:
            return _start_page(
                request,
                session,
                account,
                lang,
                new_phone=new_phone,
                errors={"new_phone": phone_error},
                status_code=422,
            )
        # A second submit of an answered code: the number is proven, carry on.
        proven = possession_proven(
            session, context.vault, account.id, new_phone, since=utcnow() - POSSESSION_WINDOW
        )
    if not proven:
        if not otp.normalise_code(code)[1]:
            return _code_page(
                request, lang, new_phone, challenge_id, {"code": FIELD_ERRORS[lang]["code"]}, 422
            )
        try:
            with _unit(request) as session:
                prove_possession(
                    session,
                    context.vault,
                    tenant_id=account.tenant_id,
                    account_id=account.id,
                    challenge_id=challenge_id,
                    code=code,
                    now=utcnow(),
                )
        except AccountsError as error:
            return _code_page(
                request, lang, new_phone, challenge_id, {"code": _otp_message(error, lang)}, 400
            )
        except RealnameError:
            return _code_page(
                request, lang, new_phone, challenge_id, {"code": CHROME[lang]["error"]}, 400
            )
    with _unit(request) as session:
        refreshed = users.user_account(session, account.tenant_id, account.id)
        values = {"new_phone": new_phone, "name": "", "id_number": "", "bank_card": ""}
        return _step_up_page(request, session, refreshed, lang, values, {})


def _face_capture(form: dict[str, list[str]]) -> FaceCapture | str | None:
    """The capture from the form; ``None`` when absent; ``"invalid"`` when unreadable."""
    encoded, media_type = _one(form, "face"), _one(form, "face_type")
    if not encoded:
        return None
    if media_type not in FACE_TYPES:
        return "invalid"
    try:
        content = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        return "invalid"
    if not content or len(content) > MAX_FACE_BYTES:
        return "invalid"
    return FaceCapture(content=content, media_type=media_type)


def _inspect_step_up(values: dict[str, str], needs: StepUpNeeds, lang: Language) -> dict[str, str]:
    if not needs.identity:
        return {}
    errors = {
        field: FIELD_ERRORS[lang]["required"]
        for field in ("name", "id_number")
        if not values[field]
    }
    reports = inspect_elements(
        today=date.today(),
        name_value=values["name"] or None,
        id_number_value=values["id_number"] or None,
        bank_card_value=values["bank_card"] or None,
    )
    for field, report in reports.items():
        if not report.valid:
            errors.setdefault(field, field_message(report, field, lang))
    return errors


def _cause_lines(codes: list[str], lang: Language) -> list[dict[str, str]]:
    catalogue = get_catalogue()
    lines = []
    for code in codes:
        try:
            explanation = catalogue.explain(catalogue.cause(CauseCode(code)), lang)
        except (KeyError, ValueError):
            continue
        lines.append({"code": code, "title": explanation.title, "message": explanation.message})
    return lines


@router.post("/phone/change/confirm", response_class=HTMLResponse)
async def confirm(request: Request, lang: LangQuery = "zh-CN") -> Response:
    form = await _form(request)
    values = {key: _one(form, key) for key in ("new_phone", "name", "id_number", "bank_card")}
    account = _signed_in_or_none(request)
    if account is None:
        return _expired_page(request, lang, next_path="/phone/change")
    context = _context(request)
    words = WORDS[lang]
    with _unit(request) as session:
        if _is_bound(request, account, values["new_phone"]):
            # Already bound to this number (a double submit that went through).
            return RedirectResponse(f"/phone/changed?lang={lang}", status_code=303)
        if not _csrf_ok(request.cookies.get(SESSION_COOKIE), _one(form, "csrf")):
            return _step_up_page(
                request,
                session,
                account,
                lang,
                values,
                {"form": CHROME[lang]["csrf"]},
                status_code=403,
            )
        error = _check_new_phone(session, request, account, values["new_phone"], lang)
        if error:
            return _start_page(
                request,
                session,
                account,
                lang,
                new_phone=values["new_phone"],
                errors={"new_phone": error},
                status_code=422,
            )
        needs = _needs(session, request, account)
        errors = _inspect_step_up(values, needs, lang)
        face = _face_capture(form) if needs.face else None
        if face == "invalid":
            errors["face"] = words["face_invalid"]
        elif needs.face and face is None:
            errors["face"] = words["face_required"]
        agreed = [kind for kind in form.get("consents", []) if kind in ("bank_card", "face")]
        held = users.consents_of(session, account, utcnow()) | set(agreed)
        if needs.face and "face" not in held:
            errors["consent-face"] = words["consent_needed"]
        if values["bank_card"] and "bank_card" not in held:
            errors["consent-bank_card"] = words["consent_needed"]
        if errors:
            return _step_up_page(request, session, account, lang, values, errors, status_code=422)
        if agreed:
            users.give_consents(session, account, agreed, utcnow())
        gate = risk.guard(
            session, context.vault, account, RiskAction.PHONE_CHANGE, request, utcnow()
        )
    if gate.refusal is not None:
        with _unit(request) as session:
            return _step_up_page(
                request,
                session,
                account,
                lang,
                values,
                {"form": words["refused"]},
                status_code=403,
            )
    capture = face if isinstance(face, FaceCapture) else None
    try:
        with _unit(request) as session:
            fresh = users.user_account(session, account.tenant_id, account.id)
            now = utcnow()
            await change_phone(
                session,
                context.vault,
                context.provider,
                fresh,
                new_phone=values["new_phone"],
                name=values["name"] or None,
                id_number=values["id_number"] or None,
                bank_card=values["bank_card"] or None,
                face=capture,
                consent=users.consents_of(session, fresh, now),
                policy=context.policies.product(POLICY),
                now=now,
            )
    except StepUpRequired as refused:
        with _unit(request) as session:
            fresh = users.user_account(session, account.tenant_id, account.id)
            if refused.details.get("factors") == ["sms_otp"]:
                return _start_page(
                    request,
                    session,
                    fresh,
                    lang,
                    new_phone=values["new_phone"],
                    errors={"new_phone": words["not_proven"]},
                    status_code=403,
                )
            causes = _cause_lines(list(refused.details.get("causes") or []), lang)
            return _step_up_page(
                request,
                session,
                fresh,
                lang,
                values,
                {"form": words["failed"]},
                causes=causes,
                status_code=403,
            )
    except Conflict:
        return RedirectResponse(f"/phone/changed?lang={lang}", status_code=303)
    except RealnameError:
        with _unit(request) as session:
            return _step_up_page(
                request,
                session,
                account,
                lang,
                values,
                {"form": CHROME[lang]["error"]},
                status_code=400,
            )
    return RedirectResponse(f"/phone/changed?lang={lang}", status_code=303)


@router.get("/phone/changed", response_class=HTMLResponse)
def changed(request: Request, lang: LangQuery = "zh-CN") -> Response:
    context = _context(request)
    with _unit(request) as session:
        account = _signed_in(request, session)
        if account is None:
            return _to_sign_in(lang, "/status")
        if not any(row.reason == "phone_change" for row in list_bindings(session, account.id)):
            return RedirectResponse(f"/phone/change?lang={lang}", status_code=303)
        current = masking.mask_phone(read_account_phone(session, context.vault, account))
        return _page(
            request,
            lang,
            "done",
            {
                "current": current,
                "history": binding_history(session, context.vault, account, lang),
            },
        )
