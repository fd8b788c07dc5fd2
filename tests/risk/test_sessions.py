from __future__ import annotations

import io
import json
from collections import Counter
from collections.abc import Callable

import pytest

from realname.risk.errors import SessionsInvalid
from realname.risk.sessions import (
    DEFAULT_MIX,
    Label,
    generate_sessions,
    read_sessions,
    write_sessions,
)
from realname.risk.signals import Signals


def test_same_seed_same_sessions() -> None:
    assert list(generate_sessions(200, seed=3)) == list(generate_sessions(200, seed=3))
    assert list(generate_sessions(200, seed=3)) != list(generate_sessions(200, seed=4))


def test_label_shares_follow_the_mix() -> None:
    counts = Counter(session.label for session in generate_sessions(5000, seed=1))
    for label, share in DEFAULT_MIX.items():
        assert counts[label] / 5000 == pytest.approx(share, abs=0.015)


def test_attack_signals_look_like_their_attack() -> None:
    sessions = list(generate_sessions(4000, seed=2))

    def share(label: Label, predicate: Callable[[Signals], object]) -> float:
        chosen = [s.signals for s in sessions if s.label == label]
        return sum(1 for s in chosen if predicate(s)) / len(chosen)

    assert share(Label.SIM_SWAP_TAKEOVER, lambda s: s.sim_swap_recent) > 0.9
    assert share(Label.LEGIT, lambda s: s.sim_swap_recent) < 0.05
    assert share(Label.CREDENTIAL_STUFFING, lambda s: s.action == "login") > 0.8
    assert share(Label.SYNTHETIC_IDENTITY, lambda s: s.network_tenure == "0-3") > 0.6


def test_no_risky_signal_is_drawn_for_attacks_only() -> None:
    """Every account-history signal also shows up for legitimate users (family
    tablets, second-hand phones, a lost SIM, a bad typing day), so the policy
    cannot win by reading a label the generator leaked into the features."""
    sessions = list(generate_sessions(20_000, seed=9))
    legit = [s.signals for s in sessions if s.label == Label.LEGIT]

    def share(predicate: Callable[[Signals], object]) -> float:
        return sum(1 for s in legit if predicate(s)) / len(legit)

    assert 0.02 < share(lambda s: s.device_of_relative) < 0.08
    assert 0.02 < share(lambda s: (s.device_other_people or 0) >= 1) < 0.15
    assert share(lambda s: s.device_of_relative and not s.device_known) > 0.0
    assert 0.002 < share(lambda s: (s.sim_swap_hours or 999) < 72) < 0.01
    assert (
        share(lambda s: s.behaviour is not None and (s.behaviour.cadence_distance or 0) >= 3)
        > 0.002
    )
    relatives = [s.signals for s in sessions if s.label == Label.RELATIVE_MISUSE]
    # and attacks do not always show them: a relative on a borrowed phone looks new
    assert any(not s.device_of_relative for s in relatives)
    assert any(s.behaviour is not None and s.behaviour.cadence_distance is None for s in relatives)


def test_round_trip_through_jsonl() -> None:
    sessions = list(generate_sessions(50, seed=5))
    out = io.StringIO()
    assert write_sessions(sessions, out) == 50
    assert read_sessions(out.getvalue().splitlines()) == sessions


GOOD = json.dumps({"label": "legit", "signals": {"action": "login"}})


@pytest.mark.parametrize(
    ("bad", "field"),
    [
        ("{not json", "(line)"),
        (json.dumps({"label": "alien", "signals": {"action": "login"}}), "label"),
        (json.dumps({"label": "legit"}), "signals"),
        (json.dumps({"label": "legit", "signals": {"action": "fly"}}), "signals.action"),
        (
            json.dumps({"label": "legit", "signals": {"action": "login", "device_count": "x"}}),
            "signals.device_count",
        ),
        (
            json.dumps({"label": "legit", "signals": {"action": "login", "shoe": 1}}),
            "signals.shoe",
        ),
    ],
)
def test_malformed_line_names_line_and_field(bad: str, field: str) -> None:
    with pytest.raises(SessionsInvalid) as caught:
        read_sessions([GOOD, "", bad, GOOD])
    assert caught.value.details == {"line": 3, "field": field}
    assert "line 3" in caught.value.message
