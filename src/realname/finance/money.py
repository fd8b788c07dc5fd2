"""Decimal helpers: money is yuan rounded to the fen with ROUND_HALF_UP, never float.

Every amount the planner produces passes through :func:`fen`, so results are exact
to the fen and reproducible on any machine. Intermediate arithmetic runs in a local
context with 28 significant digits, which is far more than any plan needs.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import ROUND_HALF_UP, Decimal

FEN = Decimal("0.01")
RATIO = Decimal("0.0001")
PRECISION = 28
ZERO = Decimal(0)
ONE = Decimal(1)


def fen(amount: Decimal) -> Decimal:
    """Round *amount* (yuan) to the fen, half up, as Chinese banks do."""
    return amount.quantize(FEN, rounding=ROUND_HALF_UP)


def ratio(value: Decimal) -> Decimal:
    """Round a ratio (DSCR, LLCR, a rate) to four decimal places for display and tests."""
    return value.quantize(RATIO, rounding=ROUND_HALF_UP)


def total(amounts: Iterable[Decimal]) -> Decimal:
    """Sum of Decimals that is ``Decimal(0)`` (not ``int`` 0) for an empty input."""
    return sum(amounts, ZERO)
