"""The model card: what the scorecard learnt, how well it ranks, and what is policy instead."""

from __future__ import annotations

from pathlib import Path

from realname.credit.scorecard import Scorecard

PROVENANCE = """\
## What is learnt and what is policy

* **Learnt from real outcomes:** only the scorecard — its bins, WOE and points — fitted
  on `modeldata::credit_data` (4,454 loans of a Spanish lender, good/bad status).
* **Policy, not learnt:** social security (社保) and housing fund (公积金) records,
  the verification level, identity stability and the credit limit. credit_data has
  no such fields, so their effect is a documented rule (`realname.credit.limits`):
  contribution base → estimated monthly income → debt-to-income cap (40 %), haircuts
  for unverified income, short employer continuity and a new phone, and a ceiling from
  the level (L2 up to ¥5,000, L3 above). Their weights are judgement until outcomes on
  our own applications exist to learn them from.
* Money enters the scorecard only as unit-free ratios (the data set's currency is
  unknown), so application amounts in fen are scored without any exchange rate.
"""


def markdown(scorecard: Scorecard, chart: str | None = None) -> str:
    m = scorecard.metrics
    test, train = m.get("test", {}), m.get("train", {})
    lines = [
        f"# Credit scorecard {scorecard.version}",
        "",
        f"Data: `{scorecard.data.get('dataset')}`, {scorecard.data.get('rows')} rows, "
        f"sha256 `{scorecard.data.get('sha256')}`. Split: {m.get('split')}.",
        f"Scaling: {scorecard.scaling.base_points:g} points at "
        f"{scorecard.scaling.base_odds:g}:1, {scorecard.scaling.pdo:g} points to double.",
        "",
        "| split | AUC | KS | Gini | bad rate |",
        "|---|---|---|---|---|",
    ]
    for name, row in (("train", train), ("test (held out)", test)):
        lines.append(
            f"| {name} | {row.get('auc')} | {row.get('ks')} | {row.get('gini')} "
            f"| {row.get('bad_rate')} |"
        )
    lines += ["", f"PSI train → test: {m.get('psi_train_test')}", ""]
    lines += [
        "## Calibration (held out)",
        "",
        "| decile | n | mean PD | bad rate |",
        "|---|---|---|---|",
    ]
    for row in m.get("calibration_test", []):
        lines.append(f"| {row['group']} | {row['count']} | {row['pd_mean']} | {row['bad_rate']} |")
    if chart:
        lines += ["", f"![calibration]({chart})"]
    lines += ["", "## Characteristics", ""]
    for c in scorecard.characteristics:
        lines += [f"### {c.name}", "", "| bin | points | n | bad rate |", "|---|---|---|---|"]
        lines += [f"| {b.label} | {b.points} | {b.count} | {b.event_rate:.3f} |" for b in c.bins]
        lines.append("")
    return "\n".join(lines) + "\n" + PROVENANCE


def calibration_chart(scorecard: Scorecard, path: Path) -> bool:
    """A PNG of predicted against observed bad rate; ``False`` without matplotlib."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    rows = scorecard.metrics.get("calibration_test", [])
    figure, axes = plt.subplots(figsize=(4, 4))
    axes.plot([r["pd_mean"] for r in rows], [r["bad_rate"] for r in rows], "o-", label="test")
    axes.plot([0, 1], [0, 1], ":", color="grey")
    axes.set_xlabel("mean predicted PD")
    axes.set_ylabel("observed bad rate")
    axes.set_title(f"Calibration, {scorecard.version}")
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return True
