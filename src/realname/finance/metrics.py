"""NPV, IRR, payback and rate conversion on Decimal cash flows.

Cash flow ``t`` falls at the end of period ``t``; flow 0 is undiscounted (the
textbook convention, unlike Excel ``NPV`` which discounts its first value too).

IRR is written here rather than taken from numpy-financial because that library
works in binary floating point; the planner keeps every amount in Decimal so that
results are exact to the fen and identical on every machine. Bisection is used
because it cannot diverge: for a conventional flow (outflows first, then inflows)
NPV falls monotonically with the rate, so the root is bracketed and halving the
bracket 200 times pins it far below 1e-20.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal, localcontext

from realname.finance.money import ONE, PRECISION, ZERO, fen

_IRR_LOW = Decimal("-0.9999")
_IRR_HIGH = Decimal(1000)
_IRR_STEPS = 200


def npv(rate: Decimal, flows: Sequence[Decimal]) -> Decimal:
    """Net present value of ``flows`` at the periodic ``rate``, rounded to the fen."""
    return fen(_npv(rate, flows))


def _npv(rate: Decimal, flows: Sequence[Decimal]) -> Decimal:
    with localcontext(prec=PRECISION):
        base = ONE + rate
        value = ZERO
        factor = ONE
        for flow in flows:
            value += flow / factor
            factor *= base
        return value


def irr(flows: Sequence[Decimal]) -> Decimal | None:
    """The periodic rate at which NPV is zero, or ``None`` if none lies in
    (-99.99 %, 100 000 %) or the flows never change sign."""
    if not any(f < 0 for f in flows) or not any(f > 0 for f in flows):
        return None
    low, high = _IRR_LOW, _IRR_HIGH
    npv_low = _npv(low, flows)
    npv_high = _npv(high, flows)
    if npv_low == 0:
        return low
    if (npv_low > 0) == (npv_high > 0):
        return None
    with localcontext(prec=PRECISION):
        for _ in range(_IRR_STEPS):
            mid = (low + high) / 2
            npv_mid = _npv(mid, flows)
            if npv_mid == 0:
                return mid
            if (npv_mid > 0) == (npv_low > 0):
                low, npv_low = mid, npv_mid
            else:
                high = mid
        return (low + high) / 2


def annualise(periodic_rate: Decimal, per_year: int) -> Decimal:
    """Effective annual rate: ``(1 + r) ** per_year - 1``."""
    with localcontext(prec=PRECISION):
        return (ONE + periodic_rate) ** per_year - ONE


def periodic(annual_rate: Decimal, per_year: int) -> Decimal:
    """Periodic rate equivalent to an effective annual rate: ``(1 + R) ** (1/n) - 1``."""
    with localcontext(prec=PRECISION):
        if per_year == 1:
            return annual_rate
        return (ONE + annual_rate) ** (ONE / per_year) - ONE


def payback(flows: Sequence[Decimal]) -> Decimal | None:
    """Periods until the cumulative flow turns non-negative for good, interpolated
    linearly inside the period in which it happens; ``None`` if it never does."""
    cumulative = ZERO
    previous = ZERO
    answer: Decimal | None = None
    for t, flow in enumerate(flows):
        previous, cumulative = cumulative, cumulative + flow
        if cumulative < 0:
            answer = None
        elif answer is None:
            if t == 0 or previous >= 0:
                answer = Decimal(t)
            else:
                with localcontext(prec=PRECISION):
                    answer = Decimal(t - 1) + (-previous / flow)
    return None if answer is None else answer.quantize(Decimal("0.01"))
