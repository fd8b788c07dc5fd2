"""An optional trained score: gradient boosting over the same features the rules read.

The model is trained on labelled sessions (for instance generated ones) and gives
the probability that a request is an attack. :func:`realname.risk.policy.decide`
multiplies it by the policy's ``model_weight`` and adds it as the reason
``MODEL_SCORE`` next to — never instead of — the rule reasons. scikit-learn is
imported only here, so the rules work without it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from realname.risk.sessions import Label, LabelledSession
from realname.risk.signals import FEATURES, Action, Signals, features

_NAMES = sorted(FEATURES)
_ACTIONS = list(Action)


def vector(signals: Signals) -> list[float]:
    """Features as numbers: unknown is ``-1`` with its own indicator column."""
    values, _notes = features(signals)
    row: list[float] = []
    for name in _NAMES:
        value = values[name]
        row.append(-1.0 if value is None else float(value))
        row.append(1.0 if value is None else 0.0)
    row.extend(1.0 if signals.action == action else 0.0 for action in _ACTIONS)
    return row


class RiskModel:
    """A fitted scikit-learn ``GradientBoostingClassifier`` behind :class:`ScoreModel`."""

    def __init__(self, estimator: Any) -> None:
        self._estimator = estimator

    def probability(self, signals: Signals) -> float:
        return float(self._estimator.predict_proba([vector(signals)])[0][1])


def train_model(sessions: Sequence[LabelledSession], seed: int = 0) -> RiskModel:
    """Fit attack-versus-legit on ``sessions`` (needs scikit-learn)."""
    from sklearn.ensemble import GradientBoostingClassifier  # type: ignore[import-untyped]

    rows = [vector(session.signals) for session in sessions]
    targets = [int(session.label != Label.LEGIT) for session in sessions]
    estimator = GradientBoostingClassifier(n_estimators=60, max_depth=3, random_state=seed)
    estimator.fit(rows, targets)
    return RiskModel(estimator)
