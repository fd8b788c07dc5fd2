"""Plan validation, a hand-computed plan, and the example plan end to end."""

from __future__ import annotations

import copy
from datetime import date
from decimal import Decimal
from importlib.resources import files
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from realname.finance import (
    Plan,
    PlanInvalid,
    analyse,
    irr,
    load_plan,
    parse_plan,
    render_summary,
)

D = Decimal
EXAMPLE = Path(str(files("realname.finance") / "data" / "example_plan.yaml"))


def small() -> dict[str, Any]:
    """Yearly plan small enough to compute by hand (see test_hand_computed)."""
    return {
        "name": "small",
        "periods": {"frequency": "year", "start": date(2027, 1, 1), "horizon": 2},
        "capex": [{"name": "upgrade", "amounts": [1000]}],
        "savings": [{"name": "staff", "each_period": 700, "from_period": 1}],
        "financing": {
            "commercial_loans": [
                {
                    "name": "bank",
                    "principal": 600,
                    "annual_rate": "0.10",
                    "tenor": 2,
                    "repayment": "equal_principal",
                }
            ],
            "equity": [{"name": "owners", "amount": 400, "cost_of_equity": "0.15"}],
        },
        "reserves": {"dsra_periods": 1},
    }


def test_hand_computed() -> None:
    r = analyse(parse_plan(small()))
    assert r.debt_service == (D(0), D("360.00"), D("330.00"))
    assert r.cfads[1:] == (D("700.00"), D("700.00"))
    assert r.dscr == (None, D("1.9444"), D("2.1212"))
    assert r.min_dscr == D("1.9444")
    assert (r.operations_start, r.construction_debt_service) == (1, D(0))
    # (700/1.1 + 700/1.21) / 600 = 1214.88 / 600
    assert r.llcr == D("2.0248")
    assert r.wacc == D("0.12")  # (600 × 10 % + 400 × 15 %) / 1000
    assert r.npv == D("183.04")  # -1000 + 700/1.12 + 700/1.12²
    assert r.project_flows == (D(-1000), D(700), D(700))
    assert r.equity_flows == (D(-400), D(340), D(370))
    # 700x² + 700x = 1000 with x = 1/(1+r): r = 2 / (√(47/7) − 1) − 1 = 25.6918 %
    assert r.project_irr is not None
    assert abs(r.project_irr - (2 / ((D(47) / 7).sqrt() - 1) - 1)) < D("1e-12")
    assert r.equity_irr == irr([D(-400), D(340), D(370)])
    assert r.payback_periods == D("1.43")
    assert r.dsra == D("360.00")
    # Stress: capex 1100, savings 560. Cash: 400 + (600 - 1100) = -100 at close.
    assert r.risk_reserve == D("100.00")


def test_after_tax_debt_and_fixed_rate() -> None:
    data = small()
    data["discount"] = {"tax_rate": "0.25", "after_tax_debt": True}
    assert analyse(parse_plan(data)).wacc == D("0.105")  # (600 × 7.5 % + 60) / 1000
    data["discount"] = {"rate": "0.08"}
    assert analyse(parse_plan(data)).wacc == D("0.08")


def test_subsidised_loan_lowers_debt_service_and_wacc() -> None:
    data = small()
    loan = data["financing"].pop("commercial_loans")[0]
    data["financing"]["subsidised_loans"] = [{**loan, "subsidy_share": "0.5"}]
    r = analyse(parse_plan(data))
    assert r.debt_service == (D(0), D("330.00"), D("315.00"))
    assert r.wacc == D("0.09")


def test_ppp_and_grant() -> None:
    data = small()
    data["financing"]["ppp"] = [
        {"name": "city", "partner_capital": 100, "partner_savings_share": "0.1"}
    ]
    data["financing"]["grants"] = [{"name": "grant", "amount": 50, "period": 1}]
    r = analyse(parse_plan(data))
    assert r.cfads[1:] == (D("630.00"), D("630.00"))
    assert r.equity_flows == (D(-300), D(320), D(300))


def problems_of(data: dict[str, Any]) -> dict[str, str]:
    with pytest.raises(PlanInvalid) as info:
        parse_plan(data)
    assert info.value.code == "PLAN_INVALID"
    return {p["field"]: p["problem"] for p in info.value.problems}


def test_negative_tenor() -> None:
    data = small()
    data["financing"]["commercial_loans"][0]["tenor"] = -3
    assert "financing.commercial_loans.0.tenor" in problems_of(data)


def test_share_over_100_percent() -> None:
    data = small()
    data["financing"]["subsidised_loans"] = [
        {"name": "x", "principal": 1, "annual_rate": "0.04", "tenor": 2, "subsidy_share": "1.5"}
    ]
    problems = problems_of(data)
    assert "less than or equal to 1" in problems["financing.subsidised_loans.0.subsidy_share"]


def test_ppp_shares_over_100_percent() -> None:
    data = small()
    data["financing"]["ppp"] = [
        {"name": n, "partner_capital": 0, "partner_savings_share": "0.6"} for n in "ab"
    ]
    assert "over 100%" in problems_of(data)["financing.ppp"]


def test_grace_not_shorter_than_tenor() -> None:
    data = small()
    data["financing"]["commercial_loans"][0]["grace_periods"] = 2
    assert (
        "shorter than the tenor" in problems_of(data)["financing.commercial_loans.0.grace_periods"]
    )


def test_tenor_past_horizon() -> None:
    data = small()
    data["financing"]["commercial_loans"][0]["tenor"] = 5
    assert "financing.commercial_loans.0.tenor" in problems_of(data)


def test_mix_does_not_cover_capex() -> None:
    data = small()
    data["financing"]["equity"][0]["amount"] = 300
    assert "¥100.00 is not financed" in problems_of(data)["financing"]


def test_float_and_unknown_keys_refused() -> None:
    data = small()
    data["financing"]["commercial_loans"][0]["annual_rate"] = 0.1
    data["capex"][0]["colour"] = "red"
    problems = problems_of(data)
    assert "floats are not accepted" in problems["financing.commercial_loans.0.annual_rate"]
    assert "capex.0.colour" in problems


def test_flow_needs_exactly_one_form() -> None:
    data = small()
    data["savings"][0]["amounts"] = [1, 2]
    assert "exactly one" in problems_of(data)["savings.0"]


def test_nothing_computed_from_invalid_plan() -> None:
    plan = parse_plan(small())
    bad = Plan.model_construct(**{**dict(plan), "financing": copy.deepcopy(plan.financing)})
    bad.financing.equity.clear()
    with pytest.raises(PlanInvalid):
        analyse(bad)


def test_load_example_plan_and_render() -> None:
    plan = load_plan(EXAMPLE)
    r = analyse(plan)
    assert sum(r.capex, D(0)) == D(3_200_000)
    assert any(s.total_subsidy > 0 for s in r.schedules)
    assert r.min_dscr is not None
    # Interest paid while the upgrade is built (no savings yet) is not a covenant test.
    assert r.operations_start is not None
    assert r.construction_debt_service > 0
    assert r.min_dscr > 1
    assert r.min_dscr == min(
        x for t, x in enumerate(r.dscr) if x is not None and t >= r.operations_start
    )
    assert r.llcr is not None
    assert r.project_irr is not None
    swings = [row.swing for row in r.sensitivity]
    assert swings == sorted(swings, reverse=True)
    for row in r.sensitivity:
        assert row.low <= r.npv <= row.high
    amounts = [*r.project_flows, *r.equity_flows, *r.debt_service, r.npv, r.dsra]
    amounts += [v for s in r.schedules for row in s.rows for v in (row.interest, row.payment)]
    assert all(type(v) is D for v in amounts)
    console = Console(width=140, record=True)
    console.print(render_summary(r))
    assert "NPV at WACC" in console.export_text()


def test_load_plan_rejects_bad_yaml(tmp_path: Path) -> None:
    path = tmp_path / "plan.yaml"
    path.write_text(
        EXAMPLE.read_text(encoding="utf-8").replace("tenor: 12", "tenor: -1"), encoding="utf-8"
    )
    with pytest.raises(PlanInvalid) as info:
        load_plan(path)
    assert info.value.problems[0]["field"] == "financing.subsidised_loans.0.tenor"
