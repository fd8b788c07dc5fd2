"""Landmark geometry: eye and mouth openness, head yaw, and planar-motion fits.

Pure NumPy over ``(68, 2)`` arrays in the iBUG 300-W order dlib's predictor uses
(points are 0-based here; the figures in the literature count from 1):

====================  =========  ==========================================
jaw line              0–16       0 is on the image's left (the subject's right)
eyebrows              17–26
nose bridge / base    27–30 / 31–35   30 is the nose tip
eyes                  36–41, 42–47    image-left eye first
mouth, outer / inner  48–59 / 60–67
====================  =========  ==========================================

- **Eye aspect ratio** (Soukupová & Čech, "Real-Time Eye Blink Detection using
  Facial Landmarks", CVWW 2016): ``(|p1−p5| + |p2−p4|) / (2 |p0−p3|)`` over the six
  points of an eye; about 0.25–0.35 open, below about 0.15 closed.
- **Mouth aspect ratio**: the same construction over the inner lip contour
  (60–67): mean vertical gap over the corner-to-corner width; near 0 closed.
- **Yaw**: where the nose tip falls between the two ends of the jaw line, as a
  signed ratio in [−1, 1]: ``(d_left − d_right) / (d_left + d_right)`` with
  ``d_left`` the horizontal distance from jaw point 0 to the nose tip and
  ``d_right`` from the nose tip to jaw point 16. A frontal face gives about 0; a
  head turned to the subject's own **left** moves the nose toward jaw point 16 in
  an unmirrored camera image and gives a positive value.
- **Planar fit**: the least-squares homography (normalised DLT, Hartley &
  Zisserman, *Multiple View Geometry*, §4.4) between two landmark sets. Points of
  one flat object seen by a pin-hole camera in two poses are related exactly by a
  homography; a live face is not flat, and its eyes and mouth move on their own.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

Points = NDArray[np.float64]

JAW = slice(0, 17)
NOSE_TIP = 30
RIGHT_EYE = slice(36, 42)  # the image-left eye (the subject's right)
LEFT_EYE = slice(42, 48)
INNER_MOUTH = slice(60, 68)


def _dist(a: Points, b: Points) -> float:
    return float(np.linalg.norm(a - b))


def eye_aspect_ratio(eye: Points) -> float:
    """EAR of one eye's six points (corner, two upper, corner, two lower)."""
    vertical = _dist(eye[1], eye[5]) + _dist(eye[2], eye[4])
    horizontal = _dist(eye[0], eye[3])
    return vertical / (2.0 * horizontal) if horizontal > 0 else 0.0


def eyes_aspect_ratio(landmarks: Points) -> float:
    """Mean EAR of both eyes."""
    return (eye_aspect_ratio(landmarks[RIGHT_EYE]) + eye_aspect_ratio(landmarks[LEFT_EYE])) / 2.0


def mouth_aspect_ratio(landmarks: Points) -> float:
    """Inner-lip opening: mean of the three vertical gaps over the corner distance."""
    inner = landmarks[INNER_MOUTH]
    vertical = _dist(inner[1], inner[7]) + _dist(inner[2], inner[6]) + _dist(inner[3], inner[5])
    horizontal = _dist(inner[0], inner[4])
    return vertical / (3.0 * horizontal) if horizontal > 0 else 0.0


def yaw_ratio(landmarks: Points) -> float:
    """Signed horizontal position of the nose tip between the jaw ends, in [−1, 1].

    Measured along the line through jaw points 0 and 16, so an in-plane tilt of the
    head does not read as a turn.
    """
    left, right, tip = landmarks[0], landmarks[16], landmarks[NOSE_TIP]
    axis = right - left
    length = float(np.linalg.norm(axis))
    if length == 0:
        return 0.0
    t = float(np.dot(tip - left, axis)) / (length * length)  # 0 at jaw 0, 1 at jaw 16
    return float(np.clip(2.0 * t - 1.0, -1.0, 1.0))


def interocular(landmarks: Points) -> float:
    """Distance between the two eye centres, the usual landmark-error normaliser."""
    return _dist(landmarks[RIGHT_EYE].mean(axis=0), landmarks[LEFT_EYE].mean(axis=0))


def _normaliser(points: Points) -> NDArray[np.float64]:
    centre = points.mean(axis=0)
    spread = float(np.sqrt(((points - centre) ** 2).sum(axis=1).mean()))
    scale = np.sqrt(2.0) / spread if spread > 0 else 1.0
    return np.array(
        [[scale, 0.0, -scale * centre[0]], [0.0, scale, -scale * centre[1]], [0.0, 0.0, 1.0]]
    )


def _homogeneous(points: Points) -> NDArray[np.float64]:
    return np.hstack([points, np.ones((len(points), 1))])


def fit_homography(source: Points, target: Points) -> NDArray[np.float64]:
    """The 3×3 homography ``H`` minimising the algebraic error of ``H·source ≈ target``.

    Normalised direct linear transform: both point sets are moved to their centroid
    and scaled to mean distance √2 before the SVD, which keeps the fit well
    conditioned. Needs at least four points in general position.
    """
    if source.shape != target.shape or len(source) < 4:
        raise ValueError("need two equally long sets of at least four points")
    t_src, t_dst = _normaliser(source), _normaliser(target)
    src = (t_src @ _homogeneous(source).T).T
    dst = (t_dst @ _homogeneous(target).T).T
    rows = []
    for (x, y, w), (u, v, z) in zip(src, dst, strict=True):
        rows.append([0, 0, 0, -z * x, -z * y, -z * w, v * x, v * y, v * w])
        rows.append([z * x, z * y, z * w, 0, 0, 0, -u * x, -u * y, -u * w])
    _, _, vt = np.linalg.svd(np.asarray(rows, dtype=np.float64))
    normalised = vt[-1].reshape(3, 3)
    homography = np.linalg.inv(t_dst) @ normalised @ t_src
    return np.asarray(homography / homography[2, 2], dtype=np.float64)


def apply_homography(homography: NDArray[np.float64], points: Points) -> Points:
    mapped = (homography @ _homogeneous(points).T).T
    return np.asarray(mapped[:, :2] / mapped[:, 2:3], dtype=np.float64)


def planar_residuals(source: Points, target: Points) -> NDArray[np.float64]:
    """Per-point distance left after the best homography maps ``source`` onto ``target``."""
    homography = fit_homography(source, target)
    return np.asarray(
        np.linalg.norm(apply_homography(homography, source) - target, axis=1), dtype=np.float64
    )
