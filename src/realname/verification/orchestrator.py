"""Run the planner's calls against a provider, round by round, and collect evidence.

The only I/O of verification proper: each round's calls run concurrently; a call that
gets no answer becomes :class:`~realname.verification.evidence.Unavailable` evidence
(and so PROVIDER_UNAVAILABLE), never a mismatch. Every answer is also returned as a
record for the store (cost in fen, raw code, request id, latency).
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from realname.authorities.errors import ProviderUnavailable
from realname.authorities.protocol import Answer, Check, IdTwoElementAnswer, Provider
from realname.verification.evidence import Evidence, Unavailable
from realname.verification.planner import Call, plan

#: A safety bound; the planner needs at most five rounds (registry, variants,
#: channel, explanations + face).
MAX_ROUNDS = 8


@dataclass(frozen=True)
class CheckRecord:
    """One provider call as the store keeps it (no personal data)."""

    check: Check
    round: int
    answer: Answer | None
    unavailable: Unavailable | None

    @property
    def outcome(self) -> str:
        if self.unavailable is not None:
            return "unavailable"
        assert self.answer is not None
        return str(getattr(self.answer, "outcome", "answered"))

    @property
    def cost_fen(self) -> int:
        return self.answer.cost_fen if self.answer is not None else 0


def _method(provider: Provider, check: Check) -> Callable[..., Awaitable[Any]]:
    method: Callable[..., Awaitable[Any]] = getattr(provider, check.value)
    return method


async def _run(provider: Provider, call: Call) -> Answer | Unavailable:
    try:
        answer: Answer = await _method(provider, call.check)(*call.args, **call.kwargs)
    except ProviderUnavailable as error:
        return Unavailable.of(error)
    return answer


def _apply(evidence: Evidence, calls: list[Call], results: list[Answer | Unavailable]) -> Evidence:
    """The evidence with one round's results filled in: one copy per round, not per call."""
    updates: dict[str, Any] = {}
    variants = evidence.name_variants
    for call, result in zip(calls, results, strict=True):
        if call.slot == "name_variants":
            assert call.variant is not None
            assert isinstance(result, IdTwoElementAnswer | Unavailable)
            variants = (*variants, (call.variant, result))
            updates["name_variants"] = variants
            continue
        updates[call.slot] = result
        if call.slot == "three_element":
            carrier = call.kwargs.get("carrier")
            updates["three_element_carrier"] = carrier.value if carrier is not None else None
    return dataclasses.replace(evidence, **updates)


async def gather_evidence(
    evidence: Evidence, provider: Provider
) -> tuple[Evidence, list[CheckRecord]]:
    """Ask the provider what the planner says, until nothing more can change the outcome."""
    records: list[CheckRecord] = []
    for round_number in range(1, MAX_ROUNDS + 1):
        calls = plan(evidence)
        if not calls:
            break
        if len(calls) == 1:  # no tasks to spawn for a lone call
            results = [await _run(provider, calls[0])]
        else:
            results = await asyncio.gather(*(_run(provider, call) for call in calls))
        evidence = _apply(evidence, calls, results)
        for call, result in zip(calls, results, strict=True):
            records.append(
                CheckRecord(
                    check=call.check,
                    round=round_number,
                    answer=result if not isinstance(result, Unavailable) else None,
                    unavailable=result if isinstance(result, Unavailable) else None,
                )
            )
    return evidence, records
