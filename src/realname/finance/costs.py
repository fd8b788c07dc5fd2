"""The cost of "未实名认证" measured from the platform's own store, today and under the upgrade.

Two layers:

* :func:`cost_of_problem` is a pure function over plain rows (:class:`ResultRow`,
  :class:`CheckRow`) and :class:`CostAssumptions`; it is what the tests pin down.
* :func:`load_rows` / :func:`measure` read those rows from the store for a period.

Definitions, over the period ``[start, end]`` (both dates inclusive, UTC):

* **stuck** — accounts whose latest result in the period is below its needed level,
  counted once per cause code on that latest result (``(none recorded)`` if it has
  none); ``stuck_accounts`` counts each account once.
* **billable calls** — provider checks with ``billable`` set; their cost is the sum of
  ``cost_fen``.
* **manual review** — results carrying ``UNDER_REVIEW`` or ``IDENTITY_IN_USE``, each
  costing ``review_minutes`` at ``review_rate_fen_per_hour``.
* **lost applicants** — stuck accounts whose trailing run of below-needed results
  started more than ``lost_after_days`` days before the end of the period; each costs
  ``margin_fen_per_customer``.
* **self-repaired results** — results that reached their needed level while carrying
  ``NAME_CHARACTER_VARIANT`` or ``PHONE_PORTED`` (the engine repaired the mismatch
  itself), and results that reached their needed level right after a result of the
  same account carried ``PROVIDER_UNAVAILABLE`` (the automatic re-run completed it).
* **self-repair rate** — self-repaired results ÷ results that met a problem (carry at
  least one of those three causes, or fell short of the needed level). It is the
  measured chance that the engine fixes a problem without a person.

Under the upgrade, stuck applicants, review cases and lost applicants each shrink by the
self-repair rate (rounded half up to whole people); billable calls are kept as measured
(a repair re-uses the answers already paid for, a re-run pays once more: counting them
unchanged is the conservative side). ``savings_fen`` is today's cost less the upgraded
one. Money is integer fen; the review cost is rounded half up to the fen.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal, localcontext

from sqlalchemy import select
from sqlalchemy.orm import Session

from realname.finance.model import Flow, Plan
from realname.finance.money import PRECISION, fen
from realname.store.models import Cause, VerificationCheck, VerificationResult
from realname.verification.levels import Level

REVIEW_CAUSES = frozenset({"UNDER_REVIEW", "IDENTITY_IN_USE"})
REPAIR_CAUSES = frozenset({"NAME_CHARACTER_VARIANT", "PHONE_PORTED"})
UNAVAILABLE = "PROVIDER_UNAVAILABLE"
NO_CAUSE = "(none recorded)"


@dataclass(frozen=True, slots=True)
class ResultRow:
    """One verification result, as plain data."""

    result_id: str
    account_id: str
    level_reached: str
    level_needed: str
    created_at: datetime
    causes: frozenset[str] = frozenset()

    @property
    def verified(self) -> bool:
        return Level.parse(self.level_reached) >= Level.parse(self.level_needed)


@dataclass(frozen=True, slots=True)
class CheckRow:
    """One provider call, as plain data."""

    billable: bool
    cost_fen: int


@dataclass(frozen=True, slots=True)
class CostAssumptions:
    """What a review minute and a lost customer are worth; when an applicant is lost."""

    review_minutes: int = 15
    review_rate_fen_per_hour: int = 6000  # ¥60 an hour
    margin_fen_per_customer: int = 20000  # ¥200 a customer
    lost_after_days: int = 30

    def __post_init__(self) -> None:
        for name in (
            "review_minutes",
            "review_rate_fen_per_hour",
            "margin_fen_per_customer",
            "lost_after_days",
        ):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must not be negative")


@dataclass(frozen=True, slots=True)
class Scenario:
    """Counts and costs (fen) of one scenario: today's platform or the upgraded one."""

    stuck_by_cause: Mapping[str, int]
    stuck_accounts: int
    billable_calls: int
    billable_fen: int
    review_cases: int
    review_fen: int
    lost_applicants: int
    lost_fen: int

    @property
    def total_fen(self) -> int:
        return self.billable_fen + self.review_fen + self.lost_fen


@dataclass(frozen=True, slots=True)
class SelfRepair:
    """How often the engine repaired a result itself, per mechanism."""

    name_variant: int
    phone_ported: int
    provider_rerun: int
    repaired: int
    problems: int

    @property
    def rate(self) -> Decimal:
        if self.problems == 0:
            return Decimal(0)
        return (Decimal(self.repaired) / Decimal(self.problems)).quantize(
            Decimal("0.0001"), rounding=ROUND_HALF_UP
        )


@dataclass(frozen=True, slots=True)
class CostOfProblem:
    start: date
    end: date
    assumptions: CostAssumptions
    results: int
    accounts: int
    today: Scenario
    upgraded: Scenario
    self_repair: SelfRepair = field(repr=False)

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    @property
    def savings_fen(self) -> int:
        return self.today.total_fen - self.upgraded.total_fen


def _half_up(value: Decimal) -> int:
    return int(value.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def period_bounds(start: date, end: date) -> tuple[datetime, datetime]:
    """``[start 00:00 UTC, day after end 00:00 UTC)``; refuses ``end < start``."""
    if end < start:
        raise ValueError(f"the period ends ({end}) before it starts ({start})")
    low = datetime.combine(start, time.min, tzinfo=UTC)
    return low, datetime.combine(end + timedelta(days=1), time.min, tzinfo=UTC)


def _self_repair(by_account: Mapping[str, Sequence[ResultRow]]) -> SelfRepair:
    name_variant = phone_ported = rerun = repaired = problems = 0
    for rows in by_account.values():
        previous: ResultRow | None = None
        for row in rows:
            after_outage = previous is not None and UNAVAILABLE in previous.causes
            fixed = False
            if row.verified and "NAME_CHARACTER_VARIANT" in row.causes:
                name_variant += 1
                fixed = True
            if row.verified and "PHONE_PORTED" in row.causes:
                phone_ported += 1
                fixed = True
            if row.verified and after_outage:
                rerun += 1
                fixed = True
            repaired += fixed
            met_problem = (
                not row.verified or bool(row.causes & (REPAIR_CAUSES | {UNAVAILABLE})) or fixed
            )
            problems += met_problem
            previous = row
    return SelfRepair(name_variant, phone_ported, rerun, repaired, problems)


def _scenario(
    stuck: Mapping[str, int],
    stuck_accounts: int,
    billable: Sequence[CheckRow],
    review_cases: int,
    lost: int,
    a: CostAssumptions,
    keep: Decimal,
) -> Scenario:
    def scaled(n: int) -> int:
        return _half_up(Decimal(n) * keep)

    reviews = scaled(review_cases)
    lost_n = scaled(lost)
    per_case = Decimal(a.review_minutes) * Decimal(a.review_rate_fen_per_hour) / Decimal(60)
    return Scenario(
        stuck_by_cause={code: scaled(n) for code, n in stuck.items()},
        stuck_accounts=scaled(stuck_accounts),
        billable_calls=len(billable),
        billable_fen=sum(c.cost_fen for c in billable),
        review_cases=reviews,
        review_fen=_half_up(per_case * reviews),
        lost_applicants=lost_n,
        lost_fen=lost_n * a.margin_fen_per_customer,
    )


def cost_of_problem(
    results: Iterable[ResultRow],
    checks: Iterable[CheckRow],
    start: date,
    end: date,
    assumptions: CostAssumptions | None = None,
) -> CostOfProblem:
    """Cost of the problem over ``[start, end]`` from rows already limited to it."""
    a = assumptions or CostAssumptions()
    _, until = period_bounds(start, end)
    rows = sorted(results, key=lambda r: (r.account_id, r.created_at, r.result_id))
    by_account: dict[str, list[ResultRow]] = defaultdict(list)
    for row in rows:
        by_account[row.account_id].append(row)

    stuck: Counter[str] = Counter()
    stuck_accounts = lost = 0
    lost_before = until - timedelta(days=a.lost_after_days)
    for account_rows in by_account.values():
        latest = account_rows[-1]
        if latest.verified:
            continue
        stuck_accounts += 1
        for code in sorted(latest.causes) or [NO_CAUSE]:
            stuck[code] += 1
        first_short = latest
        for row in reversed(account_rows):
            if row.verified:
                break
            first_short = row
        if first_short.created_at < lost_before:
            lost += 1

    review_cases = sum(1 for r in rows if r.causes & REVIEW_CAUSES)
    billable = [c for c in checks if c.billable]
    repair = _self_repair(by_account)
    ordered = dict(sorted(stuck.items(), key=lambda kv: (-kv[1], kv[0])))
    today = _scenario(ordered, stuck_accounts, billable, review_cases, lost, a, Decimal(1))
    upgraded = _scenario(
        ordered, stuck_accounts, billable, review_cases, lost, a, Decimal(1) - repair.rate
    )
    return CostOfProblem(
        start=start,
        end=end,
        assumptions=a,
        results=len(rows),
        accounts=len(by_account),
        today=today,
        upgraded=upgraded,
        self_repair=repair,
    )


def load_rows(session: Session, start: date, end: date) -> tuple[list[ResultRow], list[CheckRow]]:
    """Results (with their cause codes) and provider checks created in the period."""
    low, high = period_bounds(start, end)
    found = session.execute(
        select(
            VerificationResult.id,
            VerificationResult.account_id,
            VerificationResult.level_reached,
            VerificationResult.level_needed,
            VerificationResult.created_at,
        ).where(VerificationResult.created_at >= low, VerificationResult.created_at < high)
    ).all()
    codes: dict[str, set[str]] = defaultdict(set)
    cause_rows = session.execute(
        select(Cause.result_id, Cause.code)
        .join(VerificationResult, VerificationResult.id == Cause.result_id)
        .where(VerificationResult.created_at >= low, VerificationResult.created_at < high)
    ).all()
    for result_id, code in cause_rows:
        codes[result_id].add(code)
    results = [
        ResultRow(rid, account, reached, needed, at, frozenset(codes.get(rid, ())))
        for rid, account, reached, needed, at in found
    ]
    check_rows = session.execute(
        select(VerificationCheck.billable, VerificationCheck.cost_fen).where(
            VerificationCheck.created_at >= low, VerificationCheck.created_at < high
        )
    ).all()
    checks = [CheckRow(bool(billable), int(cost)) for billable, cost in check_rows]
    return results, checks


def measure(
    session: Session, start: date, end: date, assumptions: CostAssumptions | None = None
) -> CostOfProblem:
    """:func:`cost_of_problem` over what the store holds for the period."""
    results, checks = load_rows(session, start, end)
    return cost_of_problem(results, checks, start, end, assumptions)


def parse_period(text: str) -> tuple[date, date]:
    """``"2026-01-01:2026-12-31"`` → the two dates; raises ``ValueError`` otherwise."""
    first, sep, last = text.partition(":")
    if not sep:
        raise ValueError(f"expected FROM:TO (two ISO dates), got {text!r}")
    start, end = date.fromisoformat(first.strip()), date.fromisoformat(last.strip())
    period_bounds(start, end)
    return start, end


def savings_per_period(costs: CostOfProblem, per_year: int) -> Decimal:
    """Measured savings (yuan) scaled from the measured window to one plan period
    (a year is 365 days), rounded to the fen."""
    with localcontext(prec=PRECISION):
        yuan = Decimal(costs.savings_fen) / Decimal(100)
        return fen(yuan * Decimal(365) / Decimal(per_year) / Decimal(costs.days))


def plan_with_measured_savings(plan: Plan, costs: CostOfProblem) -> Plan:
    """The plan with its savings lines replaced by the measured savings.

    The hand-set savings lines estimate what the measurement observes (review staff,
    lost margin), so adding both would count the same money twice: they are replaced
    by one line, ``Measured cost of the problem avoided``, paid every operating period
    (1..horizon). The result is checked again by :func:`~realname.finance.analyse`.
    """
    amount = savings_per_period(costs, plan.periods.per_year)
    line = Flow(
        name=f"Measured cost of the problem avoided ({costs.start}…{costs.end})",
        each_period=amount,
        from_period=1,
    )
    return plan.model_copy(update={"savings": [line]})
