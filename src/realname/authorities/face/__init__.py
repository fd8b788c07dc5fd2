"""The local face engine: quality checks, comparison and active liveness on dlib.

Runs on dlib's HOG face detector, 68-point landmarks and ResNet descriptor, all
shipped in the ``face-recognition-models`` package and loaded lazily, once per
process; nothing is fetched at run time.

- :mod:`~realname.authorities.face.engine` — :func:`analyse` (detect, quality
  checks, align, describe) and :func:`compare` (distance, Tencent-style 0–100
  similarity, match at distance ≤ 0.6 ↔ similarity ≥ 70);
- :mod:`~realname.authorities.face.liveness` — random action challenges, a
  single-use challenge store, :func:`evaluate` (actions in order, same person,
  flat-replay detection) and :func:`assess_passive` (silent mode);
- :mod:`~realname.authorities.face.portraits` — the sandbox portraits ``p1``–``p3``
  and the fixture captures ``live:pN``, ``replay:pN``, ``none``;
- :mod:`~realname.authorities.face.sandbox` — :class:`LocalFaceEngine` (the
  provider protocol's ``FaceEngine``) and :func:`detect_auth` (answers in the shape
  of Tencent FaceID's 人脸核身 result);
- :mod:`~realname.authorities.face.tencent` — the Tencent result codes used.

Errors: :class:`FaceQuality` (code ``FACE_QUALITY``, with a :class:`QualityReason`)
and :class:`FaceImageInvalid` (``FACE_IMAGE_INVALID``).
"""

from __future__ import annotations

from realname.authorities.face.engine import (
    MATCH_DISTANCE,
    TENCENT_PASS_SIMILARITY,
    TENCENT_STRICT_SIMILARITY,
    Comparison,
    DlibEngine,
    EngineSettings,
    FaceAnalysis,
    QualityThresholds,
    analyse,
    compare,
    default_engine,
    distance_to_similarity,
    similarity_to_distance,
)
from realname.authorities.face.errors import FaceImageInvalid, FaceQuality, QualityReason
from realname.authorities.face.liveness import (
    Action,
    ActionDetection,
    Challenge,
    ChallengeOutcome,
    ChallengeStore,
    FrameMeasure,
    InMemoryChallengeStore,
    LivenessReason,
    LivenessResult,
    LivenessThresholds,
    assess_passive,
    evaluate,
    issue_challenge,
)
from realname.authorities.face.portraits import (
    PORTRAITS,
    Capture,
    UnknownPortrait,
    capture,
    face_capture,
    live_sequence,
    live_still,
    portrait,
    portrait_bytes,
    replay_sequence,
)
from realname.authorities.face.sandbox import (
    FaceVerificationAnswer,
    LocalFaceEngine,
    detect_auth,
)

__all__ = [
    "MATCH_DISTANCE",
    "PORTRAITS",
    "TENCENT_PASS_SIMILARITY",
    "TENCENT_STRICT_SIMILARITY",
    "Action",
    "ActionDetection",
    "Capture",
    "Challenge",
    "ChallengeOutcome",
    "ChallengeStore",
    "Comparison",
    "DlibEngine",
    "EngineSettings",
    "FaceAnalysis",
    "FaceImageInvalid",
    "FaceQuality",
    "FaceVerificationAnswer",
    "FrameMeasure",
    "InMemoryChallengeStore",
    "LivenessReason",
    "LivenessResult",
    "LivenessThresholds",
    "LocalFaceEngine",
    "QualityReason",
    "QualityThresholds",
    "UnknownPortrait",
    "analyse",
    "assess_passive",
    "capture",
    "compare",
    "default_engine",
    "detect_auth",
    "distance_to_similarity",
    "evaluate",
    "face_capture",
    "issue_challenge",
    "live_sequence",
    "live_still",
    "portrait",
    "portrait_bytes",
    "replay_sequence",
    "similarity_to_distance",
]
