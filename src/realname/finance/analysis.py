"""From a validated plan to its cash flows, cover ratios, returns and reserves.

Definitions (per period ``t``; period 0 is the financial close):

* project flow = savings − opex − capex (unlevered, the whole project);
* CFADS (cash flow available for debt service) = platform savings − opex, where
  platform savings are savings less the PPP partners' share;
* debt service = what the borrower pays on every loan and bond (after 贴息 subsidy);
* equity flow = platform savings − opex − capex + debt drawn + grants + PPP capital
  − debt service: what the equity holders put in (negative) or take out;
* DSCR = CFADS ÷ debt service, for periods with debt service; the minimum DSCR is
  taken over the operating periods (from the first period with savings on), the
  figure lenders test covenants on — before operations start, interest paid during
  construction has no CFADS to cover it by design, and is shown per period and as
  ``construction_debt_service`` instead (it is funded from the financing);
* LLCR = NPV of CFADS over the loan life, at the debt's weighted periodic rate,
  ÷ debt outstanding at close;
* NPV = NPV of the project flow at the WACC (converted to a periodic rate);
* the risk reserve is the deepest dip of the cash balance (all sources in at close,
  then equity-view flows) under the stress scenario; the debt-service reserve is the
  largest debt service due in any ``dsra_periods`` consecutive periods.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal, localcontext
from typing import Literal

from realname.finance.errors import PlanInvalid
from realname.finance.metrics import annualise, irr, npv, payback, periodic
from realname.finance.model import CommercialLoan, Plan, SubsidisedLoan, check_plan
from realname.finance.money import ONE, PRECISION, ZERO, fen, ratio, total
from realname.finance.schedule import DebtSchedule, debt_schedule

Assumption = Literal["savings", "capex", "opex", "rates"]
ASSUMPTIONS: tuple[Assumption, ...] = ("savings", "capex", "opex", "rates")


@dataclass(frozen=True, slots=True)
class SensitivityRow:
    """NPV when one assumption moves by each step (``npv_by_change``), its extremes
    and their spread (``swing``)."""

    assumption: Assumption
    npv_by_change: tuple[tuple[Decimal, Decimal], ...]
    low: Decimal
    high: Decimal

    @property
    def swing(self) -> Decimal:
        return self.high - self.low


@dataclass(frozen=True, slots=True)
class PlanResult:
    plan: Plan
    schedules: tuple[DebtSchedule, ...]
    savings: tuple[Decimal, ...]
    opex: tuple[Decimal, ...]
    capex: tuple[Decimal, ...]
    project_flows: tuple[Decimal, ...]
    cfads: tuple[Decimal, ...]
    debt_service: tuple[Decimal, ...]
    equity_flows: tuple[Decimal, ...]
    dscr: tuple[Decimal | None, ...]
    #: Minimum DSCR over the operating periods (from ``operations_start`` on).
    min_dscr: Decimal | None
    #: The first period with savings: commercial operation starts.
    operations_start: int | None
    #: Debt service due before operations start (interest during construction).
    construction_debt_service: Decimal
    llcr: Decimal | None
    wacc: Decimal
    npv: Decimal
    project_irr: Decimal | None
    equity_irr: Decimal | None
    payback_periods: Decimal | None
    dsra: Decimal
    risk_reserve: Decimal
    sensitivity: tuple[SensitivityRow, ...]

    @property
    def project_irr_annual(self) -> Decimal | None:
        per_year = self.plan.periods.per_year
        return None if self.project_irr is None else annualise(self.project_irr, per_year)

    @property
    def equity_irr_annual(self) -> Decimal | None:
        per_year = self.plan.periods.per_year
        return None if self.equity_irr is None else annualise(self.equity_irr, per_year)


def schedules(plan: Plan, rate_factor: Decimal = ONE) -> tuple[DebtSchedule, ...]:
    """Every loan's and bond's schedule; ``rate_factor`` scales all rates (sensitivity)."""
    n = plan.periods.per_year
    fin = plan.financing
    out: list[DebtSchedule] = []
    with localcontext(prec=PRECISION):
        loans: list[tuple[str, CommercialLoan]] = [
            *(("commercial loan", loan) for loan in fin.commercial_loans),
            *(("subsidised loan", loan) for loan in fin.subsidised_loans),
        ]
        for kind, loan in loans:
            out.append(
                debt_schedule(
                    loan.principal,
                    loan.annual_rate * rate_factor / n,
                    loan.tenor,
                    grace=loan.grace_periods,
                    style=loan.repayment,
                    # A 贴息 loan is a commercial loan whose interest is partly paid.
                    subsidy_share=loan.subsidy_share if isinstance(loan, SubsidisedLoan) else ZERO,
                    name=loan.name,
                    kind=kind,
                )
            )
        for bond in fin.bonds:
            out.append(
                debt_schedule(
                    bond.principal,
                    bond.coupon * rate_factor / n,
                    bond.tenor,
                    style="bullet" if bond.style == "bullet" else "equal_principal",
                    name=bond.name,
                    kind="bond",
                )
            )
    return tuple(out)


def wacc(plan: Plan, rate_factor: Decimal = ONE) -> Decimal:
    """Annual weighted average cost of capital of the mix (or the plan's fixed rate)."""
    d = plan.discount
    if d.rate is not None:
        return d.rate
    fin = plan.financing
    shield = ONE - d.tax_rate if d.after_tax_debt else ONE
    parts: list[tuple[Decimal, Decimal]] = (
        [(x.principal, x.annual_rate * rate_factor * shield) for x in fin.commercial_loans]
        + [
            (x.principal, x.annual_rate * rate_factor * (ONE - x.subsidy_share) * shield)
            for x in fin.subsidised_loans
        ]
        + [(x.principal, x.coupon * rate_factor * shield) for x in fin.bonds]
        + [(x.amount, x.cost_of_equity) for x in fin.equity]
    )
    weight = total(w for w, _ in parts)
    if weight == 0:
        return ZERO
    with localcontext(prec=PRECISION):
        return total(w * c for w, c in parts) / weight


def _series(plan: Plan, group: str) -> list[Decimal]:
    horizon = plan.periods.horizon
    out = [ZERO] * (horizon + 1)
    for flow in getattr(plan, group):
        for t, amount in enumerate(flow.series(horizon)):
            out[t] += amount
    return out


def _scale(values: Sequence[Decimal], factor: Decimal) -> list[Decimal]:
    return [fen(v * factor) for v in values]


@dataclass(frozen=True, slots=True)
class _Core:
    schedules: tuple[DebtSchedule, ...]
    project: list[Decimal]
    cfads: list[Decimal]
    debt_service: list[Decimal]
    equity: list[Decimal]
    wacc: Decimal
    npv: Decimal


def _core(
    plan: Plan,
    savings: Sequence[Decimal],
    opex: Sequence[Decimal],
    capex: Sequence[Decimal],
    rate_factor: Decimal = ONE,
) -> _Core:
    horizon = plan.periods.horizon
    fin = plan.financing
    scheds = schedules(plan, rate_factor)
    service = [ZERO] * (horizon + 1)
    for sched in scheds:
        for row in sched.rows:
            service[row.period] += row.payment
    inflow = [ZERO] * (horizon + 1)
    inflow[0] += total(s.principal for s in scheds) + total(x.partner_capital for x in fin.ppp)
    for grant in fin.grants:
        inflow[grant.period] += grant.amount
    partner_share = total(x.partner_savings_share for x in fin.ppp)
    own_savings = _scale(savings, ONE - partner_share)
    project = [s - o - c for s, o, c in zip(savings, opex, capex, strict=True)]
    cfads = [s - o for s, o in zip(own_savings, opex, strict=True)]
    equity = [cf - c + i - d for cf, c, i, d in zip(cfads, capex, inflow, service, strict=True)]
    rate = wacc(plan, rate_factor)
    value = npv(periodic(rate, plan.periods.per_year), project)
    return _Core(scheds, project, cfads, service, equity, rate, value)


def _llcr(core: _Core) -> Decimal | None:
    debt = total(s.principal for s in core.schedules)
    if debt == 0:
        return None
    last = max(len(s.rows) for s in core.schedules)
    with localcontext(prec=PRECISION):
        weighted = total(s.principal * s.periodic_rate for s in core.schedules) / debt
        value = npv(weighted, [ZERO, *core.cfads[1 : last + 1]])
        return ratio(value / debt)


def _min_balance(plan: Plan, core: _Core) -> Decimal:
    balance = total(x.amount for x in plan.financing.equity)
    lowest = balance
    for flow in core.equity:
        balance += flow
        lowest = min(lowest, balance)
    return lowest


def analyse(plan: Plan) -> PlanResult:
    """Every output of the planner for *plan*; refuses an inconsistent plan."""
    problems = check_plan(plan)
    if problems:
        raise PlanInvalid(problems)
    savings, opex, capex = _series(plan, "savings"), _series(plan, "opex"), _series(plan, "capex")
    core = _core(plan, savings, opex, capex)
    dscr: list[Decimal | None] = [
        ratio(c / d) if d > 0 else None for c, d in zip(core.cfads, core.debt_service, strict=True)
    ]
    operations_start = next((t for t, amount in enumerate(savings) if amount > 0), None)
    covered = [
        x
        for t, x in enumerate(dscr)
        if x is not None and operations_start is not None and t >= operations_start
    ]
    construction = total(
        core.debt_service[: operations_start if operations_start is not None else None]
    )
    window = plan.reserves.dsra_periods
    dsra = max(
        (total(core.debt_service[t : t + window]) for t in range(1, len(core.debt_service))),
        default=ZERO,
    )
    r = plan.reserves
    stressed = _core(
        plan,
        _scale(savings, ONE - r.stress_savings_drop),
        _scale(opex, ONE + r.stress_cost_rise),
        _scale(capex, ONE + r.stress_cost_rise),
    )
    return PlanResult(
        plan=plan,
        schedules=core.schedules,
        savings=tuple(savings),
        opex=tuple(opex),
        capex=tuple(capex),
        project_flows=tuple(core.project),
        cfads=tuple(core.cfads),
        debt_service=tuple(core.debt_service),
        equity_flows=tuple(core.equity),
        dscr=tuple(dscr),
        min_dscr=min(covered, default=None),
        operations_start=operations_start,
        construction_debt_service=construction,
        llcr=_llcr(core),
        wacc=core.wacc,
        npv=core.npv,
        project_irr=irr(core.project),
        equity_irr=irr(core.equity),
        payback_periods=payback(core.project),
        dsra=dsra,
        risk_reserve=max(ZERO, -_min_balance(plan, stressed)),
        sensitivity=sensitivity(plan, savings, opex, capex),
    )


def sensitivity(
    plan: Plan, savings: Sequence[Decimal], opex: Sequence[Decimal], capex: Sequence[Decimal]
) -> tuple[SensitivityRow, ...]:
    """Tornado table: NPV when each assumption moves by ±step, widest swing first."""
    changes = sorted({s for step in plan.sensitivity.steps for s in (-step, step)})
    rows: list[SensitivityRow] = []
    for name in ASSUMPTIONS:
        results: list[tuple[Decimal, Decimal]] = []
        for change in changes:
            f = ONE + change
            if name == "savings":
                core = _core(plan, _scale(savings, f), opex, capex)
            elif name == "opex":
                core = _core(plan, savings, _scale(opex, f), capex)
            elif name == "capex":
                core = _core(plan, savings, opex, _scale(capex, f))
            else:
                core = _core(plan, savings, opex, capex, rate_factor=f)
            results.append((change, core.npv))
        values = [v for _, v in results]
        rows.append(SensitivityRow(name, tuple(results), min(values), max(values)))
    rows.sort(key=lambda row: row.swing, reverse=True)
    return tuple(rows)
