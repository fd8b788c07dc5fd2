"""Project-financing planner: what fixing "未实名认证" costs and how to pay for it.

A plan file (:func:`load_plan`) describes the upgrade's capex, opex and savings and a
financing mix (commercial and 贴息 loans, equity, bonds, PPP, grants); :func:`analyse`
turns it into debt schedules, cash flows, DSCR, LLCR, NPV, IRR, payback, reserves
and a sensitivity table; :func:`render_summary` shows the result with Rich. All
money is :class:`~decimal.Decimal` yuan rounded to the fen; no floats.
"""

from realname.finance.analysis import PlanResult, SensitivityRow, analyse, wacc
from realname.finance.errors import PlanInvalid, Problem
from realname.finance.metrics import annualise, irr, npv, payback, periodic
from realname.finance.model import Plan, check_plan, load_plan, parse_plan
from realname.finance.render import render_summary
from realname.finance.schedule import DebtSchedule, Row, annuity_payment, debt_schedule

__all__ = [
    "DebtSchedule",
    "Plan",
    "PlanInvalid",
    "PlanResult",
    "Problem",
    "Row",
    "SensitivityRow",
    "analyse",
    "annualise",
    "annuity_payment",
    "check_plan",
    "debt_schedule",
    "irr",
    "load_plan",
    "npv",
    "parse_plan",
    "payback",
    "periodic",
    "render_summary",
    "wacc",
]
