"""Manual-review rate and what verification costs: per review case and in total.

* **review cases** — rows of the review queue (``review_cases``) opened in the
  period: the work people actually had, whatever opened it (IDENTITY_IN_USE,
  UNDER_REVIEW, a low-confidence face, repeated failures). The **manual-review rate**
  is the share of applicants (accounts with a result in the period) that had a case.
  (:mod:`realname.finance.costs` counts results carrying a review cause instead: the
  business case must also work on a store whose queue was never run.)
* **reviewer cost** — each case's reviewer minutes (``review_minutes`` of
  :class:`~realname.finance.costs.CostAssumptions` unless the case recorded its own)
  × ``review_rate_fen_per_hour`` ÷ 60, rounded half up to the fen once, on the sum.
* **provider cost** — the ``cost_fen`` of billable provider calls.
* **total** = reviewer cost + provider cost; **per applicant** = total ÷ accounts
  with a result in the period; **per review case** = (reviewer cost + the billable
  calls made for the accounts under review) ÷ review cases: what one case costs
  end to end, the figure a queue's budget is planned with.

Money is integer fen; divisions round half up to the fen.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from realname.finance.costs import CostAssumptions
from realname.ops.metrics_funnel import ratio
from realname.ops.metrics_providers import ProviderCall


@dataclass(frozen=True, slots=True)
class ReviewCase:
    account_id: str
    reason: str
    #: Minutes a reviewer spent, where recorded; else the assumption applies.
    minutes: int | None = None


@dataclass(frozen=True, slots=True)
class OperatingCost:
    results: int
    applicants: int
    review_cases: int
    #: Cases per reason code, most frequent first.
    review_reasons: Mapping[str, int]
    review_rate: Decimal
    reviewer_minutes: int
    reviewer_fen: int
    provider_calls: int
    billable_calls: int
    provider_fen: int
    per_applicant_fen: int
    per_review_case_fen: int

    @property
    def total_fen(self) -> int:
        return self.reviewer_fen + self.provider_fen


def _half_up(value: Decimal) -> int:
    return int(value.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def _share(total: int, count: int) -> int:
    return 0 if count == 0 else _half_up(Decimal(total) / Decimal(count))


def operating_cost(
    *,
    results: int,
    applicants: int,
    cases: Sequence[ReviewCase],
    calls: Iterable[ProviderCall],
    assumptions: CostAssumptions,
) -> OperatingCost:
    """Rates and costs over one period's results, review cases and provider calls."""
    all_calls = list(calls)
    billable = [c for c in all_calls if c.billable]
    minutes = sum(
        assumptions.review_minutes if case.minutes is None else case.minutes for case in cases
    )
    reviewer_fen = _half_up(
        Decimal(minutes) * Decimal(assumptions.review_rate_fen_per_hour) / Decimal(60)
    )
    provider_fen = sum(c.cost_fen for c in billable)
    reviewed = {case.account_id for case in cases}
    reviewed_calls_fen = sum(c.cost_fen for c in billable if c.account_id in reviewed)
    return OperatingCost(
        results=results,
        applicants=applicants,
        review_cases=len(cases),
        review_reasons=dict(
            sorted(Counter(c.reason for c in cases).items(), key=lambda kv: (-kv[1], kv[0]))
        ),
        review_rate=ratio(len(reviewed), applicants),
        reviewer_minutes=minutes,
        reviewer_fen=reviewer_fen,
        provider_calls=len(all_calls),
        billable_calls=len(billable),
        provider_fen=provider_fen,
        per_applicant_fen=_share(reviewer_fen + provider_fen, applicants),
        per_review_case_fen=_share(reviewer_fen + reviewed_calls_fen, len(cases)),
    )
