"""Cause distribution over time: how often each cause code appeared, per bucket.

Each verification result created in the period counts once for each distinct cause
code it carries, in the bucket (day or ISO week, :class:`Period`) of its creation.
Codes are ordered by their total, most frequent first, so the chart's legend and the
table read in order of importance; results with no cause are counted as ``results``
only.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date

from realname.finance.costs import ResultRow
from realname.ops.metrics_period import Period


@dataclass(frozen=True, slots=True)
class CauseSeries:
    buckets: tuple[date, ...]
    #: Results created per bucket (with or without causes).
    results: tuple[int, ...]
    #: code -> count per bucket, codes most frequent first.
    counts: Mapping[str, tuple[int, ...]]

    def total(self, code: str) -> int:
        return sum(self.counts[code])


def cause_series(rows: Iterable[ResultRow], period: Period) -> CauseSeries:
    """Count codes per bucket over ``period``; rows outside it are ignored."""
    low, high = period.bounds
    buckets = period.buckets()
    index = {day: i for i, day in enumerate(buckets)}
    results = [0] * len(buckets)
    per_code: dict[str, list[int]] = {}
    totals: Counter[str] = Counter()
    for row in rows:
        if not low <= row.created_at < high:
            continue
        i = index[period.bucket_of(row.created_at)]
        results[i] += 1
        for code in row.causes:
            per_code.setdefault(code, [0] * len(buckets))[i] += 1
            totals[code] += 1
    order = sorted(totals, key=lambda code: (-totals[code], code))
    return CauseSeries(
        tuple(buckets), tuple(results), {code: tuple(per_code[code]) for code in order}
    )
