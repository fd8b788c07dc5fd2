"""Synthetic test captures: landmark-driven warps of still photographs.

Nobody can be filmed here, so the frames that exercise liveness are *made*:

- **live actions** — a still of the person is warped **non-rigidly**, driven by its
  own 68 landmarks: :func:`close_eyes` slides each upper eyelid down over the eye
  (a column-wise remap between the brow region and the lid line),
  :func:`open_mouth` drops the lower lip and chin with a piecewise-affine warp
  (scikit-image ``PiecewiseAffineTransform`` over the landmarks plus a fixed frame
  of anchor points) and paints a dark mouth cavity between the lips, and
  :func:`turn_head` shifts nose, eyes and mouth sideways against a jaw line that
  moves less (the parallax of a 3-D head turning). The features move on their own,
  which is exactly what a flat picture cannot do.
- **replays** — :func:`planar_views` moves one photograph as a rigid flat plane:
  perspective warps (tilt, swing, in-plane rotation, distance) of the same print,
  over a plain background. Every landmark moves by one homography.

These are test sequences, not recordings of people: they exercise the detectors'
logic end to end on real faces, and say nothing about how a production liveness
model would fare against real attacks. All functions are deterministic.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, cast

import numpy as np
from numpy.typing import NDArray
from PIL import Image, ImageDraw, ImageEnhance, ImageFilter

from realname.authorities.face.geometry import Points, interocular
from realname.authorities.face.images import RGBImage, encode_jpeg, to_rgb


def _warp(*args: Any, **kwargs: Any) -> NDArray[np.float64]:
    """scikit-image's ``warp``, imported on first use (it pulls in SciPy, ~0.5 s)."""
    from skimage.transform import warp

    # scikit-image leaves it unannotated; the cast keeps mypy --strict honest.
    return cast(Callable[..., NDArray[np.float64]], warp)(*args, **kwargs)


def _estimate_piecewise(source: Points, target: Points) -> Any:
    from skimage.transform import PiecewiseAffineTransform

    return cast(Callable[..., Any], PiecewiseAffineTransform.from_estimate)(source, target)


_CAVITY = (48, 20, 22)  # the colour of a mouth's interior in shadow


def _bounds(points: Points, pad: float, shape: tuple[int, ...]) -> tuple[int, int, int, int]:
    x0, y0 = points.min(axis=0)
    x1, y1 = points.max(axis=0)
    px, py = (x1 - x0) * pad, (y1 - y0) * pad
    height, width = shape[:2]
    return (
        max(0, int(x0 - px)),
        max(0, int(y0 - py)),
        min(width, int(np.ceil(x1 + px))),
        min(height, int(np.ceil(y1 + py))),
    )


def _warp_region(
    image: RGBImage,
    box: tuple[int, int, int, int],
    inverse: Callable[[NDArray[np.float64]], NDArray[np.float64]],
) -> RGBImage:
    left, top, right, bottom = box
    region = image[top:bottom, left:right]
    warped = _warp(
        region, inverse, output_shape=region.shape, order=1, mode="edge", preserve_range=True
    )
    out = image.copy()
    out[top:bottom, left:right] = np.clip(np.rint(warped), 0, 255).astype(np.uint8)
    return out


def piecewise_affine(
    image: RGBImage, source: Points, target: Points, pad: float = 0.45
) -> RGBImage:
    """Warp so that landmark ``source[i]`` moves to ``target[i]``; outside stays put.

    The warp lives in the landmarks' bounding box grown by ``pad``; a ring of fixed
    anchor points on that box's border keeps the rest of the image untouched.
    """
    left, top, right, bottom = _bounds(np.vstack([source, target]), pad, image.shape)
    width, height = right - left - 1, bottom - top - 1
    steps = np.linspace(0.0, 1.0, 9)
    ring = np.array(
        [(s * width, 0.0) for s in steps]
        + [(s * width, float(height)) for s in steps]
        + [(0.0, s * height) for s in steps[1:-1]]
        + [(float(width), s * height) for s in steps[1:-1]]
    )
    offset = np.array([left, top], dtype=np.float64)
    src = np.vstack([source - offset, ring])
    dst = np.vstack([target - offset, ring])
    # warp() needs output → input, so the transform is estimated from target to source.
    transform = _estimate_piecewise(dst, src)
    if not transform:
        raise ValueError("the landmark warp could not be estimated")

    def exact(coords: NDArray[np.float64]) -> NDArray[np.float64]:
        mapped = np.asarray(transform(coords), dtype=np.float64)
        # Points outside the triangulation come back as -1: leave them where they are.
        outside = (mapped < 0).all(axis=1)
        mapped[outside] = coords[outside]
        return mapped

    output_to_input = _on_grid(exact, right - left, bottom - top)
    return _warp_region(image, (left, top, right, bottom), output_to_input)


def _on_grid(
    mapping: Callable[[NDArray[np.float64]], NDArray[np.float64]],
    width: int,
    height: int,
    step: int = 4,
) -> Callable[[NDArray[np.float64]], NDArray[np.float64]]:
    """``mapping`` evaluated on a ``step``-pixel grid and interpolated bilinearly.

    Locating every pixel in the triangulation is what makes a piecewise-affine
    warp slow; the map is smooth enough that a 4-pixel grid changes nothing visible.
    """
    xs = np.arange(0.0, width - 1 + step, step)
    ys = np.arange(0.0, height - 1 + step, step)
    grid_x, grid_y = np.meshgrid(xs, ys)
    table = mapping(np.column_stack([grid_x.ravel(), grid_y.ravel()])).reshape(len(ys), len(xs), 2)

    def interpolated(coords: NDArray[np.float64]) -> NDArray[np.float64]:
        fx = np.clip(coords[:, 0] / step, 0.0, len(xs) - 1.000001)
        fy = np.clip(coords[:, 1] / step, 0.0, len(ys) - 1.000001)
        j, i = fx.astype(np.intp), fy.astype(np.intp)
        tx, ty = (fx - j)[:, None], (fy - i)[:, None]
        top = table[i, j] * (1 - tx) + table[i, j + 1] * tx
        bottom = table[i + 1, j] * (1 - tx) + table[i + 1, j + 1] * tx
        return np.asarray(top * (1 - ty) + bottom * ty, dtype=np.float64)

    return interpolated


def _polyline(
    xs: Sequence[float], ys: Sequence[float], at: NDArray[np.float64]
) -> NDArray[np.float64]:
    order = np.argsort(xs)
    xp = np.asarray(xs, dtype=np.float64)[order]
    fp = np.asarray(ys, dtype=np.float64)[order]
    return np.asarray(np.interp(at, xp, fp), dtype=np.float64)


def close_eyes(image: RGBImage, landmarks: Points, closure: float = 0.9) -> RGBImage:
    """Slide both upper eyelids down by ``closure`` (1.0 = shut) of the eye opening.

    Per column of each eye the skin between a line above the eye and the upper lid
    is stretched down to the new lid line; below it the lower part of the eye
    shows unchanged, as it does in a real, almost closed eye.
    """
    out = image
    for eye in (landmarks[36:42], landmarks[42:48]):
        corner_out, up1, up2, corner_in, low2, low1 = eye
        eye_width = float(np.linalg.norm(corner_in - corner_out))
        upper_x = [corner_out[0], up1[0], up2[0], corner_in[0]]
        upper_y = [corner_out[1], up1[1], up2[1], corner_in[1]]
        lower_y = [corner_out[1], low1[1], low2[1], corner_in[1]]
        top_line = float(min(upper_y)) - 0.45 * eye_width
        box = (
            max(0, int(min(upper_x)) - 2),
            max(0, int(top_line) - 2),
            min(image.shape[1], int(np.ceil(max(upper_x))) + 3),
            min(image.shape[0], int(np.ceil(max(lower_y))) + 3),
        )

        def output_to_input(
            coords: NDArray[np.float64],
            box: tuple[int, int, int, int] = box,
            upper_x: list[float] = upper_x,
            upper_y: list[float] = upper_y,
            lower_y: list[float] = lower_y,
            top_line: float = top_line,
        ) -> NDArray[np.float64]:
            x = coords[:, 0] + box[0]
            y = coords[:, 1] + box[1]
            inside = (x > min(upper_x)) & (x < max(upper_x))
            upper = _polyline(upper_x, upper_y, x)
            lower = np.maximum(_polyline(upper_x, lower_y, x), upper)
            new_lid = upper + closure * (lower - upper)
            stretch = (new_lid - top_line) > 1e-6
            scale = np.where(
                stretch, (upper - top_line) / np.where(stretch, new_lid - top_line, 1.0), 1.0
            )
            source_y = np.where(
                inside & (y >= top_line) & (y <= new_lid), top_line + (y - top_line) * scale, y
            )
            return np.column_stack([coords[:, 0], source_y - box[1]])

        out = _warp_region(out, box, output_to_input)
    return out


def open_mouth(image: RGBImage, landmarks: Points, opening: float = 0.55) -> RGBImage:
    """Drop the lower lip and chin by ``opening`` × mouth width; darken the gap."""
    mouth_width = float(np.linalg.norm(landmarks[54] - landmarks[48]))
    drop = opening * mouth_width
    target = landmarks.copy()
    for index in (55, 56, 57, 58, 59, 65, 66, 67):
        target[index, 1] += drop
    for index in range(4, 13):  # the chin follows, most at its point (8)
        target[index, 1] += drop * 0.9 * (1.0 - abs(index - 8) / 5.0)
    warped = Image.fromarray(piecewise_affine(image, landmarks, target))
    lips = [(float(x), float(y)) for x, y in target[60:68]]
    mask = Image.new("L", warped.size, 0)
    ImageDraw.Draw(mask).polygon(lips, fill=255)
    mask = mask.filter(ImageFilter.GaussianBlur(max(1.0, mouth_width / 40.0)))
    cavity = Image.new("RGB", warped.size, _CAVITY)
    return np.asarray(Image.composite(cavity, warped, mask), dtype=np.uint8)


def turn_head(image: RGBImage, landmarks: Points, direction: int, amount: float = 0.45) -> RGBImage:
    """Mimic a head turn: ``direction`` +1 to the subject's left, −1 to their right.

    In an unmirrored camera image a head turning to its own left carries the nose
    toward the image's right (jaw point 16). The nose tip, standing farthest from
    the rotation axis, moves most; eyes and mouth less; the jaw outline on the far
    side a little and the near side not at all.
    """
    shift = direction * amount * interocular(landmarks)
    weight = np.zeros(68)
    weight[27:31] = np.linspace(0.6, 1.0, 4)  # nose bridge to tip
    weight[31:36] = 0.85  # nose base
    weight[36:48] = 0.45  # eyes
    weight[17:27] = 0.35  # brows
    weight[48:68] = 0.55  # mouth
    along_jaw = np.linspace(0.0, 1.0, 17)  # 0 at jaw point 0, 1 at jaw point 16
    weight[0:17] = 0.5 * ((1.0 - along_jaw) if direction > 0 else along_jaw)
    target = landmarks.copy()
    target[:, 0] += shift * weight
    return piecewise_affine(image, landmarks, target)


@dataclass(frozen=True, slots=True)
class PlanePose:
    """How a flat print is held: degrees of swing (about the vertical axis), tilt
    (about the horizontal axis) and in-plane roll; ``scale`` of the print in the frame
    and ``shift`` of its centre as fractions of the frame."""

    swing: float = 0.0
    tilt: float = 0.0
    roll: float = 0.0
    scale: float = 0.8
    shift: tuple[float, float] = (0.0, 0.0)


def _project(pose: PlanePose, width: int, height: int, size: int) -> list[tuple[float, float]]:
    """Where the print's four corners land in a ``size``×``size`` frame (pin-hole model)."""
    half_w, half_h = width / 2.0, height / 2.0
    corners = np.array(
        [[-half_w, -half_h, 0], [half_w, -half_h, 0], [half_w, half_h, 0], [-half_w, half_h, 0]]
    )
    a, b, c = np.radians([pose.tilt, pose.swing, pose.roll])
    rx = np.array([[1, 0, 0], [0, np.cos(a), -np.sin(a)], [0, np.sin(a), np.cos(a)]])
    ry = np.array([[np.cos(b), 0, np.sin(b)], [0, 1, 0], [-np.sin(b), 0, np.cos(b)]])
    rz = np.array([[np.cos(c), -np.sin(c), 0], [np.sin(c), np.cos(c), 0], [0, 0, 1]])
    rotated = corners @ (rz @ ry @ rx).T
    focal = 1.6 * max(width, height)  # a phone camera's field of view, roughly 50°
    depth = focal + rotated[:, 2]
    fit = pose.scale * size / max(width, height)
    xs = size / 2.0 + pose.shift[0] * size + fit * focal * rotated[:, 0] / depth
    ys = size / 2.0 + pose.shift[1] * size + fit * focal * rotated[:, 1] / depth
    return [(float(x), float(y)) for x, y in zip(xs, ys, strict=True)]


def _perspective_coefficients(
    frame_corners: Sequence[tuple[float, float]], width: int, height: int
) -> list[float]:
    """Pillow's PERSPECTIVE coefficients mapping frame pixels back into the print."""
    print_corners = [
        (0.0, 0.0),
        (float(width), 0.0),
        (float(width), float(height)),
        (0.0, float(height)),
    ]
    rows, rhs = [], []
    for (x, y), (u, v) in zip(frame_corners, print_corners, strict=True):
        rows.append([x, y, 1, 0, 0, 0, -u * x, -u * y])
        rows.append([0, 0, 0, x, y, 1, -v * x, -v * y])
        rhs.extend([u, v])
    solution = np.linalg.solve(
        np.asarray(rows, dtype=np.float64), np.asarray(rhs, dtype=np.float64)
    )
    return [float(value) for value in solution]


def planar_views(
    photo: RGBImage, poses: Sequence[PlanePose], size: int = 480, background: int = 96
) -> list[RGBImage]:
    """The same photo held as a flat print in each pose, over a plain background."""
    print_image = Image.fromarray(photo)
    height, width = photo.shape[:2]
    frames = []
    for pose in poses:
        corners = _project(pose, width, height, size)
        coefficients = _perspective_coefficients(corners, width, height)
        mask = Image.new("L", (width, height), 255).transform(
            (size, size), Image.Transform.PERSPECTIVE, coefficients, Image.Resampling.BILINEAR
        )
        moved = print_image.transform(
            (size, size), Image.Transform.PERSPECTIVE, coefficients, Image.Resampling.BICUBIC
        )
        frame = Image.new("RGB", (size, size), (background, background, background))
        frame.paste(moved, (0, 0), mask)
        frames.append(np.asarray(frame, dtype=np.uint8))
    return frames


def recapture(
    image: RGBImage,
    *,
    rotate: float = 0.0,
    brightness: float = 1.0,
    crop: tuple[float, float, float, float] = (0.0, 0.0, 1.0, 1.0),
    quality: int = 85,
) -> RGBImage:
    """A deterministic "other photo" of the same still: rotated, re-lit, cropped, re-encoded.

    ``crop`` is ``(left, top, right, bottom)`` as fractions of the rotated image.
    """
    pil = Image.fromarray(image)
    if rotate:
        pil = pil.rotate(
            rotate, resample=Image.Resampling.BICUBIC, expand=False, fillcolor=(0, 0, 0)
        )
    if brightness != 1.0:
        pil = ImageEnhance.Brightness(pil).enhance(brightness)
    w, h = pil.size
    left, top, right, bottom = crop
    pil = pil.crop((round(left * w), round(top * h), round(right * w), round(bottom * h)))
    return to_rgb(encode_jpeg(np.asarray(pil, dtype=np.uint8), quality=quality))


def frame_around(
    image: RGBImage, box: tuple[int, int, int, int], size: int = 480, face_share: float = 0.4
) -> RGBImage:
    """A square ``size``-pixel frame centred on ``box``, the face ``face_share`` of its width.

    The crop is shifted (and, for small images, shrunk) to stay inside the image, so
    the frame has no padding.
    """
    height, width = image.shape[:2]
    left, top, right, bottom = box
    side = min((right - left) / face_share, width, height)
    cx, cy = (left + right) / 2.0, (top + bottom) / 2.0
    x0 = float(np.clip(cx - side / 2.0, 0, width - side))
    y0 = float(np.clip(cy - side / 2.0, 0, height - side))
    pil = Image.fromarray(image).crop((round(x0), round(y0), round(x0 + side), round(y0 + side)))
    return np.asarray(pil.resize((size, size), Image.Resampling.LANCZOS), dtype=np.uint8)


def nudge(image: RGBImage, step: int) -> RGBImage:
    """A tiny deterministic camera shake (a pixel or two, a percent of light).

    Consecutive frames of a real capture are never bit-identical; this keeps the
    synthetic ones from being so, and it is rigid, so it adds no liveness evidence.
    """
    if step == 0:
        return image
    dx, dy = (step % 3) - 1, ((step // 3) % 3) - 1
    shifted = np.roll(image, (dy, dx), axis=(0, 1))
    gain = 1.0 + 0.01 * ((step % 5) - 2)
    return np.clip(np.rint(shifted.astype(np.float64) * gain), 0, 255).astype(np.uint8)
