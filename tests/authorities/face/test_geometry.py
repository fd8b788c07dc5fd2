"""Landmark geometry, with no model involved."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from realname.authorities.face import geometry
from realname.authorities.face.geometry import Points


def _eye(opening: float) -> Points:
    """Six eye points, width 4, the two upper/lower pairs ``opening`` apart."""
    half = opening / 2
    return np.array([[0, 0], [1, -half], [3, -half], [4, 0], [3, half], [1, half]], float)


def test_eye_aspect_ratio() -> None:
    assert geometry.eye_aspect_ratio(_eye(1.2)) == pytest.approx(0.3)
    assert geometry.eye_aspect_ratio(_eye(0.0)) == 0.0


def _face(nose_x: float) -> Points:
    points = np.zeros((68, 2))
    points[0] = (0, 0)
    points[16] = (10, 0)
    points[30] = (nose_x, 3)
    points[36:42] = _eye(1.0) + np.array([1.0, -2.0])
    points[42:48] = _eye(1.0) + np.array([5.0, -2.0])
    points[60:68] = [(3, 6), (4, 5.5), (5, 5.5), (6, 5.5), (7, 6), (6, 6.5), (5, 6.5), (4, 6.5)]
    return points


def test_yaw_sign_follows_the_subjects_own_left() -> None:
    """Turning to one's own left carries the nose toward jaw point 16 (image right)."""
    assert geometry.yaw_ratio(_face(5.0)) == pytest.approx(0.0)
    assert geometry.yaw_ratio(_face(8.0)) == pytest.approx(0.6)
    assert geometry.yaw_ratio(_face(2.0)) == pytest.approx(-0.6)


def test_mouth_aspect_ratio() -> None:
    assert geometry.mouth_aspect_ratio(_face(5.0)) == pytest.approx(1.0 / 4.0)


def test_in_plane_rotation_is_not_a_turn() -> None:
    face = _face(6.5)
    angle = np.radians(25)
    rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    turned = face @ rotation.T
    assert geometry.yaw_ratio(turned) == pytest.approx(geometry.yaw_ratio(face))
    assert geometry.eyes_aspect_ratio(turned) == pytest.approx(geometry.eyes_aspect_ratio(face))


_coefficient = st.floats(min_value=-0.2, max_value=0.2)


@settings(max_examples=40, deadline=None)
@given(
    st.lists(_coefficient, min_size=6, max_size=6),
    st.lists(st.floats(min_value=-2e-4, max_value=2e-4), min_size=2, max_size=2),
    st.integers(min_value=0, max_value=2**32 - 1),
)
def test_a_plane_moved_by_a_homography_fits_exactly(
    affine: list[float], perspective: list[float], seed: int
) -> None:
    rng = np.random.default_rng(seed)
    points = rng.uniform(0, 400, size=(68, 2))
    h = np.array(
        [
            [1 + affine[0], affine[1], 40 * affine[2]],
            [affine[3], 1 + affine[4], 40 * affine[5]],
            [perspective[0], perspective[1], 1.0],
        ]
    )
    moved = geometry.apply_homography(h, points)
    assert geometry.planar_residuals(points, moved).max() < 1e-6
    assert np.allclose(geometry.fit_homography(points, moved), h, atol=1e-6)


def test_independent_motion_leaves_a_residual() -> None:
    rng = np.random.default_rng(7)
    points = rng.uniform(0, 400, size=(68, 2))
    moved = points * 1.1 + 5
    moved[37:39, 1] += 12  # two eyelid points move on their own
    residuals = geometry.planar_residuals(points, moved)
    assert residuals[37:39].min() > 5
    assert np.median(residuals) < 2


def test_a_homography_needs_four_points() -> None:
    with pytest.raises(ValueError, match="at least four"):
        geometry.fit_homography(np.zeros((3, 2)), np.zeros((3, 2)))
