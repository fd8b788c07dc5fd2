"""Limit policy and decision: DTI known answers, thresholds, reasons ranked by points lost."""

from __future__ import annotations

import dataclasses

import pytest

from realname.authorities.sandbox.thirdparty import NO_RECORDS, derive_records
from realname.authorities.thirdparty import ContributionRecord, ThirdPartyRecords
from realname.credit.decision import Thresholds, band, decide, scorecard_reasons
from realname.credit.errors import StepsIncomplete
from realname.credit.features import Applicant
from realname.credit.limits import IdentitySignals, LimitPolicy, credit_limit, estimate_income
from realname.credit.scorecard import Contribution, default_scorecard
from realname.verification.levels import Level
from realname.verification.policy import default_policies

RECORDS = ThirdPartyRecords(
    social_security=ContributionRecord(36, 24, 1_000_000),
    housing_fund=ContributionRecord(30, 24, 800_000),
)
GOOD = Applicant(
    amount_fen=300_000,
    term_months=12,
    income_fen=1_200_000,
    expenses_fen=300_000,
    assets_fen=5_000_000,
    debt_fen=0,
    seniority_years=12,
    home="owner",
    job="fixed",
    marital="married",
    age=40,
    records=False,
)
POOR = dataclasses.replace(
    GOOD, seniority_years=0, home="other", job="partime", records=True, income_fen=200_000
)


def _limit(records: ThirdPartyRecords, **kwargs: object) -> int:
    arguments: dict[str, object] = {
        "declared_income_fen": 1_200_000,
        "debt_fen": 0,
        "term_months": 12,
        "records": records,
        "ceiling_fen": None,
        "signals": IdentitySignals(),
        "refer": False,
        "policy": LimitPolicy(annual_rate=0.0),
    }
    arguments.update(kwargs)
    return credit_limit(**arguments).limit_fen  # type: ignore[arg-type]


def test_income_proxy_from_contribution_base() -> None:
    policy = LimitPolicy()
    # Declared ¥12,000 against a ¥10,000 base: at most 1.2 × base counts.
    assert estimate_income(1_200_000, RECORDS, policy).monthly_fen == 1_200_000
    assert estimate_income(2_000_000, RECORDS, policy).monthly_fen == 1_200_000
    unverified = estimate_income(1_200_000, NO_RECORDS, policy)
    assert (unverified.monthly_fen, unverified.verified) == (600_000, False)


def test_dti_cap_known_answers() -> None:
    # ¥12,000 × 40 % = ¥4,800 a month; 12 months at 0 % → ¥57,600.
    assert _limit(RECORDS) == 5_760_000
    # Existing debt ¥24,000 over 12 months takes ¥2,000 of it → ¥2,800 × 12.
    assert _limit(RECORDS, debt_fen=2_400_000) == 3_360_000
    # 18 % flat for 12 months: 57,600 / 1.18 = 48,813.56 → rounded down to ¥48,800.
    assert _limit(RECORDS, policy=LimitPolicy()) == 4_880_000
    # Unverified income counts half; a refer halves again; a level ceiling caps it.
    assert _limit(NO_RECORDS) == 2_880_000
    assert _limit(RECORDS, refer=True) == 2_880_000
    assert _limit(RECORDS, ceiling_fen=500_000) == 500_000
    assert _limit(RECORDS, signals=IdentitySignals(recent_phone_change=True)) == 4_600_000
    assert _limit(RECORDS, debt_fen=100_000_000) == 0


def test_thresholds() -> None:
    t = Thresholds(approve_from=560, decline_below=480)
    assert (band(560, t), band(559, t), band(480, t), band(479, t)) == (
        "approve",
        "refer",
        "refer",
        "decline",
    )


def test_reasons_are_ranked_by_points_lost() -> None:
    contributions = (
        Contribution("records", 1, "{yes}", 2, 56),
        Contribution("job", 2, "{partime}", 16, 54),
        Contribution("home", 0, "{owner}", 55, 55),
        Contribution("seniority", 0, "(-inf, 0.50)", 22, 72),
    )
    reasons = scorecard_reasons(contributions, "en")
    assert [r.characteristic for r in reasons] == ["records", "seniority", "job"]
    assert [r.points_lost for r in reasons] == [54, 50, 38]
    assert reasons[0].code == "R10_ADVERSE_RECORDS"
    assert reasons[0].bin == "{yes}"
    assert scorecard_reasons(contributions, "zh-CN")[0].text == "存在不良信用记录"


def _decide(applicant: Applicant, level: Level = Level.L2, **kwargs: object) -> object:
    return decide(
        applicant,
        level=level,
        records=RECORDS,
        scorecard=default_scorecard(),
        book=default_policies(),
        **kwargs,  # type: ignore[arg-type]
    )


def test_a_good_applicant_is_approved_within_the_level_ceiling() -> None:
    decision = decide(
        GOOD,
        level=Level.L2,
        records=RECORDS,
        scorecard=default_scorecard(),
        book=default_policies(),
    )
    assert decision.outcome == "approve"
    assert decision.level_required is Level.L2
    assert decision.limit_fen == 500_000  # L2 ceiling: ¥5,000
    assert decision.reasons == ()
    assert not decision.review_available
    assert isinstance(decision.limit_fen, int)


def test_a_poor_applicant_is_declined_with_review_and_traceable_reasons() -> None:
    decision = decide(
        POOR,
        level=Level.L3,
        records=NO_RECORDS,
        scorecard=default_scorecard(),
        book=default_policies(),
        language="en",
    )
    assert decision.outcome == "decline"
    assert decision.limit_fen == 0
    assert decision.review_available
    scorecard_codes = [r for r in decision.reasons if r.source == "scorecard"]
    assert "R10_ADVERSE_RECORDS" in [r.code for r in scorecard_codes]
    lost = [r.points_lost for r in scorecard_codes]
    assert lost == sorted(lost, reverse=True)
    assert all(r.bin for r in scorecard_codes)


def test_a_large_amount_needs_l3() -> None:
    with pytest.raises(StepsIncomplete) as raised:
        decide(
            dataclasses.replace(GOOD, amount_fen=800_000),
            level=Level.L2,
            records=RECORDS,
            scorecard=default_scorecard(),
            book=default_policies(),
        )
    assert raised.value.details["needed"] == "L3"
    assert raised.value.code == "STEPS_INCOMPLETE"


def test_sandbox_records_are_deterministic_and_realistic() -> None:
    ids = [f"11010519900307{n:04d}" for n in range(2000)]
    records = [derive_records(i, seed=1) for i in ids]
    assert records == [derive_records(i, seed=1) for i in ids]
    social = [r.social_security for r in records if r.social_security]
    assert 0.6 < len(social) / len(ids) < 0.8
    assert all(
        0 < s.months_paid <= 36 and s.employer_continuity_months <= s.months_paid for s in social
    )
    assert all(300_000 <= s.base_fen <= 3_000_000 for s in social)
    housing = [r.housing_fund for r in records if r.housing_fund]
    assert 0 < len(housing) < len(social)
    assert all(h.employer_continuity_months <= h.months_paid for h in housing)
