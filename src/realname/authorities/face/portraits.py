"""The portraits the sandbox ships, and the captures fixtures name.

Portraits (the fixture ``portrait:`` field, the registry's photo of a citizen):

=====  ======================  ==============================================
``p1``  ``obama.jpg``          Barack Obama
``p2``  ``biden.jpg``          Joe Biden
``p3``  ``astronaut.jpg``      Eileen Collins (scikit-image's astronaut)
=====  ======================  ==============================================

Captures (the fixture ``face:`` field, what the user's camera sends):

- ``live:pN`` — the person, but not the portrait: a short *silent* sequence of
  three frames (still, blink, still) built from a live still of them —
  ``obama3.jpg`` for ``p1`` (``obama2.jpg`` is :func:`live_still`'s other p1
  photo), and for ``p2``/``p3`` a deterministic re-capture of the portrait
  (rotated 4°, dimmed to 88 %, cropped, re-encoded as JPEG at quality 80);
- ``replay:pN`` — the portrait itself held to the camera as a flat print: five
  frames of perspective warps (swing and tilt up to 20°, in-plane roll, distance);
- ``none`` — one frame of a textured wall: no face.

:func:`capture` returns a capture's frames; :func:`face_capture` the same as the
provider protocol's ``FaceCapture`` (one JPEG, or an animated PNG of the frames).
:func:`live_sequence` builds the frames of an *active* liveness capture for any
challenge. Every sequence is synthetic — landmark-driven warps of a still photo
(see :mod:`~realname.authorities.face.synthetic`) — and deterministic, so tests and
sandbox runs repeat exactly. Images are read from this package's ``data/`` folder
(``importlib.resources``); nothing is fetched.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources

import numpy as np
from PIL import Image

from realname.authorities.face import synthetic
from realname.authorities.face.engine import FaceAnalysis, default_engine
from realname.authorities.face.images import RGBImage, encode_frames, to_rgb
from realname.authorities.face.liveness import Action
from realname.authorities.protocol import FaceCapture

PORTRAITS: dict[str, str] = {"p1": "obama.jpg", "p2": "biden.jpg", "p3": "astronaut.jpg"}
#: The other photographs of ``p1`` (live captures).
P1_LIVE_PHOTOS = ("obama2.jpg", "obama3.jpg")

#: Frame side of synthetic captures (pixels) and the face's share of its width.
FRAME_SIZE = 480
FACE_SHARE = 0.4

_CAPTURE_REF = re.compile(r"^(?:(live|replay):(p[0-9]+)|none)$")

#: How a print is held in ``replay:`` captures: swing/tilt within ±20°.
REPLAY_POSES = (
    synthetic.PlanePose(scale=0.8),
    synthetic.PlanePose(swing=20.0, scale=0.78, shift=(0.02, 0.0)),
    synthetic.PlanePose(tilt=18.0, scale=0.8, shift=(0.04, -0.02)),
    synthetic.PlanePose(swing=-16.0, tilt=-10.0, roll=6.0, scale=0.84),
    synthetic.PlanePose(roll=-9.0, scale=0.72, shift=(-0.04, 0.03)),
)


class UnknownPortrait(KeyError):
    """A portrait or capture reference the sandbox does not ship."""


def data_bytes(name: str) -> bytes:
    """A file of ``data/`` (the images and ``SOURCE.md``)."""
    folder = resources.files("realname.authorities.face") / "data"
    return (folder / name).read_bytes()


@functools.lru_cache(maxsize=16)
def _image(name: str) -> RGBImage:
    image = to_rgb(data_bytes(name))
    image.setflags(write=False)
    return image


def _check(ref: str) -> str:
    if ref not in PORTRAITS:
        raise UnknownPortrait(ref)
    return ref


def portrait_bytes(ref: str) -> bytes:
    """The registry photo of ``ref`` as its JPEG file."""
    return data_bytes(PORTRAITS[_check(ref)])


def portrait(ref: str) -> RGBImage:
    """The registry photo of ``ref`` as an RGB array (read-only, cached)."""
    return _image(PORTRAITS[_check(ref)])


@functools.lru_cache(maxsize=16)
def portrait_face(ref: str) -> FaceAnalysis:
    """The default engine's analysis of ``ref``'s portrait (cached)."""
    return default_engine().analyse(portrait(ref))


def recaptured(ref: str) -> RGBImage:
    """The deterministic "other photo" of a portrait: rotated, dimmed, cropped, re-encoded."""
    return synthetic.recapture(
        portrait(ref), rotate=4.0, brightness=0.88, crop=(0.03, 0.02, 0.97, 0.98), quality=80
    )


def live_still(ref: str, variant: int = 0) -> RGBImage:
    """A live still of ``ref`` that is not the portrait.

    ``p1``: ``obama2.jpg`` (variant 0) or ``obama3.jpg`` (1); others: :func:`recaptured`.
    """
    if _check(ref) == "p1":
        return _image(P1_LIVE_PHOTOS[variant % len(P1_LIVE_PHOTOS)])
    return recaptured(ref)


@dataclass(frozen=True, eq=False)
class _Base:
    frame: RGBImage
    landmarks: np.ndarray


@functools.lru_cache(maxsize=8)
def _live_base(ref: str) -> _Base:
    engine = default_engine()
    still = _image("obama3.jpg") if ref == "p1" else recaptured(ref)
    frame = synthetic.frame_around(
        still, engine.analyse(still, descriptor=False).box, FRAME_SIZE, FACE_SHARE
    )
    frame.setflags(write=False)
    return _Base(frame, engine.analyse(frame, descriptor=False).landmarks)


@functools.lru_cache(maxsize=32)
def _action_frame(ref: str, action: Action) -> RGBImage:
    base = _live_base(ref)
    if action is Action.BLINK:
        frame = synthetic.close_eyes(base.frame, base.landmarks, closure=1.0)
    elif action is Action.OPEN_MOUTH:
        frame = synthetic.open_mouth(base.frame, base.landmarks)
    else:
        direction = 1 if action is Action.TURN_LEFT else -1
        frame = synthetic.turn_head(base.frame, base.landmarks, direction, amount=0.6)
    frame.setflags(write=False)
    return frame


@functools.lru_cache(maxsize=64)
def _sequence(ref: str, actions: tuple[Action, ...]) -> tuple[RGBImage, ...]:
    base = _live_base(_check(ref))
    frames = [base.frame]
    for step, action in enumerate(actions):
        frames.append(synthetic.nudge(_action_frame(ref, action), 2 * step + 1))
        frames.append(synthetic.nudge(base.frame, 2 * step + 2))
    for frame in frames:
        frame.setflags(write=False)
    return tuple(frames)


def live_sequence(ref: str, actions: Sequence[Action | str]) -> list[RGBImage]:
    """Synthetic frames of ``ref`` doing ``actions`` in order.

    Still frame, then for each action the action frame and a still frame again
    (with a pixel of camera shake): ``1 + 2·len(actions)`` frames of 480×480.
    """
    return list(_sequence(ref, tuple(Action(action) for action in actions)))


@functools.lru_cache(maxsize=8)
def _replay(ref: str) -> tuple[RGBImage, ...]:
    photo = portrait(_check(ref))
    face = default_engine().analyse(photo, descriptor=False)
    printed = synthetic.frame_around(photo, face.box, FRAME_SIZE, 0.45)
    frames = synthetic.planar_views(printed, REPLAY_POSES, size=FRAME_SIZE)
    return tuple(synthetic.nudge(frame, step) for step, frame in enumerate(frames))


def replay_sequence(ref: str) -> list[RGBImage]:
    """The portrait of ``ref`` moved as a flat print in front of the camera."""
    return list(_replay(ref))


def no_face_frame(size: int = FRAME_SIZE) -> RGBImage:
    """A frame of plain textured wall (deterministic)."""
    rng = np.random.default_rng(20240611)
    coarse = rng.uniform(150, 190, size=(6, 6, 1)) * np.array([1.0, 0.96, 0.9])
    smooth = np.asarray(
        Image.fromarray(coarse.astype(np.uint8)).resize((size, size), Image.Resampling.BICUBIC),
        dtype=np.float64,
    )
    grain = rng.normal(0.0, 4.0, size=(size, size, 1))
    return np.clip(np.rint(smooth + grain), 0, 255).astype(np.uint8)


@dataclass(frozen=True, eq=False)
class Capture:
    """A fixture capture: its reference, its kind, and its frames."""

    ref: str
    kind: str  # "live", "replay" or "none"
    person: str | None
    frames: tuple[RGBImage, ...]

    def to_face_capture(self) -> FaceCapture:
        """The capture as the provider protocol carries it (JPEG, or animated PNG)."""
        content, media_type = encode_frames(self.frames)
        return FaceCapture(content=content, media_type=media_type)


def capture(ref: str) -> Capture:
    """The capture a fixture's ``face:`` value names (``live:p1``, ``replay:p2``, ``none``)."""
    match = _CAPTURE_REF.match(ref)
    if match is None:
        raise UnknownPortrait(ref)
    kind, person = match.groups()
    if kind is None:
        return Capture(ref=ref, kind="none", person=None, frames=(no_face_frame(),))
    if kind == "live":
        return Capture(
            ref=ref, kind=kind, person=person, frames=_sequence(_check(person), (Action.BLINK,))
        )
    return Capture(ref=ref, kind=kind, person=person, frames=_replay(person))


@functools.lru_cache(maxsize=32)
def face_capture(ref: str) -> FaceCapture:
    """``capture(ref)`` as the provider protocol carries it (a ``CaptureSource``).

    Plug into the verification engine's scenario runner as
    ``FaceSupport(engine=LocalFaceEngine(), capture=face_capture)``.
    """
    return capture(ref).to_face_capture()
