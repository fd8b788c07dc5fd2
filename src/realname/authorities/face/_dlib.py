"""The only module that touches dlib: a small typed wrapper over the four models used.

dlib ships no type information, so everything it returns is converted here into
plain tuples and NumPy arrays; the rest of the package never sees a dlib object.

Models (all from the ``face-recognition-models`` package, loaded from disk, never
from the network):

- dlib's HOG + linear-SVM frontal face detector (built into dlib itself);
- ``shape_predictor_68_face_landmarks.dat`` — the iBUG 300-W 68-point landmarks
  (jaw 0–16, brows 17–26, nose 27–35, eyes 36–47, mouth 48–67);
- ``shape_predictor_5_face_landmarks.dat`` — eye corners and nose base, the
  alignment the descriptor network was trained with (dlib's
  ``dnn_face_recognition_ex``);
- ``dlib_face_recognition_resnet_model_v1.dat`` — the 29-layer ResNet mapping an
  aligned 150×150 chip to a 128-d descriptor (99.38 % on LFW at distance 0.6).

Models load once, lazily, under a lock. dlib's network object keeps scratch tensors
between calls and is not safe to call from two threads at once, so every model
call also takes that model's own lock.
"""

from __future__ import annotations

import importlib.util
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

#: A face rectangle as ``(left, top, right, bottom)`` pixel coordinates.
Rect = tuple[int, int, int, int]

LANDMARKS_68 = "shape_predictor_68_face_landmarks.dat"
LANDMARKS_5 = "shape_predictor_5_face_landmarks.dat"
DESCRIPTOR_NET = "dlib_face_recognition_resnet_model_v1.dat"

#: Side of the aligned chip the descriptor network expects, and dlib's default padding.
CHIP_SIZE = 150
CHIP_PADDING = 0.25


def models_dir() -> Path:
    """Where ``face-recognition-models`` keeps its ``.dat`` files.

    Found with :func:`importlib.util.find_spec`, which does not execute the package's
    ``__init__`` (that imports the deprecated ``pkg_resources``).
    """
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError("the face-recognition-models package is not installed")
    return Path(next(iter(spec.submodule_search_locations))) / "models"


def _dlib() -> Any:
    """dlib itself, imported on first use so that importing this package stays cheap."""
    import dlib  # type: ignore[import-untyped]

    return dlib


def _shape(predictor: Any, image: NDArray[np.uint8], rect: Rect) -> Any:
    left, top, right, bottom = rect
    return predictor(image, _dlib().rectangle(left, top, right, bottom))


def _points(shape: Any) -> NDArray[np.float64]:
    return np.array([(part.x, part.y) for part in shape.parts()], dtype=np.float64)


@dataclass(frozen=True, eq=False)
class DlibModels:
    """The loaded models with one lock each. Build with :func:`load_models`."""

    detector: Any
    landmarks68: Any
    landmarks5: Any
    net: Any
    locks: tuple[threading.Lock, threading.Lock, threading.Lock, threading.Lock]

    def detect(self, image: NDArray[np.uint8], upsample: int = 0) -> list[tuple[Rect, float]]:
        """Faces in an RGB or grey image: rectangles with their detector scores."""
        with self.locks[0]:
            rects, scores, _ = self.detector.run(image, upsample, 0.0)
        found = [
            ((int(r.left()), int(r.top()), int(r.right()), int(r.bottom())), float(s))
            for r, s in zip(rects, scores, strict=True)
        ]
        return sorted(found, key=lambda item: item[1], reverse=True)

    def landmarks(self, image: NDArray[np.uint8], rect: Rect) -> NDArray[np.float64]:
        """The 68 landmark points (x, y) of the face in ``rect``, shape ``(68, 2)``."""
        with self.locks[1]:
            return _points(_shape(self.landmarks68, image, rect))

    def chip(self, image: NDArray[np.uint8], rect: Rect) -> NDArray[np.uint8]:
        """The face aligned on its 5 points, rotated upright, 150×150 RGB."""
        with self.locks[2]:
            shape = _shape(self.landmarks5, image, rect)
        chip = _dlib().get_face_chip(image, shape, CHIP_SIZE, CHIP_PADDING)
        return np.asarray(chip, dtype=np.uint8)

    def descriptor(self, chip: NDArray[np.uint8]) -> NDArray[np.float64]:
        """The 128-d descriptor of an aligned 150×150 chip."""
        with self.locks[3]:
            vector = self.net.compute_face_descriptor(np.ascontiguousarray(chip), 0)
        return np.asarray(vector, dtype=np.float64)


_loaded: DlibModels | None = None
_load_lock = threading.Lock()


def load_models() -> DlibModels:
    """The process-wide models, loaded on first use (about a second)."""
    global _loaded
    if _loaded is None:
        with _load_lock:
            if _loaded is None:
                folder = models_dir()
                dlib = _dlib()
                _loaded = DlibModels(
                    detector=dlib.get_frontal_face_detector(),
                    landmarks68=dlib.shape_predictor(str(folder / LANDMARKS_68)),
                    landmarks5=dlib.shape_predictor(str(folder / LANDMARKS_5)),
                    net=dlib.face_recognition_model_v1(str(folder / DESCRIPTOR_NET)),
                    locks=(
                        threading.Lock(),
                        threading.Lock(),
                        threading.Lock(),
                        threading.Lock(),
                    ),
                )
    return _loaded
