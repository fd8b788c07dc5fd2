"""Rich summary of a :class:`~realname.finance.analysis.PlanResult` for the terminal."""

from __future__ import annotations

from decimal import Decimal

from rich.console import Group, RenderableType
from rich.table import Table

from realname.finance.analysis import PlanResult


def _money(value: Decimal) -> str:
    return f"¥{value:,.2f}"


def _pct(value: Decimal | None) -> str:
    return "—" if value is None else f"{value * 100:.2f}%"


def _plain(value: Decimal | None) -> str:
    return "—" if value is None else f"{value:.2f}"


def render_summary(result: PlanResult) -> RenderableType:
    """Key figures, the financing mix, the period table and the tornado table."""
    plan = result.plan
    unit = plan.periods.frequency
    key = Table(title=f"{plan.name} — key figures", show_header=False)
    key.add_column("measure")
    key.add_column("value", justify="right")
    key.add_row("Total capex", _money(sum(result.capex, Decimal(0))))
    key.add_row("WACC (annual)", _pct(result.wacc))
    key.add_row("NPV at WACC", _money(result.npv))
    key.add_row("Project IRR (annual)", _pct(result.project_irr_annual))
    key.add_row("Equity IRR (annual)", _pct(result.equity_irr_annual))
    key.add_row(f"Payback ({unit}s)", _plain(result.payback_periods))
    key.add_row(
        f"Minimum DSCR (operations, from period {result.operations_start})",
        _plain(result.min_dscr),
    )
    key.add_row("Debt service before operations", _money(result.construction_debt_service))
    key.add_row("LLCR", _plain(result.llcr))
    key.add_row(f"Debt-service reserve ({plan.reserves.dsra_periods} {unit}s)", _money(result.dsra))
    key.add_row("Risk reserve (stress)", _money(result.risk_reserve))

    debt = Table(title="Debt")
    for col in ("name", "kind", "principal", "interest", "subsidy", "borrower pays"):
        debt.add_column(col, justify="left" if col in ("name", "kind") else "right")
    for s in result.schedules:
        debt.add_row(
            s.name,
            s.kind,
            _money(s.principal),
            _money(s.total_interest),
            _money(s.total_subsidy),
            _money(s.total_payment),
        )

    flows = Table(title=f"Cash flows per {unit}")
    for col in ("period", "savings", "opex", "capex", "project", "debt service", "DSCR", "equity"):
        flows.add_column(col, justify="right")
    for t, project in enumerate(result.project_flows):
        flows.add_row(
            str(t),
            _money(result.savings[t]),
            _money(result.opex[t]),
            _money(result.capex[t]),
            _money(project),
            _money(result.debt_service[t]),
            _plain(result.dscr[t]),
            _money(result.equity_flows[t]),
        )

    tornado = Table(title="Sensitivity of NPV (widest swing first)")
    for col in ("assumption", "NPV low", "NPV high", "swing"):
        tornado.add_column(col, justify="left" if col == "assumption" else "right")
    for row in result.sensitivity:
        tornado.add_row(row.assumption, _money(row.low), _money(row.high), _money(row.swing))
    return Group(key, debt, flows, tornado)
