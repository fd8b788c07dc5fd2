"""``realname finance plan`` and ``costs`` end to end."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from realname.finance.cli import finance_app
from tests.finance.test_costs import EXAMPLE, populate

runner = CliRunner()


def test_plan_writes_html_with_key_figures_and_charts(tmp_path: Path) -> None:
    out = tmp_path / "report" / "plan.html"
    result = runner.invoke(finance_app, ["plan", str(EXAMPLE), "--html", str(out)])
    assert result.exit_code == 0, result.output
    assert "¥3,155,546.88" in result.output  # NPV in the Rich summary
    page = out.read_text(encoding="utf-8")
    for figure in (
        "¥3,200,000.00",  # total capex
        "5.06%",  # WACC
        "¥3,155,546.88",  # NPV at WACC
        "39.34%",  # project IRR
        "115.89%",  # equity IRR
        "9.67",  # payback, quarters
        "-1.29",  # minimum DSCR
        "2.33",  # LLCR
        "¥387,620.00",  # debt-service reserve
        "¥681,900.00",  # risk reserve
    ):
        assert figure in page, figure
    assert page.count("<svg") == 3  # cash flows, DSCR, tornado
    assert 'id="periods"' in page
    assert "<script" not in page
    assert 'src="http' not in page
    assert 'href="http' not in page


def test_bad_plan_exits_2_naming_the_field(tmp_path: Path) -> None:
    data = yaml.safe_load(EXAMPLE.read_text(encoding="utf-8"))
    data["financing"]["subsidised_loans"][0]["tenor"] = -4
    data["financing"]["subsidised_loans"][0]["subsidy_share"] = "1.5"
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    out = tmp_path / "bad.html"
    result = runner.invoke(finance_app, ["plan", str(bad), "--html", str(out)])
    assert result.exit_code == 2
    assert "PLAN_INVALID" in result.stderr
    assert "financing.subsidised_loans.0.tenor" in result.stderr
    assert "financing.subsidised_loans.0.subsidy_share" in result.stderr
    assert not out.exists()


def test_plan_refuses_savings_from_data_without_a_period() -> None:
    result = runner.invoke(finance_app, ["plan", str(EXAMPLE), "--savings-from-data"])
    assert result.exit_code == 2
    assert "--db-period" in result.stderr


@pytest.mark.storage
def test_costs_and_plan_from_the_store(
    session_factory: sessionmaker[Session], database_url: str, tmp_path: Path
) -> None:
    with session_factory() as session:
        populate(session)
    money = ["--review-minutes", "20", "--review-rate-fen", "4500", "--margin-fen", "15000"]
    db = ["--database-url", database_url]
    result = runner.invoke(
        finance_app, ["costs", "--from", "2026-01-01", "--to", "2026-03-31", *db, *money]
    )
    assert result.exit_code == 0, result.output
    assert "¥331.75" in result.output  # today
    assert "¥166.75" in result.output  # under the upgrade
    assert "37.50%" in result.output  # self-repair rate

    out = tmp_path / "measured.html"
    args = ["plan", str(EXAMPLE), "--html", str(out), "--db-period", "2026-01-01:2026-03-31"]
    result = runner.invoke(finance_app, [*args, "--savings-from-data", *db, *money])
    assert result.exit_code == 0, result.output
    page = out.read_text(encoding="utf-8")
    assert 'id="cost-of-problem"' in page
    assert "¥167.29" in page  # measured savings per quarter replaced the hand-set ones
    assert "¥380,000.00" not in page
