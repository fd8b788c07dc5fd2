"""``realname risk``: generate labelled sessions and evaluate a policy on them."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from realname.risk.errors import PolicyInvalid, SessionsInvalid
from realname.risk.evaluation import chart, evaluate, render
from realname.risk.policy import load_policy
from realname.risk.sessions import generate_sessions, load_sessions, write_sessions

risk_app = typer.Typer(
    help="Adaptive step-up: sessions and policy evaluation.", no_args_is_help=True
)


@risk_app.command("generate")
def generate_command(
    out: Annotated[Path, typer.Option("--out", help="JSON-lines file to write.")],
    sessions: Annotated[int, typer.Option("--sessions", min=1, help="How many.")] = 10_000,
    seed: Annotated[int, typer.Option("--seed", help="Random seed.")] = 0,
) -> None:
    """Write labelled sessions (docs/risk-sessions-schema.md)."""
    with out.open("w", encoding="utf-8") as handle:
        count = write_sessions(generate_sessions(sessions, seed), handle)
    typer.echo(f"wrote {count} sessions to {out}")


@risk_app.command("evaluate")
def evaluate_command(
    file: Annotated[Path, typer.Argument(help="Labelled sessions, JSON lines.", exists=True)],
    policy: Annotated[Path | None, typer.Option("--policy", help="Policy YAML.")] = None,
    chart_path: Annotated[Path | None, typer.Option("--chart", help="Bar chart PNG.")] = None,
) -> None:
    """Replay sessions through the policy: detection, friction, confusion table."""
    try:
        loaded_policy = load_policy(policy)
        sessions = load_sessions(file)
    except (PolicyInvalid, SessionsInvalid) as error:
        typer.echo(error.diagnostics(), err=True)
        raise typer.Exit(2) from None
    result = evaluate(sessions, loaded_policy)
    typer.echo(render(result))
    if chart_path is not None:
        try:
            chart(result, chart_path)
        except ImportError:
            typer.echo("no chart: matplotlib is not installed", err=True)
            raise typer.Exit(1) from None
        typer.echo(f"chart written to {chart_path}")
