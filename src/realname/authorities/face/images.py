"""Image input and output for the face engine: bytes or arrays in, RGB arrays out.

Decoding uses Pillow (JPEG, PNG and animated PNG) and honours the EXIF orientation
tag, because phone cameras store a portrait photo as a landscape bitmap plus an
orientation flag and a face detector sees a face lying on its side otherwise.

Pixel counts are checked *before* the bitmap is decoded, so a small file claiming
enormous dimensions (a decompression bomb) is refused cheaply.

A multi-frame capture travels as an animated PNG (``image/png``, the APNG
extension): each frame is one still of the sequence. A plain JPEG or PNG is a
one-frame capture. Video (``video/mp4``) is not decoded here: no video decoder ships
with the project's dependencies.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import TypeAlias

import numpy as np
from numpy.typing import NDArray
from PIL import Image, ImageOps, ImageSequence, UnidentifiedImageError

from realname.authorities.face.errors import FaceImageInvalid

#: An RGB image as a ``(height, width, 3)`` uint8 array.
RGBImage: TypeAlias = NDArray[np.uint8]
#: Anything :func:`to_rgb` accepts: encoded bytes or an array (grey, RGB or RGBA).
ImageInput: TypeAlias = bytes | bytearray | memoryview | NDArray[np.generic]

#: Refuse images above 40 megapixels (a 7296×5472 camera sensor is 39.9).
MAX_PIXELS = 40_000_000
#: At most this many frames are read from an animated capture.
MAX_FRAMES = 32
#: Media types :func:`decode_frames` understands.
SUPPORTED_MEDIA_TYPES = frozenset({"image/jpeg", "image/png", "image/apng"})


def _open(data: bytes) -> Image.Image:
    try:
        image = Image.open(io.BytesIO(data))
    except (UnidentifiedImageError, OSError) as error:
        raise FaceImageInvalid("The image could not be decoded.", problem="undecodable") from error
    if image.format not in {"JPEG", "PNG", "MPO"}:
        raise FaceImageInvalid("Only JPEG and PNG images are accepted.", problem="format")
    width, height = image.size
    if width * height > MAX_PIXELS:
        raise FaceImageInvalid("The image has too many pixels.", problem="too_large")
    return image


def _rgb(image: Image.Image) -> RGBImage:
    try:
        upright = ImageOps.exif_transpose(image)
        return np.asarray(upright.convert("RGB"), dtype=np.uint8)
    except (OSError, ValueError, SyntaxError) as error:  # truncated or corrupt data
        raise FaceImageInvalid("The image could not be decoded.", problem="undecodable") from error


def to_rgb(image: ImageInput) -> RGBImage:
    """An RGB array from encoded bytes (first frame) or from an array.

    Arrays may be ``(h, w)`` grey, ``(h, w, 3)`` RGB or ``(h, w, 4)`` RGBA; float
    arrays are taken to hold values in [0, 1] (scikit-image's convention).
    """
    if isinstance(image, bytes | bytearray | memoryview):
        return _rgb(_open(bytes(image)))
    array = np.asarray(image)
    if array.dtype.kind == "f":
        array = np.clip(np.rint(np.asarray(array, dtype=np.float64) * 255.0), 0, 255)
    elif array.dtype.kind == "b":
        array = array * 255
    array = array.astype(np.uint8, copy=False)
    if array.ndim == 2:
        array = np.repeat(array[:, :, None], 3, axis=2)
    if array.ndim != 3 or array.shape[2] not in (3, 4) or 0 in array.shape[:2]:
        raise FaceImageInvalid("An image array must be grey, RGB or RGBA.", problem="shape")
    if array.shape[0] * array.shape[1] > MAX_PIXELS:
        raise FaceImageInvalid("The image has too many pixels.", problem="too_large")
    return np.ascontiguousarray(array[:, :, :3])


def decode_frames(data: bytes, media_type: str | None = None) -> list[RGBImage]:
    """Every frame of a capture: one for a still, several for an animated PNG."""
    if media_type is not None and media_type.split(";")[0].strip() not in SUPPORTED_MEDIA_TYPES:
        raise FaceImageInvalid(
            "Only JPEG and PNG (including animated PNG) captures are accepted.",
            problem="media_type",
        )
    image = _open(data)
    if image.format != "PNG":
        # A multi-picture JPEG (MPO: phone depth maps, thumbnails) is still one photo.
        return [_rgb(image)]
    if getattr(image, "n_frames", 1) > MAX_FRAMES:
        raise FaceImageInvalid("The capture has too many frames.", problem="too_many_frames")
    return [_rgb(frame.copy()) for frame in ImageSequence.Iterator(image)]


def luma(image: RGBImage) -> NDArray[np.float64]:
    """ITU-R BT.601 luma in [0, 255], the weighting JPEG itself uses."""
    weights = np.array([0.299, 0.587, 0.114])
    return np.asarray(np.asarray(image[..., :3], dtype=np.float64) @ weights, dtype=np.float64)


def resize(image: RGBImage, width: int, height: int) -> RGBImage:
    """Resample to exactly ``width`` × ``height`` (bilinear when shrinking)."""
    if image.shape[1] == width and image.shape[0] == height:
        return image
    pil = Image.fromarray(image)
    method = Image.Resampling.BILINEAR
    if width > image.shape[1]:
        method = Image.Resampling.BICUBIC
    return np.asarray(pil.resize((width, height), method), dtype=np.uint8)


def downscale(image: RGBImage, max_side: int) -> tuple[RGBImage, float]:
    """Shrink so the longer side is at most ``max_side``; returns the image and scale."""
    height, width = image.shape[:2]
    longest = max(height, width)
    if longest <= max_side:
        return image, 1.0
    scale = max_side / longest
    small = resize(image, max(1, round(width * scale)), max(1, round(height * scale)))
    return small, scale


def encode_jpeg(image: RGBImage, quality: int = 90) -> bytes:
    """Baseline JPEG bytes (no EXIF, so no orientation surprises downstream)."""
    out = io.BytesIO()
    Image.fromarray(image).save(out, format="JPEG", quality=quality)
    return out.getvalue()


def encode_png(image: RGBImage) -> bytes:
    out = io.BytesIO()
    Image.fromarray(image).save(out, format="PNG")
    return out.getvalue()


def encode_frames(frames: Sequence[RGBImage]) -> tuple[bytes, str]:
    """A capture's frames as one payload: JPEG for one frame, animated PNG for more."""
    if not frames:
        raise ValueError("a capture needs at least one frame")
    if len({frame.shape for frame in frames}) != 1:
        raise ValueError("all frames of a capture must have the same size")
    if len(frames) == 1:
        return encode_jpeg(frames[0]), "image/jpeg"
    first, *rest = (Image.fromarray(frame) for frame in frames)
    out = io.BytesIO()
    first.save(out, format="PNG", save_all=True, append_images=rest, duration=200, loop=0)
    return out.getvalue(), "image/png"
