"""The onboarding funnel: signed up → L1 → L2 → L3 → credit decision (DESIGN §10).

A cohort funnel: the accounts that signed up in the period, and how far each of them
got by the end of it (the highest level any of its results reached, and whether a
credit application was assessed for it). Counting a cohort, rather than events in the
window, keeps every step a subset of the one before, so the conversion between two
steps is a true rate.

The last step counts accounts with a stored credit application
(``credit_applications``), split by the outcome of their latest one.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from realname.verification.levels import Level

STEPS = ("signed_up", "l1", "l2", "l3", "credit_decision")


@dataclass(frozen=True, slots=True)
class CohortAccount:
    """One account of the cohort: the best level reached and its credit decision."""

    account_id: str
    best_level: Level
    credit_decision: str | None = None


@dataclass(frozen=True, slots=True)
class FunnelStep:
    key: str
    count: int
    #: Share of the step before (the first step: of itself), 4 decimals.
    rate: Decimal
    #: Share of the accounts that signed up, 4 decimals.
    of_signed_up: Decimal


@dataclass(frozen=True, slots=True)
class Funnel:
    steps: tuple[FunnelStep, ...]
    #: Credit decisions by outcome (``approve``, ``refer``, ``decline``).
    decisions: Mapping[str, int]

    def count(self, key: str) -> int:
        return next(step.count for step in self.steps if step.key == key)


def ratio(part: int, whole: int) -> Decimal:
    """``part / whole`` to 4 decimals, half up; 0 when ``whole`` is 0."""
    if whole == 0:
        return Decimal(0)
    return (Decimal(part) / Decimal(whole)).quantize(Decimal("0.0001"), rounding=ROUND_HALF_UP)


def funnel(cohort: Iterable[CohortAccount]) -> Funnel:
    """Count each step over the cohort; conversion is from the step before."""
    accounts = list(cohort)
    counts = [
        len(accounts),
        sum(1 for a in accounts if a.best_level >= Level.L1),
        sum(1 for a in accounts if a.best_level >= Level.L2),
        sum(1 for a in accounts if a.best_level >= Level.L3),
        sum(1 for a in accounts if a.credit_decision is not None),
    ]
    steps = tuple(
        FunnelStep(key, n, ratio(n, counts[i - 1] if i else n), ratio(n, counts[0]))
        for i, (key, n) in enumerate(zip(STEPS, counts, strict=True))
    )
    decisions = Counter(a.credit_decision for a in accounts if a.credit_decision is not None)
    return Funnel(steps, dict(sorted(decisions.items())))
