"""Operations metrics over the store: what the dashboard, the finance view and
``realname ops metrics`` show, read once per request for one :class:`Period`.

The reading (:func:`load`) is the only I/O; everything it returns is plain rows, and
every figure is computed from them by the pure functions of the ``metrics_*``
modules — the funnel, the cause series, the review rate and costs, provider health —
and by :func:`realname.finance.costs.cost_of_problem`, so the finance view's "cost of
the problem" is fed by the very rows the dashboard counts (its live inputs).

Tenant filtering: results and checks belong to a tenant through their account.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from realname.finance.costs import (
    CheckRow,
    CostAssumptions,
    CostOfProblem,
    ResultRow,
    cost_of_problem,
)
from realname.ops.metrics_causes import CauseSeries, cause_series
from realname.ops.metrics_cost import OperatingCost, ReviewCase, operating_cost
from realname.ops.metrics_funnel import CohortAccount, Funnel, funnel
from realname.ops.metrics_period import Period
from realname.ops.metrics_providers import ProviderCall, ProviderHealth, provider_health
from realname.store.models import Account, Cause, CreditApplication, Tenant, VerificationCheck
from realname.store.models import ReviewCase as CaseRow
from realname.store.models import VerificationResult as Result
from realname.verification.levels import Level


@dataclass(frozen=True, slots=True)
class Loaded:
    """The period's rows, as plain data."""

    results: list[ResultRow] = field(default_factory=list)
    calls: list[ProviderCall] = field(default_factory=list)
    cohort: list[CohortAccount] = field(default_factory=list)
    cases: list[ReviewCase] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class OpsMetrics:
    period: Period
    assumptions: CostAssumptions
    funnel: Funnel
    causes: CauseSeries
    cost: OperatingCost
    providers: list[ProviderHealth]


def _results(session: Session, period: Period) -> list[ResultRow]:
    low, high = period.bounds
    query = (
        select(
            Result.id,
            Result.account_id,
            Result.level_reached,
            Result.level_needed,
            Result.created_at,
        )
        .join(Account, Account.id == Result.account_id)
        .where(Result.created_at >= low, Result.created_at < high)
    )
    causes = (
        select(Cause.result_id, Cause.code)
        .join(Result, Result.id == Cause.result_id)
        .join(Account, Account.id == Result.account_id)
        .where(Result.created_at >= low, Result.created_at < high)
    )
    if period.tenant_id is not None:
        query = query.where(Account.tenant_id == period.tenant_id)
        causes = causes.where(Account.tenant_id == period.tenant_id)
    codes: dict[str, set[str]] = defaultdict(set)
    for result_id, code in session.execute(causes):
        codes[result_id].add(code)
    return [
        ResultRow(rid, account, reached, needed, at, frozenset(codes.get(rid, ())))
        for rid, account, reached, needed, at in session.execute(query)
    ]


def _calls(session: Session, period: Period) -> list[ProviderCall]:
    low, high = period.bounds
    c = VerificationCheck
    query = select(
        c.account_id,
        c.provider,
        c.check_kind,
        c.outcome,
        c.latency_ms,
        c.billable,
        c.cost_fen,
        c.created_at,
    ).where(c.created_at >= low, c.created_at < high)
    if period.tenant_id is not None:
        query = query.where(c.tenant_id == period.tenant_id)
    return [
        ProviderCall(account, provider, kind, outcome, int(ms), bool(billable), int(fen), at)
        for account, provider, kind, outcome, ms, billable, fen, at in session.execute(query)
    ]


def _cohort(session: Session, period: Period) -> list[CohortAccount]:
    low, high = period.bounds
    signed_up = select(Account.id).where(Account.created_at >= low, Account.created_at < high)
    if period.tenant_id is not None:
        signed_up = signed_up.where(Account.tenant_id == period.tenant_id)
    ids = set(session.scalars(signed_up))
    best: dict[str, Level] = dict.fromkeys(ids, Level.L0)
    levels = (
        select(Result.account_id, Result.level_reached)
        .where(Result.account_id.in_(signed_up.scalar_subquery()))
        .where(Result.created_at < high)
    )
    for account, reached in session.execute(levels):
        best[account] = max(best[account], Level.parse(reached))
    # A cohort account cannot have applied before it signed up: read from ``low``.
    # The latest decision of each account counts (applications in time order).
    decisions: dict[str, str] = {}
    applications = (
        select(CreditApplication.account_id, CreditApplication.decision)
        .where(CreditApplication.account_id.in_(signed_up.scalar_subquery()))
        .where(CreditApplication.created_at >= low, CreditApplication.created_at < high)
        .order_by(CreditApplication.created_at, CreditApplication.id)
    )
    for account, decision in session.execute(applications):
        decisions[account] = decision
    return [CohortAccount(a, best[a], decisions.get(a)) for a in sorted(ids)]


def _cases(session: Session, period: Period) -> list[ReviewCase]:
    low, high = period.bounds
    # A case withdrawn because the borrower's cause cleared took no reviewer's time.
    query = select(CaseRow.account_id, CaseRow.reason).where(
        CaseRow.opened_at >= low, CaseRow.opened_at < high, CaseRow.state != "withdrawn"
    )
    if period.tenant_id is not None:
        query = query.where(CaseRow.tenant_id == period.tenant_id)
    return [ReviewCase(account, reason) for account, reason in session.execute(query)]


def load(session: Session, period: Period) -> Loaded:
    """Read the period's results, provider calls, sign-up cohort and review cases."""
    return Loaded(
        _results(session, period),
        _calls(session, period),
        _cohort(session, period),
        _cases(session, period),
    )


def compute(loaded: Loaded, period: Period, assumptions: CostAssumptions) -> OpsMetrics:
    """Every dashboard figure from already-loaded rows (no I/O)."""
    cost = operating_cost(
        results=len(loaded.results),
        applicants=len({r.account_id for r in loaded.results}),
        cases=loaded.cases,
        calls=loaded.calls,
        assumptions=assumptions,
    )
    return OpsMetrics(
        period=period,
        assumptions=assumptions,
        funnel=funnel(loaded.cohort),
        causes=cause_series(loaded.results, period),
        cost=cost,
        providers=provider_health(loaded.calls),
    )


def collect(
    session: Session, period: Period, assumptions: CostAssumptions | None = None
) -> OpsMetrics:
    """:func:`load` then :func:`compute`."""
    return compute(load(session, period), period, assumptions or CostAssumptions())


def problem_cost(loaded: Loaded, period: Period, assumptions: CostAssumptions) -> CostOfProblem:
    """The finance view's cost of the problem, over the same rows as the dashboard."""
    checks = [CheckRow(c.billable, c.cost_fen) for c in loaded.calls]
    return cost_of_problem(loaded.results, checks, period.start, period.end, assumptions)


def tenants(session: Session) -> list[tuple[str, str]]:
    """``(id, name)`` of every tenant, by name: the dashboard's tenant picker."""
    return [
        (tid, name)
        for tid, name in session.execute(
            select(Tenant.id, Tenant.name).order_by(Tenant.name, Tenant.id)
        )
    ]
