"""Linking the borrower's other account (DUPLICATE_ACCOUNT's remedy) from the pages.

The signed-in session proves control of this account; a code sent to the other
account's phone proves control of that one (:mod:`realname.accounts.linking`). The
code is sent whether or not the number has an account here, so the form does not
tell a visitor who is registered; only after the code is answered — the borrower
holds that phone — does the page say that no account uses it.
"""

from __future__ import annotations

from datetime import date

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from realname.accounts import linking, otp
from realname.accounts.errors import AccountsError, OtpRateLimited
from realname.errors import RealnameError
from realname.identity import masking
from realname.identity import phone as phones
from realname.identity.inspection import inspect_elements
from realname.store.models import Account
from realname.store.repositories.people import find_accounts_by_phone
from realname.store.types import utcnow
from realname.verification.catalogue import Language
from realname.web.borrower import (
    CHROME,
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

WORDS: dict[Language, dict[str, str]] = {
    "zh-CN": {
        "title": "关联您的另一个账号",
        "lead": "如果您用另一个手机号注册过并完成过认证，可以把两个账号关联起来。"
        "我们会向另一个账号的手机号发送验证码，证明两个账号都属于您。",
        "other_phone": "另一个账号的手机号",
        "send": "发送验证码",
        "code_lead": "验证码已发送至 {phone}，10 分钟内有效。",
        "link": "确认关联",
        "no_account": "这个号码没有注册过账号，无需关联。",
        "self": "这是您当前登录的号码，请填写另一个账号的手机号。",
        "done_title": "账号已关联",
        "done_lead": "您的账号已与 {phone} 的账号关联。请重新提交身份信息，以更新认证结果。",
        "reverify": "重新提交身份信息",
        "back_status": "返回认证状态",
    },
    "en": {
        "title": "Link your other account",
        "lead": "If you registered with another number and verified there, link the two "
        "accounts. We text a code to the other account's phone to prove both are yours.",
        "other_phone": "The other account's mobile number",
        "send": "Send code",
        "code_lead": "A code was sent to {phone}; it is valid for 10 minutes.",
        "link": "Link the accounts",
        "no_account": "No account uses this number, so there is nothing to link.",
        "self": "This is the number you are signed in with; enter the other account's.",
        "done_title": "Accounts linked",
        "done_lead": "Your account is linked with the account of {phone}. Submit your "
        "identity details again to update your verification.",
        "reverify": "Submit identity details again",
        "back_status": "Back to your status",
    },
}


def _page(
    request: Request,
    lang: Language,
    step: str,
    values: dict[str, object],
    status_code: int = 200,
) -> HTMLResponse:
    return _render(
        request,
        "link.html",
        lang,
        {"w": WORDS[lang], "step": step, "errors": {}, "phone": "", **values},
        status_code=status_code,
        switch=f"/link?lang={'en' if lang == 'zh-CN' else 'zh-CN'}",
    )


def _phone_error(account: Account, request: Request, phone: str, lang: Language) -> str | None:
    if not phone:
        return FIELD_ERRORS[lang]["required"]
    report = inspect_elements(today=date.today(), phone_value=phone)["phone"]
    if not report.valid:
        return field_message(report, "phone", lang)
    index = _context(request).vault.blind_index("phone", phones.validate(phone))
    return WORDS[lang]["self"] if index == account.phone_blind_index else None


@router.get("/link", response_class=HTMLResponse)
def start(request: Request, lang: LangQuery = "zh-CN") -> Response:
    with _unit(request) as session:
        if _signed_in(request, session) is None:
            return _to_sign_in(lang, "/link")
    return _page(request, lang, "start", {})


@router.post("/link/code", response_class=HTMLResponse)
async def send_code(request: Request, lang: LangQuery = "zh-CN") -> Response:
    form = await _form(request)
    phone = _one(form, "phone")
    with _unit(request) as session:
        account = _signed_in(request, session)
    if account is None:
        return _expired_page(request, lang, next_path="/link")
    if not _csrf_ok(request.cookies.get(SESSION_COOKIE), _one(form, "csrf")):
        return _page(
            request, lang, "start", {"phone": phone, "errors": {"form": CHROME[lang]["csrf"]}}, 403
        )
    error = _phone_error(account, request, phone, lang)
    if error:
        return _page(request, lang, "start", {"phone": phone, "errors": {"phone": error}}, 422)
    context = _context(request)
    try:
        with _unit(request) as session:
            started = await linking.start_link(
                session,
                context.vault,
                context.sms,
                tenant_id=account.tenant_id,
                account_id=account.id,
                other_phone=phone,
                now=utcnow(),
                language=lang,
            )
    except OtpRateLimited:
        with _unit(request) as session:
            pending = pending_challenge(
                session,
                context.vault,
                account_id=account.id,
                phone=phone,
                purpose=otp.Purpose.LINK_ACCOUNT.value,
                now=utcnow(),
            )
        if pending is not None:  # a second submit: carry on with the first code
            return _code_page(request, lang, phone, pending, {})
        errors = {"phone": CHROME[lang]["rate_limited"]}
        return _page(request, lang, "start", {"phone": phone, "errors": errors}, 429)
    except RealnameError:
        errors = {"form": CHROME[lang]["error"]}
        return _page(request, lang, "start", {"phone": phone, "errors": errors}, 400)
    return _code_page(request, lang, phone, started.challenge_id, {})


def _code_page(
    request: Request,
    lang: Language,
    phone: str,
    challenge_id: str,
    errors: dict[str, str],
    status_code: int = 200,
) -> HTMLResponse:
    values = {
        "phone": phone,
        "masked": masking.mask_phone(phone),
        "challenge_id": challenge_id,
        "sandbox": _is_sandbox(_context(request)),
        "errors": errors,
    }
    return _page(request, lang, "code", values, status_code)


@router.post("/link/verify", response_class=HTMLResponse)
async def verify(request: Request, lang: LangQuery = "zh-CN") -> Response:
    form = await _form(request)
    phone, challenge_id, code = _one(form, "phone"), _one(form, "challenge_id"), _one(form, "code")
    context = _context(request)
    with _unit(request) as session:
        account = _signed_in(request, session)
    if account is None:
        return _expired_page(request, lang, next_path="/link")
    if not _csrf_ok(request.cookies.get(SESSION_COOKIE), _one(form, "csrf")):
        return _code_page(request, lang, phone, challenge_id, {"code": CHROME[lang]["csrf"]}, 403)
    if _phone_error(account, request, phone, lang):
        return RedirectResponse(f"/link?lang={lang}", status_code=303)
    with _unit(request) as session:
        others = [
            other.id
            for other in find_accounts_by_phone(session, context.vault, account.tenant_id, phone)
            if other.id != account.id
        ]
        if others and all(linking.are_linked(session, account.id, other) for other in others):
            # Already linked: a second submit of the same code.
            return _page(request, lang, "done", {"masked": masking.mask_phone(phone)})
    if not otp.normalise_code(code)[1]:
        return _code_page(
            request, lang, phone, challenge_id, {"code": FIELD_ERRORS[lang]["code"]}, 422
        )
    try:
        with _unit(request) as session:
            otp.answer_challenge(
                session,
                context.vault,
                tenant_id=account.tenant_id,
                challenge_id=challenge_id,
                code=code,
                purpose=otp.Purpose.LINK_ACCOUNT,
                account_id=account.id,
                now=utcnow(),
            )
    except AccountsError as error:
        return _code_page(
            request, lang, phone, challenge_id, {"code": _otp_message(error, lang)}, 400
        )
    if not others:
        return _page(request, lang, "start", {"errors": {"phone": WORDS[lang]["no_account"]}}, 404)
    try:
        with _unit(request) as session:
            linking.link_accounts(
                session,
                tenant_id=account.tenant_id,
                account_id=account.id,
                other_account_id=others[0],
                challenge_id=challenge_id,
                now=utcnow(),
            )
    except RealnameError:
        return _code_page(request, lang, phone, challenge_id, {"code": CHROME[lang]["error"]}, 400)
    return _page(request, lang, "done", {"masked": masking.mask_phone(phone)})
