"""The console's dashboard (``/ops/dashboard``) and finance view (``/ops/finance``).

Any signed-in operator may look (``require_operator()`` with no role). Both pages take
the same selection from the query string — a period (``since``/``until`` or a preset
``days``), a ``tenant`` and the cost assumptions — so a view can be bookmarked and
shared. The dashboard shows :func:`realname.ops.metrics.collect`; the finance view
shows the cost of the problem computed from the same rows (live inputs) and runs a
plan — the README's example, or YAML pasted or uploaded (read into the text box by
``ops_finance.js``; no multipart parser is needed) — rendering the very report
fragment ``realname finance plan --html`` writes. An invalid plan is listed field by
field and nothing is computed from it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from importlib.resources import files
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse
from markupsafe import Markup

from realname.finance.analysis import analyse
from realname.finance.costs import CostAssumptions, CostOfProblem, plan_with_measured_savings
from realname.finance.errors import PlanInvalid, Problem
from realname.finance.model import parse_plan_text
from realname.finance.report import fen_money, pct, render_fragment
from realname.ops import cases, metrics
from realname.ops.metrics_charts import (
    cause_colours,
    causes_chart,
    funnel_chart,
    latency_chart,
)
from realname.ops.metrics_period import Period, PeriodInvalid, parse_day
from realname.ops.operators import Principal
from realname.verification.catalogue import Language, get_catalogue
from realname.verification.causes import CauseCode
from realname.web.ops import render
from realname.web.ops_auth import form_of, lang_of, now, require_operator, unit
from realname.web.ops_dashboard_words import DASHBOARD_WORDS
from realname.web.pages import templates

router = APIRouter(include_in_schema=False)
# Money (fen as ¥) and rates (fractions as %) print as in the finance report.
templates.env.filters["fen"] = fen_money
templates.env.filters["pct"] = pct
AnyOperator = Annotated[Principal, Depends(require_operator())]

PRESETS = (7, 30, 90)
DEFAULT_DAYS = 30
#: Largest plan text accepted from the form, in characters.
MAX_PLAN_CHARS = 100_000
#: Upper bound of the assumption inputs (a sanity limit, not a business rule).
MAX_NUMBER = 10**9
EXAMPLE_PLAN = files("realname.finance") / "data" / "example_plan.yaml"
_DEFAULTS = CostAssumptions()
NUMBERS = {
    "review_minutes": _DEFAULTS.review_minutes,
    "review_rate_fen": _DEFAULTS.review_rate_fen_per_hour,
    "margin_fen": _DEFAULTS.margin_fen_per_customer,
    "lost_after_days": _DEFAULTS.lost_after_days,
}


@dataclass
class Selection:
    """What the operator asked to see, the values to show back, and field errors."""

    values: dict[str, str]
    errors: dict[str, str] = field(default_factory=dict)
    period: Period | None = None
    assumptions: CostAssumptions | None = None

    def query(self, **extra: str) -> str:
        kept = {k: v for k, v in self.values.items() if v}
        return urlencode({**kept, **extra})


def today() -> date:
    return datetime.now(UTC).date()


def _number(raw: str, default: int) -> int | None:
    if raw == "":
        return default
    if not raw.isdigit() or int(raw) > MAX_NUMBER:
        return None
    return int(raw)


def read_selection(
    query: Mapping[str, str], tenants: list[tuple[str, str]], lang: Language
) -> Selection:
    """Parse the query string; every problem is kept against its field."""
    words = DASHBOARD_WORDS[lang]
    values = {
        key: query.get(key, "").strip()[:40]
        for key in ("since", "until", "days", "tenant", *NUMBERS)
    }
    sel = Selection(values)
    tenant = values["tenant"] or None
    if tenant is not None and tenant not in {tid for tid, _ in tenants}:
        sel.errors["tenant"] = words["unknown_tenant"]
    numbers: dict[str, int] = {}
    for key, default in NUMBERS.items():
        parsed = _number(values[key], default)
        if parsed is None:
            sel.errors[key] = words["bad_number"]
        else:
            numbers[key] = parsed
    try:
        if values["since"] or values["until"]:
            end = parse_day("until", values["until"]) if values["until"] else today()
            start = parse_day("since", values["since"]) if values["since"] else end
            period = Period(start, end, tenant)
        else:
            days = int(values["days"]) if values["days"].isdigit() else DEFAULT_DAYS
            if days not in PRESETS:
                days = DEFAULT_DAYS
            values["days"] = str(days)
            period = Period.last(days, today(), tenant)
    except PeriodInvalid as error:
        sel.errors[error.field] = str(error) if lang == "en" else _zh_period(error)
    else:
        sel.period = period
        values["since"], values["until"] = str(period.start), str(period.end)
    if not sel.errors:
        sel.assumptions = CostAssumptions(
            review_minutes=numbers["review_minutes"],
            review_rate_fen_per_hour=numbers["review_rate_fen"],
            margin_fen_per_customer=numbers["margin_fen"],
            lost_after_days=numbers["lost_after_days"],
        )
    else:
        sel.period = None
    return sel


def _zh_period(error: PeriodInvalid) -> str:
    text = str(error)
    if "before it starts" in text:
        return "结束日期早于开始日期。"
    if "longer than" in text:
        return "统计区间过长（最多两年）。"
    return "日期格式应为 YYYY-MM-DD。"


def cause_titles(codes: list[str], lang: Language) -> dict[str, str]:
    """The catalogue's title of each code, in the page's language."""
    catalogue = get_catalogue()
    titles: dict[str, str] = {}
    for code in codes:
        try:
            titles[code] = catalogue.explain(catalogue.cause(CauseCode(code)), lang).title
        except ValueError:
            titles[code] = code
    return titles


def _common(
    request: Request, selection: Selection, tenants: list[tuple[str, str]]
) -> dict[str, Any]:
    lang = lang_of(request)
    return {
        "d": DASHBOARD_WORDS[lang],
        "sel": selection,
        "tenants": tenants,
        "presets": PRESETS,
        "defaults": NUMBERS,
    }


@router.get("/ops/dashboard", response_class=HTMLResponse)
def dashboard(request: Request, operator: AnyOperator) -> HTMLResponse:
    lang = lang_of(request)
    words = DASHBOARD_WORDS[lang]
    with unit(request) as session:
        # Bring the review queue up to date first, as the queue page does, so the
        # review figures count every case the results so far call for.
        cases.sync_review_cases(session, now())
        tenants = metrics.tenants(session)
        selection = read_selection(request.query_params, tenants, lang)
        found = (
            metrics.collect(session, selection.period, selection.assumptions)
            if selection.period is not None and selection.assumptions is not None
            else None
        )
    values = _common(request, selection, tenants)
    if found is not None:
        labels = {step.key: words[f"step_{step.key}"] for step in found.funnel.steps}
        bucket = words[f"bucket_{found.period.bucket}"]
        values |= {
            "m": found,
            "labels": labels,
            "titles": cause_titles(list(found.causes.counts), lang),
            "colours": cause_colours(found.causes),
            "causes_note": words["causes_note"].format(bucket=bucket),
            "charts": {
                "funnel": funnel_chart(found.funnel, labels, words["chart_funnel"]),
                "causes": causes_chart(
                    found.causes, words["other"], words["chart_causes"], words["no_data"]
                ),
                "latency": latency_chart(found.providers, words["chart_latency"], words["no_data"]),
            },
        }
    return render(
        request,
        "dashboard.html",
        values,
        operator=operator,
        section="dashboard",
        status_code=422 if selection.errors else 200,
    )


@dataclass
class PlanRun:
    text: str
    savings_from_data: bool = False
    report: Markup | None = None
    problems: list[Problem] = field(default_factory=list)
    error: str | None = None


def run_plan(text: str, costs: CostOfProblem | None, savings_from_data: bool) -> PlanRun:
    """Validate and analyse a plan; field problems instead of figures if it is unsound."""
    outcome = PlanRun(text, savings_from_data)
    try:
        plan = parse_plan_text(text)
        if savings_from_data and costs is not None:
            plan = plan_with_measured_savings(plan, costs)
        outcome.report = render_fragment(analyse(plan), costs)
    except PlanInvalid as invalid:
        outcome.problems = invalid.problems
    return outcome


def _finance(
    request: Request, operator: Principal, plan_text: str | None, savings: bool
) -> HTMLResponse:
    lang = lang_of(request)
    words = DASHBOARD_WORDS[lang]
    with unit(request) as session:
        tenants = metrics.tenants(session)
        selection = read_selection(request.query_params, tenants, lang)
        costs = None
        if selection.period is not None and selection.assumptions is not None:
            loaded = metrics.load(session, selection.period)
            costs = metrics.problem_cost(loaded, selection.period, selection.assumptions)
    example = EXAMPLE_PLAN.read_text(encoding="utf-8")
    status = 422 if selection.errors else 200
    if plan_text is None:
        run = run_plan(example, costs, savings)
    elif not plan_text.strip():
        run, status = PlanRun(plan_text, savings, error=words["plan_empty"]), 422
    elif len(plan_text) > MAX_PLAN_CHARS:
        run, status = PlanRun("", savings, error=words["plan_too_large"]), 422
    else:
        run = run_plan(plan_text, costs, savings)
        if run.problems:
            status = 422
    values = _common(request, selection, tenants) | {
        "costs": costs,
        "titles": cause_titles(list(costs.today.stuck_by_cause) if costs else [], lang),
        "run": run,
        "example": example,
    }
    return render(
        request, "finance.html", values, operator=operator, section="finance", status_code=status
    )


@router.get("/ops/finance", response_class=HTMLResponse)
def finance(request: Request, operator: AnyOperator) -> HTMLResponse:
    return _finance(request, operator, None, request.query_params.get("savings") == "1")


@router.post("/ops/finance", response_class=HTMLResponse)
async def finance_plan(request: Request, operator: AnyOperator) -> HTMLResponse:
    form = await form_of(request)
    # form_of strips values; YAML indentation of the first line does not matter.
    return _finance(request, operator, form.get("plan_yaml", ""), form.get("savings") == "1")


def install(app: object) -> None:
    """Mount the dashboard and finance routes on ``app`` (the ops login is installed by
    :func:`realname.web.ops.install`)."""
    from fastapi import FastAPI

    assert isinstance(app, FastAPI)
    app.include_router(router)
