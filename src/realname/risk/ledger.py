"""Step-up ledger: completing the demanded factors unlocks the action once.

The protocol is what the engine and API rely on. A challenge is opened for one
decision (one subject, one action, its factors); each passed factor is recorded;
when all are passed the challenge becomes a single-use grant, and :meth:`consume`
returns ``True`` exactly once for it. A grant cannot be moved to another subject or
action, and a failed or abandoned challenge unlocks nothing. The persistent
implementation must make ``consume`` atomic (one row update guarded by
``consumed_at IS NULL``); :class:`InMemoryStepUpLedger` is for tests and single
processes.
"""

from __future__ import annotations

import secrets
import threading
from dataclasses import dataclass, field
from typing import Protocol

from realname.risk.errors import StepUpInvalid
from realname.risk.policy import RiskDecision
from realname.risk.signals import Action, Factor


class StepUpLedger(Protocol):
    def open(self, subject: str, decision: RiskDecision) -> str:
        """Start a challenge for ``decision``; returns its opaque id."""
        ...

    def complete(self, challenge_id: str, factor: Factor) -> frozenset[Factor]:
        """Record ``factor`` as passed; returns the factors still outstanding."""
        ...

    def consume(self, challenge_id: str, subject: str, action: Action) -> bool:
        """``True`` once when every factor was passed for this subject and action."""
        ...


@dataclass
class _Challenge:
    subject: str
    action: Action
    outstanding: set[Factor]
    consumed: bool = False
    passed: set[Factor] = field(default_factory=set)


class InMemoryStepUpLedger:
    """:class:`StepUpLedger` in a dictionary, guarded by a lock."""

    def __init__(self) -> None:
        self._challenges: dict[str, _Challenge] = {}
        self._lock = threading.Lock()

    def open(self, subject: str, decision: RiskDecision) -> str:
        challenge_id = secrets.token_urlsafe(16)
        with self._lock:
            self._challenges[challenge_id] = _Challenge(
                subject=subject, action=decision.action, outstanding=set(decision.factors)
            )
        return challenge_id

    def complete(self, challenge_id: str, factor: Factor) -> frozenset[Factor]:
        with self._lock:
            challenge = self._get(challenge_id)
            if factor not in challenge.outstanding and factor not in challenge.passed:
                raise StepUpInvalid("That factor was not asked for.", factor=factor.value)
            challenge.outstanding.discard(factor)
            challenge.passed.add(factor)
            return frozenset(challenge.outstanding)

    def consume(self, challenge_id: str, subject: str, action: Action) -> bool:
        with self._lock:
            challenge = self._challenges.get(challenge_id)
            if (
                challenge is None
                or challenge.consumed
                or challenge.outstanding
                or challenge.subject != subject
                or challenge.action != action
            ):
                return False
            challenge.consumed = True
            return True

    def _get(self, challenge_id: str) -> _Challenge:
        challenge = self._challenges.get(challenge_id)
        if challenge is None or challenge.consumed:
            raise StepUpInvalid("The step-up challenge is unknown or already used.")
        return challenge
