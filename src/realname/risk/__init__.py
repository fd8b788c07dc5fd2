"""Adaptive step-up (DESIGN §6): which extra factors to demand before a sensitive action.

The public surface:

- :class:`Signals` — what one request tells (device, IP province, phone home
  province, SIM swap, tenure, velocity, recency, consented behaviour);
- :func:`assess` — locate the IP and decide with the default policy;
- :func:`decide` with a :class:`Policy` from :func:`load_policy` — the pure core;
- :class:`RiskDecision` — score, ranked reasons, factors required;
- :class:`StepUpLedger` — completing the factors unlocks the action once.

Enforcement (:mod:`realname.risk.service`) is ``enforce``, ``monitor`` or, by
default, ``auto``: enforce when the request carries device signals or the tenant's
clients have sent device ids before, monitor a tenant whose integration sends none
yet. Not "per request": the signals come from the client, and an attacker who could
switch enforcement off by leaving a header out would make every rule moot.
"""

from __future__ import annotations

from realname.risk.ledger import InMemoryStepUpLedger, StepUpLedger
from realname.risk.policy import (
    Policy,
    Reason,
    RiskDecision,
    ScoreModel,
    decide,
    default_policy,
    explain,
    load_policy,
)
from realname.risk.signals import Action, Behaviour, Factor, Signals, Velocity, locate

__all__ = [
    "Action",
    "Behaviour",
    "Factor",
    "InMemoryStepUpLedger",
    "Policy",
    "Reason",
    "RiskDecision",
    "ScoreModel",
    "Signals",
    "StepUpLedger",
    "Velocity",
    "assess",
    "decide",
    "default_policy",
    "explain",
    "load_policy",
]


def assess(
    action: Action, signals: Signals, policy: Policy | None = None, model: ScoreModel | None = None
) -> RiskDecision:
    """The decision the engine and API ask for before ``action``.

    ``signals.action`` is overridden by ``action`` so a caller cannot score one
    action and perform another; the IP is located when its province is missing.
    """
    located = locate(signals.model_copy(update={"action": Action(action)}))
    return decide(located, policy or default_policy(), model)
