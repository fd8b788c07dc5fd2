"""The console's dashboard and finance pages through a TestClient, on a database
seeded by real verifications through the API (sandbox scenarios)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from importlib.resources import files
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from realname.api.app import create_app
from realname.api.context import AppContext
from realname.config import Settings
from realname.finance import analyse, load_plan
from realname.finance.costs import CostAssumptions, savings_per_period
from realname.finance.report import money
from realname.ops.metrics import collect, load, problem_cost
from realname.ops.metrics_period import Period
from realname.store.db import upgrade
from tests.ops.seeding import new_tenant, run
from tests.web.test_ops_pages import Console

EXAMPLE = Path(str(files("realname.finance") / "data" / "example_plan.yaml"))


@dataclass
class Seeded:
    settings: Settings
    lender: str
    other: str


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Seeded:
    directory = tmp_path_factory.mktemp("ops-dashboard")
    settings = Settings(
        var_dir=directory,
        database_url=f"sqlite:///{directory / 'ops.db'}",
        rerun_interval_seconds=0,
    )
    upgrade(settings.resolved_database_url)
    lender, headers = new_tenant(settings, "lender")
    other, other_headers = new_tenant(settings, "other lender")
    run(settings, headers, "happy-l2-phone", "19212340001", credit=True)
    run(settings, headers, "phone-suspended", "19212340002")
    run(settings, headers, "id-checksum-typo", "19212340003")
    run(settings, other_headers, "phone-never-real-name-registered", "19212340004")
    return Seeded(settings, lender, other)


@pytest.fixture
def console(seeded: Seeded) -> Iterator[Console]:
    context = AppContext.from_settings(seeded.settings)
    with TestClient(create_app(seeded.settings, context), raise_server_exceptions=False) as client:
        yield Console(client, context)
    context.engine.dispose()


@pytest.fixture
def signed_in(console: Console) -> Console:
    name = f"aud{datetime.now(UTC).strftime('%H%M%S%f')}"
    console.add(name, "auditor")
    assert console.log_in(name).status_code == 303
    return console


def _step(html: str, key: str) -> int:
    found = re.search(rf'data-step="{key}"><th>[^<]*</th><td class="n">(\d+)</td>', html)
    assert found is not None, key
    return int(found[1])


def _no_internet_assets(html: str) -> None:
    assert not re.search(r'(src|href)="(https?:)?//', html)


def test_the_dashboard_needs_an_operator(console: Console) -> None:
    answer = console.client.get("/ops/dashboard?days=7", follow_redirects=False)
    assert answer.status_code == 303
    assert answer.headers["location"].startswith("/ops/login?next=%2Fops%2Fdashboard")
    assert console.client.get("/ops/finance", follow_redirects=False).status_code == 303


def test_the_dashboard_shows_the_funnel_causes_costs_and_providers(
    signed_in: Console, seeded: Seeded
) -> None:
    page = signed_in.client.get(f"/ops/dashboard?days=7&tenant={seeded.lender}")
    assert page.status_code == 200
    html = page.text
    assert "数据看板" in html
    assert 'lang="zh-CN"' in html
    # happy-l2-phone reached L2 and was assessed; phone-suspended L1; the typo L0.
    assert [_step(html, k) for k in ("signed_up", "l1", "l2", "l3", "credit_decision")] == [
        3,
        2,
        1,
        0,
        1,
    ]
    assert "PHONE_SUSPENDED" in html
    assert '<span class="pill" data-decision="decline">拒绝 1</span>' in html
    assert "ID_NUMBER_INVALID" in html
    assert "手机号已停机" in html or "停机" in html  # the catalogue's title, in Chinese
    assert html.count("<svg") == 3
    with signed_in.context.session_factory() as session:
        today = datetime.now(UTC).date()
        expected = collect(session, Period.last(7, today, seeded.lender))
    assert f'id="provider-cost">{money_of(expected.cost.provider_fen)}<' in html
    assert 'data-check="carrier_three_element"' in html
    _no_internet_assets(html)

    everyone = signed_in.client.get("/ops/dashboard?days=7&lang=en").text
    assert "Dashboard" in everyone
    assert _step(everyone, "signed_up") == 4
    assert "PHONE_NOT_REAL_NAME" in everyone


def money_of(fen: int) -> str:
    from decimal import Decimal

    return money(Decimal(fen) / 100)


def test_a_bad_period_is_a_field_error_not_a_500(signed_in: Console) -> None:
    today = datetime.now(UTC).date()
    later = (today + timedelta(days=3)).isoformat()
    page = signed_in.client.get(f"/ops/dashboard?since={later}&until={today}")
    assert page.status_code == 422
    assert "结束日期早于开始日期" in page.text
    assert "<svg" not in page.text
    english = signed_in.client.get("/ops/dashboard?since=2026-13-01&lang=en")
    assert english.status_code == 422
    assert "is not a date" in english.text
    bad = signed_in.client.get("/ops/dashboard?review_minutes=-5&tenant=nope&lang=en")
    assert bad.status_code == 422
    assert "Enter a whole number" in bad.text
    assert "There is no such tenant." in bad.text
    assert 'aria-invalid="true"' in bad.text


def test_an_empty_period_shows_zeros(signed_in: Console) -> None:
    page = signed_in.client.get("/ops/dashboard?since=2020-01-01&until=2020-01-31&lang=en")
    assert page.status_code == 200
    assert _step(page.text, "signed_up") == 0
    assert "No data in this period." in page.text


def test_finance_shows_the_live_cost_and_the_example_plan_like_the_cli(
    signed_in: Console, seeded: Seeded
) -> None:
    page = signed_in.client.get(f"/ops/finance?days=7&tenant={seeded.lender}")
    assert page.status_code == 200
    html = page.text
    with signed_in.context.session_factory() as session:
        today = datetime.now(UTC).date()
        expected = collect(session, Period.last(7, today, seeded.lender))
    assert f'id="billable-today">{money_of(expected.cost.provider_fen)}<' in html
    assert 'id="stuck-today">2<' in html  # phone-suspended and the ID typo
    # The same figures `realname finance plan` computes for the README's example.
    cli = analyse(load_plan(EXAMPLE))
    assert money(cli.npv) in html
    assert 'id="periods"' in html
    assert html.count("<svg") == 3
    _no_internet_assets(html)


def test_a_pasted_plan_runs_and_an_unsound_one_is_refused_field_by_field(
    signed_in: Console,
) -> None:
    page = signed_in.client.get("/ops/finance?lang=en")
    csrf = Console.csrf(page.text)
    text = EXAMPLE.read_text(encoding="utf-8").replace(
        "Mid-size platform real-name upgrade", "Pasted plan"
    )
    ran = signed_in.client.post("/ops/finance?lang=en", data={"csrf": csrf, "plan_yaml": text})
    assert ran.status_code == 200
    assert "Pasted plan" in ran.text
    assert 'id="report"' in ran.text

    broken = text.replace("horizon: 20", "horizon: -4")
    refused = signed_in.client.post(
        "/ops/finance?lang=en", data={"csrf": csrf, "plan_yaml": broken}
    )
    assert refused.status_code == 422
    assert "nothing was computed" in refused.text
    assert "periods.horizon" in refused.text
    assert 'id="report"' not in refused.text

    not_yaml = signed_in.client.post(
        "/ops/finance?lang=en", data={"csrf": csrf, "plan_yaml": "a: [b"}
    )
    assert not_yaml.status_code == 422
    assert "not valid YAML" in not_yaml.text
    empty = signed_in.client.post("/ops/finance", data={"csrf": csrf, "plan_yaml": "  "})
    assert empty.status_code == 422
    assert "请粘贴方案内容" in empty.text

    forged = signed_in.client.post("/ops/finance", data={"csrf": "0" * 32, "plan_yaml": text})
    assert forged.status_code == 403


def _savings_in_period(html: str, period: int) -> str:
    found = re.search(
        rf'<tr><td class="n">{period}</td><td>[0-9-]+</td><td class="n">([^<]+)</td>', html
    )
    assert found is not None
    return found[1]


def test_measured_savings_replace_the_plans_savings(signed_in: Console) -> None:
    page = signed_in.client.get("/ops/finance?days=7&savings=1&lang=en")
    assert page.status_code == 200
    period = Period.last(7, datetime.now(UTC).date())
    with signed_in.context.session_factory() as session:
        costs = problem_cost(load(session, period), period, CostAssumptions())
    measured = money(savings_per_period(costs, 4))
    assert _savings_in_period(page.text, 2) == measured
    hand_set = signed_in.client.get("/ops/finance?days=7&lang=en").text
    assert _savings_in_period(hand_set, 2) == "¥380,000.00"  # the example plan's own line
