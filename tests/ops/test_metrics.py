"""Operations metrics: known answers on plain rows, then on a database seeded through
the API (fixture scenarios verified by the sandbox, one credit application)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select

from realname.config import Settings
from realname.finance.costs import CostAssumptions, ResultRow
from realname.ops.metrics import collect, load, problem_cost
from realname.ops.metrics_causes import cause_series
from realname.ops.metrics_cost import ReviewCase, operating_cost
from realname.ops.metrics_funnel import CohortAccount, funnel
from realname.ops.metrics_period import Period, PeriodInvalid
from realname.ops.metrics_providers import ProviderCall, percentile, provider_health
from realname.store.db import make_engine, make_session_factory, upgrade
from realname.store.models import VerificationCheck
from realname.verification.levels import Level
from tests.ops.seeding import Answer, new_tenant, open_review_cases, run

D = Decimal
AT = datetime(2026, 3, 4, 12, tzinfo=UTC)


def test_percentile_nearest_rank_known_answers() -> None:
    # The worked example of the nearest-rank method (Wikipedia, "Percentile").
    values = [15, 20, 35, 40, 50]
    assert [percentile(values, p) for p in (5, 30, 40, 50, 100)] == [15, 20, 20, 35, 50]
    assert percentile([], 50) is None
    with pytest.raises(ValueError, match="p must be"):
        percentile(values, 0)


def test_provider_health_ignores_the_latency_of_unanswered_calls() -> None:
    def call(outcome: str, ms: int) -> ProviderCall:
        return ProviderCall("a", "sandbox", "id_two_element", outcome, ms, True, 15, AT)

    rows = provider_health([call("match", ms) for ms in range(1, 101)] + [call("unavailable", 0)])
    (row,) = rows
    assert (row.calls, row.errors, row.error_rate) == (101, 1, D("0.0099"))
    assert (row.p50_ms, row.p95_ms, row.p99_ms) == (50, 95, 99)
    assert (row.billable_calls, row.cost_fen) == (101, 1515)


def test_funnel_counts_a_cohort_and_its_conversions() -> None:
    cohort = [
        CohortAccount("a", Level.L3, "approve"),
        CohortAccount("b", Level.L2, "decline"),
        CohortAccount("c", Level.L2),
        CohortAccount("d", Level.L1),
        CohortAccount("e", Level.L0),
    ]
    f = funnel(cohort)
    assert [(s.key, s.count) for s in f.steps] == [
        ("signed_up", 5),
        ("l1", 4),
        ("l2", 3),
        ("l3", 1),
        ("credit_decision", 2),
    ]
    assert [s.rate for s in f.steps] == [D(1), D("0.8"), D("0.75"), D("0.3333"), D(2)]
    assert f.steps[-1].of_signed_up == D("0.4")
    assert f.decisions == {"approve": 1, "decline": 1}


def test_causes_are_bucketed_by_iso_week_for_long_periods() -> None:
    period = Period(date(2026, 1, 1), date(2026, 3, 31))
    assert period.bucket == "week"
    buckets = period.buckets()
    assert buckets[0] == date(2025, 12, 29)  # the Monday of the week holding Jan 1
    assert len(buckets) == 14
    rows = [
        ResultRow("1", "a", "L0", "L2", datetime(2026, 1, 1, tzinfo=UTC), frozenset({"X", "Y"})),
        ResultRow("2", "b", "L0", "L2", datetime(2026, 1, 4, 23, tzinfo=UTC), frozenset({"Y"})),
        ResultRow("3", "c", "L2", "L2", datetime(2026, 1, 5, tzinfo=UTC), frozenset()),
        ResultRow("4", "d", "L0", "L2", datetime(2026, 4, 1, tzinfo=UTC), frozenset({"X"})),
    ]
    series = cause_series(rows, period)
    assert list(series.counts) == ["Y", "X"]  # most frequent first
    assert series.counts["Y"][:2] == (2, 0)
    assert series.counts["X"][:2] == (1, 0)
    assert series.results[:2] == (2, 1)
    assert sum(series.results) == 3  # April 1 is outside the period


def test_period_refuses_a_window_that_ends_before_it_starts() -> None:
    with pytest.raises(PeriodInvalid) as raised:
        Period(date(2026, 2, 1), date(2026, 1, 1))
    assert raised.value.field == "until"
    with pytest.raises(PeriodInvalid):
        Period(date(2020, 1, 1), date(2026, 1, 1))


def test_operating_cost_known_answers() -> None:
    calls = [
        ProviderCall("a", "sandbox", "id_two_element", "match", 5, True, 15, AT),
        ProviderCall("a", "sandbox", "carrier_three_element", "mismatch", 5, True, 30, AT),
        ProviderCall("b", "sandbox", "id_two_element", "match", 5, True, 15, AT),
        ProviderCall("c", "sandbox", "carrier_three_element", "unavailable", 0, False, 0, AT),
    ]
    cases = [ReviewCase("a", "IDENTITY_IN_USE"), ReviewCase("a", "UNDER_REVIEW", minutes=7)]
    # 20 + 7 minutes at ¥45 an hour = ¥20.25
    assume = CostAssumptions(review_minutes=20, review_rate_fen_per_hour=4500)
    cost = operating_cost(results=4, applicants=3, cases=cases, calls=calls, assumptions=assume)
    assert (cost.reviewer_minutes, cost.reviewer_fen) == (27, 2025)
    assert (cost.provider_calls, cost.billable_calls, cost.provider_fen) == (4, 3, 60)
    assert cost.total_fen == 2085
    assert cost.per_applicant_fen == 695  # 2085 / 3
    assert cost.per_review_case_fen == 1035  # (2025 + 45 of account a) / 2 = 1035
    assert cost.review_rate == D("0.3333")  # one applicant of three had a case
    assert cost.review_reasons == {"IDENTITY_IN_USE": 1, "UNDER_REVIEW": 1}


# ----------------------------------------------------------------- a seeded database

LENDER = [
    "happy-l3-face",  # L3, then a credit application
    "minority-name-separator",  # L2, repaired by the engine
    "phone-never-real-name-registered",  # L1
    "phone-suspended",  # L1
    "id-checksum-typo",  # L0, caught before any paid call
    "phone-of-a-parent",  # L1, the identity is verified on another account: review
    "name-traditional-characters",  # L2, repaired
    "id-card-expired",  # L0
    "carrier-times-out",  # L1, a provider error
]


@dataclass
class Seeded:
    settings: Settings
    lender: str
    other: str
    answers: list[Answer]
    other_answer: Answer
    today: date


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Seeded:
    directory = tmp_path_factory.mktemp("ops-metrics")
    settings = Settings(
        var_dir=directory,
        database_url=f"sqlite:///{directory / 'ops.db'}",
        rerun_interval_seconds=0,
    )
    upgrade(settings.resolved_database_url)
    lender, headers = new_tenant(settings, "lender")
    other, other_headers = new_tenant(settings, "other lender")
    answers = [
        run(settings, headers, scenario, f"1921234{i:04d}", credit=scenario == "happy-l3-face")
        for i, scenario in enumerate(LENDER)
    ]
    other_answer = run(settings, other_headers, "happy-l2-phone", "19212349999")
    open_review_cases(settings)
    return Seeded(settings, lender, other, answers, other_answer, datetime.now(UTC).date())


def test_the_funnel_of_a_seeded_platform(seeded: Seeded) -> None:
    levels = [a.level for a in seeded.answers]
    assert levels == ["L3", "L2", "L1", "L1", "L0", "L1", "L2", "L0", "L1"]
    engine = make_engine(seeded.settings.resolved_database_url)
    with make_session_factory(engine)() as session:
        today = seeded.today
        lender = collect(session, Period(today, today, seeded.lender))
        other = collect(session, Period(today, today, seeded.other))
        everyone = collect(session, Period(today, today))
        yesterday = collect(session, Period.last(1, today - timedelta(days=1)))
    engine.dispose()
    counts = [s.count for s in lender.funnel.steps]
    assert counts == [9, 7, 3, 1, 1]
    assert lender.funnel.decisions == {"decline": 1}
    assert [s.count for s in other.funnel.steps] == [1, 1, 1, 0, 0]
    assert [s.count for s in everyone.funnel.steps] == [10, 8, 4, 1, 1]
    assert [s.count for s in yesterday.funnel.steps] == [0, 0, 0, 0, 0]
    assert yesterday.cost.total_fen == 0


def test_causes_costs_and_provider_health_of_a_seeded_platform(seeded: Seeded) -> None:
    engine = make_engine(seeded.settings.resolved_database_url)
    today = seeded.today
    period = Period(today, today, seeded.lender)
    assume = CostAssumptions(review_minutes=20, review_rate_fen_per_hour=4500)
    with make_session_factory(engine)() as session:
        metrics = collect(session, period, assume)
        loaded = load(session, period)
        latencies = session.execute(
            select(VerificationCheck.check_kind, VerificationCheck.latency_ms).where(
                VerificationCheck.tenant_id == seeded.lender,
                VerificationCheck.outcome != "unavailable",
            )
        ).all()
    engine.dispose()

    # Every cause code an answer carried shows up in the cause series.
    answered = {code for a in seeded.answers for code in a.causes}
    assert answered <= set(metrics.causes.counts)
    assert metrics.causes.total("PROVIDER_UNAVAILABLE") == 1
    assert metrics.causes.total("ID_NUMBER_INVALID") == 1
    assert metrics.causes.buckets == (today,)

    cost = metrics.cost
    assert cost.applicants == 9
    # The sandbox's own billing ledger and the stored checks agree to the fen.
    assert cost.provider_fen == sum(a.billed_fen for a in seeded.answers) > 0
    # One review case (phone-of-a-parent's IDENTITY_IN_USE): 20 minutes at ¥45/h = ¥15.
    assert (cost.review_cases, cost.reviewer_fen) == (1, 1500)
    assert cost.review_rate == Decimal("0.1111")
    assert cost.total_fen == cost.provider_fen + 1500

    # The carrier timed out once: an error on carrier_three_element only.
    health = {row.check_kind: row for row in metrics.providers}
    assert health["carrier_three_element"].errors == 1
    assert sum(row.errors for row in metrics.providers) == 1
    by_kind: dict[str, list[int]] = {}
    for kind, ms in latencies:
        by_kind.setdefault(kind, []).append(ms)
    for kind, values in by_kind.items():
        row = health[kind]
        n = len(values)
        assert row.calls - row.errors == n
        assert row.p50_ms is not None
        assert row.p95_ms is not None
        assert row.p99_ms is not None
        assert row.p50_ms <= row.p95_ms <= row.p99_ms == max(values)  # n < 100
        # Nearest rank: at least half the calls at or below p50, fewer than half below.
        assert sum(v <= row.p50_ms for v in values) * 2 >= n
        assert sum(v < row.p50_ms for v in values) * 2 < n
    assert any(v > 0 for values in by_kind.values() for v in values)

    # The finance view's cost of the problem is fed by the same rows.
    problem = problem_cost(loaded, period, assume)
    assert problem.today.billable_fen == cost.provider_fen
    assert problem.accounts == 9
    assert problem.today.stuck_accounts == 6  # everyone below the needed level
    assert problem.self_repair.name_variant == 2


def test_the_cli_prints_the_same_figures(seeded: Seeded) -> None:
    import json

    from typer.testing import CliRunner

    from realname.cli import app

    runner = CliRunner()
    url = seeded.settings.resolved_database_url
    today = seeded.today.isoformat()
    args = ["ops", "metrics", "--since", today, "--until", today, "--database-url", url]
    answer = runner.invoke(app, [*args, "--tenant", seeded.lender, "--json"])
    assert answer.exit_code == 0, answer.output
    body = json.loads(answer.output)
    assert [s["count"] for s in body["funnel"]["steps"]] == [9, 7, 3, 1, 1]
    assert body["funnel"]["decisions"] == {"decline": 1}
    assert body["cost"]["provider_fen"] == sum(a.billed_fen for a in seeded.answers)
    assert body["cost"]["review_cases"] == 1
    assert body["causes"]["counts"]["PROVIDER_UNAVAILABLE"] == [1]
    carrier = next(p for p in body["providers"] if p["check_kind"] == "carrier_three_element")
    assert carrier["errors"] == 1

    table = runner.invoke(app, args)
    assert table.exit_code == 0, table.output
    assert "Funnel" in table.output
    assert "credit_decision" in table.output
    assert "Provider health" in table.output

    backwards = runner.invoke(app, [*args[:2], "--since", "2026-02-01", "--until", "2026-01-01"])
    assert backwards.exit_code == 2
    assert "before it starts" in backwards.output
