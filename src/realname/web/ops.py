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

from realname.ops import operators
from realname.ops.errors import LoginFailed, LoginRateLimited
from realname.ops.operators import Principal
from realname.verification.catalogue import Language
from realname.web.ops_auth import (
    OPS_ANON_COOKIE,
    OPS_COOKIE,
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
    if keep:
        # Fields typed before the session expired come back as query parameters.
        target += ("&" if "?" in target else "?") + keep
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


def install(app: object) -> None:
    """Mount the console's routes and its login/forbidden handling on ``app``."""
    from fastapi import FastAPI

    from realname.web import ops_auth

    assert isinstance(app, FastAPI)
    app.include_router(router)
    ops_auth.install(app, forbidden_page)
