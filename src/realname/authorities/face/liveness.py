"""Active liveness: a random challenge of face actions, judged from landmark motion.

**Challenge.** The server picks 2–3 distinct actions from blink, turn left, turn
right and open mouth in a random order, with a random nonce and an expiry (two
minutes by default), and keeps it in a :class:`ChallengeStore`. The client films
the user doing them and sends a few frames. A nonce is good for one evaluation,
pass or fail: a second use answers ``challenge_replayed``, a late one
``challenge_expired``, one the store never issued (or whose actions were altered)
``challenge_unknown``.

**Evaluation** (:func:`evaluate`), in this order — the first failure is the reason:

1. the challenge is consumed from the store;
2. every frame passes the engine's quality checks (``face_quality``);
3. there are at least ``len(actions) + 1`` frames (``too_few_frames``);
4. every frame shows the same person as the first (descriptor distance ≤ 0.6,
   ``identity_changed``);
5. not every frame shows closed eyes, eye aspect ratio under 0.17 (``eyes_closed``,
   Tencent tag 01);
6. the face did not move as a flat picture (``flat_replay``, tag 03);
7. the challenged actions appear in the challenged order (``action_missing`` or
   ``action_order``, tag 02).

**Measurements.** Frame 0 is the reference: the capture starts, as every liveness
flow asks, with the face still and frontal. Each later frame's 68 landmarks are
mapped back onto the reference by the homography fitted on the points a face
action does not move — brows and eye corners — which cancels the pose and any
perspective of a picture held at an angle. On the mapped landmarks:

- blink — eye aspect ratio ≤ 0.70 × the reference's;
- open mouth — inner-mouth aspect ratio ≥ the reference's + 0.15;
- turn left / right — the nose tip's position between the jaw ends moves by
  ≥ +0.16 / ≤ −0.16 (subject's own left in an unmirrored image: see
  :func:`~realname.authorities.face.geometry.yaw_ratio`).

The actions must appear as a subsequence in the challenged order; extra movement
(a natural blink before the first action) is allowed.

**Flat-replay detection.** A printed photo or a screen moved in front of the camera
is one rigid plane: between any two frames all 68 landmarks move by a single
homography, eyes and mouth keep their shape, and the nose keeps its place
between the jaw ends (no parallax). A capture is ``flat_replay`` when

- the homography fitted on *all* 68 points leaves a mean residual below 0.045 of
  the inter-ocular distance in every frame (a near-perfect planar fit), and
- no frame shows even half an action (eye ratio above 0.80, mouth change under
  0.08, yaw change under 0.10), and
- the face did move (mean landmark displacement of some frame ≥ 0.04 IOD) —
  a face that never moves is ``action_missing``, not proof of a picture.

Thresholds were set on real photographs moved as planes (tilts and swings up to
30°) against landmark-driven synthetic actions; they are in
:class:`LivenessThresholds`.

**Limits — read before relying on this.** It catches rigid flat replays: prints
and screens showing a still. It does **not** catch a screen playing a *video* of
the person doing the right actions (pre-recorded clips of every action, or a
face re-enactment / deepfake driven live), 3-D masks, or a print bent into a
curve (that is not a plane, so it reads as non-rigid — though a bent still
print still performs no action). Beyond about 30° of tilt the landmark
predictor's errors grow until a plane can read as half an action; the result is
then ``action_missing`` rather than ``flat_replay`` — still a failure. A person
who only slides their head sideways without turning it moves rigidly too and is
reported as ``flat_replay``. Certified liveness (GA/T 1212, ISO/IEC 30107-3 testing) needs
trained presentation-attack detectors and depth, infrared or reflection cues;
this engine is for the sandbox and for development.
"""

from __future__ import annotations

import random
import secrets
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Protocol, runtime_checkable

import numpy as np

from realname.authorities.face import tencent
from realname.authorities.face.engine import (
    MATCH_DISTANCE,
    DlibEngine,
    FaceAnalysis,
    default_engine,
)
from realname.authorities.face.errors import FaceQuality, QualityReason
from realname.authorities.face.geometry import (
    Points,
    apply_homography,
    eyes_aspect_ratio,
    fit_homography,
    interocular,
    mouth_aspect_ratio,
    planar_residuals,
    yaw_ratio,
)
from realname.authorities.face.images import ImageInput
from realname.store.types import utcnow

#: Landmarks no challenged action moves: brows (17–26) and the four eye corners.
STABLE_POINTS = [*range(17, 27), 36, 39, 42, 45]

DEFAULT_TTL = timedelta(minutes=2)


class Action(StrEnum):
    BLINK = "blink"
    TURN_LEFT = "turn_left"
    TURN_RIGHT = "turn_right"
    OPEN_MOUTH = "open_mouth"


class LivenessReason(StrEnum):
    """Why liveness failed. Stable values: add, never rename."""

    CHALLENGE_UNKNOWN = "challenge_unknown"
    CHALLENGE_REPLAYED = "challenge_replayed"
    CHALLENGE_EXPIRED = "challenge_expired"
    TOO_FEW_FRAMES = "too_few_frames"
    FACE_QUALITY = "face_quality"
    IDENTITY_CHANGED = "identity_changed"
    EYES_CLOSED = "eyes_closed"
    FLAT_REPLAY = "flat_replay"
    ACTION_MISSING = "action_missing"
    ACTION_ORDER = "action_order"
    #: Passive (silent) assessment only: nothing in the capture moved non-rigidly.
    NO_MOTION = "no_motion"


# ----------------------------------------------------------------------- challenges


@dataclass(frozen=True, slots=True)
class Challenge:
    """What the user must do, in order, before ``expires_at``."""

    nonce: str
    actions: tuple[Action, ...]
    issued_at: datetime
    expires_at: datetime

    def __post_init__(self) -> None:
        # Accept action names as strings (from JSON, say); keep them as enum members.
        object.__setattr__(self, "actions", tuple(Action(a) for a in self.actions))

    @classmethod
    def issue(
        cls,
        *,
        now: datetime | None = None,
        ttl: timedelta = DEFAULT_TTL,
        rng: random.Random | None = None,
    ) -> Challenge:
        """A fresh challenge: 2 or 3 distinct actions in random order.

        ``rng`` defaults to the operating system's CSPRNG; pass a seeded
        :class:`random.Random` only in tests.
        """
        chooser = rng or secrets.SystemRandom()
        count = chooser.choice((2, 3))
        actions = tuple(chooser.sample(list(Action), count))
        nonce = secrets.token_urlsafe(18) if rng is None else f"{rng.getrandbits(144):036x}"
        issued = now or utcnow()
        return cls(nonce=nonce, actions=actions, issued_at=issued, expires_at=issued + ttl)

    def is_expired(self, now: datetime) -> bool:
        return now >= self.expires_at


class ChallengeOutcome(StrEnum):
    ACCEPTED = "accepted"
    UNKNOWN = "unknown"
    REPLAYED = "replayed"
    EXPIRED = "expired"


@runtime_checkable
class ChallengeStore(Protocol):
    """Where issued challenges wait for their one evaluation."""

    def save(self, challenge: Challenge) -> None: ...

    def consume(self, challenge: Challenge, *, now: datetime) -> ChallengeOutcome:
        """Mark the challenge used and say whether it was usable.

        ``UNKNOWN`` for a nonce never issued or a challenge whose actions differ from
        what was issued; ``REPLAYED`` for a second use; ``EXPIRED`` past its expiry
        (the nonce is spent all the same).
        """
        ...


@dataclass
class _Entry:
    challenge: Challenge
    used: bool = False


class InMemoryChallengeStore:
    """A process-local :class:`ChallengeStore`; entries are kept a day past expiry
    so that a late replay is still recognised as one."""

    def __init__(self, retention: timedelta = timedelta(days=1)) -> None:
        self._entries: dict[str, _Entry] = {}
        self._lock = threading.Lock()
        self._retention = retention

    def save(self, challenge: Challenge) -> None:
        with self._lock:
            horizon = challenge.issued_at - self._retention
            for nonce in [n for n, e in self._entries.items() if e.challenge.expires_at < horizon]:
                del self._entries[nonce]
            if challenge.nonce in self._entries:
                raise ValueError("nonce already issued")
            self._entries[challenge.nonce] = _Entry(challenge)

    def consume(self, challenge: Challenge, *, now: datetime) -> ChallengeOutcome:
        with self._lock:
            entry = self._entries.get(challenge.nonce)
            if entry is None or entry.challenge != challenge:
                return ChallengeOutcome.UNKNOWN
            if entry.used:
                return ChallengeOutcome.REPLAYED
            entry.used = True
            if entry.challenge.is_expired(now):
                return ChallengeOutcome.EXPIRED
            return ChallengeOutcome.ACCEPTED

    def __len__(self) -> int:
        return len(self._entries)


def issue_challenge(
    store: ChallengeStore,
    *,
    now: datetime | None = None,
    ttl: timedelta = DEFAULT_TTL,
    rng: random.Random | None = None,
) -> Challenge:
    """Issue a challenge and keep it in ``store``."""
    challenge = Challenge.issue(now=now, ttl=ttl, rng=rng)
    store.save(challenge)
    return challenge


# ---------------------------------------------------------------------- measurement


@dataclass(frozen=True, slots=True)
class LivenessThresholds:
    """Decision thresholds (see the module docstring for how they were chosen)."""

    blink_eye_ratio: float = 0.70
    mouth_open_delta: float = 0.15
    turn_yaw_delta: float = 0.16
    #: Below this eye aspect ratio in every frame the eyes were shut throughout.
    open_eye_ratio: float = 0.17
    #: "Half an action": any frame beyond one of these is non-rigid evidence.
    rigid_eye_ratio: float = 0.80
    rigid_mouth_delta: float = 0.08
    rigid_yaw_delta: float = 0.10
    #: Mean residual (× inter-ocular distance) of a near-perfect planar fit.
    planar_residual: float = 0.045
    #: Mean landmark displacement (× inter-ocular distance) that counts as moving.
    min_motion: float = 0.04
    same_person_distance: float = MATCH_DISTANCE


@dataclass(frozen=True, slots=True)
class FrameMeasure:
    """One frame measured against the reference frame 0."""

    index: int
    #: Eye aspect ratio of the frame (after pose correction) over the reference's.
    eye_ratio: float
    #: Inner-mouth aspect ratio minus the reference's.
    mouth_delta: float
    #: Nose-between-jaw-ends yaw ratio minus the reference's (+ = subject's left).
    yaw_delta: float
    #: Mean residual of the all-point homography fit, × inter-ocular distance.
    planar_residual: float
    #: Mean landmark displacement from the reference, × inter-ocular distance.
    motion: float
    #: Descriptor distance to the reference frame.
    identity_distance: float
    #: Raw eye aspect ratio (no correction), for the eyes-shut-throughout check.
    eye_aspect: float

    def shows(self, action: Action, limits: LivenessThresholds) -> bool:
        if action == Action.BLINK:
            return self.eye_ratio <= limits.blink_eye_ratio
        if action == Action.OPEN_MOUTH:
            return self.mouth_delta >= limits.mouth_open_delta
        if action == Action.TURN_LEFT:
            return self.yaw_delta >= limits.turn_yaw_delta
        return self.yaw_delta <= -limits.turn_yaw_delta

    def is_non_rigid(self, limits: LivenessThresholds) -> bool:
        return (
            self.eye_ratio <= limits.rigid_eye_ratio
            or abs(self.mouth_delta) >= limits.rigid_mouth_delta
            or abs(self.yaw_delta) >= limits.rigid_yaw_delta
            or self.planar_residual >= limits.planar_residual
        )


def measure(reference: FaceAnalysis, frame: FaceAnalysis, index: int) -> FrameMeasure:
    """Compare one frame's face with the reference frame's (pure geometry)."""
    ref, points = reference.landmarks, frame.landmarks
    scale = interocular(ref)
    if index == 0:
        corrected: Points = points
        residual = 0.0
    else:
        to_reference = fit_homography(points[STABLE_POINTS], ref[STABLE_POINTS])
        corrected = apply_homography(to_reference, points)
        residual = float(planar_residuals(ref, points).mean()) / interocular(points)
    ref_ear = eyes_aspect_ratio(ref)
    distance = 0.0
    if reference.descriptor is not None and frame.descriptor is not None:
        distance = float(np.linalg.norm(reference.descriptor - frame.descriptor))
    return FrameMeasure(
        index=index,
        eye_ratio=eyes_aspect_ratio(corrected) / ref_ear if ref_ear > 0 else 1.0,
        mouth_delta=mouth_aspect_ratio(corrected) - mouth_aspect_ratio(ref),
        yaw_delta=yaw_ratio(corrected) - yaw_ratio(ref),
        planar_residual=residual,
        motion=float(np.linalg.norm(points - ref, axis=1).mean()) / scale,
        identity_distance=distance,
        eye_aspect=eyes_aspect_ratio(points),
    )


# -------------------------------------------------------------------------- results


@dataclass(frozen=True, slots=True)
class ActionDetection:
    """Whether one challenged action was seen, and in which frame."""

    action: Action
    detected: bool
    #: The frame matched in challenge order (``None`` when not matched in order).
    frame: int | None
    #: The first frame showing the action at all, in or out of order.
    first_seen: int | None


@dataclass(frozen=True)
class LivenessResult:
    """The verdict on one capture, with the evidence behind it."""

    passed: bool
    reason: LivenessReason | None
    actions: tuple[ActionDetection, ...] = ()
    frames: tuple[FrameMeasure, ...] = ()
    #: The quality failure, when ``reason`` is ``face_quality``, and its frame.
    quality: QualityReason | None = None
    quality_frame: int | None = None
    #: The analyses of the frames (when every frame could be analysed).
    analyses: tuple[FaceAnalysis, ...] = field(default=(), repr=False)

    @property
    def tencent_code(self) -> tencent.TencentCode:
        """The result as Tencent FaceID reports a liveness stage."""
        if self.passed:
            return tencent.SUCCESS
        if self.reason is LivenessReason.FACE_QUALITY and self.quality is not None:
            return tencent.QUALITY[self.quality.value]
        assert self.reason is not None
        return tencent.LIVENESS[self.reason.value]

    @property
    def live_status(self) -> int:
        """Tencent ``LiveStatus``: 0 when live, else the failure code."""
        return self.tencent_code.code

    @property
    def live_message(self) -> str:
        return self.tencent_code.message

    @property
    def liveness_info_tag(self) -> str | None:
        """Tencent ``LivenessInfoTag`` ("01", "02", "03", "11") or ``None``."""
        return self.tencent_code.tag

    def best_frame(self, limits: LivenessThresholds | None = None) -> FaceAnalysis | None:
        """The frame to compare with a portrait: a neutral one, the largest face.

        Neutral means no action in progress; frame 0 is neutral by construction.
        """
        if not self.analyses:
            return None
        limits = limits or LivenessThresholds()
        neutral = [self.analyses[m.index] for m in self.frames if not m.is_non_rigid(limits)] or [
            self.analyses[0]
        ]
        return max(neutral, key=lambda face: face.face_width)


def _fail(reason: LivenessReason) -> LivenessResult:
    return LivenessResult(passed=False, reason=reason)


def _analyse_all(
    frames: Sequence[ImageInput], engine: DlibEngine
) -> tuple[FaceAnalysis, ...] | LivenessResult:
    analyses = []
    for index, frame in enumerate(frames):
        outcome = engine.try_analyse(frame)
        if isinstance(outcome, FaceQuality):
            return LivenessResult(
                passed=False,
                reason=LivenessReason.FACE_QUALITY,
                quality=outcome.reason,
                quality_frame=index,
            )
        analyses.append(outcome)
    return tuple(analyses)


def _match_in_order(
    actions: Sequence[Action], measures: Sequence[FrameMeasure], limits: LivenessThresholds
) -> tuple[ActionDetection, ...]:
    detections = []
    cursor = 0
    for action in actions:
        first = next((m.index for m in measures if m.shows(action, limits)), None)
        matched = next((m.index for m in measures[cursor:] if m.shows(action, limits)), None)
        if matched is not None:
            cursor = matched + 1
        detections.append(
            ActionDetection(
                action=action, detected=matched is not None, frame=matched, first_seen=first
            )
        )
        if matched is None:
            # Later actions can no longer be in order; record where they appear at all.
            cursor = len(measures)
    return tuple(detections)


def _judge(
    frames: Sequence[ImageInput],
    actions: Sequence[Action],
    *,
    engine: DlibEngine,
    limits: LivenessThresholds,
    minimum_frames: int,
) -> LivenessResult:
    analysed = _analyse_all(frames, engine)
    if isinstance(analysed, LivenessResult):
        return analysed
    if len(analysed) < minimum_frames:
        return _fail(LivenessReason.TOO_FEW_FRAMES)
    reference = analysed[0]
    measures = tuple(measure(reference, face, index) for index, face in enumerate(analysed))

    def verdict(
        reason: LivenessReason | None, detections: tuple[ActionDetection, ...] = ()
    ) -> LivenessResult:
        return LivenessResult(
            passed=reason is None,
            reason=reason,
            actions=detections,
            frames=measures,
            analyses=analysed,
        )

    if any(m.identity_distance > limits.same_person_distance for m in measures):
        return verdict(LivenessReason.IDENTITY_CHANGED)
    if all(m.eye_aspect < limits.open_eye_ratio for m in measures):
        return verdict(LivenessReason.EYES_CLOSED)
    non_rigid = any(m.is_non_rigid(limits) for m in measures)
    moved = max(m.motion for m in measures) >= limits.min_motion
    if not non_rigid and moved:
        return verdict(LivenessReason.FLAT_REPLAY)
    if not actions:  # passive: any non-rigid motion is the evidence of life
        return verdict(None if non_rigid else LivenessReason.NO_MOTION)
    detections = _match_in_order(actions, measures, limits)
    if all(d.detected for d in detections):
        return verdict(None, detections)
    if all(d.first_seen is not None for d in detections):
        return verdict(LivenessReason.ACTION_ORDER, detections)
    return verdict(LivenessReason.ACTION_MISSING, detections)


_CONSUMED = {
    ChallengeOutcome.UNKNOWN: LivenessReason.CHALLENGE_UNKNOWN,
    ChallengeOutcome.REPLAYED: LivenessReason.CHALLENGE_REPLAYED,
    ChallengeOutcome.EXPIRED: LivenessReason.CHALLENGE_EXPIRED,
}


def evaluate(
    challenge: Challenge,
    frames: Sequence[ImageInput],
    *,
    store: ChallengeStore,
    now: datetime | None = None,
    engine: DlibEngine | None = None,
    thresholds: LivenessThresholds | None = None,
) -> LivenessResult:
    """Judge a capture against its challenge; the challenge is spent either way.

    ``store`` is required: without it a nonce could be replayed at will.
    """
    outcome = store.consume(challenge, now=now or utcnow())
    if outcome is not ChallengeOutcome.ACCEPTED:
        return _fail(_CONSUMED[outcome])
    return _judge(
        frames,
        challenge.actions,
        engine=engine or default_engine(),
        limits=thresholds or LivenessThresholds(),
        minimum_frames=len(challenge.actions) + 1,
    )


def assess_passive(
    frames: Sequence[ImageInput],
    *,
    engine: DlibEngine | None = None,
    thresholds: LivenessThresholds | None = None,
) -> LivenessResult:
    """Silent liveness (Tencent ``SILENT`` mode) on a short sequence, no challenge.

    Live when some frame moves non-rigidly (a blink, speech, a real head turn);
    ``flat_replay`` when the face moved only as a plane; ``no_motion`` when it did
    not move at all. One still image cannot show any of this: ``too_few_frames``.
    """
    return _judge(
        frames,
        (),
        engine=engine or default_engine(),
        limits=thresholds or LivenessThresholds(),
        minimum_frames=2,
    )
