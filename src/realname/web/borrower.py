"""The borrower's pages: sign in by SMS code, consent, identity elements, status.

Served at ``/`` by the same FastAPI app as the API, mobile first, zh-CN by default
with ``?lang=en``. Borrowers signing in here belong to one tenant, :data:`WEB_TENANT`,
created on first use. The session token of :mod:`realname.accounts.sessions` lives in
an HttpOnly, SameSite=Lax cookie; every POST form carries a CSRF token derived from
that cookie (or, before sign-in, from an anonymous cookie) and is refused without it.
Only masked personal data is ever shown back.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from hashlib import sha256
from typing import Annotated, Any, Literal
from urllib.parse import parse_qs

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from realname.accounts import otp
from realname.accounts import service as accounts
from realname.accounts.errors import AccountsError, OtpRateLimited
from realname.accounts.possession import prove_possession
from realname.api.context import AppContext
from realname.api.deps import transaction
from realname.errors import NotFound, RealnameError
from realname.identity import masking
from realname.identity import phone as phones
from realname.identity.errors import IdentityError
from realname.identity.inspection import FieldReport, inspect_elements
from realname.privacy.vault import Vault
from realname.store.models import Account, OtpChallenge, Tenant
from realname.store.repositories.checks import list_checks
from realname.store.repositories.people import read_account_phone
from realname.store.repositories.tenants import create_tenant
from realname.store.types import utcnow
from realname.verification import users
from realname.verification.catalogue import Language, get_catalogue
from realname.verification.levels import Level
from realname.verification.service import LOCKED_RECYCLED
from realname.web.pages import templates

router = APIRouter(include_in_schema=False)

#: The tenant every borrower of these pages belongs to (created on first use).
WEB_TENANT = "web"
SESSION_COOKIE = "rn_session"
ANON_COOKIE = "rn_anon"
CONSENT_KINDS = ("id", "phone", "bank_card", "face")
#: Seconds between reloads of the status page while an authority is unavailable.
REFRESH_SECONDS = 15
#: Pages a sign-in may return to (``next``): the borrower's own, nothing else.
NEXT_PATHS = frozenset(
    {"/status", "/identity", "/consent", "/phone/change", "/link", "/support", "/face"}
)

LangQuery = Annotated[Literal["zh-CN", "en"], Query()]

CHROME: dict[Language, dict[str, str]] = {
    "zh-CN": {
        "site": "实名认证",
        "switch": "English",
        "signin_title": "登录或注册",
        "signin_lead": "输入手机号，我们会发送 6 位短信验证码。",
        "phone": "手机号",
        "send_code": "获取验证码",
        "code_title": "输入短信验证码",
        "code_lead": "验证码已发送至 {phone}，10 分钟内有效。",
        "code": "验证码",
        "sandbox_note": "开发提示：这是沙箱短信网关，验证码可在沙箱收件箱"
        "（POST /v1/sandbox/sms/inbox）中查看。",
        "sign_in": "登录",
        "expired": "登录已过期，请重新登录。",
        "sign_out": "退出",
        "consent_title": "授权使用您的信息",
        "consent_lead": "每一项单独授权；人脸和银行卡信息属于敏感个人信息，需分别同意。",
        "consent_save": "同意并继续",
        "consent_none": "请至少勾选一项。",
        "identity_title": "填写身份信息",
        "name": "姓名",
        "id_number": "身份证号",
        "bank_card": "银行卡号（选填）",
        "bank_card_hint": "本人名下、预留手机号为上面号码的借记卡或信用卡。",
        "submit": "提交核验",
        "prove_title": "确认手机号",
        "prove_lead": "我们向 {phone} 发送了验证码，请输入以确认这是您正在使用的号码。",
        "prove_submit": "确认并提交",
        "status_title": "认证状态",
        "level": "已达到",
        "needed": "需要",
        "verified": "已完成实名认证",
        "not_verified": "未实名认证",
        "factors": "核验项目",
        "causes": "原因与办法",
        "help": "详细说明",
        "no_status": "您还没有提交身份信息。",
        "refreshing": "核验机构暂时无响应，本页每 15 秒自动刷新。",
        "bound_phone": "登录手机号",
        "edit": "修改身份信息",
        "consents": "授权设置",
        "csrf": "页面已过期，请重新提交。",
        "error": "提交失败，请检查后重试。",
        "rate_limited": "验证码发送过于频繁，请稍后再试；上一条验证码仍然有效。",
        "outcome_match": "通过",
        "outcome_mismatch": "未通过",
        "outcome_unavailable": "暂时无法核验",
        "outcome_other": "已核验",
        "outcome_todo": "尚未进行",
        "locked_title": "账户敏感操作已暂停",
        "locked_text": "您登录用的手机号已被运营商重新分配给他人（二次放号）。"
        "为防止他人用这个号码操作您的账户，借款、换绑等敏感操作已暂停。"
        "换绑到您本人正在使用的号码即可恢复。",
        "change_phone": "更换绑定手机号",
        "link_other": "关联另一个账号",
        "retry_now": "立即刷新",
        "support_title": "联系客服",
        "support_lead": "客服可以看到您的验证记录（已脱敏），帮您找到原因。"
        "请在 App 内“在线客服”或拨打客服热线，并告知下面的查询编号。",
        "support_ref": "查询编号",
        "support_causes": "当前原因代码",
        "support_none": "目前没有待处理的原因。",
        "back_status": "返回认证状态",
    },
    "en": {
        "site": "Identity verification",
        "switch": "中文",
        "signin_title": "Sign in or sign up",
        "signin_lead": "Enter your mobile number; we will text you a 6-digit code.",
        "phone": "Mobile number",
        "send_code": "Send code",
        "code_title": "Enter the SMS code",
        "code_lead": "A code was sent to {phone}; it is valid for 10 minutes.",
        "code": "Code",
        "sandbox_note": "Developer note: this is the sandbox SMS gateway; read the code "
        "in the sandbox inbox (POST /v1/sandbox/sms/inbox).",
        "sign_in": "Sign in",
        "expired": "Your session has expired; please sign in again.",
        "sign_out": "Sign out",
        "consent_title": "Allow us to use your information",
        "consent_lead": "Each kind is agreed separately; face and bank card data are "
        "sensitive personal information and need their own consent.",
        "consent_save": "Agree and continue",
        "consent_none": "Tick at least one box.",
        "identity_title": "Your identity details",
        "name": "Name",
        "id_number": "ID number",
        "bank_card": "Bank card number (optional)",
        "bank_card_hint": "A card in your own name whose reserved phone is the number above.",
        "submit": "Verify",
        "prove_title": "Confirm your phone",
        "prove_lead": "We texted a code to {phone}; enter it to confirm you use this number.",
        "prove_submit": "Confirm and verify",
        "status_title": "Verification status",
        "level": "Reached",
        "needed": "Needed",
        "verified": "Verified",
        "not_verified": "Not verified",
        "factors": "Checks",
        "causes": "Reasons and what to do",
        "help": "More help",
        "no_status": "You have not submitted your identity details yet.",
        "refreshing": "The verifying authority is not answering; this page reloads every "
        "15 seconds.",
        "bound_phone": "Signed-in phone",
        "edit": "Edit identity details",
        "consents": "Consents",
        "csrf": "The page expired; please submit again.",
        "error": "That did not work; please check and try again.",
        "rate_limited": "Too many codes requested; wait a little. The last code is still valid.",
        "outcome_match": "passed",
        "outcome_mismatch": "did not pass",
        "outcome_unavailable": "could not be checked yet",
        "outcome_other": "checked",
        "outcome_todo": "not done yet",
        "locked_title": "Sensitive actions are paused",
        "locked_text": "The carrier re-issued your sign-in number to someone else. So that "
        "nobody can use that number on your account, borrowing, changing the phone and "
        "other sensitive actions are paused. Bind a number you use to restore them.",
        "change_phone": "Change the bound phone",
        "link_other": "Link another account",
        "retry_now": "Refresh now",
        "support_title": "Contact support",
        "support_lead": "Support can see your (masked) verification history and help you "
        "find the reason. Use in-app chat or call the support line and quote the "
        "reference below.",
        "support_ref": "Reference",
        "support_causes": "Current cause codes",
        "support_none": "Nothing is outstanding.",
        "back_status": "Back to your status",
    },
}

#: What each consent is for, in the borrower's words (the purpose recorded with the
#: consent itself is :data:`realname.verification.users.CONSENT_PURPOSES`).
CONSENT_TEXT: dict[Language, dict[str, str]] = {
    "zh-CN": {
        "id": "用于向公安身份信息库核对姓名与身份证号是否一致。",
        "phone": "用于向运营商核对手机号是否登记在您本人名下。",
        "bank_card": "用于向发卡银行核对卡号、姓名、身份证号和预留手机号（敏感信息，单独同意）。",
        "face": "用于活体检测，并与公安登记照片比对（敏感信息，单独同意）。",
    },
    "en": {
        "id": "To check with the public-security registry that your name and ID number match.",
        "phone": "To check with your carrier that the number is registered in your name.",
        "bank_card": "To check the card, name, ID number and reserved phone with the issuing "
        "bank (sensitive data, separate consent).",
        "face": "For a liveness check and a comparison with your registry photo "
        "(sensitive data, separate consent).",
    },
}

#: Field errors of the local inspection, by field and detail, in each language.
FIELD_ERRORS: dict[Language, dict[str, str]] = {
    "zh-CN": {
        "required": "请填写此项。",
        "id_number.length": "身份证号位数不对：应为 18 位（一代证 15 位）。",
        "id_number.format": "身份证号格式不对：只能是数字，最后一位可以是 X。",
        "id_number.checksum": "末位校验码不对：前面可能有一位数字输错了。",
        "id_number.birth_date": "身份证号中的出生日期不存在。",
        "id_number.region": "开头的地区码不是有效的行政区划。",
        "id_number": "身份证号无效。",
        "name.digits": "姓名不能包含数字。",
        "name.too_long": "姓名太长。",
        "name.latin_script": "请填写证件上的中文姓名。",
        "name": "姓名中有不允许的字符。",
        "phone.not_mainland": "请填写中国大陆手机号。",
        "phone.not_mobile": "这不是手机号。",
        "phone.unknown_range": "没有这个号段的手机号。",
        "phone": "手机号格式不对：应为 11 位数字。",
        "bank_card.checksum": "银行卡号校验不通过：可能有一位输错了。",
        "bank_card.length": "银行卡号位数不对。",
        "bank_card.unknown_issuer": "无法识别发卡银行。",
        "bank_card": "银行卡号格式不对。",
        "code": "请输入 6 位数字验证码。",
    },
    "en": {
        "required": "Please fill this in.",
        "id_number.length": "The ID number has the wrong length: 18 characters "
        "(15 digits for an old card).",
        "id_number.format": "The ID number may hold only digits, with an X at the end.",
        "id_number.checksum": "The check character is wrong: one of the digits before it "
        "is probably mistyped.",
        "id_number.birth_date": "The birth date in the ID number does not exist.",
        "id_number.region": "The region code at the start is not a real division.",
        "id_number": "The ID number is not valid.",
        "name.digits": "A name cannot contain digits.",
        "name.too_long": "The name is too long.",
        "name.latin_script": "Enter your name in Chinese as on your ID card.",
        "name": "The name contains characters that are not allowed.",
        "phone.not_mainland": "Enter a mainland China mobile number.",
        "phone.not_mobile": "This is not a mobile number.",
        "phone.unknown_range": "No mobile number has this prefix.",
        "phone": "The mobile number should have 11 digits.",
        "bank_card.checksum": "The card number's check digit is wrong: one digit is "
        "probably mistyped.",
        "bank_card.length": "The card number has the wrong length.",
        "bank_card.unknown_issuer": "The issuing bank is not recognised.",
        "bank_card": "The card number is not valid.",
        "code": "Enter the 6-digit code.",
    },
}

#: Remedies that lead to a page here: remedy id -> path (with the field to focus).
REMEDY_LINKS = {
    "use_bank_card": "/identity?focus=bank_card",
    "correct_id_number": "/identity?focus=id_number",
    "correct_name": "/identity?focus=name",
    "correct_phone": "/identity?focus=phone",
    "correct_bank_card": "/identity?focus=bank_card",
    "use_other_card": "/identity?focus=bank_card",
    "give_consent": "/consent",
    "complete_steps": "/identity",
    "reverify": "/identity",
    "change_phone": "/phone/change",
    "link_account": "/link",
    "retry_later": "/status",
    "retake_face": "/face",
    "contact_support": "/support",
    "request_review": "/support",
}


def _other(language: Language) -> Language:
    return "en" if language == "zh-CN" else "zh-CN"


def field_message(report: FieldReport, field: str, language: Language) -> str:
    """The inspection's verdict on ``field`` as a sentence in ``language``."""
    words = FIELD_ERRORS[language]
    return words.get(f"{field}.{report.detail}", words[field])


@contextmanager
def _unit(request: Request) -> Iterator[Session]:
    context: AppContext = request.app.state.context
    with context.session_factory() as session, transaction(session):
        yield session


def _context(request: Request) -> AppContext:
    context: AppContext = request.app.state.context
    return context


def web_tenant_id(session: Session) -> str:
    """The id of the :data:`WEB_TENANT` tenant, created on first use."""
    found = session.scalar(
        select(Tenant.id).where(Tenant.name == WEB_TENANT).order_by(Tenant.created_at).limit(1)
    )
    return found if found is not None else create_tenant(session, WEB_TENANT).id


def csrf_token(secret: str) -> str:
    """The CSRF token of the session (or anonymous visitor) holding cookie ``secret``."""
    return sha256(f"realname-web-csrf:{secret}".encode()).hexdigest()[:32]


def _csrf_ok(secret: str | None, presented: str) -> bool:
    return bool(secret) and hmac.compare_digest(csrf_token(secret or ""), presented)


async def _form(request: Request) -> dict[str, list[str]]:
    body = (await request.body()).decode("utf-8", errors="replace")
    return parse_qs(body, keep_blank_values=True)


def _one(form: dict[str, list[str]], key: str) -> str:
    return (form.get(key) or [""])[0].strip()


def _signed_in(request: Request, session: Session) -> Account | None:
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        return None
    principal = accounts.authenticate_session(
        session, token, tenant_id=web_tenant_id(session), now=utcnow()
    )
    if principal is None:
        return None
    return users.user_account(session, principal.tenant_id, principal.account_id)


def _render(
    request: Request,
    name: str,
    lang: Language,
    values: dict[str, Any],
    *,
    secret: str | None = None,
    status_code: int = 200,
    switch: str | None = None,
) -> HTMLResponse:
    secret = secret or request.cookies.get(SESSION_COOKIE) or request.cookies.get(ANON_COOKIE)
    new_anon = None
    if not secret:
        new_anon = secret = secrets.token_urlsafe(24)
    response = templates.TemplateResponse(
        request,
        f"borrower/{name}",
        {
            "lang": lang,
            "other": _other(lang),
            "t": CHROME[lang],
            "csrf": csrf_token(secret),
            "field_messages": FIELD_ERRORS[lang],
            "signed_in": SESSION_COOKIE in request.cookies,
            "switch_url": switch or f"{request.url.path}?lang={_other(lang)}",
            **values,
        },
        status_code=status_code,
    )
    if new_anon:
        response.set_cookie(ANON_COOKIE, new_anon, httponly=True, samesite="lax")
    response.headers["Cache-Control"] = "no-store"
    return response


def safe_next(path: str) -> str:
    """``path`` if it is one of the borrower's own pages, else ``""`` (no open redirect)."""
    return path if path in NEXT_PATHS else ""


def pending_challenge(
    session: Session, vault: Vault, *, account_id: str, phone: str, purpose: str, now: datetime
) -> str | None:
    """The id of the account's live, unanswered code for ``phone``, if one was just sent.

    A form submitted twice asks for a second code that the send limits refuse; the
    page then carries on with the first code, which is still valid.
    """
    try:
        index = vault.blind_index("phone", phones.validate(phone))
    except IdentityError:
        return None
    latest = session.scalars(
        select(OtpChallenge)
        .where(
            OtpChallenge.account_id == account_id,
            OtpChallenge.phone_blind_index == index,
            OtpChallenge.purpose == purpose,
        )
        .order_by(OtpChallenge.created_at.desc())
        .limit(1)
    ).first()
    if latest is None or latest.status != "pending" or _aware(latest.expires_at) <= now:
        return None
    return latest.id


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _to_sign_in(lang: Language, next_path: str = "") -> RedirectResponse:
    target = f"/?expired=1&lang={lang}"
    if safe_next(next_path):
        target += f"&next={next_path}"
    return RedirectResponse(target, status_code=303)


def _expired_page(
    request: Request, lang: Language, phone: str = "", *, next_path: str = ""
) -> HTMLResponse:
    """The sign-in page after a lost session, keeping the non-sensitive fields.

    Kept: the language (the page is in it), the page the borrower was on (signing in
    returns there) and the sign-in phone they typed on this device. Not kept: name, ID
    number, card number, a new phone, a face capture or a code — personal data that
    should not outlive the session in a page cache or a shared screen.
    """
    response = _render(
        request,
        "signin.html",
        lang,
        {
            "phone": phone,
            "notice": CHROME[lang]["expired"],
            "errors": {},
            "next": safe_next(next_path),
        },
        secret=request.cookies.get(ANON_COOKIE) or secrets.token_urlsafe(24),
        status_code=401,
    )
    response.delete_cookie(SESSION_COOKIE)
    return response


# -- sign in ---------------------------------------------------------------------------


@router.get("/", response_class=HTMLResponse)
def home(
    request: Request,
    lang: LangQuery = "zh-CN",
    expired: int = 0,
    phone: str = "",
    next_path: Annotated[str, Query(alias="next", max_length=64)] = "",
) -> Response:
    with _unit(request) as session:
        account = _signed_in(request, session)
        if account is not None:
            return RedirectResponse(
                f"{safe_next(next_path) or '/status'}?lang={lang}", status_code=303
            )
    notice = CHROME[lang]["expired"] if expired else None
    return _render(
        request,
        "signin.html",
        lang,
        {"phone": phone[:32], "notice": notice, "errors": {}, "next": safe_next(next_path)},
    )


@router.post("/sign-in", response_class=HTMLResponse)
async def sign_in(request: Request, lang: LangQuery = "zh-CN") -> Response:
    form = await _form(request)
    phone = _one(form, "phone")
    next_path = safe_next(_one(form, "next"))
    secret = request.cookies.get(ANON_COOKIE) or request.cookies.get(SESSION_COOKIE)
    chrome = CHROME[lang]
    if not _csrf_ok(secret, _one(form, "csrf")):
        return _render(
            request,
            "signin.html",
            lang,
            {"phone": phone, "notice": chrome["csrf"], "errors": {}, "next": next_path},
            status_code=403,
        )
    report = inspect_elements(today=date.today(), phone_value=phone)["phone"]
    if not phone or not report.valid:
        message = FIELD_ERRORS[lang]["required" if not phone else "phone"]
        if phone:
            message = field_message(report, "phone", lang)
        return _render(
            request,
            "signin.html",
            lang,
            {"phone": phone, "notice": None, "errors": {"phone": message}, "next": next_path},
            status_code=422,
        )
    context = _context(request)
    try:
        with _unit(request) as session:
            started = await accounts.start_signup_or_login(
                session,
                context.vault,
                context.sms,
                web_tenant_id(session),
                phone,
                now=utcnow(),
                language=lang,
            )
    except OtpRateLimited:
        return _render(
            request,
            "signin.html",
            lang,
            {"phone": phone, "notice": chrome["rate_limited"], "errors": {}, "next": next_path},
            status_code=429,
        )
    except RealnameError:
        return _render(
            request,
            "signin.html",
            lang,
            {"phone": phone, "notice": chrome["error"], "errors": {}, "next": next_path},
            status_code=400,
        )
    return _code_page(request, lang, phone, started.challenge_id, {}, next_path=next_path)


def _is_sandbox(context: AppContext) -> bool:
    from realname.authorities.sandbox.sms import SandboxSmsGateway

    return isinstance(context.sms, SandboxSmsGateway)


def _code_page(
    request: Request,
    lang: Language,
    phone: str,
    challenge_id: str,
    errors: dict[str, str],
    status_code: int = 200,
    *,
    next_path: str = "",
) -> HTMLResponse:
    return _render(
        request,
        "code.html",
        lang,
        {
            "next": next_path,
            "phone": phone,
            "masked_phone": masking.mask_phone(phone),
            "challenge_id": challenge_id,
            "sandbox": _is_sandbox(_context(request)),
            "errors": errors,
        },
        status_code=status_code,
        switch=f"/?lang={_other(lang)}",
    )


@router.post("/sign-in/verify", response_class=HTMLResponse)
async def verify(request: Request, lang: LangQuery = "zh-CN") -> Response:
    form = await _form(request)
    phone, challenge_id, code = _one(form, "phone"), _one(form, "challenge_id"), _one(form, "code")
    next_path = safe_next(_one(form, "next"))
    secret = request.cookies.get(ANON_COOKIE) or request.cookies.get(SESSION_COOKIE)
    if not _csrf_ok(secret, _one(form, "csrf")):
        return _code_page(
            request,
            lang,
            phone,
            challenge_id,
            {"code": CHROME[lang]["csrf"]},
            status_code=403,
            next_path=next_path,
        )
    if not otp.normalise_code(code)[1]:
        return _code_page(
            request,
            lang,
            phone,
            challenge_id,
            {"code": FIELD_ERRORS[lang]["code"]},
            422,
            next_path=next_path,
        )
    context = _context(request)
    try:
        with _unit(request) as session:
            signed = accounts.complete(
                session,
                context.vault,
                tenant_id=web_tenant_id(session),
                phone=phone,
                challenge_id=challenge_id,
                code=code,
                now=utcnow(),
            )
    except AccountsError as error:
        return _code_page(
            request,
            lang,
            phone,
            challenge_id,
            {"code": _otp_message(error, lang)},
            400,
            next_path=next_path,
        )
    except RealnameError:
        return _code_page(
            request,
            lang,
            phone,
            challenge_id,
            {"code": CHROME[lang]["error"]},
            400,
            next_path=next_path,
        )
    response = RedirectResponse(f"{next_path or '/consent'}?lang={lang}", status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        signed.session_token,
        httponly=True,
        samesite="lax",
        expires=signed.session_expires_at,
        secure=request.url.scheme == "https",
    )
    return response


def _otp_message(error: AccountsError, lang: Language) -> str:
    zh = lang == "zh-CN"
    if error.code == "OTP_EXPIRED":
        return "验证码已过期，请重新获取。" if zh else "The code has expired; request a new one."
    if error.code == "OTP_ATTEMPTS_EXCEEDED":
        return (
            "错误次数过多，请重新获取验证码。" if zh else "Too many wrong codes; request a new one."
        )
    return "验证码不正确。" if zh else "The code is not correct."


@router.post("/sign-out")
async def sign_out(request: Request, lang: LangQuery = "zh-CN") -> Response:
    form = await _form(request)
    token = request.cookies.get(SESSION_COOKIE)
    if token and _csrf_ok(token, _one(form, "csrf")):
        with _unit(request) as session:
            accounts.revoke(session, token, now=utcnow())
    response = RedirectResponse(f"/?lang={lang}", status_code=303)
    response.delete_cookie(SESSION_COOKIE)
    return response


# -- consent ----------------------------------------------------------------------------


def _consent_page(
    request: Request, lang: Language, held: frozenset[str], error: str | None, status_code: int
) -> HTMLResponse:
    kinds = [
        {
            "kind": kind,
            "label": get_catalogue().word("consent_kind", kind, lang),
            "purpose": CONSENT_TEXT[lang][kind],
            "held": kind in held,
        }
        for kind in CONSENT_KINDS
    ]
    return _render(
        request, "consent.html", lang, {"kinds": kinds, "error": error}, status_code=status_code
    )


@router.get("/consent", response_class=HTMLResponse)
def consent(request: Request, lang: LangQuery = "zh-CN") -> Response:
    with _unit(request) as session:
        account = _signed_in(request, session)
        if account is None:
            return _to_sign_in(lang)
        held = users.consents_of(session, account, utcnow())
    return _consent_page(request, lang, held, None, 200)


@router.post("/consent", response_class=HTMLResponse)
async def give_consent(request: Request, lang: LangQuery = "zh-CN") -> Response:
    form = await _form(request)
    with _unit(request) as session:
        account = _signed_in(request, session)
        if account is None:
            return _expired_page(request, lang)
        if not _csrf_ok(request.cookies.get(SESSION_COOKIE), _one(form, "csrf")):
            held = users.consents_of(session, account, utcnow())
            return _consent_page(request, lang, held, CHROME[lang]["csrf"], 403)
        kinds = [kind for kind in form.get("kinds", []) if kind in CONSENT_KINDS]
        if not kinds:
            held = users.consents_of(session, account, utcnow())
            return _consent_page(request, lang, held, CHROME[lang]["consent_none"], 422)
        users.give_consents(session, account, kinds, utcnow())
    return RedirectResponse(f"/identity?lang={lang}", status_code=303)


# -- identity ---------------------------------------------------------------------------


def _identity_page(
    request: Request,
    lang: Language,
    values: dict[str, str],
    errors: dict[str, str],
    *,
    focus: str = "",
    challenge: dict[str, str] | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    return _render(
        request,
        "identity.html",
        lang,
        {"values": values, "errors": errors, "focus": focus, "challenge": challenge},
        status_code=status_code,
    )


@router.get("/identity", response_class=HTMLResponse)
def identity(request: Request, lang: LangQuery = "zh-CN", focus: str = "") -> Response:
    context = _context(request)
    with _unit(request) as session:
        account = _signed_in(request, session)
        if account is None:
            return _to_sign_in(lang)
        phone = read_account_phone(session, context.vault, account)
    values = {"name": "", "id_number": "", "phone": phone, "bank_card": ""}
    allowed = {"name", "id_number", "phone", "bank_card"}
    return _identity_page(request, lang, values, {}, focus=focus if focus in allowed else "")


def _inspect(values: dict[str, str], lang: Language) -> dict[str, str]:
    reports = inspect_elements(
        today=date.today(),
        name_value=values["name"] or None,
        id_number_value=values["id_number"] or None,
        phone_value=values["phone"] or None,
        bank_card_value=values["bank_card"] or None,
    )
    errors = {
        field: FIELD_ERRORS[lang]["required"]
        for field in ("name", "id_number", "phone")
        if not values[field]
    }
    for field, report in reports.items():
        if not report.valid:
            errors[field] = field_message(report, field, lang)
    return errors


@router.post("/identity", response_class=HTMLResponse)
async def submit_identity(request: Request, lang: LangQuery = "zh-CN") -> Response:
    form = await _form(request)
    values = {key: _one(form, key) for key in ("name", "id_number", "phone", "bank_card")}
    challenge_id, code = _one(form, "challenge_id"), _one(form, "code")
    context = _context(request)
    with _unit(request) as session:
        account = _signed_in(request, session)
    if account is None:
        return _expired_page(request, lang, values["phone"])
    if not _csrf_ok(request.cookies.get(SESSION_COOKIE), _one(form, "csrf")):
        return _identity_page(
            request, lang, values, {"form": CHROME[lang]["csrf"]}, status_code=403
        )
    errors = _inspect(values, lang)
    if errors:
        return _identity_page(request, lang, values, errors, status_code=422)
    if challenge_id:
        # The borrower answers the code sent to prove holding the submitted phone.
        challenge = {"id": challenge_id, "masked_phone": masking.mask_phone(values["phone"])}
        if not otp.normalise_code(code)[1]:
            return _identity_page(
                request,
                lang,
                values,
                {"code": FIELD_ERRORS[lang]["code"]},
                challenge=challenge,
                status_code=422,
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
            return _identity_page(
                request,
                lang,
                values,
                {"code": _otp_message(error, lang)},
                challenge=challenge,
                status_code=400,
            )
    try:
        with _unit(request) as session:
            account = users.user_account(session, account.tenant_id, account.id)
            submitted = await users.submit(
                session,
                context.vault,
                context.provider,
                account,
                name=values["name"],
                id_number=values["id_number"],
                phone=values["phone"],
                bank_card=values["bank_card"] or None,
                policy=context.policies.product("default"),
                now=utcnow(),
                ip=request.client.host if request.client else None,
                sms=context.sms,
            )
    except RealnameError:
        return _identity_page(
            request, lang, values, {"form": CHROME[lang]["error"]}, status_code=400
        )
    if submitted.phone_challenge is not None:
        challenge = {
            "id": submitted.phone_challenge.challenge_id,
            "masked_phone": masking.mask_phone(values["phone"]),
        }
        return _identity_page(request, lang, values, {}, focus="code", challenge=challenge)
    return RedirectResponse(f"/status?lang={lang}", status_code=303)


@router.post("/identity/validate")
async def validate(request: Request, lang: LangQuery = "zh-CN") -> JSONResponse:
    """Inline validation for the identity form: which part of which element is wrong.

    Same-origin JSON for the signed-in borrower (session cookie and CSRF header); the
    answer carries masked values only.
    """
    with _unit(request) as session:
        account = _signed_in(request, session)
    if account is None:
        return JSONResponse({"error": "signed_out"}, status_code=401)
    if not _csrf_ok(request.cookies.get(SESSION_COOKIE), request.headers.get("x-csrf-token", "")):
        return JSONResponse({"error": "csrf"}, status_code=403)
    try:
        body = await request.json()
    except ValueError:
        return JSONResponse({"error": "json"}, status_code=400)
    if not isinstance(body, dict):
        return JSONResponse({"error": "json"}, status_code=400)

    def value(key: str) -> str | None:
        item = body.get(key)
        return item[:64] if isinstance(item, str) and item.strip() else None

    reports = inspect_elements(
        today=date.today(),
        name_value=value("name"),
        id_number_value=value("id_number"),
        phone_value=value("phone"),
        bank_card_value=value("bank_card"),
    )
    return JSONResponse(
        {
            field: {
                "valid": report.valid,
                "masked": report.masked,
                "code": report.code,
                "part": report.detail,
                "message": None if report.valid else field_message(report, field, lang),
            }
            for field, report in reports.items()
        }
    )


# -- status -----------------------------------------------------------------------------


#: Authorities' outcomes (``realname.authorities.protocol``) that pass the check, and
#: those that only say the authority could not tell; every other outcome did not pass.
PASSED = frozenset(
    {"consistent", "valid", "live", "match", "normal", "not_recycled", "not_swapped", "found"}
)
UNDECIDED = frozenset({"unknown", "no_result", "tenure_unknown", "not_synced"})
#: Check kinds the catalogue's vocabulary has no word for.
EXTRA_CHECK_WORDS: dict[Language, dict[str, str]] = {
    "zh-CN": {"sim_swap": "近期换卡查询"},
    "en": {"sim_swap": "recent SIM swap check"},
}


def factor_state(outcome: str) -> str:
    """``match``, ``mismatch``, ``unavailable`` or ``other`` for a stored check outcome."""
    if outcome in PASSED:
        return "match"
    if outcome == "unavailable":
        return "unavailable"
    return "other" if outcome in UNDECIDED else "mismatch"


#: The factors each level adds (DESIGN §3) and the checks any one of which attempts it.
LEVEL_FACTORS: tuple[tuple[Level, str, frozenset[str]], ...] = (
    (Level.L1, "id_two_element", frozenset({"id_two_element"})),
    (
        Level.L2,
        "bound_channel",
        frozenset({"carrier_three_element", "bank_card_four_element"}),
    ),
    (Level.L3, "face", frozenset({"face_liveness", "face_compare"})),
)


#: Where a factor not yet attempted is done: the face camera page for the face.
FACTOR_LINKS = {"id_two_element": "/identity", "bound_channel": "/identity", "face": "/face"}


def missing_factors(checked: set[str], needed: Level) -> list[str]:
    """Factors the ``needed`` level requires that no check has attempted yet."""
    return [
        factor for level, factor, kinds in LEVEL_FACTORS if level <= needed and not checked & kinds
    ]


def _factors(
    session: Session, account: Account, needed: Level, lang: Language
) -> list[dict[str, str]]:
    """Every check done (its latest outcome), then each needed factor not yet attempted."""
    latest: dict[str, str] = {}
    for check in list_checks(session, account.id):
        latest[check.check_kind] = check.outcome
    chrome, catalogue = CHROME[lang], get_catalogue()
    factors = []
    for kind, outcome in latest.items():
        state = factor_state(outcome)
        label = EXTRA_CHECK_WORDS[lang].get(kind) or catalogue.word("check", kind, lang)
        factors.append({"label": label, "state": state, "text": chrome[f"outcome_{state}"]})
    for factor in missing_factors(set(latest), needed):
        label = catalogue.word("factor", factor, lang)
        factors.append(
            {
                "label": label,
                "state": "todo",
                "text": chrome["outcome_todo"],
                "href": FACTOR_LINKS[factor],
            }
        )
    return factors


@router.get("/status", response_class=HTMLResponse)
def status(request: Request, lang: LangQuery = "zh-CN") -> Response:
    context = _context(request)
    with _unit(request) as session:
        account = _signed_in(request, session)
        if account is None:
            return _to_sign_in(lang)
        masked_phone = masking.mask_phone(read_account_phone(session, context.vault, account))
        try:
            view = users.status(session, account, lang)
        except NotFound:
            return RedirectResponse(f"/identity?lang={lang}", status_code=303)
        factors = _factors(session, account, Level.parse(view.needed), lang)
    causes = [
        {
            **cause,
            "remedies": [
                {**remedy, "href": REMEDY_LINKS.get(remedy["id"])} for remedy in cause["remedies"]
            ],
        }
        for cause in view.causes
    ]
    refresh = any(cause["code"] == "PROVIDER_UNAVAILABLE" for cause in view.causes)
    return _render(
        request,
        "status.html",
        lang,
        {
            "view": view,
            "causes": causes,
            "factors": factors,
            "masked_phone": masked_phone,
            "locked": view.account_status == LOCKED_RECYCLED,
            "refresh": REFRESH_SECONDS if refresh else None,
        },
    )


@router.get("/support", response_class=HTMLResponse)
def support(request: Request, lang: LangQuery = "zh-CN") -> Response:
    """Contact support: the reference to quote and the causes shown, nothing personal.

    The reference is the account's opaque id (the API's ``user_id``), which the
    operations console can look up without the borrower reading out personal data.
    """
    with _unit(request) as session:
        account = _signed_in(request, session)
        if account is None:
            return _to_sign_in(lang, "/support")
        try:
            codes = [cause["code"] for cause in users.status(session, account, lang).causes]
        except NotFound:
            codes = []
    return _render(
        request,
        "support.html",
        lang,
        {"reference": account.id, "codes": codes},
    )
