"""Help pages: one per cause code, from the same catalogue as the API's remedies.

The user education the problem needs ("why does it say 未实名认证?") is written once,
in the catalogue, and shown identically by the API, the status page and here.
"""

from __future__ import annotations

from importlib import resources
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from jinja2 import Environment, PackageLoader, select_autoescape

from realname.verification.catalogue import Language, get_catalogue
from realname.verification.causes import CauseCode, Severity

router = APIRouter(include_in_schema=False)
templates = Jinja2Templates(
    env=Environment(
        loader=PackageLoader("realname.web", "templates"),
        autoescape=select_autoescape(["html"]),
    )
)
STATIC_DIR = str(resources.files("realname.web").joinpath("static"))

LangQuery = Annotated[Literal["zh-CN", "en"], Query()]

#: Words of the pages themselves (not of causes): kept next to the templates' use.
CHROME: dict[Language, dict[str, str]] = {
    "zh-CN": {
        "site": "实名认证帮助",
        "index_title": "为什么显示“未实名认证”？",
        "index_lead": "下面列出了所有可能的原因。点开一项，看看它的意思和您可以怎么做。",
        "what": "这是什么意思",
        "todo": "您可以这样做",
        "nothing": "无需您做任何事。",
        "back": "全部原因",
        "switch": "English",
        "severity_blocking": "需要处理",
        "severity_warning": "提醒",
        "severity_info": "说明",
        "not_found": "没有这个原因代码。",
    },
    "en": {
        "site": "Verification help",
        "index_title": "Why does it say “not verified”?",
        "index_lead": (
            "Every possible reason is listed below. "
            "Open one to see what it means and what you can do."
        ),
        "what": "What it means",
        "todo": "What you can do",
        "nothing": "Nothing for you to do.",
        "back": "All reasons",
        "switch": "中文",
        "severity_blocking": "Needs action",
        "severity_warning": "Note",
        "severity_info": "Information",
        "not_found": "There is no such reason code.",
    },
}


def _other(language: Language) -> Language:
    return "en" if language == "zh-CN" else "zh-CN"


@router.get("/help", response_class=HTMLResponse)
def help_index(request: Request, lang: LangQuery = "zh-CN") -> HTMLResponse:
    catalogue = get_catalogue()
    causes = [
        {
            "code": code.value,
            "title": catalogue.explain(catalogue.cause(code), lang).title,
            "severity": catalogue.default_severity(code).value,
        }
        for code in CauseCode
    ]
    return templates.TemplateResponse(
        request,
        "help_index.html",
        {"lang": lang, "other": _other(lang), "t": CHROME[lang], "causes": causes},
    )


@router.get("/help/{code}", response_class=HTMLResponse)
def help_cause(request: Request, code: str, lang: LangQuery = "zh-CN") -> HTMLResponse:
    catalogue = get_catalogue()
    chrome = CHROME[lang]
    try:
        cause_code = CauseCode(code)
    except ValueError:
        return templates.TemplateResponse(
            request,
            "not_found.html",
            {"lang": lang, "other": _other(lang), "t": chrome, "code": code},
            status_code=404,
        )
    explanation = catalogue.explain(catalogue.cause(cause_code), lang)
    return templates.TemplateResponse(
        request,
        "help_cause.html",
        {
            "lang": lang,
            "other": _other(lang),
            "t": chrome,
            "code": cause_code.value,
            "title": explanation.title,
            "help": catalogue.help(cause_code, lang),
            "severity": explanation.severity.value,
            "blocking": explanation.severity is Severity.BLOCKING,
            "remedies": explanation.remedies,
        },
    )


def install(app: object) -> None:
    """Mount the pages and their stylesheet on ``app`` (a FastAPI application)."""
    from fastapi import FastAPI

    assert isinstance(app, FastAPI)
    app.include_router(router)
    # Imported here: the borrower pages import this module's templates.
    from realname.web import borrower, borrower_link, borrower_phone

    app.include_router(borrower.router)
    app.include_router(borrower_phone.router)
    app.include_router(borrower_link.router)
    from realname.web import ops

    ops.install(app)
    from realname.web import ops_dashboard

    ops_dashboard.install(app)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
