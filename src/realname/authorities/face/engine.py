"""Face analysis and comparison on dlib's models: detect, check quality, align, describe.

:func:`analyse` turns one image into a :class:`FaceAnalysis` — the face box, the 68
landmarks, the 128-d descriptor and the measurements the quality checks used — or
raises :class:`~realname.authorities.face.errors.FaceQuality` with the first failed
check, in this order:

==================  =========================================================
``no_face``         the detector finds no face (``too_dark`` instead when the
                    whole image is darker than the brightness threshold)
``multiple_faces``  it finds more than one (a second detection counts from
                    detector score 0.5: the weakest HOG hits are often cloth)
``face_cut_off``    the face box reaches more than 10 % of its size past the
                    image border, or a landmark lies outside the image
``too_small``       the face is narrower than 64 px, or than 12 % of the image's
                    shorter side (a verification capture is a close-up)
``too_dark``        the mean luma of the centre of the aligned face is below 45/255
``blurry``          the variance of the Laplacian of the aligned face, brightness
                    normalised, is below 10 (the test photos measure 80–850)
==================  =========================================================

Detection runs on a copy shrunk to at most 640 px on the longer side (HOG cost
grows with the pixel count; faces in a verification capture are large), first at
native scale and, only when that finds nothing, once more upsampled ×2 to catch
faces down to about 40 px. Landmarks, the aligned chip and the descriptor use the
full-resolution image.

Comparison (:func:`compare`) is the Euclidean distance between descriptors. dlib's
documented operating point is **0.6**: pairs closer than that are the same person
(99.38 % accuracy on LFW). For answers in the shape of Tencent Cloud FaceID's
``Sim`` (0–100, pass at 70) the distance maps linearly::

    similarity = clamp(100 − 50 · distance, 0, 100)

so distance 0.6 ↔ Sim 70, Tencent's recommended pass threshold (documented as a
false-accept rate of 1/1000), and distance 0.4 ↔ Sim 80 (Tencent: 1/10 000). The
mapping keeps dlib's pass/fail decision and the order of scores; it is *not* a
calibration of dlib's false-accept rate to Tencent's figures, which would need a
large labelled set of impostor pairs this project does not have.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from realname.authorities.face import _dlib
from realname.authorities.face.errors import FaceQuality, QualityReason
from realname.authorities.face.geometry import interocular
from realname.authorities.face.images import ImageInput, RGBImage, downscale, luma, to_rgb

#: dlib's same-person threshold on descriptor distance.
MATCH_DISTANCE = 0.6
#: Tencent FaceID's recommended ``Sim`` pass threshold (FAR 1/1000) and strict one (1/10 000).
TENCENT_PASS_SIMILARITY = 70.0
TENCENT_STRICT_SIMILARITY = 80.0


def distance_to_similarity(distance: float) -> float:
    """Descriptor distance → a 0–100 score in the manner of Tencent's ``Sim``."""
    return float(np.clip(100.0 - 50.0 * distance, 0.0, 100.0))


def similarity_to_distance(similarity: float) -> float:
    """The inverse of :func:`distance_to_similarity` on (0, 100]."""
    return (100.0 - similarity) / 50.0


@dataclass(frozen=True, slots=True)
class QualityThresholds:
    """The quality checks' thresholds; the defaults are documented in the module."""

    min_face_px: int = 64
    min_face_fraction: float = 0.12
    max_outside_fraction: float = 0.10
    min_brightness: float = 45.0
    min_sharpness: float = 10.0
    #: A second detection counts as another face only at this detector score or above:
    #: the HOG detector's weakest hits (scores near 0) are often patterned cloth.
    min_extra_face_score: float = 0.5


@dataclass(frozen=True, slots=True)
class EngineSettings:
    detect_max_side: int = 640
    #: Upsample once more when nothing is found at native scale (finds ~40 px faces).
    retry_upsampled: bool = True
    quality: QualityThresholds = field(default_factory=QualityThresholds)


@dataclass(frozen=True, eq=False)
class FaceAnalysis:
    """One face found in one image, in that image's pixel coordinates."""

    #: ``(left, top, right, bottom)``.
    box: tuple[int, int, int, int]
    detection_score: float
    #: ``(68, 2)`` landmark points (x, y).
    landmarks: NDArray[np.float64]
    #: 128-d descriptor; ``None`` when the analysis was asked to skip it.
    descriptor: NDArray[np.float64] | None
    #: Mean luma of the centre of the aligned face, 0–255.
    brightness: float
    #: Variance of the Laplacian of the aligned face (brightness-normalised).
    sharpness: float
    #: ``(width, height)`` of the analysed image.
    image_size: tuple[int, int]

    @property
    def face_width(self) -> int:
        return self.box[2] - self.box[0]

    @property
    def interocular(self) -> float:
        return interocular(self.landmarks)


@dataclass(frozen=True, slots=True)
class Comparison:
    """Two faces compared: dlib distance, Tencent-style similarity, and the verdict."""

    distance: float
    similarity: float
    is_match: bool
    #: The distance threshold applied (``is_match`` is ``distance <= threshold``).
    threshold: float


#: The middle half of the 150-px aligned chip: cheeks, nose and eyes, no background.
_SKIN = slice(38, 112)


def _laplacian(grey: NDArray[np.float64]) -> NDArray[np.float64]:
    """The 4-neighbour discrete Laplacian, edges mirrored (as ``scipy.ndimage.laplace``)."""
    p = np.pad(grey, 1, mode="symmetric")
    centre = p[1:-1, 1:-1]
    return np.asarray(
        p[:-2, 1:-1] + p[2:, 1:-1] + p[1:-1, :-2] + p[1:-1, 2:] - 4.0 * centre, dtype=np.float64
    )


def _sharpness(chip: RGBImage) -> float:
    """Variance of the Laplacian (Pech-Pacheco et al., ICPR 2000) at mean luma 128."""
    grey = luma(chip)
    normalised = grey * (128.0 / max(float(grey.mean()), 1.0))
    return float(_laplacian(normalised).var())


def _outside(
    box: tuple[int, int, int, int], points: NDArray[np.float64], size: tuple[int, int], limit: float
) -> bool:
    width, height = size
    left, top, right, bottom = box
    span = max(right - left, bottom - top, 1)
    beyond = max(-left, -top, right - width, bottom - height, 0)
    if beyond > limit * span:
        return True
    tolerance = 0.01 * span
    xs, ys = points[:, 0], points[:, 1]
    return bool(
        (xs < -tolerance).any()
        or (ys < -tolerance).any()
        or (xs > width - 1 + tolerance).any()
        or (ys > height - 1 + tolerance).any()
    )


class DlibEngine:
    """Analysis and comparison on the process-wide dlib models (loaded on first use)."""

    def __init__(self, settings: EngineSettings | None = None) -> None:
        self.settings = settings or EngineSettings()
        self._models: _dlib.DlibModels | None = None
        self._lock = threading.Lock()

    @property
    def models(self) -> _dlib.DlibModels:
        if self._models is None:
            with self._lock:
                if self._models is None:
                    self._models = _dlib.load_models()
        return self._models

    def warm_up(self) -> None:
        """Load the models now rather than on the first request."""
        _ = self.models

    def _detect(self, image: RGBImage) -> list[tuple[tuple[int, int, int, int], float]]:
        small, scale = downscale(image, self.settings.detect_max_side)
        found = self.models.detect(small, 0)
        if not found and self.settings.retry_upsampled:
            found = self.models.detect(small, 1)
        return [
            (
                (
                    round(left / scale),
                    round(top / scale),
                    round(right / scale),
                    round(bottom / scale),
                ),
                score,
            )
            for (left, top, right, bottom), score in found
        ]

    def analyse(self, image: ImageInput, *, descriptor: bool = True) -> FaceAnalysis:
        """Detect, check and describe the one face in ``image``.

        Raises :class:`FaceQuality` for the first quality check that fails, and
        :class:`~realname.authorities.face.errors.FaceImageInvalid` for bytes that
        are not a JPEG or PNG image.
        """
        rgb = to_rgb(image)
        limits = self.settings.quality
        height, width = rgb.shape[:2]
        faces = self._detect(rgb)
        if not faces:
            overall = float(luma(downscale(rgb, 256)[0]).mean())
            if overall < limits.min_brightness:
                raise FaceQuality(QualityReason.TOO_DARK, measured=overall)
            raise FaceQuality(QualityReason.NO_FACE)
        others = [face for face in faces[1:] if face[1] >= limits.min_extra_face_score]
        if others:
            raise FaceQuality(QualityReason.MULTIPLE_FACES, measured=1 + len(others))
        box, score = faces[0]
        models = self.models
        points = models.landmarks(rgb, box)
        if _outside(box, points, (width, height), limits.max_outside_fraction):
            raise FaceQuality(QualityReason.FACE_CUT_OFF)
        face_width = box[2] - box[0]
        if face_width < max(limits.min_face_px, limits.min_face_fraction * min(width, height)):
            raise FaceQuality(QualityReason.TOO_SMALL, measured=face_width)
        chip = models.chip(rgb, box)
        brightness = float(luma(chip[_SKIN, _SKIN]).mean())
        if brightness < limits.min_brightness:
            raise FaceQuality(QualityReason.TOO_DARK, measured=brightness)
        sharpness = _sharpness(chip)
        if sharpness < limits.min_sharpness:
            raise FaceQuality(QualityReason.BLURRY, measured=sharpness)
        return FaceAnalysis(
            box=box,
            detection_score=score,
            landmarks=points,
            descriptor=models.descriptor(chip) if descriptor else None,
            brightness=brightness,
            sharpness=sharpness,
            image_size=(width, height),
        )

    def try_analyse(
        self, image: ImageInput, *, descriptor: bool = True
    ) -> FaceAnalysis | FaceQuality:
        """:meth:`analyse`, returning the quality failure instead of raising it."""
        try:
            return self.analyse(image, descriptor=descriptor)
        except FaceQuality as problem:
            return problem

    def descriptor_of(self, face: FaceAnalysis | ImageInput) -> NDArray[np.float64]:
        if isinstance(face, FaceAnalysis):
            if face.descriptor is not None:
                return face.descriptor
            raise ValueError("this analysis was made without a descriptor")
        array = None if isinstance(face, bytes | bytearray | memoryview) else np.asarray(face)
        if array is not None and array.shape == (128,):
            return np.asarray(array, dtype=np.float64)
        described = self.analyse(face).descriptor
        assert described is not None
        return described

    def compare(
        self,
        a: FaceAnalysis | ImageInput,
        b: FaceAnalysis | ImageInput,
        *,
        threshold: float = MATCH_DISTANCE,
    ) -> Comparison:
        """Compare two faces (analyses, images, or 128-d descriptors)."""
        distance = float(np.linalg.norm(self.descriptor_of(a) - self.descriptor_of(b)))
        return Comparison(
            distance=distance,
            similarity=distance_to_similarity(distance),
            is_match=distance <= threshold,
            threshold=threshold,
        )


_default: DlibEngine | None = None
_default_lock = threading.Lock()


def default_engine() -> DlibEngine:
    """The process-wide engine with default settings."""
    global _default
    if _default is None:
        with _default_lock:
            if _default is None:
                _default = DlibEngine()
    return _default


def analyse(image: ImageInput, *, descriptor: bool = True) -> FaceAnalysis:
    """:meth:`DlibEngine.analyse` on the default engine."""
    return default_engine().analyse(image, descriptor=descriptor)


def compare(
    a: FaceAnalysis | ImageInput, b: FaceAnalysis | ImageInput, *, threshold: float = MATCH_DISTANCE
) -> Comparison:
    """:meth:`DlibEngine.compare` on the default engine."""
    return default_engine().compare(a, b, threshold=threshold)
