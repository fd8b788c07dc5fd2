from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from realname.risk import assess
from realname.risk.errors import PolicyInvalid
from realname.risk.policy import (
    MODEL_SCORE,
    decide,
    default_policy,
    explain,
    load_policy,
    parse_policy,
    reason_texts,
)
from realname.risk.signals import Action, Behaviour, Factor, Signals
from tests.risk.conftest import quiet

POLICY = default_policy()


def codes(signals: Signals) -> list[str]:
    return [reason.code for reason in decide(signals, POLICY).reasons]


def test_quiet_request_scores_zero_and_keeps_baseline() -> None:
    decision = decide(quiet(), POLICY)
    assert decision.score == 0
    assert decision.reasons == ()
    assert decision.factors == (Factor.OTP,)  # credit draw-down always asks an OTP
    assert not decision.step_up_required


def test_sim_swap_on_new_device_meets_face() -> None:
    decision = decide(quiet(sim_swap_recent=True, device_known=False), POLICY)
    assert decision.score == 45 + 25
    assert [reason.code for reason in decision.reasons] == ["SIM_SWAP_RECENT", "NEW_DEVICE"]
    assert decision.factors == (Factor.OTP, Factor.FACE)
    assert decision.step_up == (Factor.FACE,)


@pytest.mark.parametrize(
    ("changes", "code", "score"),
    [
        ({"device_known": False}, "NEW_DEVICE", 25),
        ({"device_count": 5}, "MANY_DEVICES", 10),
        ({"network_tenure": "0-3"}, "NEW_SIM", 15),
        ({"ip_province": "北京市"}, "IP_PROVINCE_MISMATCH", 15),
        ({"velocity": {"ip_1h": 8, "ip_24h": 9}}, "HIGH_VELOCITY", 30),
        ({"velocity": {"ip_1h": 1, "device_24h": 12}}, "ELEVATED_VELOCITY", 15),
        ({"days_since_verification": 400}, "LONG_SINCE_VERIFIED", 15),
    ],
)
def test_each_rule_alone(changes: dict[str, Any], code: str, score: int) -> None:
    decision = decide(quiet(**changes), POLICY)
    assert [reason.code for reason in decision.reasons] == [code]
    assert decision.score == score


def test_new_device_weighs_less_at_login() -> None:
    decision = decide(quiet(Action.LOGIN, device_known=False), POLICY)
    assert decision.score == 20


def test_unknown_is_never_safe() -> None:
    decision = decide(Signals(action=Action.PAYOUT_CARD_CHANGE), POLICY)
    unknown = {reason.code for reason in decision.reasons if reason.unknown}
    assert {"SIM_SWAP_RECENT", "NEW_DEVICE", "LONG_SINCE_VERIFIED"} <= unknown
    assert Factor.FACE in decision.factors
    # Behaviour rules skip when there is nothing to read: refusing consent costs nothing.
    assert "PASTED_IDENTITY" not in unknown


def test_behaviour_rules_only_with_consent() -> None:
    hasty = Behaviour(fill_seconds=2, paste_identity_fields=1, corrections=9)
    consented = codes(quiet(consent=True, behaviour=hasty))
    assert consented == ["INHUMAN_FILL_TIME", "MANY_CORRECTIONS", "PASTED_IDENTITY"]
    refused = decide(quiet(consent=False, behaviour=hasty), POLICY)
    assert refused.reasons == ()
    assert refused.notes == ("BEHAVIOUR_IGNORED_NO_CONSENT",)


@pytest.mark.parametrize(
    ("action", "score", "expected"),
    [
        (Action.LOGIN, 0, ()),
        (Action.LOGIN, 30, (Factor.OTP,)),
        (Action.LOGIN, 60, (Factor.OTP, Factor.FACE)),
        (Action.VERIFICATION, 29, ()),
        (Action.VERIFICATION, 45, (Factor.BANK_CARD,)),
        (Action.VERIFICATION, 70, (Factor.BANK_CARD, Factor.FACE)),
        (Action.CREDIT_DRAWDOWN, 39, (Factor.OTP,)),
        (Action.CREDIT_DRAWDOWN, 40, (Factor.OTP, Factor.FACE)),
        (Action.PHONE_CHANGE, 40, (Factor.OTP, Factor.FACE)),
        (Action.PAYOUT_CARD_CHANGE, 39, (Factor.OTP,)),
    ],
)
def test_thresholds_per_action(action: Action, score: int, expected: tuple[Factor, ...]) -> None:
    # One synthetic rule on a feature every request has, worth exactly `score`.
    data = POLICY.model_dump(mode="json")
    data["rules"] = [
        {"code": "NEW_DEVICE", "feature": "new_device", "op": "is_false", "score": score}
    ]
    policy = parse_policy(data)
    assert decide(quiet(action), policy).factors == expected


class ConstantModel:
    def __init__(self, value: float) -> None:
        self.value = value

    def probability(self, signals: Signals) -> float:
        return self.value


def test_model_adds_a_score_but_never_hides_rules() -> None:
    policy = parse_policy({**POLICY.model_dump(mode="json"), "model_weight": 40})
    decision = decide(quiet(device_known=False), policy, ConstantModel(0.5))
    assert [reason.code for reason in decision.reasons] == ["NEW_DEVICE", MODEL_SCORE]
    assert decision.score == 45
    assert decide(quiet(device_known=False), POLICY, ConstantModel(1.0)).score == 25


def test_reasons_have_texts_in_both_languages() -> None:
    for code in [rule.code for rule in POLICY.rules] + [MODEL_SCORE]:
        assert explain(code, "zh-CN")
        assert explain(code, "en")
    assert set(reason_texts()) >= {"NEW_DEVICE", "SIM_SWAP_RECENT", "PASTED_IDENTITY"}


def test_assess_uses_the_given_action_and_locates() -> None:
    signals = quiet(Action.LOGIN, ip="202.106.0.20", ip_province=None, device_known=False)
    decision = assess(Action.PAYOUT_CARD_CHANGE, signals)
    assert decision.action == Action.PAYOUT_CARD_CHANGE
    assert [reason.code for reason in decision.reasons] == ["NEW_DEVICE", "IP_PROVINCE_MISMATCH"]
    assert decision.factors == (Factor.OTP, Factor.FACE)


def _broken(mutate: Any) -> dict[str, Any]:
    data = copy.deepcopy(POLICY.model_dump(mode="json"))
    mutate(data)
    return data


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (lambda d: d["rules"][1].update(op="roughly"), "rules.1[NEW_DEVICE].op"),
        (lambda d: d["rules"][1].update(feature="shoe_size"), "rules.1[NEW_DEVICE]"),
        (lambda d: d["rules"][6].pop("value"), "rules.6[HIGH_VELOCITY]"),
        (lambda d: d["rules"][0].update(score=-1), "rules.0[SIM_SWAP_RECENT].score"),
        (lambda d: d["actions"].pop("login"), "(file)"),
        (lambda d: d["actions"]["login"]["steps"][0].update(factors=["dna"]), "actions.login"),
        (lambda d: d.update(version=2), "version"),
        (lambda d: d.update(extra=1), "extra"),
    ],
)
def test_bad_policies_name_the_field(mutate: Any, field: str) -> None:
    with pytest.raises(PolicyInvalid) as caught:
        parse_policy(_broken(mutate))
    assert caught.value.details["field"].startswith(field)


def test_rule_without_catalogue_text_is_refused() -> None:
    data = _broken(lambda d: d["rules"][0].update(code="MADE_UP"))
    with pytest.raises(PolicyInvalid, match="MADE_UP"):
        parse_policy(data)


def test_load_policy_file(tmp_path: Path) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text(yaml.safe_dump(POLICY.model_dump(mode="json")), encoding="utf-8")
    assert load_policy(path) == POLICY
    path.write_text("rules: [", encoding="utf-8")
    with pytest.raises(PolicyInvalid, match="unreadable"):
        load_policy(path)
