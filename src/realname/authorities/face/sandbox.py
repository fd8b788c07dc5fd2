"""The local engine behind the sandbox's face checks, and Tencent-style face answers.

- :class:`LocalFaceEngine` implements the provider protocol's
  :class:`~realname.authorities.protocol.FaceEngine`: the sandbox provider hands it
  a :class:`~realname.authorities.protocol.FaceCapture` (a JPEG, or an animated PNG
  of several frames) and a portrait reference (``p1`` …) and gets a liveness
  verdict or a similarity score back. Liveness is the *silent* mode
  (:func:`~realname.authorities.face.liveness.assess_passive`): the protocol
  carries no challenge.
- :func:`detect_auth` answers like Tencent's 人脸核身 result
  (``GetDetectInfoEnhanced`` text / ``LivenessCompare``): ``ErrCode``/``ErrMsg``,
  ``LiveStatus``/``LiveMsg``, ``Comparestatus``/``Comparemsg``, ``Sim`` and
  ``LivenessInfoTag``, with the engine's own reasons beside the raw codes. With a
  challenge it runs action liveness (``ACTION`` mode), without one silent liveness.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from realname.authorities.face import portraits, tencent
from realname.authorities.face.engine import (
    TENCENT_PASS_SIMILARITY,
    Comparison,
    DlibEngine,
    FaceAnalysis,
    default_engine,
)
from realname.authorities.face.errors import FaceQuality, QualityReason
from realname.authorities.face.images import ImageInput, decode_frames
from realname.authorities.face.liveness import (
    Challenge,
    ChallengeStore,
    LivenessResult,
    assess_passive,
    evaluate,
)
from realname.authorities.protocol import FaceCapture, FaceSimilarity, LivenessVerdict


def capture_frames(capture: FaceCapture) -> list[ImageInput]:
    """The frames of a protocol capture (raises ``FaceImageInvalid`` for video)."""
    return list(decode_frames(capture.content, capture.media_type))


def _first_usable(frames: Sequence[ImageInput], engine: DlibEngine) -> FaceAnalysis | FaceQuality:
    """The first frame that passes the quality checks, else the first frame's problem."""
    first_problem: FaceQuality | None = None
    for frame in frames:
        outcome = engine.try_analyse(frame)
        if isinstance(outcome, FaceAnalysis):
            return outcome
        first_problem = first_problem or outcome
    return first_problem or FaceQuality(QualityReason.NO_FACE)


class LocalFaceEngine:
    """The dlib engine as the sandbox's :class:`~realname.authorities.protocol.FaceEngine`.

    Work runs in a worker thread so the event loop is not blocked for the
    ~0.1–1 s a capture takes.
    """

    def __init__(self, engine: DlibEngine | None = None) -> None:
        self.engine = engine or default_engine()

    def _liveness(self, capture: FaceCapture) -> LivenessVerdict:
        result = assess_passive(capture_frames(capture), engine=self.engine)
        if result.quality is not None:
            return LivenessVerdict(live=False, quality_issue=result.quality.issue)
        return LivenessVerdict(live=result.passed, reason_tag=result.liveness_info_tag)

    def _compare(self, capture: FaceCapture, portrait: str) -> FaceSimilarity:
        face = _first_usable(capture_frames(capture), self.engine)
        if isinstance(face, FaceQuality):
            return FaceSimilarity(score=0.0, quality_issue=face.issue)
        reference = (
            portraits.portrait_face(portrait)
            if self.engine is default_engine()
            else self.engine.analyse(portraits.portrait(portrait))
        )
        return FaceSimilarity(score=self.engine.compare(face, reference).similarity)

    async def assess_liveness(self, capture: FaceCapture) -> LivenessVerdict:
        return await asyncio.to_thread(self._liveness, capture)

    async def compare(self, capture: FaceCapture, portrait: str) -> FaceSimilarity:
        return await asyncio.to_thread(self._compare, capture, portrait)


@dataclass(frozen=True)
class FaceVerificationAnswer:
    """One 人脸核身 attempt as Tencent reports it, plus the engine's evidence.

    ``err_code`` is the attempt's final code: the liveness code when liveness
    failed (comparison then does not run), else the comparison code.
    """

    err_code: int
    err_msg: str
    live_status: int
    live_msg: str
    compare_status: int | None
    compare_msg: str | None
    #: ``Sim`` 0–100 (two decimals), when a comparison ran.
    sim: float | None
    liveness_info_tag: str | None
    billable: bool
    liveness: LivenessResult
    comparison: Comparison | None = None
    #: Why the portrait could not be used, when that is what stopped the comparison.
    portrait_quality: QualityReason | None = None

    @property
    def passed(self) -> bool:
        return self.err_code == 0

    @property
    def sim_text(self) -> str | None:
        """``Sim`` as ``GetDetectInfoEnhanced`` writes it: a string such as ``"95.51"``."""
        return None if self.sim is None else f"{self.sim:.2f}"


def detect_auth(
    frames: Sequence[ImageInput],
    portrait: str | ImageInput,
    *,
    challenge: Challenge | None = None,
    store: ChallengeStore | None = None,
    now: datetime | None = None,
    engine: DlibEngine | None = None,
    pass_similarity: float = TENCENT_PASS_SIMILARITY,
) -> FaceVerificationAnswer:
    """Liveness on ``frames`` then comparison with ``portrait`` (a ref or an image).

    With ``challenge`` (and its ``store``) liveness is the action mode; without,
    silent. ``pass_similarity`` is Tencent's recommended 70 unless given.
    """
    engine = engine or default_engine()
    if challenge is not None:
        if store is None:
            raise ValueError("an action challenge needs the store that issued it")
        liveness = evaluate(challenge, frames, store=store, now=now, engine=engine)
    else:
        liveness = assess_passive(frames, engine=engine)
    best = liveness.best_frame()
    if not liveness.passed or best is None:
        return _answer(liveness, liveness.tencent_code)
    if isinstance(portrait, str):
        reference = (
            portraits.portrait_face(portrait)
            if engine is default_engine()
            else engine.try_analyse(portraits.portrait(portrait))
        )
    else:
        reference = engine.try_analyse(portrait)
    if isinstance(reference, FaceQuality):
        return _answer(liveness, tencent.PORTRAIT_UNUSABLE, portrait_quality=reference.reason)
    comparison = engine.compare(best, reference)
    passed = round(comparison.similarity, 2) >= pass_similarity
    return _answer(
        liveness, tencent.SUCCESS if passed else tencent.LOW_SIMILARITY, comparison=comparison
    )


def _answer(
    liveness: LivenessResult,
    final: tencent.TencentCode,
    *,
    comparison: Comparison | None = None,
    portrait_quality: QualityReason | None = None,
) -> FaceVerificationAnswer:
    live = liveness.tencent_code
    compared = liveness.passed
    return FaceVerificationAnswer(
        err_code=final.code,
        err_msg=final.message,
        live_status=live.code,
        live_msg=live.message,
        compare_status=final.code if compared else None,
        compare_msg=final.message if compared else None,
        sim=None if comparison is None else round(comparison.similarity, 2),
        liveness_info_tag=live.tag,
        billable=final.billable,
        liveness=liveness,
        comparison=comparison,
        portrait_quality=portrait_quality,
    )
