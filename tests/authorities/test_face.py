"""Face checks: refused without a face engine, delegated to one when plugged in."""

from __future__ import annotations

import pytest

from realname.authorities.errors import FaceEngineMissing
from realname.authorities.protocol import (
    FaceCapture,
    FaceCompareOutcome,
    FaceEngine,
    FaceLivenessOutcome,
    FaceQualityIssue,
    FaceSimilarity,
    LivenessVerdict,
)
from realname.authorities.sandbox import SandboxProvider
from tests.authorities.support import JIANGUO, TODAY, XIAOMING, scenario

pytestmark = pytest.mark.anyio

CAPTURE = FaceCapture(b"\xff\xd8 not really a jpeg", "image/jpeg")


class ScriptedEngine:
    """A test double: answers what the test tells it to, and records the calls."""

    def __init__(self, verdict: LivenessVerdict, similarity: FaceSimilarity) -> None:
        self.verdict = verdict
        self.similarity = similarity
        self.portraits: list[str] = []

    async def assess_liveness(self, capture: FaceCapture) -> LivenessVerdict:
        return self.verdict

    async def compare(self, capture: FaceCapture, portrait: str) -> FaceSimilarity:
        self.portraits.append(portrait)
        return self.similarity


def _sandbox(engine: FaceEngine | None) -> SandboxProvider:
    return SandboxProvider.for_scenario(
        scenario({"citizens": [XIAOMING, JIANGUO]}), today=TODAY, face_engine=engine
    )


async def test_without_a_face_engine_face_checks_are_refused() -> None:
    sandbox = _sandbox(None)
    with pytest.raises(FaceEngineMissing) as caught:
        await sandbox.face_liveness(CAPTURE)
    assert caught.value.code == "FACE_ENGINE_MISSING"
    with pytest.raises(FaceEngineMissing):
        await sandbox.face_compare(XIAOMING["name"], XIAOMING["id_number"], CAPTURE)
    assert sandbox.ledger.total_fen == 0


@pytest.mark.parametrize(
    ("verdict", "code", "outcome", "billable"),
    [
        (LivenessVerdict(live=True), "Success", FaceLivenessOutcome.LIVE, True),
        (
            LivenessVerdict(live=False, reason_tag="03"),
            "FailedOperation.LifePhotoDetectFake",
            FaceLivenessOutcome.NOT_LIVE,
            True,
        ),
        (
            LivenessVerdict(live=False, quality_issue=FaceQualityIssue.NO_FACE),
            "FailedOperation.LifePhotoDetectNoFaces",
            FaceLivenessOutcome.QUALITY,
            False,
        ),
        (
            LivenessVerdict(live=False, quality_issue=FaceQualityIssue.MULTIPLE_FACES),
            "FailedOperation.LifePhotoDetectFaces",
            FaceLivenessOutcome.QUALITY,
            False,
        ),
    ],
)
async def test_liveness(
    verdict: LivenessVerdict, code: str, outcome: FaceLivenessOutcome, billable: bool
) -> None:
    engine = ScriptedEngine(verdict, FaceSimilarity(0.0))
    assert isinstance(engine, FaceEngine)
    answer = await _sandbox(engine).face_liveness(CAPTURE)
    assert (answer.code, answer.outcome, answer.billable) == (code, outcome, billable)
    assert answer.reason_tag == verdict.reason_tag
    assert answer.cost_fen == (100 if billable else 0)


@pytest.mark.parametrize(
    ("person", "score", "code", "outcome", "similarity"),
    [
        (XIAOMING, 91.234, "Success", FaceCompareOutcome.MATCH, 91.23),
        (XIAOMING, 70.0, "Success", FaceCompareOutcome.MATCH, 70.0),
        (
            XIAOMING,
            69.99,
            "FailedOperation.CompareLowSimilarity",
            FaceCompareOutcome.MISMATCH,
            69.99,
        ),
        # No portrait registered for this person.
        (JIANGUO, 99.0, "FailedOperation.IdPhotoNoExist", FaceCompareOutcome.NO_PORTRAIT, None),
    ],
)
async def test_compare(
    person: dict[str, str],
    score: float,
    code: str,
    outcome: FaceCompareOutcome,
    similarity: float | None,
) -> None:
    engine = ScriptedEngine(LivenessVerdict(live=True), FaceSimilarity(score))
    answer = await _sandbox(engine).face_compare(person["name"], person["id_number"], CAPTURE)
    assert (answer.code, answer.outcome, answer.similarity) == (code, outcome, similarity)
    if similarity is not None:
        assert answer.threshold == 70.0
        assert engine.portraits == ["p1"]
    else:
        assert engine.portraits == []


@pytest.mark.parametrize(
    ("name", "id_number", "code", "outcome"),
    [
        (
            "王晓明",
            XIAOMING["id_number"],
            "FailedOperation.IdNameMisMatch",
            FaceCompareOutcome.IDENTITY_MISMATCH,
        ),
        (
            "孙丽",
            "440305198811203167",
            "FailedOperation.IdNoExistSystem",
            FaceCompareOutcome.NO_RECORD,
        ),
        (
            "王小明",
            "110105199003071238",
            "FailedOperation.IdFormatError",
            FaceCompareOutcome.INVALID_INPUT,
        ),
    ],
)
async def test_compare_identity_failures(
    name: str, id_number: str, code: str, outcome: FaceCompareOutcome
) -> None:
    engine = ScriptedEngine(LivenessVerdict(live=True), FaceSimilarity(99.0))
    answer = await _sandbox(engine).face_compare(name, id_number, CAPTURE)
    assert (answer.code, answer.outcome) == (code, outcome)
    assert engine.portraits == []


async def test_a_capture_the_engine_cannot_use_is_a_quality_answer() -> None:
    engine = ScriptedEngine(
        LivenessVerdict(live=True), FaceSimilarity(0.0, FaceQualityIssue.POOR_QUALITY)
    )
    answer = await _sandbox(engine).face_compare(XIAOMING["name"], XIAOMING["id_number"], CAPTURE)
    assert (answer.code, answer.outcome, answer.quality_issue) == (
        "FailedOperation.LifePhotoPoorQuality",
        FaceCompareOutcome.QUALITY,
        FaceQualityIssue.POOR_QUALITY,
    )
    assert not answer.billable
