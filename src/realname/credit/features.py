"""Scorecard characteristics and how application fields map onto ``credit_data``'s columns.

``credit_data`` (R package *modeldata*; 4,454 consumer loans from a Spanish lender) has
unknown currency units, so money enters the scorecard only as unit-free ratios: the
same ratio computed from an application in fen means the same thing as in the data.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

Home = Literal["owner", "rent", "parents", "priv", "other", "ignore"]
Job = Literal["fixed", "freelance", "partime", "others"]
Marital = Literal["married", "single", "separated", "widow", "divorced"]

CATEGORICAL: tuple[str, ...] = ("home", "marital", "records", "job")
NUMERIC: tuple[str, ...] = (
    "seniority",
    "time",
    "age",
    "amount_to_price",
    "expenses_to_income",
    "amount_to_income",
    "debt_to_income",
    "assets_to_income",
)
CANDIDATES: tuple[str, ...] = NUMERIC + CATEGORICAL

FeatureValue = float | str | None


@dataclass(frozen=True, slots=True)
class Applicant:
    """What the applicant declares; money in fen, income and expenses per month."""

    amount_fen: int
    term_months: int
    income_fen: int | None
    expenses_fen: int
    assets_fen: int | None
    debt_fen: int | None
    seniority_years: int
    home: str | None
    job: str | None
    marital: str | None
    age: int
    records: bool
    price_fen: int | None = None


def _ratio(numerator: float | None, denominator: float | None) -> float | None:
    """``numerator / denominator``; ``None`` (the Missing bin) when undefined."""
    if numerator is None or denominator is None or denominator == 0:
        return None
    value = numerator / denominator
    return value if math.isfinite(value) else None


def ratios(
    *,
    amount: float,
    price: float,
    income: float | None,
    expenses: float,
    assets: float | None,
    debt: float | None,
) -> dict[str, float | None]:
    """The unit-free money characteristics, shared by training and scoring."""
    return {
        "amount_to_price": _ratio(amount, price),
        "expenses_to_income": _ratio(expenses, income),
        "amount_to_income": _ratio(amount, income),
        "debt_to_income": _ratio(debt, income),
        "assets_to_income": _ratio(assets, income),
    }


def features_of(applicant: Applicant) -> dict[str, FeatureValue]:
    """The scorecard's inputs for one application (``Time`` is the term in months)."""
    features: dict[str, FeatureValue] = {
        "seniority": float(applicant.seniority_years),
        "time": float(applicant.term_months),
        "age": float(applicant.age),
        "home": applicant.home,
        "marital": applicant.marital,
        "records": "yes" if applicant.records else "no",
        "job": applicant.job,
    }
    features.update(
        ratios(
            amount=applicant.amount_fen,
            # A credit line finances no single purchase: the amount is the price.
            price=applicant.price_fen or applicant.amount_fen,
            income=applicant.income_fen,
            expenses=applicant.expenses_fen,
            assets=applicant.assets_fen,
            debt=applicant.debt_fen,
        )
    )
    return features
