from __future__ import annotations

import pytest

from realname.risk.errors import StepUpInvalid
from realname.risk.ledger import InMemoryStepUpLedger, StepUpLedger
from realname.risk.policy import decide, default_policy
from realname.risk.signals import Action, Factor
from tests.risk.conftest import quiet


def _challenge() -> tuple[StepUpLedger, str]:
    ledger = InMemoryStepUpLedger()
    decision = decide(quiet(sim_swap_recent=True), default_policy())
    assert decision.factors == (Factor.OTP, Factor.FACE)
    return ledger, ledger.open("user-1", decision)


def test_completing_all_factors_unlocks_once() -> None:
    ledger, challenge = _challenge()
    assert not ledger.consume(challenge, "user-1", Action.CREDIT_DRAWDOWN)
    assert ledger.complete(challenge, Factor.OTP) == {Factor.FACE}
    assert not ledger.consume(challenge, "user-1", Action.CREDIT_DRAWDOWN)
    assert ledger.complete(challenge, Factor.FACE) == frozenset()
    assert ledger.consume(challenge, "user-1", Action.CREDIT_DRAWDOWN)
    assert not ledger.consume(challenge, "user-1", Action.CREDIT_DRAWDOWN)
    with pytest.raises(StepUpInvalid):
        ledger.complete(challenge, Factor.FACE)


def test_grant_is_bound_to_subject_and_action() -> None:
    ledger, challenge = _challenge()
    ledger.complete(challenge, Factor.OTP)
    ledger.complete(challenge, Factor.FACE)
    assert not ledger.consume(challenge, "user-2", Action.CREDIT_DRAWDOWN)
    assert not ledger.consume(challenge, "user-1", Action.PAYOUT_CARD_CHANGE)
    assert ledger.consume(challenge, "user-1", Action.CREDIT_DRAWDOWN)


def test_unasked_factor_and_unknown_challenge() -> None:
    ledger, challenge = _challenge()
    with pytest.raises(StepUpInvalid):
        ledger.complete(challenge, Factor.BANK_CARD)
    with pytest.raises(StepUpInvalid):
        ledger.complete("nope", Factor.OTP)
    assert not ledger.consume("nope", "user-1", Action.CREDIT_DRAWDOWN)
