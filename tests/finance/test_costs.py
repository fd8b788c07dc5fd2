"""Cost of the problem: known answers from a small store, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from importlib.resources import files
from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker

from realname.finance import analyse, load_plan
from realname.finance.costs import (
    CheckRow,
    CostAssumptions,
    ResultRow,
    cost_of_problem,
    measure,
    parse_period,
    plan_with_measured_savings,
    savings_per_period,
)
from realname.store.models import Account, Cause, Tenant, VerificationCheck, VerificationResult

D = Decimal
EXAMPLE = Path(str(files("realname.finance") / "data" / "example_plan.yaml"))
START, END = date(2026, 1, 1), date(2026, 3, 31)
# 20 minutes at ¥45 an hour = ¥15.00 a case; ¥150 a lost customer; lost after 30 days.
ASSUME = CostAssumptions(
    review_minutes=20, review_rate_fen_per_hour=4500, margin_fen_per_customer=15000
)


def at(month: int, day: int, year: int = 2026) -> datetime:
    return datetime(year, month, day, 12, 0, tzinfo=UTC)


# account -> [(when, reached, needed, causes)]
HISTORY: dict[str, list[tuple[datetime, str, str, tuple[str, ...]]]] = {
    # stuck since Jan 10 (> 30 days before Mar 31): lost; its Feb 1 result is a review case
    "A": [
        (at(1, 10), "L1", "L2", ("NAME_ID_MISMATCH",)),
        (at(2, 1), "L1", "L2", ("NAME_ID_MISMATCH", "UNDER_REVIEW")),
    ],
    # stuck, but only since Mar 20: not lost
    "B": [(at(3, 20), "L0", "L1", ("PROVIDER_UNAVAILABLE",))],
    # outage, then the re-run verified it: self-repaired
    "C": [(at(1, 5), "L0", "L1", ("PROVIDER_UNAVAILABLE",)), (at(1, 6), "L1", "L1", ())],
    "D": [(at(2, 10), "L2", "L2", ("NAME_CHARACTER_VARIANT",))],  # self-repaired
    "E": [(at(2, 11), "L2", "L2", ("PHONE_PORTED",))],  # self-repaired
    "F": [(at(2, 12), "L2", "L2", ())],  # clean
    "G": [(at(2, 15), "L1", "L2", ("IDENTITY_IN_USE",))],  # stuck, review case, lost
    "H": [(at(12, 20, 2025), "L1", "L2", ("NAME_ID_MISMATCH",))],  # before the period
    "I": [(at(3, 1), "L3", "L2", ())],  # clean
}
# (when, billable, cost_fen)
CHECKS = [
    (at(1, 5), True, 30),
    (at(2, 1), True, 45),
    (at(3, 20), True, 100),
    (at(2, 12), False, 0),
    (datetime(2026, 4, 1, tzinfo=UTC), True, 999),  # first instant after the period
]


def rows() -> tuple[list[ResultRow], list[CheckRow]]:
    results = [
        ResultRow(f"{account}{i}", account, reached, needed, when, frozenset(causes))
        for account, history in HISTORY.items()
        for i, (when, reached, needed, causes) in enumerate(history)
        if START <= when.date() <= END
    ]
    checks = [CheckRow(b, c) for when, b, c in CHECKS if START <= when.date() <= END]
    return results, checks


def check_known_answers(costs_: object) -> None:
    from realname.finance.costs import CostOfProblem

    assert isinstance(costs_, CostOfProblem)
    c = costs_
    assert (c.results, c.accounts, c.days) == (10, 8, 90)
    t = c.today
    assert dict(t.stuck_by_cause) == {
        "IDENTITY_IN_USE": 1,
        "NAME_ID_MISMATCH": 1,
        "PROVIDER_UNAVAILABLE": 1,
        "UNDER_REVIEW": 1,
    }
    assert t.stuck_accounts == 3
    assert (t.billable_calls, t.billable_fen) == (3, 175)
    assert (t.review_cases, t.review_fen) == (2, 3000)
    assert (t.lost_applicants, t.lost_fen) == (2, 30000)
    assert t.total_fen == 33175
    r = c.self_repair
    assert (r.name_variant, r.phone_ported, r.provider_rerun) == (1, 1, 1)
    assert (r.repaired, r.problems, r.rate) == (3, 8, D("0.375"))
    # Under the upgrade, 62.5 % of each count remains, rounded half up.
    u = c.upgraded
    assert u.stuck_accounts == 2  # 1.875
    assert set(u.stuck_by_cause.values()) == {1}  # 0.625
    assert (u.review_cases, u.review_fen) == (1, 1500)  # 1.25
    assert (u.lost_applicants, u.lost_fen) == (1, 15000)
    assert (u.billable_calls, u.billable_fen) == (3, 175)
    assert u.total_fen == 16675
    assert c.savings_fen == 16500


def test_known_answers_from_plain_rows() -> None:
    results, checks = rows()
    check_known_answers(cost_of_problem(results, checks, START, END, ASSUME))


def test_latest_result_decides_and_order_does_not_matter() -> None:
    later = ResultRow("2", "X", "L2", "L2", at(2, 2))
    earlier = ResultRow("1", "X", "L1", "L2", at(2, 1), frozenset({"PROVIDER_UNAVAILABLE"}))
    c = cost_of_problem([later, earlier], [], START, END)
    assert c.today.stuck_accounts == 0
    assert c.self_repair.provider_rerun == 1
    # the outage result and its re-run both met the problem; one was repaired
    assert c.self_repair.rate == D("0.5")


def test_empty_store_costs_nothing() -> None:
    c = cost_of_problem([], [], START, END)
    assert c.today.total_fen == c.savings_fen == 0
    assert c.self_repair.rate == 0


def test_bad_inputs() -> None:
    with pytest.raises(ValueError, match="before it starts"):
        parse_period("2026-02-01:2026-01-01")
    with pytest.raises(ValueError, match="FROM:TO"):
        parse_period("2026-01-01")
    assert parse_period("2026-01-01:2026-12-31") == (date(2026, 1, 1), date(2026, 12, 31))
    with pytest.raises(ValueError, match="review_minutes"):
        CostAssumptions(review_minutes=-1)


def test_measured_savings_feed_the_plan() -> None:
    results, checks = rows()
    c = cost_of_problem(results, checks, START, END, ASSUME)
    # ¥165.00 over 90 days, per quarter of 365/4 days: 165 × 91.25 / 90
    assert savings_per_period(c, 4) == D("167.29")
    plan = plan_with_measured_savings(load_plan(EXAMPLE), c)
    assert len(plan.savings) == 1
    result = analyse(plan)
    assert result.savings[0] == 0
    assert set(result.savings[1:]) == {D("167.29")}


def populate(session: Session) -> None:
    tenant = Tenant(name="t")
    session.add(tenant)
    session.flush()
    accounts = {name: Account(tenant_id=tenant.id) for name in HISTORY}
    session.add_all(accounts.values())
    session.flush()
    for name, history in HISTORY.items():
        for when, reached, needed, causes in history:
            result = VerificationResult(
                account_id=accounts[name].id,
                level_reached=reached,
                level_needed=needed,
                created_at=when,
            )
            result.causes = [
                Cause(ordinal=i, code=code, severity="blocking") for i, code in enumerate(causes)
            ]
            session.add(result)
    for when, billable, cost in CHECKS:
        session.add(
            VerificationCheck(
                tenant_id=tenant.id,
                account_id=accounts["A"].id,
                check_kind="id2",
                provider="sandbox",
                outcome="consistent",
                billable=billable,
                cost_fen=cost,
                created_at=when,
            )
        )
    session.commit()


@pytest.mark.storage
def test_known_answers_from_the_store(session_factory: sessionmaker[Session]) -> None:
    with session_factory() as session:
        populate(session)
    with session_factory() as session:
        check_known_answers(measure(session, START, END, ASSUME))
