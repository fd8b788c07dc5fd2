"""Provider health: call volume, error rate and latency percentiles per check.

An error is a call whose outcome is ``unavailable`` (timeout, 5xx, busy: the
provider did not answer, DESIGN §5). Latency percentiles are taken over the calls
that were answered only: an unavailable call records no latency (0), and counting it
would make a failing provider look fast.

Percentiles use the nearest-rank method (the smallest recorded value with at least
p % of the values at or below it), so every figure shown is a latency that was
actually observed, in whole milliseconds.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from realname.ops.metrics_funnel import ratio

UNAVAILABLE = "unavailable"
PERCENTILES = (50, 95, 99)


@dataclass(frozen=True, slots=True)
class ProviderCall:
    """One stored provider call (a ``verification_checks`` row), as plain data."""

    account_id: str
    provider: str
    check_kind: str
    outcome: str
    latency_ms: int
    billable: bool
    cost_fen: int
    created_at: datetime


@dataclass(frozen=True, slots=True)
class ProviderHealth:
    provider: str
    check_kind: str
    calls: int
    errors: int
    error_rate: Decimal
    #: Nearest-rank p50, p95, p99 of answered calls, ms; ``None`` if none answered.
    p50_ms: int | None
    p95_ms: int | None
    p99_ms: int | None
    billable_calls: int
    cost_fen: int


def percentile(values: Sequence[int], p: int) -> int | None:
    """Nearest-rank ``p``-th percentile of ``values`` (any order); None if empty."""
    if not 0 < p <= 100:
        raise ValueError("p must be in (0, 100]")
    if not values:
        return None
    ordered = sorted(values)
    return ordered[math.ceil(p / 100 * len(ordered)) - 1]


def provider_health(calls: Iterable[ProviderCall]) -> list[ProviderHealth]:
    """One row per (provider, check), ordered by provider then check."""
    groups: dict[tuple[str, str], list[ProviderCall]] = defaultdict(list)
    for call in calls:
        groups[(call.provider, call.check_kind)].append(call)
    rows: list[ProviderHealth] = []
    for (provider, kind), group in sorted(groups.items()):
        errors = sum(1 for c in group if c.outcome == UNAVAILABLE)
        answered = [c.latency_ms for c in group if c.outcome != UNAVAILABLE]
        p50, p95, p99 = (percentile(answered, p) for p in PERCENTILES)
        billable = [c for c in group if c.billable]
        rows.append(
            ProviderHealth(
                provider=provider,
                check_kind=kind,
                calls=len(group),
                errors=errors,
                error_rate=ratio(errors, len(group)),
                p50_ms=p50,
                p95_ms=p95,
                p99_ms=p99,
                billable_calls=len(billable),
                cost_fen=sum(c.cost_fen for c in billable),
            )
        )
    return rows
