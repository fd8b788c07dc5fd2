"""``realname ops metrics``: the dashboard's figures in the terminal (Rich) or as JSON.

The same :func:`realname.ops.metrics.collect` the console page calls, over the same
period definition (first and last day inclusive, UTC; the last 30 days by default),
so a figure on the screen and in a script agree. Like the console, it runs the review
queue's intake first (:func:`realname.ops.cases.sync_review_cases`). Registered on
the ``ops`` group by :mod:`realname.cli`.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Annotated, Any

import typer
from rich.console import Console, Group
from rich.table import Table

from realname.config import get_settings
from realname.finance.costs import CostAssumptions
from realname.finance.report import fen_money, pct
from realname.ops.cases import sync_review_cases
from realname.ops.metrics import OpsMetrics, collect
from realname.ops.metrics_period import Period, PeriodInvalid
from realname.store.db import make_engine, make_session_factory

DEFAULT_DAYS = 30
_DEFAULTS = CostAssumptions()


def _jsonable(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value


def as_json(m: OpsMetrics) -> dict[str, Any]:
    """Every figure as plain JSON: money in integer fen, rates as decimal strings."""
    return {
        "period": {
            "since": m.period.start.isoformat(),
            "until": m.period.end.isoformat(),
            "tenant_id": m.period.tenant_id,
            "bucket": m.period.bucket,
        },
        "assumptions": asdict(m.assumptions),
        "funnel": {
            "steps": [_jsonable(asdict(step)) for step in m.funnel.steps],
            "decisions": dict(m.funnel.decisions),
        },
        "causes": {
            "buckets": _jsonable(m.causes.buckets),
            "results": list(m.causes.results),
            "counts": {code: list(v) for code, v in m.causes.counts.items()},
        },
        "cost": _jsonable(asdict(m.cost)) | {"total_fen": m.cost.total_fen},
        "providers": [_jsonable(asdict(row)) for row in m.providers],
    }


def render(m: OpsMetrics) -> Group:
    """The four blocks of the dashboard as Rich tables."""
    p = m.period
    scope = f"tenant {p.tenant_id}" if p.tenant_id else "all tenants"
    funnel = Table(title=f"Funnel {p.start} – {p.end} ({scope}): accounts signed up in the period")
    for col in ("step", "accounts", "step conversion", "of sign-ups"):
        funnel.add_column(col, justify="left" if col == "step" else "right")
    for step in m.funnel.steps:
        funnel.add_row(step.key, str(step.count), pct(step.rate), pct(step.of_signed_up))
    if m.funnel.decisions:
        funnel.caption = "credit decisions: " + ", ".join(
            f"{k} {v}" for k, v in m.funnel.decisions.items()
        )

    causes = Table(title=f"Causes per {p.bucket}")
    causes.add_column("code")
    causes.add_column("total", justify="right")
    causes.add_column("per " + p.bucket + " (oldest first)")
    for code, counts in m.causes.counts.items():
        causes.add_row(code, str(sum(counts)), " ".join(str(n) for n in counts))

    c = m.cost
    cost = Table(title="Manual review and cost", show_header=False)
    cost.add_column("measure")
    cost.add_column("value", justify="right")
    cost.add_row("verification results", str(c.results))
    cost.add_row("applicants", str(c.applicants))
    cost.add_row("review cases", str(c.review_cases))
    cost.add_row("manual-review rate (applicants with a case)", pct(c.review_rate))
    cost.add_row(
        f"reviewer time ({c.reviewer_minutes} min at "
        f"{fen_money(m.assumptions.review_rate_fen_per_hour)}/h)",
        fen_money(c.reviewer_fen),
    )
    cost.add_row(
        f"billable provider calls ({c.billable_calls} of {c.provider_calls})",
        fen_money(c.provider_fen),
    )
    cost.add_row("total", fen_money(c.total_fen))
    cost.add_row("per applicant", fen_money(c.per_applicant_fen))
    cost.add_row("per review case", fen_money(c.per_review_case_fen))

    health = Table(title="Provider health (latency of answered calls, ms)")
    for col in ("provider", "check", "calls", "errors", "error rate", "p50", "p95", "p99", "cost"):
        health.add_column(col, justify="left" if col in ("provider", "check") else "right")
    for row in m.providers:
        health.add_row(
            row.provider,
            row.check_kind,
            str(row.calls),
            str(row.errors),
            pct(row.error_rate),
            *("—" if v is None else str(v) for v in (row.p50_ms, row.p95_ms, row.p99_ms)),
            fen_money(row.cost_fen),
        )
    return Group(funnel, causes, cost, health)


def metrics_command(
    since: Annotated[
        datetime | None,
        typer.Option("--since", formats=["%Y-%m-%d"], help="First day (UTC), inclusive."),
    ] = None,
    until: Annotated[
        datetime | None,
        typer.Option("--until", formats=["%Y-%m-%d"], help="Last day (UTC), inclusive; today."),
    ] = None,
    tenant: Annotated[str | None, typer.Option("--tenant", help="Only this tenant id.")] = None,
    as_json_: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
    review_minutes: Annotated[
        int, typer.Option("--review-minutes", min=0, help="Minutes per review case.")
    ] = _DEFAULTS.review_minutes,
    review_rate_fen: Annotated[
        int, typer.Option("--review-rate-fen", min=0, help="Reviewer cost per hour, in fen.")
    ] = _DEFAULTS.review_rate_fen_per_hour,
    database_url: Annotated[
        str | None, typer.Option("--database-url", help="Default: the configured database.")
    ] = None,
) -> None:
    """Funnel, causes over time, review rate and cost, provider health for a period.

    Without --since the period is the 30 days ending --until (default today). Per-day
    buckets up to 45 days, ISO weeks beyond.
    """
    end = until.date() if until else datetime.now(UTC).date()
    try:
        period = (
            Period(since.date(), end, tenant) if since else Period.last(DEFAULT_DAYS, end, tenant)
        )
    except PeriodInvalid as error:
        typer.echo(f"--{error.field}: {error}", err=True)
        raise typer.Exit(2) from None
    assumptions = CostAssumptions(
        review_minutes=review_minutes, review_rate_fen_per_hour=review_rate_fen
    )
    engine = make_engine(database_url or get_settings().resolved_database_url)
    try:
        with make_session_factory(engine)() as session:
            # The review queue's intake first (as the console does), so every case the
            # results call for is counted.
            sync_review_cases(session, datetime.now(UTC))
            session.commit()
            found = collect(session, period, assumptions)
    finally:
        engine.dispose()
    if as_json_:
        typer.echo(json.dumps(as_json(found), ensure_ascii=False, indent=2))
        return
    Console(width=140).print(render(found))


__all__ = ["as_json", "metrics_command", "render"]
