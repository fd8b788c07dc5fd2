"""The operations console pages at ``/ops``: login, review queue, case, support lookup.

Routers stay thin: each page authenticates through :mod:`realname.web.ops_auth`,
calls one function of :mod:`realname.ops` and renders a template of
``templates/ops``. zh-CN by default with ``?lang=en``; masked data unless an
operator unmasks with a written, audited reason.
"""

from __future__ import annotations

import secrets
from typing import Annotated, Any
from urllib.parse import parse_qsl, urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from realname.api.context import AppContext
from realname.ops import cases, operators
from realname.ops.casefile import case_file
from realname.ops.config import Reason, get_config
from realname.ops.errors import LoginFailed, LoginRateLimited, OpsError
from realname.ops.lookup import LookupInvalid, lookup
from realname.ops.operators import DECIDERS, Principal, Role
from realname.ops.unmask import unmask
from realname.verification.catalogue import Language
from realname.web.ops_auth import (
    OPS_ANON_COOKIE,
    OPS_COOKIE,
    SENSITIVE_FIELDS,
    OpsForbidden,
    csrf_ok,
    csrf_token,
    form_of,
    lang_of,
    now,
    require_operator,
    safe_next,
    set_session_cookie,
    unit,
)
from realname.web.ops_words import WORDS
from realname.web.pages import templates

router = APIRouter(include_in_schema=False)

AnyOperator = Annotated[Principal, Depends(require_operator())]
Decider = Annotated[Principal, Depends(require_operator(*DECIDERS))]
Supervisor = Annotated[Principal, Depends(require_operator(Role.SUPERVISOR))]


def _other(lang: Language) -> Language:
    return "en" if lang == "zh-CN" else "zh-CN"


def _switch_url(request: Request, lang: Language) -> str:
    query = [(k, v) for k, v in request.query_params.multi_items() if k != "lang"]
    query.append(("lang", _other(lang)))
    return f"{request.url.path}?{urlencode(query)}"


def render(
    request: Request,
    name: str,
    values: dict[str, Any],
    *,
    operator: Principal | None = None,
    section: str = "",
    status_code: int = 200,
) -> HTMLResponse:
    """Render ``templates/ops/<name>`` with the console's chrome (for every ops page)."""
    lang = lang_of(request)
    secret = request.cookies.get(OPS_COOKIE) if operator else request.cookies.get(OPS_ANON_COOKIE)
    new_anon = None
    if not secret:
        new_anon = secret = secrets.token_urlsafe(24)
    response = templates.TemplateResponse(
        request,
        f"ops/{name}",
        {
            "lang": lang,
            "other": _other(lang),
            "t": WORDS[lang],
            "csrf": csrf_token(secret),
            "operator": operator,
            "section": section,
            "switch_url": _switch_url(request, lang),
            **values,
        },
        status_code=status_code,
    )
    if new_anon:
        response.set_cookie(
            OPS_ANON_COOKIE, new_anon, httponly=True, samesite="strict", path="/ops"
        )
    response.headers["Cache-Control"] = "no-store"
    return response


def forbidden_page(request: Request, error: OpsForbidden) -> Response:
    words = WORDS[lang_of(request)]
    message = words["csrf"] if error.why == "csrf" else words["forbidden_role"]
    return render(
        request, "forbidden.html", {"message": message}, operator=error.principal, status_code=403
    )


# -- login ---------------------------------------------------------------------------------


def _login_page(
    request: Request,
    *,
    username: str = "",
    next_url: str = "/ops/queue",
    keep: str = "",
    notice: str | None = None,
    error: str | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    return render(
        request,
        "login.html",
        {"username": username, "next": next_url, "keep": keep, "notice": notice, "error": error},
        status_code=status_code,
    )


@router.get("/ops", response_class=HTMLResponse)
@router.get("/ops/", response_class=HTMLResponse)
def ops_home(request: Request) -> Response:
    return RedirectResponse(f"/ops/queue?lang={lang_of(request)}", status_code=303)


@router.get("/ops/login", response_class=HTMLResponse)
def login_page(
    request: Request, next: str = "/ops/queue", keep: str = "", expired: int = 0
) -> Response:
    words = WORDS[lang_of(request)]
    token = request.cookies.get(OPS_COOKIE)
    if token and not expired:
        with unit(request) as session:
            if operators.authenticate(session, token, now=now()) is not None:
                return RedirectResponse(safe_next(next), status_code=303)
    kept = dict(parse_qsl(keep))
    return _login_page(
        request,
        username=kept.get("username", "")[:64],
        next_url=safe_next(next),
        keep=keep[:2000],
        notice=words["expired"] if expired else None,
    )


@router.post("/ops/login", response_class=HTMLResponse)
async def login(request: Request) -> Response:
    form = await form_of(request)
    lang = lang_of(request)
    words = WORDS[lang]
    username, password = form.get("username", "")[:64], form.get("password", "")
    next_url, keep = safe_next(form.get("next", "")), form.get("keep", "")[:2000]
    page = {"username": username, "next_url": next_url, "keep": keep}
    if not csrf_ok(request.cookies.get(OPS_ANON_COOKIE), form.get("csrf", "")):
        return _login_page(request, **page, error=words["csrf"], status_code=403)
    if not username or not password:
        return _login_page(request, **page, error=words["login_missing"], status_code=422)
    client = request.client.host if request.client else None
    try:
        with unit(request) as session:
            signed = operators.log_in(session, username, password[:256], client=client, now=now())
    except LoginRateLimited:
        return _login_page(request, **page, error=words["login_limited"], status_code=429)
    except LoginFailed:
        return _login_page(request, **page, error=words["login_failed"], status_code=401)
    target = next_url
    kept = [(k, v) for k, v in parse_qsl(keep) if k not in SENSITIVE_FIELDS and k != "lang"]
    if kept:
        # Fields typed before the session expired come back as query parameters.
        target += ("&" if "?" in target else "?") + urlencode(kept)
    target += ("&" if "?" in target else "?") + f"lang={lang}"
    response = RedirectResponse(target, status_code=303)
    set_session_cookie(response, request, signed)
    return response


@router.post("/ops/logout")
async def logout(request: Request, operator: AnyOperator) -> Response:
    token = request.cookies.get(OPS_COOKIE)
    if token:
        with unit(request) as session:
            operators.log_out(session, token, now=now())
    response = RedirectResponse(f"/ops/login?lang={lang_of(request)}", status_code=303)
    response.delete_cookie(OPS_COOKIE, path="/ops")
    return response


# -- queue ---------------------------------------------------------------------------------


def duration(seconds: int, lang: Language) -> str:
    """``3 小时 12 分`` / ``3 h 12 min`` (days past 48 hours), for SLA timers."""
    minutes = abs(seconds) // 60
    days, hours, mins = minutes // 1440, (minutes // 60) % 24, minutes % 60
    zh = lang == "zh-CN"
    if days >= 2:
        return f"{days} 天 {hours} 小时" if zh else f"{days} d {hours} h"
    hours += days * 24
    if hours:
        return f"{hours} 小时 {mins} 分" if zh else f"{hours} h {mins} min"
    return f"{mins} 分钟" if zh else f"{mins} min"


def timer(seconds: int, lang: Language) -> dict[str, str]:
    words = WORDS[lang]
    key = "left" if seconds >= 0 else "overdue"
    return {
        "text": words[key].format(time=duration(seconds, lang)),
        "state": "overdue" if seconds < 0 else ("soon" if seconds < 3600 else "ok"),
    }


def _context(request: Request) -> AppContext:
    context: AppContext = request.app.state.context
    return context


def _error_text(error: OpsError, lang: Language) -> str:
    return WORDS[lang].get(f"err_{error.code}", error.message)


@router.get("/ops/queue", response_class=HTMLResponse)
def queue(request: Request, operator: AnyOperator, reason: str = "") -> Response:
    lang = lang_of(request)
    chosen = reason if reason in Reason.__members__ else ""
    moment = now()
    with unit(request) as session:
        cases.sync_review_cases(session, moment)
        items = cases.list_queue(session, now=moment, reason=chosen or None)
    config = get_config()
    rows = [
        {
            "item": item,
            "reason": config.reason_label(item.reason, lang),
            "timer": timer(item.seconds_left, lang),
            "mine": item.assignee == operator.username,
        }
        for item in items
    ]
    reasons = [(r.value, config.reason_label(r.value, lang)) for r in Reason]
    return render(
        request,
        "queue.html",
        {"rows": rows, "reasons": reasons, "chosen": chosen},
        operator=operator,
        section="queue",
    )


@router.post("/ops/cases/{case_id}/claim")
async def claim(request: Request, case_id: str, operator: Decider) -> Response:
    lang = lang_of(request)
    try:
        with unit(request) as session:
            cases.claim(session, operator, case_id, now=now())
    except OpsError as error:
        return _case_page(request, case_id, operator, error=_error_text(error, lang), status=409)
    return RedirectResponse(f"/ops/cases/{case_id}?lang={lang}", status_code=303)


# -- case ----------------------------------------------------------------------------------


def _case_page(
    request: Request,
    case_id: str,
    operator: Principal,
    *,
    clear: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    error: str | None = None,
    form: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    lang = lang_of(request)
    try:
        with unit(request) as session:
            found = case_file(session, _context(request).vault, case_id, lang, now=now())
    except OpsError:
        return render(
            request,
            "forbidden.html",
            {"message": WORDS[lang]["err_OPS_CASE_NOT_FOUND"]},
            operator=operator,
            status_code=404,
        )
    prefill = {key: request.query_params.get(key, "") for key in ("decision", "code", "level")} | (
        form or {}
    )
    return render(
        request,
        "case.html",
        {
            "file": found,
            "timer": timer(found.seconds_left, lang),
            "clear": clear,
            "errors": errors or {},
            "error": error,
            "form": prefill,
            "min_reason": get_config().unmask_min_reason,
            "done": request.query_params.get("done") == "1",
        },
        operator=operator,
        section="queue",
        status_code=status,
    )


@router.get("/ops/cases/{case_id}", response_class=HTMLResponse)
def case_page(request: Request, case_id: str, operator: AnyOperator) -> Response:
    return _case_page(request, case_id, operator)


@router.post("/ops/cases/{case_id}/unmask", response_class=HTMLResponse)
async def unmask_page(request: Request, case_id: str, operator: Decider) -> Response:
    lang = lang_of(request)
    form = await form_of(request)
    minimum = get_config().unmask_min_reason
    try:
        with unit(request) as session:
            shown = unmask(
                session,
                _context(request).vault,
                operator,
                case_id,
                reason=form.get("unmask_reason", "")[:1000],
                now=now(),
            )
    except OpsError as error:
        message = WORDS[lang]["unmask_short"].format(min=minimum)
        if error.code != "OPS_UNMASK_REASON_REQUIRED":
            message = _error_text(error, lang)
        return _case_page(request, case_id, operator, errors={"unmask_reason": message}, status=422)
    return _case_page(request, case_id, operator, clear=shown.values)


@router.post("/ops/cases/{case_id}/decision", response_class=HTMLResponse)
async def decide(request: Request, case_id: str, operator: Decider) -> Response:
    lang = lang_of(request)
    form = await form_of(request)
    decision, code, level = form.get("decision", ""), form.get("code", ""), form.get("level", "")
    kept = {"decision": decision, "code": code, "level": level}
    try:
        with unit(request) as session:
            cases.decide(
                session,
                operator,
                case_id,
                decision=decision,
                code=code,
                level_granted=level or None,
                now=now(),
            )
    except OpsError as error:
        message = _error_text(error, lang)
        if error.code == "OPS_INVALID_DECISION":
            message = WORDS[lang]["decision_missing"]
        return _case_page(
            request, case_id, operator, errors={"decision": message}, form=kept, status=422
        )
    return RedirectResponse(f"/ops/cases/{case_id}?done=1&lang={lang}", status_code=303)


@router.post("/ops/cases/{case_id}/reassign", response_class=HTMLResponse)
async def reassign(request: Request, case_id: str, operator: Supervisor) -> Response:
    lang = lang_of(request)
    form = await form_of(request)
    try:
        with unit(request) as session:
            cases.reassign(session, operator, case_id, form.get("username", ""), now=now())
    except OpsError as error:
        return _case_page(
            request, case_id, operator, errors={"reassign": _error_text(error, lang)}, status=422
        )
    return RedirectResponse(f"/ops/cases/{case_id}?lang={lang}", status_code=303)


# -- support lookup --------------------------------------------------------------------------


@router.get("/ops/lookup", response_class=HTMLResponse)
def lookup_page(request: Request, operator: AnyOperator) -> Response:
    return render(
        request, "lookup.html", {"files": None, "error": None}, operator=operator, section="lookup"
    )


@router.post("/ops/lookup", response_class=HTMLResponse)
async def lookup_search(request: Request, operator: AnyOperator) -> Response:
    """POST, not GET: the phone or ID number must not end up in URLs and access logs."""
    lang = lang_of(request)
    form = await form_of(request)
    try:
        with unit(request) as session:
            files = lookup(
                session,
                _context(request).vault,
                form.get("query", "")[:64],
                lang,
                principal=operator,
                now=now(),
            )
    except LookupInvalid:
        return render(
            request,
            "lookup.html",
            {"files": None, "error": WORDS[lang]["lookup_invalid"]},
            operator=operator,
            section="lookup",
            status_code=422,
        )
    return render(
        request,
        "lookup.html",
        {"files": files, "error": None},
        operator=operator,
        section="lookup",
    )


def install(app: object) -> None:
    """Mount the console's routes and its login/forbidden handling on ``app``."""
    from fastapi import FastAPI

    from realname.web import ops_auth

    assert isinstance(app, FastAPI)
    app.include_router(router)
    ops_auth.install(app, forbidden_page)
