"""The HTML report of a plan: key figures, period tables and charts, self-contained.

The page uses no internet assets: styles are inline and the charts (cash flows, DSCR
per period, the tornado chart of the sensitivity table) are matplotlib SVG embedded in
the page. Charts convert Decimal to float only to draw; every figure printed in the
tables is the Decimal computed by :func:`~realname.finance.analyse`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup

from realname.charts import subplots as _subplots
from realname.charts import svg as _svg
from realname.finance.analysis import PlanResult
from realname.finance.costs import CostOfProblem

TEMPLATES = Path(__file__).parent / "templates"


def money(value: Decimal) -> str:
    return f"¥{value:,.2f}"


def fen_money(value: int) -> str:
    return money(Decimal(value) / Decimal(100))


def pct(value: Decimal | None) -> str:
    return "—" if value is None else f"{value * 100:.2f}%"


def plain(value: Decimal | None) -> str:
    return "—" if value is None else f"{value:.2f}"


def cash_flow_chart(result: PlanResult) -> Markup:
    periods = list(range(len(result.project_flows)))
    figure, axes = _subplots(9, 4)
    width = 0.4
    axes.bar(
        [t - width / 2 for t in periods],
        [float(x) for x in result.project_flows],
        width,
        label="project flow",
        color="tab:blue",
    )
    axes.bar(
        [t + width / 2 for t in periods],
        [-float(x) for x in result.debt_service],
        width,
        label="debt service (paid)",
        color="tab:red",
    )
    cumulative: list[float] = []
    running = 0.0
    for flow in result.project_flows:
        running += float(flow)
        cumulative.append(running)
    axes.plot(periods, cumulative, color="black", marker=".", label="cumulative project flow")
    axes.axhline(0, color="grey", linewidth=0.8)
    axes.set_xlabel(f"{result.plan.periods.frequency} (0 = financial close)")
    axes.set_ylabel("¥")
    axes.set_title("Cash flows and debt service")
    axes.legend(loc="best", fontsize="small")
    return _svg(figure)


def dscr_chart(result: PlanResult) -> Markup:
    points = [(t, float(x)) for t, x in enumerate(result.dscr) if x is not None]
    figure, axes = _subplots(9, 3)
    if points:
        axes.plot([t for t, _ in points], [v for _, v in points], marker="o", label="DSCR")
    axes.axhline(1, color="tab:red", linestyle="--", linewidth=0.8, label="1.0×")
    axes.set_xlabel(result.plan.periods.frequency)
    axes.set_title("Debt-service cover ratio per period")
    axes.legend(loc="best", fontsize="small")
    return _svg(figure)


def tornado_chart(result: PlanResult) -> Markup:
    rows = list(reversed(result.sensitivity))  # widest swing on top
    base = float(result.npv)
    figure, axes = _subplots(9, 0.6 * len(rows) + 1.5)
    labels = [row.assumption for row in rows]
    lows = [float(row.low) - base for row in rows]
    highs = [float(row.high) - base for row in rows]
    axes.barh(labels, lows, left=base, color="tab:red", label="NPV low")
    axes.barh(labels, highs, left=base, color="tab:green", label="NPV high")
    axes.axvline(base, color="black", linewidth=0.8)
    steps = ", ".join(f"±{s * 100:.0f}%" for s in result.plan.sensitivity.steps)
    axes.set_title(f"Tornado: NPV (¥) when each assumption moves {steps}")
    axes.set_xlabel("NPV at WACC (¥)")
    axes.legend(loc="best", fontsize="small")
    return _svg(figure)


@dataclass(frozen=True, slots=True)
class PeriodRow:
    period: int
    date: date
    savings: Decimal
    opex: Decimal
    capex: Decimal
    project: Decimal
    cfads: Decimal
    debt_service: Decimal
    dscr: Decimal | None
    equity: Decimal


def _period_date(start: date, frequency: str, t: int) -> date:
    months = {"month": 1, "quarter": 3, "year": 12}[frequency] * t
    year, month = divmod(start.month - 1 + months, 12)
    day = min(start.day, 28)
    return date(start.year + year, month + 1, day)


def period_rows(result: PlanResult) -> list[PeriodRow]:
    p = result.plan.periods
    return [
        PeriodRow(
            period=t,
            date=_period_date(p.start, p.frequency, t),
            savings=result.savings[t],
            opex=result.opex[t],
            capex=result.capex[t],
            project=result.project_flows[t],
            cfads=result.cfads[t],
            debt_service=result.debt_service[t],
            dscr=result.dscr[t],
            equity=result.equity_flows[t],
        )
        for t in range(len(result.project_flows))
    ]


def _environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(["html"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(money=money, fen_money=fen_money, pct=pct, plain=plain)
    return env


def _context(result: PlanResult, costs: CostOfProblem | None) -> dict[str, object]:
    return {
        "r": result,
        "plan": result.plan,
        "total_capex": sum(result.capex, Decimal(0)),
        "rows": period_rows(result),
        "costs": costs,
        "charts": {
            "cash": cash_flow_chart(result),
            "dscr": dscr_chart(result),
            "tornado": tornado_chart(result),
        },
    }


def render_html(result: PlanResult, costs: CostOfProblem | None = None) -> str:
    """The whole report as one self-contained HTML page."""
    template = _environment().get_template("report.html")
    return template.render(_context(result, costs))


def render_fragment(result: PlanResult, costs: CostOfProblem | None = None) -> Markup:
    """The report without its page around it, for the operations console to embed.

    The same template fragment as :func:`render_html`, so the console and the file
    written by ``realname finance plan --html`` show the same figures and charts.
    """
    template = _environment().get_template("report_body.html")
    # Rendered by an autoescaping environment: user text in the plan is escaped.
    return Markup(template.render(_context(result, costs)))  # noqa: S704


def write_html(result: PlanResult, out: Path, costs: CostOfProblem | None = None) -> Path:
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(render_html(result, costs), encoding="utf-8")
    return out
