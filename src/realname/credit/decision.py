"""Approve, refer or decline one application: a pure function over plain data.

The scorecard's score sets the band (``approve_from`` and above, ``decline_below``
under, refer between); the limit policy (:mod:`realname.credit.limits`) sets the
credit limit; the policy book sets the verification level the amount needs. Reasons
are adverse-action style: the characteristics that lost the most points against their
best bin, each traceable to the bin it fell in, then the policy reasons. An automated
decline offers human review (PIPL Art. 24).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any, Literal

import yaml

from realname.authorities.thirdparty import ThirdPartyRecords
from realname.credit.errors import StepsIncomplete
from realname.credit.features import Applicant, features_of
from realname.credit.limits import IdentitySignals, LimitPolicy, credit_limit
from realname.credit.scorecard import Contribution, Scorecard
from realname.verification.levels import Level
from realname.verification.policy import PolicyBook

Outcome = Literal["approve", "refer", "decline"]
Language = Literal["zh-CN", "en"]


@dataclass(frozen=True, slots=True)
class Thresholds:
    approve_from: int = 560
    decline_below: int = 480
    max_reasons: int = 4


@dataclass(frozen=True, slots=True)
class Reason:
    code: str
    text: str
    source: Literal["scorecard", "policy"]
    characteristic: str | None = None
    bin: str | None = None
    points_lost: int = 0


@dataclass(frozen=True, slots=True)
class Decision:
    outcome: Outcome
    score: int
    pd: float
    limit_fen: int
    level_required: Level
    product: str
    reasons: tuple[Reason, ...]
    review_available: bool
    income_verified: bool
    model_version: str


@cache
def reason_catalogue() -> dict[str, Any]:
    text = resources.files("realname.credit").joinpath("data/reasons.yaml").read_text("utf-8")
    catalogue: dict[str, Any] = yaml.safe_load(text)
    return catalogue


def band(score: int, thresholds: Thresholds) -> Outcome:
    if score >= thresholds.approve_from:
        return "approve"
    if score < thresholds.decline_below:
        return "decline"
    return "refer"


def scorecard_reasons(contributions: tuple[Contribution, ...], language: Language) -> list[Reason]:
    """Characteristics that lost points, most lost first (ties by name, for stability)."""
    entries = reason_catalogue()["scorecard"]
    lost = sorted(
        (c for c in contributions if c.points_lost > 0),
        key=lambda c: (-c.points_lost, c.characteristic),
    )
    return [
        Reason(
            code=entries[c.characteristic]["code"],
            text=entries[c.characteristic][language],
            source="scorecard",
            characteristic=c.characteristic,
            bin=c.bin_label,
            points_lost=c.points_lost,
        )
        for c in lost
    ]


def policy_reason(code: str, language: Language) -> Reason:
    return Reason(code=code, text=reason_catalogue()["policy"][code][language], source="policy")


def ceiling_for(level: Level, book: PolicyBook) -> int | None:
    """The largest amount a user at ``level`` may hold: the bound of the last tier allowed."""
    ceiling: int | None = 0
    for tier in book.credit_tiers:
        product = book.products[tier]
        if product.level <= level:
            ceiling = product.max_amount_fen
    return ceiling


def decide(
    applicant: Applicant,
    *,
    level: Level,
    records: ThirdPartyRecords,
    scorecard: Scorecard,
    book: PolicyBook,
    signals: IdentitySignals | None = None,
    thresholds: Thresholds | None = None,
    limits: LimitPolicy | None = None,
    language: Language = "zh-CN",
) -> Decision:
    """The decision; :class:`StepsIncomplete` when the user's level is below the amount's."""
    thresholds = thresholds or Thresholds()
    product = book.for_credit_amount(applicant.amount_fen)
    if level < product.level:
        raise StepsIncomplete(needed=str(product.level), level=str(level), product=product.name)
    scored = scorecard.score(features_of(applicant))
    outcome = band(scored.score, thresholds)
    limit = credit_limit(
        declared_income_fen=applicant.income_fen,
        debt_fen=applicant.debt_fen,
        term_months=applicant.term_months,
        records=records,
        ceiling_fen=ceiling_for(level, book),
        signals=signals or IdentitySignals(),
        refer=outcome == "refer",
        policy=limits or LimitPolicy(),
    )
    policy_codes = list(limit.adjustments)
    if outcome != "decline" and applicant.amount_fen > limit.limit_fen:
        policy_codes.append("DTI_EXCEEDED")
        outcome = "decline" if limit.limit_fen == 0 else "refer"
    limit_fen = 0 if outcome == "decline" else limit.limit_fen
    reasons: list[Reason] = []
    if outcome != "approve":
        reasons = scorecard_reasons(scored.contributions, language)[: thresholds.max_reasons]
        reasons += [policy_reason(code, language) for code in policy_codes]
    return Decision(
        outcome=outcome,
        score=scored.score,
        pd=scored.pd,
        limit_fen=limit_fen,
        level_required=product.level,
        product=product.name,
        reasons=tuple(reasons),
        review_available=outcome == "decline",
        income_verified=limit.income.verified,
        model_version=scorecard.version,
    )
