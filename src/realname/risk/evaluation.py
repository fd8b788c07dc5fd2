"""Replaying labelled sessions through the real :func:`~realname.risk.policy.decide`.

*Detection* for an attack type is the share of its sessions whose required factors
include one that stops that attack (:data:`STOPPED_BY`): a SIM-swap takeover holds
the phone, so only a face check stops it; credential stuffing lacks the phone, so
an OTP already does. *Friction* is the share of legitimate sessions asked for any
factor beyond the action's baseline.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from realname.risk.policy import Policy, ScoreModel, decide
from realname.risk.sessions import Label, LabelledSession
from realname.risk.signals import Factor, locate

STOPPED_BY: dict[Label, frozenset[Factor]] = {
    Label.SIM_SWAP_TAKEOVER: frozenset({Factor.FACE}),
    Label.SYNTHETIC_IDENTITY: frozenset({Factor.BANK_CARD, Factor.FACE}),
    Label.CREDENTIAL_STUFFING: frozenset({Factor.OTP, Factor.BANK_CARD, Factor.FACE}),
    Label.RELATIVE_MISUSE: frozenset({Factor.FACE}),
}
COLUMNS = ("none", *(factor.value for factor in Factor))


@dataclass
class Evaluation:
    totals: Counter[Label] = field(default_factory=Counter)
    stopped: Counter[Label] = field(default_factory=Counter)
    stepped_up: Counter[Label] = field(default_factory=Counter)
    # label -> strongest factor required ("none" when nothing) -> count
    confusion: dict[Label, Counter[str]] = field(default_factory=dict)

    def detection(self, label: Label) -> float:
        return self.stopped[label] / self.totals[label] if self.totals[label] else 0.0

    @property
    def friction(self) -> float:
        total = self.totals[Label.LEGIT]
        return self.stepped_up[Label.LEGIT] / total if total else 0.0


def evaluate(
    sessions: Sequence[LabelledSession], policy: Policy, model: ScoreModel | None = None
) -> Evaluation:
    result = Evaluation(confusion={label: Counter() for label in Label})
    for session in sessions:
        decision = decide(locate(session.signals), policy, model)
        label = session.label
        result.totals[label] += 1
        result.confusion[label][decision.factors[-1].value if decision.factors else "none"] += 1
        if decision.step_up_required:
            result.stepped_up[label] += 1
        if label in STOPPED_BY and STOPPED_BY[label] & set(decision.factors):
            result.stopped[label] += 1
    return result


def render(result: Evaluation) -> str:
    """The report as plain text: detection, friction, the confusion table."""
    lines = ["detection (stopped by a required factor):"]
    for label in STOPPED_BY:
        lines.append(
            f"  {label.value:<22} {result.detection(label):6.1%}"
            f"  ({result.stopped[label]}/{result.totals[label]})"
        )
    lines.append(
        f"friction (legit stepped up):  {result.friction:6.1%}"
        f"  ({result.stepped_up[Label.LEGIT]}/{result.totals[Label.LEGIT]})"
    )
    lines.append("")
    lines.append("confusion (label x strongest factor required):")
    lines.append(f"  {'label':<22}" + "".join(f"{column:>11}" for column in COLUMNS))
    for label in Label:
        counts = result.confusion.get(label, Counter())
        lines.append(f"  {label.value:<22}" + "".join(f"{counts[c]:>11}" for c in COLUMNS))
    return "\n".join(lines)


def chart(result: Evaluation, out: Path) -> None:
    """A bar chart of detection per attack and legit friction (needs matplotlib)."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot

    names = [label.value for label in STOPPED_BY] + ["legit friction"]
    values = [result.detection(label) for label in STOPPED_BY] + [result.friction]
    figure, axes = pyplot.subplots(figsize=(8, 4))
    axes.bar(names, values, color=["tab:blue"] * len(STOPPED_BY) + ["tab:orange"])
    axes.set_ylim(0, 1)
    axes.set_ylabel("share of sessions")
    axes.set_title("Adaptive step-up: detection per attack and legit friction")
    axes.tick_params(axis="x", labelrotation=20)
    figure.tight_layout()
    figure.savefig(out)
    pyplot.close(figure)
