"""Detection, descriptors and comparison on real photographs."""

from __future__ import annotations

import io
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image

from realname.authorities.face import (
    MATCH_DISTANCE,
    TENCENT_PASS_SIMILARITY,
    TENCENT_STRICT_SIMILARITY,
    DlibEngine,
    FaceImageInvalid,
    FaceQuality,
    _dlib,
    compare,
    distance_to_similarity,
    similarity_to_distance,
)
from realname.authorities.face.images import RGBImage, decode_frames, encode_frames, to_rgb
from realname.authorities.face.portraits import data_bytes, recaptured


@pytest.mark.parametrize("other", ["obama2", "obama3"])
def test_other_photos_of_the_same_person_match(
    engine: DlibEngine, images: dict[str, RGBImage], other: str
) -> None:
    result = engine.compare(images["obama"], images[other])
    assert result.is_match
    assert result.distance < MATCH_DISTANCE
    assert result.similarity >= TENCENT_PASS_SIMILARITY
    assert result.threshold == MATCH_DISTANCE


def test_a_recaptured_portrait_matches_its_original(
    engine: DlibEngine, images: dict[str, RGBImage]
) -> None:
    copy = recaptured("p3")
    assert copy.shape != images["astronaut"].shape  # cropped, so not the same bitmap
    result = engine.compare(images["astronaut"], copy)
    assert result.is_match
    assert result.distance < 0.3


@pytest.mark.parametrize(
    ("a", "b"), [("obama", "biden"), ("obama2", "biden"), ("astronaut", "obama")]
)
def test_different_people_do_not_match(
    engine: DlibEngine, images: dict[str, RGBImage], a: str, b: str
) -> None:
    result = engine.compare(images[a], images[b])
    assert not result.is_match
    assert result.distance > MATCH_DISTANCE
    assert result.similarity < TENCENT_PASS_SIMILARITY


def test_compare_accepts_analyses_bytes_and_descriptors(
    engine: DlibEngine, images: dict[str, RGBImage]
) -> None:
    face = engine.analyse(images["obama"])
    assert face.descriptor is not None
    assert face.descriptor.shape == (128,)
    by_bytes = compare(data_bytes("obama.jpg"), face.descriptor)
    assert by_bytes.distance == pytest.approx(0.0, abs=1e-9)
    with pytest.raises(ValueError, match="without a descriptor"):
        engine.compare(engine.analyse(images["obama"], descriptor=False), face)


def test_the_threshold_is_adjustable(engine: DlibEngine, images: dict[str, RGBImage]) -> None:
    loose = engine.compare(images["obama2"], images["obama3"])
    strict = engine.compare(images["obama2"], images["obama3"], threshold=0.3)
    assert loose.distance == strict.distance
    assert loose.is_match
    assert not strict.is_match


def test_the_similarity_scale_anchors() -> None:
    assert distance_to_similarity(MATCH_DISTANCE) == pytest.approx(TENCENT_PASS_SIMILARITY)
    assert distance_to_similarity(0.4) == pytest.approx(TENCENT_STRICT_SIMILARITY)
    assert distance_to_similarity(0.0) == 100.0
    assert distance_to_similarity(5.0) == 0.0


@given(st.floats(min_value=0.0, max_value=2.0), st.floats(min_value=0.0, max_value=2.0))
def test_similarity_falls_as_distance_grows(a: float, b: float) -> None:
    low, high = sorted((a, b))
    assert distance_to_similarity(low) >= distance_to_similarity(high)
    assert 0.0 <= distance_to_similarity(high) <= 100.0
    # Where it is not clamped, the mapping is exactly invertible.
    assert similarity_to_distance(distance_to_similarity(low)) == pytest.approx(low, abs=1e-9)


def test_exif_orientation_is_honoured(engine: DlibEngine, images: dict[str, RGBImage]) -> None:
    """A phone photo stored sideways with an orientation tag is read upright."""
    upright = images["obama"]
    sideways = Image.fromarray(upright).transpose(Image.Transpose.ROTATE_90)
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90° clockwise to display"
    out = io.BytesIO()
    sideways.save(out, format="JPEG", quality=95, exif=exif)
    decoded = to_rgb(out.getvalue())
    assert decoded.shape == upright.shape
    assert engine.compare(out.getvalue(), upright).distance < 0.1
    # Without the tag the same bitmap is a face lying on its side: not found.
    plain = io.BytesIO()
    sideways.save(plain, format="JPEG", quality=95)
    assert isinstance(engine.try_analyse(plain.getvalue()), FaceQuality)


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        (b"definitely not an image", "undecodable"),
        (b"\xff\xd8\xff\xe0 truncated jpeg", "undecodable"),
    ],
)
def test_unreadable_bytes_are_refused(engine: DlibEngine, data: bytes, problem: str) -> None:
    with pytest.raises(FaceImageInvalid) as caught:
        engine.analyse(data)
    assert caught.value.code == "FACE_IMAGE_INVALID"
    assert caught.value.details["problem"] == problem


def test_only_jpeg_and_png_are_accepted(images: dict[str, RGBImage]) -> None:
    out = io.BytesIO()
    Image.fromarray(images["astronaut"]).save(out, format="GIF")
    with pytest.raises(FaceImageInvalid) as caught:
        to_rgb(out.getvalue())
    assert caught.value.details["problem"] == "format"
    with pytest.raises(FaceImageInvalid) as caught:
        decode_frames(b"", "video/mp4")
    assert caught.value.details["problem"] == "media_type"


def test_decompression_bombs_are_refused_before_decoding() -> None:
    out = io.BytesIO()
    Image.new("L", (8000, 6000)).save(out, format="PNG")  # 48 MP of nothing, a tiny file
    with pytest.raises(FaceImageInvalid) as caught:
        to_rgb(out.getvalue())
    assert caught.value.details["problem"] == "too_large"


def test_arrays_of_every_common_layout_are_accepted(images: dict[str, RGBImage]) -> None:
    rgb = images["astronaut"]
    grey = rgb[:, :, 0]
    rgba = np.dstack([rgb, np.full(rgb.shape[:2], 255, np.uint8)])
    as_float = rgb.astype(np.float64) / 255.0
    assert to_rgb(grey).shape == rgb.shape
    assert np.array_equal(to_rgb(rgba), rgb)
    assert np.array_equal(to_rgb(as_float), rgb)
    with pytest.raises(FaceImageInvalid):
        to_rgb(np.zeros((4, 4, 2), np.uint8))


def test_frames_round_trip_as_animated_png(images: dict[str, RGBImage]) -> None:
    frames = [images["astronaut"], images["astronaut"][::-1].copy()]
    content, media_type = encode_frames(frames)
    assert media_type == "image/png"
    decoded = decode_frames(content, media_type)
    assert [f.shape for f in decoded] == [f.shape for f in frames]
    assert all(np.array_equal(a, b) for a, b in zip(decoded, frames, strict=True))
    single, single_type = encode_frames(frames[:1])
    assert single_type == "image/jpeg"
    assert len(decode_frames(single, single_type)) == 1


def test_models_load_once_and_are_shared_across_threads(
    engine: DlibEngine, images: dict[str, RGBImage]
) -> None:
    assert _dlib.load_models() is _dlib.load_models() is engine.models
    inputs = [images["obama"], images["biden"], images["astronaut"], images["obama2"]]
    alone = [engine.analyse(image).descriptor for image in inputs]
    with ThreadPoolExecutor(max_workers=4) as pool:
        together = list(pool.map(lambda image: engine.analyse(image).descriptor, inputs))
    for a, b in zip(alone, together, strict=True):
        assert a is not None
        assert b is not None
        assert np.allclose(a, b)
