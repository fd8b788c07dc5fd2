"""Known answers for NPV, IRR, payback and rate conversion."""

from __future__ import annotations

from decimal import Decimal

import pytest

from realname.finance import annualise, irr, npv, payback, periodic

D = Decimal


def close(a: D | None, b: D, places: str = "0.000001") -> bool:
    return a is not None and abs(a - b) < D(places)


def test_irr_one_period() -> None:
    assert close(irr([D(-100), D(110)]), D("0.10"))


def test_irr_textbook() -> None:
    # Brealey-Myers style: -1000, then 500, 400, 300, 100 -> IRR 14.4888 %.
    assert close(irr([D(-1000), D(500), D(400), D(300), D(100)]), D("0.144888"), "0.000001")


def test_irr_excel_example() -> None:
    # Excel IRR help: -70000, 12000, 15000, 18000, 21000, 26000 -> 8.66 %.
    flows = [D(-70000), D(12000), D(15000), D(18000), D(21000), D(26000)]
    result = irr(flows)
    assert close(result, D("0.086631"), "0.000001")
    assert result is not None
    assert abs(npv(result, flows)) <= D("0.01")


def test_irr_none_without_sign_change() -> None:
    assert irr([D(100), D(10)]) is None
    assert irr([D(-100), D(-10)]) is None


def test_npv_textbook() -> None:
    # -1000 + 500/1.1 + 400/1.21 + 300/1.331 + 100/1.4641 = 78.82
    assert npv(D("0.10"), [D(-1000), D(500), D(400), D(300), D(100)]) == D("78.82")
    assert npv(D(0), [D(-5), D(2), D(4)]) == D("1.00")


def test_payback() -> None:
    assert payback([D(-1000), D(500), D(400), D(300), D(100)]) == D("2.33")
    assert payback([D(-100), D(100)]) == D("1.00")
    assert payback([D(-100), D(10)]) is None
    # Turns positive, dips again, recovers: payback counts the final recovery.
    assert payback([D(-100), D(150), D(-100), D(100)]) == D("2.50")


def test_rate_conversion_round_trips() -> None:
    monthly = periodic(D("0.12"), 12)
    assert close(annualise(monthly, 12), D("0.12"), "0.0000000001")
    assert periodic(D("0.08"), 1) == D("0.08")


@pytest.mark.parametrize("rate", [D("0.05"), D("0.2"), D("0.0035")])
def test_irr_recovers_loan_rate(rate: D) -> None:
    # A lender's flows on a level-payment loan have an IRR equal to the loan rate.
    from realname.finance import annuity_payment

    payment = annuity_payment(D(1_000_000), rate, 10)
    assert close(irr([D(-1_000_000)] + [payment] * 10), rate, "0.00001")
