"""``realname credit``: train the scorecard and render its model card."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from realname.credit.card import calibration_chart, markdown
from realname.credit.scorecard import Scorecard, default_scorecard, load_scorecard

credit_app = typer.Typer(help="Credit scorecard: train and report.", no_args_is_help=True)
console = Console()


@credit_app.command()
def train(
    out: Annotated[Path, typer.Option(help="Directory for the versioned artefact.")],
) -> None:
    """Train on modeldata::credit_data and write scorecard-<version>.json."""
    from realname.credit.training import train as fit

    scorecard = fit().scorecard
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"scorecard-{scorecard.version}.json"
    path.write_text(scorecard.dumps(), encoding="utf-8")
    _summary(scorecard)
    console.print(f"wrote {path}")


@credit_app.command()
def report(
    artefact: Annotated[Path | None, typer.Option(help="An artefact; default: shipped.")] = None,
    out: Annotated[Path, typer.Option(help="Directory for model-card.md and PNG.")] = Path("."),
) -> None:
    """Render the model card: terminal summary, Markdown and a calibration chart."""
    scorecard = load_scorecard(artefact) if artefact else default_scorecard()
    out.mkdir(parents=True, exist_ok=True)
    chart = f"calibration-{scorecard.version}.png"
    drawn = calibration_chart(scorecard, out / chart)
    card = out / f"model-card-{scorecard.version}.md"
    card.write_text(markdown(scorecard, chart if drawn else None), encoding="utf-8")
    _summary(scorecard)
    console.print(f"wrote {card}")


def _summary(scorecard: Scorecard) -> None:
    table = Table(title=f"Scorecard {scorecard.version}")
    for column in ("split", "AUC", "KS", "Gini", "bad rate"):
        table.add_column(column)
    for name in ("train", "test"):
        row = scorecard.metrics.get(name, {})
        table.add_row(name, *(str(row.get(k)) for k in ("auc", "ks", "gini", "bad_rate")))
    console.print(table)
    console.print(f"PSI train→test: {scorecard.metrics.get('psi_train_test')}")
