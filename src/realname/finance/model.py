"""The plan file: periods, spend, savings, discounting and the financing mix.

A plan is plain data validated by Pydantic v2 in strict mode with unknown keys
refused (``extra="forbid"``), so a typo in a YAML key is an error rather than a
silently ignored assumption. Numbers are :class:`~decimal.Decimal`: the YAML loader
reads every decimal literal as a Decimal (never a float), and a float passed from
Python is refused outright.

Conventions, used everywhere in :mod:`realname.finance`:

* Period 0 is the financial close (the start date). Operating periods run 1..horizon.
  Loans and bonds are drawn at period 0 and repaid from period 1.
* Rates are annual fractions (``0.0435`` is 4.35 %). A loan's periodic rate is the
  annual rate divided by the periods per year, as Chinese bank loans quote it
  (月利率 = 年利率 / 12). Shares are fractions from 0 to 1 (``0.5`` is 50 %).
* Tenors and grace periods count plan periods, not years.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError

from realname.finance.errors import PlanInvalid, Problem
from realname.finance.money import ZERO, fen, total


def _to_decimal(value: object) -> object:
    """Accept Decimal, int and numeric strings; refuse floats, which cannot hold fen."""
    if isinstance(value, bool):
        raise ValueError("expected a number, not a boolean")
    if isinstance(value, float):
        raise ValueError("floats are not accepted; write the number as a string or Decimal")
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, str):
        try:
            return Decimal(value.replace(",", "").replace("_", "").strip())
        except InvalidOperation:
            raise ValueError("not a number") from None
    return value


Num = Annotated[Decimal, BeforeValidator(_to_decimal)]
Amount = Annotated[Decimal, BeforeValidator(_to_decimal), Field(ge=0, allow_inf_nan=False)]
Rate = Annotated[Decimal, BeforeValidator(_to_decimal), Field(ge=0, le=1, allow_inf_nan=False)]
Share = Rate
Count = Annotated[int, Field(ge=0)]

PERIODS_PER_YEAR: Mapping[str, int] = {"month": 12, "quarter": 4, "year": 1}


class _Strict(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)


class Periods(_Strict):
    """The plan's clock: how long a period is, when period 0 falls, how many follow."""

    frequency: Literal["month", "quarter", "year"]
    start: date
    horizon: Annotated[int, Field(ge=1, le=1200)]

    @property
    def per_year(self) -> int:
        return PERIODS_PER_YEAR[self.frequency]


class ScheduledAmount(_Strict):
    period: Count
    amount: Amount


class Flow(_Strict):
    """One line of spend or savings, given in exactly one of three ways.

    ``amounts`` lists one amount per period starting at ``from_period``;
    ``schedule`` lists ``{period, amount}`` pairs; ``each_period`` repeats one amount
    from ``from_period`` to ``to_period`` (inclusive; default the horizon).
    """

    name: str = Field(min_length=1)
    amounts: list[Amount] | None = None
    schedule: list[ScheduledAmount] | None = None
    each_period: Amount | None = None
    from_period: Count = 0
    to_period: Count | None = None

    def series(self, horizon: int) -> list[Decimal]:
        """The line as a list of fen-rounded amounts for periods 0..horizon."""
        out = [ZERO] * (horizon + 1)
        if self.amounts is not None:
            for i, amount in enumerate(self.amounts):
                out[self.from_period + i] += amount
        if self.schedule is not None:
            for item in self.schedule:
                out[item.period] += item.amount
        if self.each_period is not None:
            last = horizon if self.to_period is None else self.to_period
            for t in range(self.from_period, last + 1):
                out[t] += self.each_period
        return [fen(x) for x in out]


Repayment = Literal["annuity", "equal_principal"]


class CommercialLoan(_Strict):
    """A bank loan. ``annuity`` is 等额本息 (equal instalments), ``equal_principal``
    is 等额本金; during ``grace_periods`` only interest is paid."""

    name: str = Field(min_length=1)
    principal: Amount
    annual_rate: Rate
    tenor: Annotated[int, Field(ge=1)]
    grace_periods: Count = 0
    repayment: Repayment = "annuity"


class SubsidisedLoan(CommercialLoan):
    """A 贴息 loan: a government programme pays ``subsidy_share`` of each interest bill."""

    subsidy_share: Share


class Equity(_Strict):
    name: str = Field(min_length=1)
    amount: Amount
    cost_of_equity: Rate


class Bond(_Strict):
    """A bond: ``bullet`` repays at maturity, ``amortising`` in equal principal parts."""

    name: str = Field(min_length=1)
    principal: Amount
    coupon: Rate
    tenor: Annotated[int, Field(ge=1)]
    style: Literal["bullet", "amortising"] = "bullet"


class PPP(_Strict):
    """A public-private partner who brings capital in exchange for a share of savings."""

    name: str = Field(min_length=1)
    partner_capital: Amount
    partner_savings_share: Share


class Grant(_Strict):
    name: str = Field(min_length=1)
    amount: Amount
    period: Count = 0


class Financing(_Strict):
    commercial_loans: list[CommercialLoan] = Field(default_factory=list)
    subsidised_loans: list[SubsidisedLoan] = Field(default_factory=list)
    equity: list[Equity] = Field(default_factory=list)
    bonds: list[Bond] = Field(default_factory=list)
    ppp: list[PPP] = Field(default_factory=list)
    grants: list[Grant] = Field(default_factory=list)

    def sources(self) -> Decimal:
        """All money the mix brings in, in yuan."""
        return total(
            [x.principal for x in self.commercial_loans]
            + [x.principal for x in self.subsidised_loans]
            + [x.amount for x in self.equity]
            + [x.principal for x in self.bonds]
            + [x.partner_capital for x in self.ppp]
            + [x.amount for x in self.grants]
        )


class Discount(_Strict):
    """How cash flows are discounted.

    The rate is the WACC of the mix (debt and equity weighted by amount; grants and
    PPP capital carry no financing cost to the platform and are left out) unless
    ``rate`` fixes it. With ``after_tax_debt`` the cost of debt is reduced by
    ``tax_rate`` (the interest tax shield).
    """

    rate: Rate | None = None
    tax_rate: Rate = ZERO
    after_tax_debt: bool = False


class Reserves(_Strict):
    """Reserve sizing: the debt-service reserve covers ``dscr_periods`` of debt
    service; the risk reserve covers the worst cash shortfall when savings fall by
    ``stress_savings_drop`` and costs (capex and opex) rise by ``stress_cost_rise``."""

    dsra_periods: Annotated[int, Field(ge=1)] = 6
    stress_savings_drop: Share = Decimal("0.2")
    stress_cost_rise: Share = Decimal("0.1")


class Sensitivity(_Strict):
    steps: list[Share] = Field(
        default_factory=lambda: [Decimal("0.1"), Decimal("0.2")], min_length=1
    )


class Plan(_Strict):
    name: str = Field(min_length=1)
    currency: Literal["CNY"] = "CNY"
    periods: Periods
    capex: list[Flow] = Field(min_length=1)
    opex: list[Flow] = Field(default_factory=list)
    savings: list[Flow] = Field(min_length=1)
    discount: Discount = Field(default_factory=Discount)
    financing: Financing
    reserves: Reserves = Field(default_factory=Reserves)
    sensitivity: Sensitivity = Field(default_factory=Sensitivity)


def _path(loc: tuple[int | str, ...]) -> str:
    return ".".join(str(part) for part in loc)


def check_plan(plan: Plan) -> list[Problem]:
    """Consistency rules a single field cannot express; an empty list means sound."""
    problems: list[Problem] = []
    horizon = plan.periods.horizon
    for group in ("capex", "opex", "savings"):
        for i, flow in enumerate(getattr(plan, group)):
            where = f"{group}.{i}"
            forms = [flow.amounts, flow.schedule, flow.each_period]
            if sum(form is not None for form in forms) != 1:
                problems.append(
                    {
                        "field": where,
                        "problem": "give exactly one of amounts, schedule or each_period",
                    }
                )
                continue
            if flow.amounts is not None and flow.from_period + len(flow.amounts) > horizon + 1:
                problems.append(
                    {"field": f"{where}.amounts", "problem": "runs past the plan horizon"}
                )
            for j, item in enumerate(flow.schedule or []):
                if item.period > horizon:
                    problems.append(
                        {
                            "field": f"{where}.schedule.{j}.period",
                            "problem": f"period {item.period} is after the horizon {horizon}",
                        }
                    )
            last = horizon if flow.to_period is None else flow.to_period
            if flow.from_period > horizon or last > horizon or last < flow.from_period:
                problems.append(
                    {
                        "field": f"{where}.to_period",
                        "problem": "from_period..to_period must lie within 0..horizon",
                    }
                )
    fin = plan.financing
    loans: list[tuple[str, CommercialLoan]] = [
        (f"financing.commercial_loans.{i}", x) for i, x in enumerate(fin.commercial_loans)
    ] + [(f"financing.subsidised_loans.{i}", x) for i, x in enumerate(fin.subsidised_loans)]
    for where, loan in loans:
        if loan.grace_periods >= loan.tenor:
            problems.append(
                {
                    "field": f"{where}.grace_periods",
                    "problem": f"grace ({loan.grace_periods}) must be shorter than the "
                    f"tenor ({loan.tenor}), or nothing is ever repaid",
                }
            )
    debts: list[tuple[str, int]] = [(w, x.tenor) for w, x in loans] + [
        (f"financing.bonds.{i}", x.tenor) for i, x in enumerate(fin.bonds)
    ]
    for where, tenor in debts:
        if tenor > horizon:
            problems.append(
                {
                    "field": f"{where}.tenor",
                    "problem": f"tenor ({tenor}) runs past the plan horizon ({horizon})",
                }
            )
    for i, grant in enumerate(fin.grants):
        if grant.period > horizon:
            problems.append(
                {"field": f"financing.grants.{i}.period", "problem": "is after the horizon"}
            )
    ppp_share = total(x.partner_savings_share for x in fin.ppp)
    if ppp_share > 1:
        problems.append(
            {
                "field": "financing.ppp",
                "problem": f"partners' savings shares add up to {ppp_share:%}, over 100%",
            }
        )
    if not problems:
        capex = total(total(f.series(horizon)) for f in plan.capex)
        sources = fin.sources()
        if sources < capex:
            problems.append(
                {
                    "field": "financing",
                    "problem": f"the mix brings ¥{fen(sources):,} but total capex is "
                    f"¥{capex:,}; ¥{fen(capex - sources):,} is not financed",
                }
            )
    return problems


def parse_plan(data: Any) -> Plan:
    """Validate a plan given as plain data (a mapping); raise :class:`PlanInvalid`."""
    try:
        plan = Plan.model_validate(data)
    except ValidationError as exc:
        raise PlanInvalid(
            [{"field": _path(e["loc"]), "problem": e["msg"]} for e in exc.errors()]
        ) from None
    problems = check_plan(plan)
    if problems:
        raise PlanInvalid(problems)
    return plan


class _DecimalLoader(yaml.SafeLoader):
    """A safe YAML loader that reads decimal literals as Decimal, never as float."""


def _construct_decimal(loader: yaml.SafeLoader, node: yaml.Node) -> Decimal:
    text = str(loader.construct_scalar(node)).replace("_", "")  # type: ignore[arg-type]
    return Decimal(text)


_DecimalLoader.add_constructor("tag:yaml.org,2002:float", _construct_decimal)


def parse_plan_text(text: str) -> Plan:
    """Validate a plan given as YAML text (a pasted or uploaded file)."""
    try:
        data = yaml.load(text, Loader=_DecimalLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as exc:
        raise PlanInvalid([{"field": "", "problem": f"not valid YAML: {exc}"}]) from None
    return parse_plan(data)


def load_plan(path: str | Path) -> Plan:
    """Read and validate a YAML plan file; raise :class:`PlanInvalid` if it is unsound."""
    return parse_plan_text(Path(path).read_text(encoding="utf-8"))
