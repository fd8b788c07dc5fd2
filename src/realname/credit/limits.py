"""The limit policy (授信额度): policy, not learnt — credit_data has no 社保 or 公积金 fields.

1. Income proxy. A 社保 record with at least ``min_months`` paid gives a verified
   income: the larger of the 社保 and 公积金 contribution bases. The declared income
   counts up to ``declared_over_base`` times that base. Without a usable record the
   declared income counts at ``unverified_haircut``.
2. Debt-to-income cap. Monthly repayments (existing debt spread over
   ``existing_debt_months``, plus the new line at a flat ``annual_rate``) may take at
   most ``dti_cap`` of the income: limit = capacity × term / (1 + rate × term / 12).
3. Adjustments. Employer continuity under ``min_continuity_months`` and a phone held
   for less than ``min_phone_tenure_months`` (or changed recently) each scale the limit
   by ``instability_factor``; a refer band halves it. The limit never exceeds the
   ceiling of the product the user's verification level allows, and is rounded down
   to whole ¥100.
"""

from __future__ import annotations

from dataclasses import dataclass

from realname.authorities.thirdparty import ThirdPartyRecords


@dataclass(frozen=True, slots=True)
class LimitPolicy:
    dti_cap: float = 0.40
    annual_rate: float = 0.18
    existing_debt_months: int = 12
    min_months: int = 6
    min_continuity_months: int = 6
    declared_over_base: float = 1.2
    unverified_haircut: float = 0.5
    instability_factor: float = 0.8
    refer_factor: float = 0.5
    min_phone_tenure_months: int = 6
    rounding_fen: int = 10_000


@dataclass(frozen=True, slots=True)
class IdentitySignals:
    """Identity stability as the platform knows it; ``None`` fields are not penalised."""

    phone_tenure_months: int | None = None
    recent_phone_change: bool = False


@dataclass(frozen=True, slots=True)
class IncomeEstimate:
    monthly_fen: int
    verified: bool
    continuity_months: int | None


@dataclass(frozen=True, slots=True)
class Limit:
    limit_fen: int
    income: IncomeEstimate
    capacity_fen: int
    adjustments: tuple[str, ...]


def estimate_income(
    declared_fen: int | None, records: ThirdPartyRecords, policy: LimitPolicy
) -> IncomeEstimate:
    social, housing = records.social_security, records.housing_fund
    declared = declared_fen or 0
    if social is not None and social.months_paid >= policy.min_months:
        base = max(social.base_fen, housing.base_fen if housing else 0)
        income = min(declared, int(base * policy.declared_over_base)) if declared else base
        return IncomeEstimate(max(income, 0), True, social.employer_continuity_months)
    return IncomeEstimate(int(declared * policy.unverified_haircut), False, None)


def credit_limit(
    *,
    declared_income_fen: int | None,
    debt_fen: int | None,
    term_months: int,
    records: ThirdPartyRecords,
    ceiling_fen: int | None,
    signals: IdentitySignals,
    refer: bool,
    policy: LimitPolicy,
) -> Limit:
    income = estimate_income(declared_income_fen, records, policy)
    existing = (debt_fen or 0) // policy.existing_debt_months
    capacity = max(int(income.monthly_fen * policy.dti_cap) - existing, 0)
    limit = capacity * term_months / (1 + policy.annual_rate * term_months / 12)
    adjustments = []
    if not income.verified:
        adjustments.append("INCOME_UNVERIFIED")
    elif (income.continuity_months or 0) < policy.min_continuity_months:
        adjustments.append("SHORT_EMPLOYMENT")
        limit *= policy.instability_factor
    tenure = signals.phone_tenure_months
    if signals.recent_phone_change or (
        tenure is not None and tenure < policy.min_phone_tenure_months
    ):
        adjustments.append("IDENTITY_UNSTABLE")
        limit *= policy.instability_factor
    if refer:
        limit *= policy.refer_factor
    whole = int(limit) // policy.rounding_fen * policy.rounding_fen
    if ceiling_fen is not None and whole > ceiling_fen:
        adjustments.append("LEVEL_CEILING")
        whole = ceiling_fen
    return Limit(whole, income, capacity, tuple(adjustments))
