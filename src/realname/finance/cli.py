"""``realname finance``: the business-case planner on the command line.

* ``realname finance plan FILE [--html OUT] [--db-period FROM:TO] [--savings-from-data]``
  prints the Rich summary of a plan file and writes the HTML report. With
  ``--db-period`` the cost of the problem measured over that period is shown too; with
  ``--savings-from-data`` the plan's savings lines are replaced by the measured savings
  (see :func:`realname.finance.costs.plan_with_measured_savings`).
* ``realname finance costs --from DATE --to DATE`` prints the cost of the problem from
  the configured database.

An inconsistent plan is refused: every problem is printed with its field, exit code 2.
"""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from realname.config import get_settings
from realname.finance.analysis import analyse
from realname.finance.costs import (
    CostAssumptions,
    CostOfProblem,
    measure,
    parse_period,
    plan_with_measured_savings,
)
from realname.finance.errors import PlanInvalid
from realname.finance.model import load_plan
from realname.finance.render import render_summary
from realname.finance.report import fen_money, pct, write_html
from realname.store.db import make_engine, make_session_factory

finance_app = typer.Typer(
    help="Business case: the cost of unverified users and the upgrade's financing plan.",
    no_args_is_help=True,
)

DatabaseUrl = Annotated[
    str | None,
    typer.Option("--database-url", help="Database to measure (default: the configured one)."),
]
ReviewMinutes = Annotated[
    int, typer.Option("--review-minutes", min=0, help="Minutes of staff time per review case.")
]
ReviewRate = Annotated[
    int, typer.Option("--review-rate-fen", min=0, help="Reviewer cost per hour, in fen.")
]
Margin = Annotated[
    int, typer.Option("--margin-fen", min=0, help="Margin lost per lost applicant, in fen.")
]
LostAfter = Annotated[
    int, typer.Option("--lost-after-days", min=0, help="Days below the needed level = lost.")
]

_DEFAULTS = CostAssumptions()


def _measure(
    start: date, end: date, database_url: str | None, assumptions: CostAssumptions
) -> CostOfProblem:
    engine = make_engine(database_url or get_settings().resolved_database_url)
    try:
        with make_session_factory(engine)() as session:
            return measure(session, start, end, assumptions)
    finally:
        engine.dispose()


def costs_table(costs: CostOfProblem) -> Table:
    """Today against the upgrade, per item, in a Rich table."""
    table = Table(title=f"Cost of the problem {costs.start} – {costs.end} ({costs.days} days)")
    for col in ("", "today", "under the upgrade"):
        table.add_column(col, justify="left" if not col else "right")
    t, u = costs.today, costs.upgraded
    for code in t.stuck_by_cause:
        table.add_row(f"stuck: {code}", str(t.stuck_by_cause[code]), str(u.stuck_by_cause[code]))
    table.add_row("applicants stuck", str(t.stuck_accounts), str(u.stuck_accounts))
    table.add_row("billable provider calls", str(t.billable_calls), str(u.billable_calls))
    table.add_row("  their cost", fen_money(t.billable_fen), fen_money(u.billable_fen))
    table.add_row("manual-review cases", str(t.review_cases), str(u.review_cases))
    table.add_row("  their cost", fen_money(t.review_fen), fen_money(u.review_fen))
    table.add_row("applicants lost", str(t.lost_applicants), str(u.lost_applicants))
    table.add_row("  margin lost", fen_money(t.lost_fen), fen_money(u.lost_fen))
    table.add_row("total cost", fen_money(t.total_fen), fen_money(u.total_fen))
    r = costs.self_repair
    table.caption = (
        f"{costs.results} results, {costs.accounts} accounts; self-repair rate "
        f"{pct(r.rate)} ({r.repaired}/{r.problems}: name variant {r.name_variant}, "
        f"phone ported {r.phone_ported}, provider re-run {r.provider_rerun}); "
        f"savings {fen_money(costs.savings_fen)}"
    )
    return table


def _period_or_exit(text: str) -> tuple[date, date]:
    try:
        return parse_period(text)
    except ValueError as error:
        typer.echo(f"--db-period: {error}", err=True)
        raise typer.Exit(2) from None


@finance_app.command("plan")
def plan_command(
    file: Annotated[Path, typer.Argument(help="Plan file (YAML).", exists=True, dir_okay=False)],
    html: Annotated[Path | None, typer.Option("--html", help="Write the HTML report here.")] = None,
    db_period: Annotated[
        str | None,
        typer.Option("--db-period", help="Measure the cost of the problem over FROM:TO."),
    ] = None,
    savings_from_data: Annotated[
        bool,
        typer.Option(
            "--savings-from-data",
            help="Replace the plan's savings by the savings measured over --db-period.",
        ),
    ] = False,
    database_url: DatabaseUrl = None,
    review_minutes: ReviewMinutes = _DEFAULTS.review_minutes,
    review_rate_fen: ReviewRate = _DEFAULTS.review_rate_fen_per_hour,
    margin_fen: Margin = _DEFAULTS.margin_fen_per_customer,
    lost_after_days: LostAfter = _DEFAULTS.lost_after_days,
) -> None:
    """Print the plan's summary and write its HTML report."""
    if savings_from_data and db_period is None:
        typer.echo("--savings-from-data needs --db-period FROM:TO", err=True)
        raise typer.Exit(2)
    period = None if db_period is None else _period_or_exit(db_period)
    console = Console(width=160)
    try:
        plan = load_plan(file)
        costs = None
        if period is not None:
            assumptions = CostAssumptions(
                review_minutes, review_rate_fen, margin_fen, lost_after_days
            )
            costs = _measure(period[0], period[1], database_url, assumptions)
            if savings_from_data:
                plan = plan_with_measured_savings(plan, costs)
        result = analyse(plan)
    except PlanInvalid as error:
        typer.echo(error.diagnostics(), err=True)
        raise typer.Exit(2) from None
    console.print(render_summary(result))
    if costs is not None:
        console.print(costs_table(costs))
    if html is not None:
        write_html(result, html, costs)
        typer.echo(f"wrote {html}")


def _date(value: datetime) -> date:
    return value.date()


@finance_app.command("costs")
def costs_command(
    start: Annotated[
        datetime, typer.Option("--from", formats=["%Y-%m-%d"], help="First day (UTC).")
    ],
    end: Annotated[datetime, typer.Option("--to", formats=["%Y-%m-%d"], help="Last day (UTC).")],
    database_url: DatabaseUrl = None,
    review_minutes: ReviewMinutes = _DEFAULTS.review_minutes,
    review_rate_fen: ReviewRate = _DEFAULTS.review_rate_fen_per_hour,
    margin_fen: Margin = _DEFAULTS.margin_fen_per_customer,
    lost_after_days: LostAfter = _DEFAULTS.lost_after_days,
) -> None:
    """Print the cost of the problem measured in the database, today and upgraded."""
    if end < start:
        typer.echo(f"--to ({_date(end)}) is before --from ({_date(start)})", err=True)
        raise typer.Exit(2)
    assumptions = CostAssumptions(review_minutes, review_rate_fen, margin_fen, lost_after_days)
    costs = _measure(_date(start), _date(end), database_url, assumptions)
    Console(width=160).print(costs_table(costs))
