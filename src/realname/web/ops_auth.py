"""Who may see the operations console: the operator session and CSRF, as dependencies.

Other console pages (queue, dashboard, finance) declare what they need in one line::

    @router.get("/ops/dashboard")
    def dashboard(request: Request, operator: Annotated[Principal, Depends(require_operator())]):

    @router.post("/ops/cases/{case_id}/decision")
    async def decide(..., operator: Annotated[Principal, Depends(require_operator(*DECIDERS))]):

The session token lives in its own cookie, :data:`OPS_COOKIE` (HttpOnly,
SameSite=Strict, path ``/ops``), separate from the borrower's ``rn_session``.
Every POST must carry the CSRF token (form field ``csrf`` or header ``X-CSRF-Token``)
derived from that cookie; :func:`require_operator` checks it for POST requests, so a
route cannot forget. Without a live session the browser is sent to the login page
with ``next`` (and, after a POST, the form's non-sensitive fields) so nothing typed
is lost; a role that may not do something gets a 403 page.
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from hashlib import sha256
from typing import Literal
from urllib.parse import parse_qs, urlencode

from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session

from realname.api.context import AppContext
from realname.api.deps import transaction
from realname.ops import operators
from realname.ops.operators import Principal, Role

OPS_COOKIE = "rn_ops"
OPS_ANON_COOKIE = "rn_ops_anon"
#: Form fields that are never carried through a login redirect (secrets, free text
#: that might hold personal data).
SENSITIVE_FIELDS = frozenset({"csrf", "password", "unmask_reason", "query"})

Lang = Literal["zh-CN", "en"]


class OpsLoginRequired(Exception):
    """No live operator session: answered by a redirect to the login page."""

    def __init__(self, next_url: str, kept: dict[str, str], expired: bool) -> None:
        super().__init__("login required")
        self.next_url = next_url
        self.kept = kept
        self.expired = expired


class OpsForbidden(Exception):
    """The operator's role may not do this (or the CSRF token is wrong)."""

    def __init__(self, principal: Principal | None, why: Literal["role", "csrf"]) -> None:
        super().__init__(why)
        self.principal = principal
        self.why = why


def now() -> datetime:
    return datetime.now(UTC)


def lang_of(request: Request) -> Lang:
    return "en" if request.query_params.get("lang") == "en" else "zh-CN"


@contextmanager
def unit(request: Request) -> Iterator[Session]:
    """One transaction on the application's database."""
    context: AppContext = request.app.state.context
    with context.session_factory() as session, transaction(session):
        yield session


def csrf_token(secret: str) -> str:
    """The CSRF token bound to the console cookie (session or anonymous) ``secret``."""
    return sha256(f"realname-ops-csrf:{secret}".encode()).hexdigest()[:32]


def csrf_ok(secret: str | None, presented: str) -> bool:
    return bool(secret) and hmac.compare_digest(csrf_token(secret or ""), presented)


async def form_of(request: Request) -> dict[str, str]:
    """A urlencoded form as first values (cached by Starlette, so routes can read it again)."""
    body = (await request.body()).decode("utf-8", errors="replace")
    return {
        key: values[0].strip() for key, values in parse_qs(body, keep_blank_values=True).items()
    }


def require_operator(*roles: Role) -> Callable[[Request], Awaitable[Principal]]:
    """A dependency giving the signed-in :class:`Principal`, limited to ``roles`` if given.

    For POST requests it also checks the CSRF token.
    """
    allowed = frozenset(roles)

    async def dependency(request: Request) -> Principal:
        token = request.cookies.get(OPS_COOKIE)
        principal = None
        if token:
            with unit(request) as session:
                principal = operators.authenticate(session, token, now=now())
        if principal is None:
            kept: dict[str, str] = {}
            next_url = str(request.url.path)
            if request.method == "POST":
                form = await form_of(request)
                kept = {k: v[:200] for k, v in form.items() if k not in SENSITIVE_FIELDS}
            elif request.url.query:
                next_url += "?" + request.url.query
            raise OpsLoginRequired(next_url, kept, expired=bool(token))
        if request.method == "POST":
            form = await form_of(request)
            presented = form.get("csrf") or request.headers.get("x-csrf-token", "")
            if not csrf_ok(token, presented):
                raise OpsForbidden(principal, "csrf")
        if allowed and principal.role not in allowed:
            raise OpsForbidden(principal, "role")
        return principal

    return dependency


def login_redirect(next_url: str, kept: dict[str, str], *, expired: bool, lang: Lang) -> str:
    query = {"next": next_url, "lang": lang, **({"expired": "1"} if expired else {})}
    if kept:
        query["keep"] = urlencode(kept)
    return "/ops/login?" + urlencode(query)


def safe_next(next_url: str) -> str:
    """Only a console path may follow a login (no open redirect)."""
    if next_url.startswith("/ops/") and not next_url.startswith("//") and "\\" not in next_url:
        return next_url
    return "/ops/queue"


def set_session_cookie(response: Response, request: Request, signed: operators.SignedIn) -> None:
    response.set_cookie(
        OPS_COOKIE,
        signed.token,
        httponly=True,
        samesite="strict",
        path="/ops",
        expires=signed.expires_at,
        secure=request.url.scheme == "https",
    )


def install(app: FastAPI, forbidden_page: Callable[[Request, OpsForbidden], Response]) -> None:
    """Answer :class:`OpsLoginRequired` with a redirect and :class:`OpsForbidden` with 403."""

    async def to_login(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, OpsLoginRequired)
        url = login_redirect(exc.next_url, exc.kept, expired=exc.expired, lang=lang_of(request))
        response = RedirectResponse(url, status_code=303)
        if exc.expired:
            response.delete_cookie(OPS_COOKIE, path="/ops")
        return response

    async def forbidden(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, OpsForbidden)
        return forbidden_page(request, exc)

    app.add_exception_handler(OpsLoginRequired, to_login)
    app.add_exception_handler(OpsForbidden, forbidden)


__all__ = [
    "OPS_COOKIE",
    "OpsForbidden",
    "OpsLoginRequired",
    "Principal",
    "Role",
    "csrf_ok",
    "csrf_token",
    "form_of",
    "install",
    "lang_of",
    "require_operator",
    "unit",
]
