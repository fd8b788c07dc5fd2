"""Properties of :func:`decide` over arbitrary signals, and its cost per request."""

from __future__ import annotations

import time

from hypothesis import given
from hypothesis import strategies as st

from realname.risk.policy import decide, default_policy
from realname.risk.sessions import generate_sessions
from realname.risk.signals import Action, Behaviour, Factor, Signals, Velocity

POLICY = default_policy()
counts = st.none() | st.integers(min_value=-5, max_value=500)
signals = st.builds(
    Signals,
    action=st.sampled_from(Action),
    device_id=st.none() | st.text(max_size=40),
    device_known=st.none() | st.booleans(),
    device_count=counts,
    ip_province=st.none() | st.sampled_from(["北京市", "广东", "火星"]),
    phone_home_province=st.none() | st.sampled_from(["北京市", "广东省"]),
    sim_swap_recent=st.none() | st.booleans(),
    network_tenure=st.none() | st.sampled_from(["0-3", "3-6", "6-12", "12-24", "24+"]),
    velocity=st.builds(Velocity, ip_1h=counts, phone_24h=counts),
    days_since_verification=st.none() | st.floats(min_value=-10, max_value=1e4),
    consent=st.booleans(),
    behaviour=st.none() | st.builds(Behaviour, fill_seconds=st.none() | st.floats(-1, 1e3)),
)


@given(signals)
def test_decisions_are_well_formed(request: Signals) -> None:
    decision = decide(request, POLICY)
    assert decision.score == sum(reason.score for reason in decision.reasons)
    assert decision.score >= 0
    assert set(POLICY.actions[request.action].baseline) <= set(decision.factors)
    assert set(decision.step_up) <= set(decision.factors)
    scores = [reason.score for reason in decision.reasons]
    assert scores == sorted(scores, reverse=True)


def _strength(request: Signals) -> int:
    factors = decide(request, POLICY).factors
    return max((list(Factor).index(factor) + 1 for factor in factors), default=0)


@given(signals)
def test_more_risk_never_means_a_weaker_factor(request: Signals) -> None:
    riskier = request.model_copy(update={"sim_swap_recent": True})
    assert _strength(riskier) >= _strength(request)


def test_decision_costs_well_under_a_millisecond() -> None:
    requests = [session.signals for session in generate_sessions(2000, seed=1)]
    start = time.perf_counter()
    for request in requests:
        decide(request, POLICY)
    assert (time.perf_counter() - start) / len(requests) < 0.001
