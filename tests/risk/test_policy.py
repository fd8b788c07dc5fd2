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
    # The swap is not dated: counted as recent as well (unknown is never safe).
    assert decision.score == 25 + 30 + 25
    assert [reason.code for reason in decision.reasons] == [
        "SIM_SWAP_LAST_72H",
        "NEW_DEVICE",
        "SIM_SWAP_RECENT",
    ]
    assert decision.factors == (Factor.OTP, Factor.FACE)
    assert decision.step_up == (Factor.FACE,)


def test_a_swap_days_ago_weighs_less_than_one_this_morning() -> None:
    old_swap = decide(quiet(sim_swap_recent=True, sim_swap_hours=300), POLICY)
    assert codes(quiet(sim_swap_recent=True, sim_swap_hours=300)) == ["SIM_SWAP_RECENT"]
    assert old_swap.factors == (Factor.OTP,)  # the owner who replaced a lost card
    fresh = decide(quiet(sim_swap_recent=True, sim_swap_hours=5), POLICY)
    assert fresh.score == 25 + 30
    assert Factor.FACE in fresh.factors
    # hours without a swap mean nothing; a negative age is unknown, counted as recent
    assert codes(quiet(sim_swap_recent=False, sim_swap_hours=5)) == []
    negative = decide(quiet(sim_swap_recent=True, sim_swap_hours=-1), POLICY)
    assert [r.code for r in negative.reasons if r.unknown] == ["SIM_SWAP_LAST_72H"]


def test_a_relatives_phone_used_for_the_first_time_meets_face() -> None:
    first = quiet(device_known=False, device_of_relative=True, device_other_people=1)
    assert set(codes(first)) == {
        "NEW_DEVICE",
        "DEVICE_OF_RELATIVE",
        "RELATIVE_DEVICE_FIRST_USE",
        "DEVICE_OF_OTHER_PEOPLE",
    }
    assert Factor.FACE in decide(first, POLICY).factors
    login = decide(first.model_copy(update={"action": Action.LOGIN}), POLICY)
    assert Factor.FACE in login.factors
    # The family tablet the owner always uses: noted, but no step-up on its own.
    family = quiet(device_known=True, device_of_relative=True, device_other_people=1)
    assert set(codes(family)) == {"DEVICE_OF_RELATIVE", "DEVICE_OF_OTHER_PEOPLE"}
    assert not decide(family, POLICY).step_up_required
    assert not decide(family.model_copy(update={"action": Action.LOGIN}), POLICY).step_up_required
    # ...unless something else is off too, such as an old verification.
    stale = family.model_copy(update={"days_since_verification": 400.0})
    assert Factor.FACE in decide(stale, POLICY).factors


def test_a_device_used_by_many_people_is_a_farm() -> None:
    assert codes(quiet(device_other_people=1)) == ["DEVICE_OF_OTHER_PEOPLE"]
    farm = decide(quiet(device_other_people=12), POLICY)
    assert {r.code for r in farm.reasons} == {"DEVICE_FARM", "DEVICE_OF_OTHER_PEOPLE"}
    assert decide(quiet(Action.LOGIN, device_other_people=12), POLICY).factors == (Factor.OTP,)
    assert Factor.FACE in decide(quiet(device_other_people=12, device_known=False), POLICY).factors


def test_relationship_and_graph_signals_unknown_cost_nothing() -> None:
    # A platform without contact data or a device graph cannot blame every user for it.
    assert codes(quiet(device_of_relative=None, device_other_people=None)) == []


def test_typing_unlike_the_owner_needs_consent_and_steps_up() -> None:
    unlike = Behaviour(
        fill_seconds=60, paste_identity_fields=0, corrections=1, cadence_distance=4.2
    )
    assert codes(quiet(consent=True, behaviour=unlike)) == ["CADENCE_MISMATCH"]
    assert decide(quiet(Action.LOGIN, consent=True, behaviour=unlike), POLICY).factors == (
        Factor.OTP,
    )
    assert codes(quiet(consent=False, behaviour=unlike)) == []
    like = unlike.model_copy(update={"cadence_distance": 0.8})
    assert codes(quiet(consent=True, behaviour=like)) == []


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


def _at(code: str) -> int:
    return [rule.code for rule in POLICY.rules].index(code)


def _broken(mutate: Any) -> dict[str, Any]:
    data = copy.deepcopy(POLICY.model_dump(mode="json"))
    mutate(data)
    return data


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (
            lambda d: d["rules"][_at("NEW_DEVICE")].update(op="roughly"),
            f"rules.{_at('NEW_DEVICE')}[NEW_DEVICE].op",
        ),
        (
            lambda d: d["rules"][_at("NEW_DEVICE")].update(feature="shoe_size"),
            f"rules.{_at('NEW_DEVICE')}[NEW_DEVICE]",
        ),
        (
            lambda d: d["rules"][_at("HIGH_VELOCITY")].pop("value"),
            f"rules.{_at('HIGH_VELOCITY')}[HIGH_VELOCITY]",
        ),
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
