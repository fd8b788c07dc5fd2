from __future__ import annotations

import pytest

from realname.risk.policy import MODEL_SCORE, decide, default_policy, parse_policy
from realname.risk.sessions import Label, generate_sessions
from realname.risk.signals import Signals
from tests.risk.conftest import quiet

pytest.importorskip("sklearn")


def test_trained_model_adds_to_rules() -> None:
    from realname.risk.model import train_model

    sessions = list(generate_sessions(1500, seed=9))
    model = train_model(sessions)
    attacks = [s.signals for s in sessions if s.label == Label.SIM_SWAP_TAKEOVER]
    assert sum(model.probability(s) for s in attacks) / len(attacks) > 0.7
    assert model.probability(quiet()) < 0.3

    policy = parse_policy({**default_policy().model_dump(mode="json"), "model_weight": 50})
    signals: Signals = attacks[0]
    codes = [reason.code for reason in decide(signals, policy, model).reasons]
    assert MODEL_SCORE in codes
    assert codes != [MODEL_SCORE]  # the rule reasons are still listed
