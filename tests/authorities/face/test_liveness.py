"""Active liveness: challenges, replays, flat pictures, actions and their order.

The live sequences are synthetic (landmark-driven warps of real photographs, see
``synthetic.py``); the replays are the portraits moved as flat prints.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from realname.authorities.face import (
    Action,
    Challenge,
    ChallengeOutcome,
    ChallengeStore,
    DlibEngine,
    InMemoryChallengeStore,
    LivenessReason,
    LivenessThresholds,
    QualityReason,
    assess_passive,
    evaluate,
    issue_challenge,
    live_sequence,
    replay_sequence,
    synthetic,
)
from realname.authorities.face.portraits import _live_base, no_face_frame

NOW = datetime(2026, 12, 1, 9, 30, tzinfo=UTC)
B, L, R, M = Action.BLINK, Action.TURN_LEFT, Action.TURN_RIGHT, Action.OPEN_MOUTH


def _challenge(store: InMemoryChallengeStore, actions: tuple[Action, ...]) -> Challenge:
    challenge = Challenge(
        nonce=f"test-{'-'.join(actions)}-{len(store)}",
        actions=actions,
        issued_at=NOW,
        expires_at=NOW + timedelta(minutes=2),
    )
    store.save(challenge)
    return challenge


# ------------------------------------------------------------------------ challenges


def test_challenges_are_two_or_three_distinct_actions_with_an_expiry() -> None:
    rng = random.Random(5)
    seen_orders = set()
    for _ in range(60):
        challenge = Challenge.issue(now=NOW, rng=rng)
        assert 2 <= len(challenge.actions) <= 3
        assert len(set(challenge.actions)) == len(challenge.actions)
        assert challenge.expires_at - challenge.issued_at == timedelta(minutes=2)
        seen_orders.add(challenge.actions)
    assert len(seen_orders) > 20  # the order really is random
    assert Challenge.issue(now=NOW, rng=random.Random(1)) == Challenge.issue(
        now=NOW, rng=random.Random(1)
    )


def test_production_nonces_come_from_the_system_csprng() -> None:
    nonces = {Challenge.issue().nonce for _ in range(50)}
    assert len(nonces) == 50
    assert all(len(nonce) >= 24 for nonce in nonces)


def test_the_store_spends_a_nonce_once() -> None:
    store = InMemoryChallengeStore()
    assert isinstance(store, ChallengeStore)
    challenge = issue_challenge(store, now=NOW)
    assert store.consume(challenge, now=NOW) is ChallengeOutcome.ACCEPTED
    assert store.consume(challenge, now=NOW) is ChallengeOutcome.REPLAYED
    late = issue_challenge(store, now=NOW)
    assert store.consume(late, now=late.expires_at) is ChallengeOutcome.EXPIRED
    assert store.consume(late, now=NOW) is ChallengeOutcome.REPLAYED  # spent all the same
    never_issued = Challenge.issue(now=NOW)
    assert store.consume(never_issued, now=NOW) is ChallengeOutcome.UNKNOWN
    altered = issue_challenge(store, now=NOW)
    forged = Challenge(altered.nonce, altered.actions[:1], altered.issued_at, altered.expires_at)
    assert store.consume(forged, now=NOW) is ChallengeOutcome.UNKNOWN
    with pytest.raises(ValueError, match="already issued"):
        store.save(altered)


def test_a_replayed_challenge_fails(engine: DlibEngine) -> None:
    store = InMemoryChallengeStore()
    challenge = _challenge(store, (B, L))
    frames = live_sequence("p1", challenge.actions)
    first = evaluate(challenge, frames, store=store, now=NOW, engine=engine)
    assert first.passed
    again = evaluate(challenge, frames, store=store, now=NOW, engine=engine)
    assert not again.passed
    assert again.reason is LivenessReason.CHALLENGE_REPLAYED
    assert (again.live_status, again.liveness_info_tag) == (14, None)


def test_an_expired_challenge_fails(engine: DlibEngine) -> None:
    store = InMemoryChallengeStore()
    challenge = _challenge(store, (B, L))
    result = evaluate(
        challenge,
        live_sequence("p1", challenge.actions),
        store=store,
        now=NOW + timedelta(minutes=2, seconds=1),
        engine=engine,
    )
    assert result.reason is LivenessReason.CHALLENGE_EXPIRED
    assert result.live_status == 15
    assert not result.frames  # nothing was even looked at


def test_an_unknown_challenge_fails() -> None:
    result = evaluate(Challenge.issue(now=NOW), [], store=InMemoryChallengeStore(), now=NOW)
    assert result.reason is LivenessReason.CHALLENGE_UNKNOWN


# -------------------------------------------------------------------- flat replays


@pytest.mark.parametrize("person", ["p1", "p2", "p3"])
def test_a_photo_moved_as_a_plane_is_a_flat_replay(engine: DlibEngine, person: str) -> None:
    store = InMemoryChallengeStore()
    challenge = _challenge(store, (L, B))
    result = evaluate(challenge, replay_sequence(person), store=store, now=NOW, engine=engine)
    assert not result.passed
    assert result.reason is LivenessReason.FLAT_REPLAY
    assert (result.live_status, result.liveness_info_tag) == (1002, "03")
    assert result.tencent_code.billable
    # The evidence: the picture did move, every frame fits one plane, nothing bent.
    assert max(m.motion for m in result.frames) > 0.1
    assert max(m.planar_residual for m in result.frames) < 0.045
    assert not any(m.is_non_rigid(LivenessThresholds()) for m in result.frames)


# -------------------------------------------------------------------------- actions


@pytest.mark.parametrize(
    ("person", "actions"),
    [("p1", (B, L)), ("p2", (M, R, B)), ("p3", (R, M, L))],
)
def test_the_challenged_actions_in_order_pass(
    engine: DlibEngine, person: str, actions: tuple[Action, ...]
) -> None:
    store = InMemoryChallengeStore()
    challenge = _challenge(store, actions)
    result = evaluate(
        challenge, live_sequence(person, actions), store=store, now=NOW, engine=engine
    )
    assert result.passed, result.reason
    assert result.reason is None
    assert (result.live_status, result.live_message, result.liveness_info_tag) == (0, "成功", None)
    assert [d.action for d in result.actions] == list(actions)
    assert [d.frame for d in result.actions] == [2 * i + 1 for i in range(len(actions))]
    # The frame kept for comparison with the portrait is a neutral one.
    best = result.best_frame()
    neutral = {id(result.analyses[i]) for i in range(0, len(result.analyses), 2)}
    assert best is not None
    assert id(best) in neutral
    # Nothing here moved as one plane: the actions leave residuals no homography explains.
    assert max(m.planar_residual for m in result.frames) > LivenessThresholds().planar_residual


@pytest.mark.parametrize(
    ("person", "done", "asked"), [("p1", (L, B), (B, L)), ("p3", (M, R), (R, M))]
)
def test_the_right_actions_in_the_wrong_order_fail(
    engine: DlibEngine, person: str, done: tuple[Action, ...], asked: tuple[Action, ...]
) -> None:
    store = InMemoryChallengeStore()
    challenge = _challenge(store, asked)
    result = evaluate(challenge, live_sequence(person, done), store=store, now=NOW, engine=engine)
    assert result.reason is LivenessReason.ACTION_ORDER
    assert (result.live_status, result.liveness_info_tag) == (1005, "02")
    assert all(d.first_seen is not None for d in result.actions)
    assert not result.actions[-1].detected


def test_a_missing_action_fails(engine: DlibEngine) -> None:
    store = InMemoryChallengeStore()
    challenge = _challenge(store, (B, M))
    result = evaluate(challenge, live_sequence("p1", (B, L)), store=store, now=NOW, engine=engine)
    assert result.reason is LivenessReason.ACTION_MISSING
    assert [(d.action, d.detected) for d in result.actions] == [(B, True), (M, False)]
    assert result.liveness_info_tag == "02"


def test_someone_else_in_the_middle_fails(engine: DlibEngine) -> None:
    store = InMemoryChallengeStore()
    challenge = _challenge(store, (B, L))
    frames = live_sequence("p1", (B, L))
    frames[3] = live_sequence("p2", (L,))[1]  # p2's turn instead of p1's
    result = evaluate(challenge, frames, store=store, now=NOW, engine=engine)
    assert result.reason is LivenessReason.IDENTITY_CHANGED
    assert result.frames[3].identity_distance > 0.6
    assert result.live_status == 1003


def test_eyes_shut_throughout_fails(engine: DlibEngine) -> None:
    base = _live_base("p1")
    shut = synthetic.close_eyes(base.frame, base.landmarks, closure=1.0)
    frames = [synthetic.nudge(shut, step) for step in range(3)]
    store = InMemoryChallengeStore()
    result = evaluate(_challenge(store, (B, L)), frames, store=store, now=NOW, engine=engine)
    assert result.reason is LivenessReason.EYES_CLOSED
    assert result.liveness_info_tag == "01"


def test_a_frame_without_a_face_is_a_quality_failure(engine: DlibEngine) -> None:
    store = InMemoryChallengeStore()
    frames = live_sequence("p1", (B, L))
    frames[2] = no_face_frame()
    result = evaluate(_challenge(store, (B, L)), frames, store=store, now=NOW, engine=engine)
    assert result.reason is LivenessReason.FACE_QUALITY
    assert (result.quality, result.quality_frame) == (QualityReason.NO_FACE, 2)
    assert result.live_status == 1004


def test_too_few_frames_fail(engine: DlibEngine) -> None:
    store = InMemoryChallengeStore()
    frames = live_sequence("p1", (B,))[:2]  # the still and the blink: 2 frames for 2 actions
    result = evaluate(_challenge(store, (B, L)), frames, store=store, now=NOW, engine=engine)
    assert result.reason is LivenessReason.TOO_FEW_FRAMES


# --------------------------------------------------------------------------- passive


def test_passive_liveness_needs_motion(engine: DlibEngine) -> None:
    still = live_sequence("p3", ())[0]
    assert assess_passive([still], engine=engine).reason is LivenessReason.TOO_FEW_FRAMES
    steady = [synthetic.nudge(still, step) for step in range(3)]
    assert assess_passive(steady, engine=engine).reason is LivenessReason.NO_MOTION
    assert assess_passive(live_sequence("p3", (B,)), engine=engine).passed
