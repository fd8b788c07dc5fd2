"""Tencent-style face answers, and the local engine plugged into the sandbox provider."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from realname.authorities.face import (
    Challenge,
    DlibEngine,
    InMemoryChallengeStore,
    LivenessReason,
    LocalFaceEngine,
    QualityReason,
    capture,
    detect_auth,
    live_sequence,
)
from realname.authorities.face.portraits import no_face_frame
from realname.authorities.protocol import (
    FaceCompareOutcome,
    FaceEngine,
    FaceLivenessOutcome,
    FaceQualityIssue,
)
from realname.authorities.sandbox import SandboxProvider
from tests.authorities.support import TODAY, XIAOMING, scenario

NOW = datetime(2026, 12, 1, 9, 30, tzinfo=UTC)


def test_a_live_capture_of_the_registered_person_passes(engine: DlibEngine) -> None:
    answer = detect_auth(capture("live:p1").frames, "p1", engine=engine)
    assert answer.passed
    assert (answer.err_code, answer.live_status, answer.compare_status) == (0, 0, 0)
    assert answer.sim is not None
    assert answer.sim >= 70
    assert answer.sim_text == f"{answer.sim:.2f}"
    assert answer.comparison is not None
    assert answer.comparison.is_match
    assert answer.billable


def test_someone_else_is_a_low_similarity(engine: DlibEngine) -> None:
    answer = detect_auth(capture("live:p2").frames, "p1", engine=engine)
    assert answer.live_status == 0
    assert answer.compare_status == answer.err_code == 2016
    assert answer.sim is not None
    assert answer.sim < 70
    assert answer.billable  # Tencent bills a completed comparison


def test_a_replay_stops_at_liveness(engine: DlibEngine) -> None:
    answer = detect_auth(capture("replay:p1").frames, "p1", engine=engine)
    assert (answer.err_code, answer.live_status, answer.liveness_info_tag) == (1002, 1002, "03")
    assert answer.err_msg == "疑似非真人录制"
    assert (answer.compare_status, answer.sim) == (None, None)
    assert answer.liveness.reason is LivenessReason.FLAT_REPLAY


def test_no_face_is_a_quality_answer(engine: DlibEngine) -> None:
    answer = detect_auth(capture("none").frames, "p1", engine=engine)
    assert answer.err_code == answer.live_status == 1004
    assert answer.liveness.quality is QualityReason.NO_FACE
    assert not answer.billable


def test_an_unusable_portrait_is_reported_as_such(engine: DlibEngine) -> None:
    answer = detect_auth(capture("live:p3").frames, no_face_frame(), engine=engine)
    assert answer.live_status == 0
    assert answer.err_code == answer.compare_status == 2009
    assert answer.portrait_quality is QualityReason.NO_FACE


def test_action_mode_with_a_challenge(engine: DlibEngine) -> None:
    store = InMemoryChallengeStore()
    challenge = Challenge("n-1", ("open_mouth", "blink"), NOW, NOW + timedelta(minutes=2))  # type: ignore[arg-type]
    store.save(challenge)
    frames = live_sequence("p3", challenge.actions)
    answer = detect_auth(frames, "p3", challenge=challenge, store=store, now=NOW, engine=engine)
    assert answer.passed
    again = detect_auth(frames, "p3", challenge=challenge, store=store, now=NOW, engine=engine)
    assert (again.err_code, again.err_msg) == (14, "本次校验已完成")
    with pytest.raises(ValueError, match="store"):
        detect_auth(frames, "p3", challenge=challenge, engine=engine)


# ------------------------------------------------------------- through the sandbox


@pytest.fixture
def sandbox(engine: DlibEngine) -> SandboxProvider:
    local = LocalFaceEngine(engine)
    assert isinstance(local, FaceEngine)
    return SandboxProvider.for_scenario(
        scenario({"citizens": [XIAOMING]}), today=TODAY, face_engine=local
    )


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("ref", "code", "outcome", "tag", "issue"),
    [
        ("live:p1", "Success", FaceLivenessOutcome.LIVE, None, None),
        (
            "replay:p1",
            "FailedOperation.LifePhotoDetectFake",
            FaceLivenessOutcome.NOT_LIVE,
            "03",
            None,
        ),
        (
            "none",
            "FailedOperation.LifePhotoDetectNoFaces",
            FaceLivenessOutcome.QUALITY,
            None,
            FaceQualityIssue.NO_FACE,
        ),
    ],
)
async def test_sandbox_liveness(
    sandbox: SandboxProvider,
    ref: str,
    code: str,
    outcome: FaceLivenessOutcome,
    tag: str | None,
    issue: FaceQualityIssue | None,
) -> None:
    answer = await sandbox.face_liveness(capture(ref).to_face_capture())
    assert (answer.code, answer.outcome, answer.reason_tag, answer.quality_issue) == (
        code,
        outcome,
        tag,
        issue,
    )


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("ref", "outcome", "passes"),
    [("live:p1", FaceCompareOutcome.MATCH, True), ("live:p2", FaceCompareOutcome.MISMATCH, False)],
)
async def test_sandbox_comparison_with_the_registry_portrait(
    sandbox: SandboxProvider, ref: str, outcome: FaceCompareOutcome, passes: bool
) -> None:
    answer = await sandbox.face_compare(
        XIAOMING["name"], XIAOMING["id_number"], capture(ref).to_face_capture()
    )
    assert answer.outcome is outcome
    assert answer.similarity is not None
    assert (answer.similarity >= 70) is passes
