"""Debt schedules: 等额本息 (annuity), 等额本金 (equal principal) and bullet repayment.

Interest for a period is the opening balance times the periodic rate, rounded to the
fen. The annuity instalment is the textbook formula (Excel ``PMT``)::

    payment = P * r / (1 - (1 + r) ** -n)

evaluated in a 28-digit Decimal context and rounded to the fen. Because every
instalment is rounded, the last period repays whatever balance is left, so the
closing balance is exactly zero and the principal repayments add up exactly to the
amount borrowed. A grace period pays interest only, then the ``n`` repayment periods
follow. A 贴息 subsidy is the programme's share of each interest bill, rounded to the
fen; the borrower pays the rest.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, localcontext
from typing import Literal

from realname.finance.money import PRECISION, ZERO, fen, total

Style = Literal["annuity", "equal_principal", "bullet"]


@dataclass(frozen=True, slots=True)
class Row:
    """One period of a debt schedule; ``payment`` is what the borrower pays
    (interest − subsidy + principal)."""

    period: int
    opening: Decimal
    interest: Decimal
    subsidy: Decimal
    principal: Decimal
    payment: Decimal
    closing: Decimal


@dataclass(frozen=True, slots=True)
class DebtSchedule:
    name: str
    kind: str
    principal: Decimal
    periodic_rate: Decimal
    rows: tuple[Row, ...]

    @property
    def total_interest(self) -> Decimal:
        return total(r.interest for r in self.rows)

    @property
    def total_subsidy(self) -> Decimal:
        return total(r.subsidy for r in self.rows)

    @property
    def total_payment(self) -> Decimal:
        return total(r.payment for r in self.rows)


def annuity_payment(principal: Decimal, periodic_rate: Decimal, periods: int) -> Decimal:
    """Level instalment (Excel ``PMT`` with the sign flipped), rounded to the fen."""
    if periods < 1:
        raise ValueError("periods must be at least 1")
    with localcontext(prec=PRECISION):
        if periodic_rate == 0:
            return fen(principal / periods)
        factor = (1 + periodic_rate) ** -periods
        return fen(principal * periodic_rate / (1 - factor))


def debt_schedule(
    principal: Decimal,
    periodic_rate: Decimal,
    tenor: int,
    *,
    grace: int = 0,
    style: Style = "annuity",
    subsidy_share: Decimal = ZERO,
    name: str = "loan",
    kind: str = "loan",
) -> DebtSchedule:
    """The full schedule of a loan drawn at period 0 and repaid over periods 1..tenor."""
    if tenor < 1 or grace < 0 or grace >= tenor:
        raise ValueError("need tenor >= 1 and 0 <= grace < tenor")
    if not ZERO <= subsidy_share <= 1:
        raise ValueError("subsidy_share must lie between 0 and 1")
    principal = fen(principal)
    n = tenor - grace
    instalment = annuity_payment(principal, periodic_rate, n) if style == "annuity" else ZERO
    with localcontext(prec=PRECISION):
        level_principal = fen(principal / n)
    rows: list[Row] = []
    balance = principal
    for period in range(1, tenor + 1):
        with localcontext(prec=PRECISION):
            interest = fen(balance * periodic_rate)
            subsidy = fen(interest * subsidy_share)
        if period <= grace:
            repaid = ZERO
        elif period == tenor:
            repaid = balance
        elif style == "annuity":
            repaid = min(balance, max(ZERO, instalment - interest))
        elif style == "equal_principal":
            repaid = min(balance, level_principal)
        else:
            repaid = ZERO
        closing = balance - repaid
        rows.append(
            Row(
                period=period,
                opening=balance,
                interest=interest,
                subsidy=subsidy,
                principal=repaid,
                payment=interest - subsidy + repaid,
                closing=closing,
            )
        )
        balance = closing
    return DebtSchedule(
        name=name, kind=kind, principal=principal, periodic_rate=periodic_rate, rows=tuple(rows)
    )
