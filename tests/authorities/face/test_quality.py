"""Every FACE_QUALITY reason is reachable, and good photos raise none of them."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageEnhance, ImageFilter

from realname.authorities.face import DlibEngine, FaceQuality, QualityReason
from realname.authorities.face.images import RGBImage
from realname.authorities.face.portraits import no_face_frame, recaptured
from realname.authorities.protocol import FaceQualityIssue


def shrink(image: RGBImage, factor: float) -> RGBImage:
    pil = Image.fromarray(image)
    size = (round(pil.width * factor), round(pil.height * factor))
    return np.asarray(pil.resize(size, Image.Resampling.LANCZOS), dtype=np.uint8)


def reason(engine: DlibEngine, image: RGBImage) -> QualityReason | None:
    outcome = engine.try_analyse(image, descriptor=False)
    return outcome.reason if isinstance(outcome, FaceQuality) else None


@pytest.mark.parametrize("name", ["obama", "obama2", "obama3", "biden", "astronaut"])
def test_good_photos_pass_every_check(
    engine: DlibEngine, images: dict[str, RGBImage], name: str
) -> None:
    face = engine.analyse(images[name], descriptor=False)
    assert face.face_width >= 64
    assert face.brightness >= 45
    assert face.sharpness >= 10


def test_no_face(engine: DlibEngine) -> None:
    assert reason(engine, no_face_frame()) is QualityReason.NO_FACE
    assert reason(engine, np.full((480, 640, 3), 200, np.uint8)) is QualityReason.NO_FACE


def test_several_faces(engine: DlibEngine, images: dict[str, RGBImage]) -> None:
    left = Image.fromarray(images["obama"]).resize((400, 500))
    right = Image.fromarray(recaptured("p2")).crop((240, 80, 960, 980)).resize((400, 500))
    pair = Image.new("RGB", (800, 500))
    pair.paste(left, (0, 0))
    pair.paste(right, (400, 0))
    with pytest.raises(FaceQuality) as caught:
        engine.analyse(np.asarray(pair), descriptor=False)
    assert caught.value.reason is QualityReason.MULTIPLE_FACES
    assert caught.value.details["measured"] == 2
    # Each half alone is fine.
    assert reason(engine, np.asarray(left)) is None
    assert reason(engine, np.asarray(right)) is None


@pytest.mark.parametrize("factor", [0.25, 0.02])
def test_too_dark(engine: DlibEngine, images: dict[str, RGBImage], factor: float) -> None:
    """Dimmed, the face is still found but too dark; nearly black, no face is found
    and the whole image is too dark — either way the answer is ``too_dark``."""
    dark = np.asarray(ImageEnhance.Brightness(Image.fromarray(images["obama"])).enhance(factor))
    assert reason(engine, dark) is QualityReason.TOO_DARK
    lit = np.asarray(ImageEnhance.Brightness(Image.fromarray(images["obama"])).enhance(0.5))
    assert reason(engine, lit) is None


def test_too_small(engine: DlibEngine, images: dict[str, RGBImage]) -> None:
    """The same portrait shrunk into a large empty frame: found, but a speck."""
    small = shrink(images["obama"], 0.45)  # the face becomes ~120 px wide
    canvas = np.full((1200, 1600, 3), 90, np.uint8)
    canvas[300 : 300 + small.shape[0], 500 : 500 + small.shape[1]] = small
    with pytest.raises(FaceQuality) as caught:
        engine.analyse(canvas, descriptor=False)
    assert caught.value.reason is QualityReason.TOO_SMALL
    assert caught.value.measured is not None
    assert 90 < caught.value.measured < 160
    # The same small image without the empty surround is an acceptable close-up.
    assert reason(engine, small) is None


def test_face_cut_off(engine: DlibEngine, images: dict[str, RGBImage]) -> None:
    assert reason(engine, images["obama_partial_face"]) is QualityReason.FACE_CUT_OFF
    face = engine.analyse(images["obama"], descriptor=False)
    middle = (face.box[0] + face.box[2]) // 2
    cropped = np.ascontiguousarray(images["obama"][:, middle - 40 :])
    assert reason(engine, cropped) is QualityReason.FACE_CUT_OFF


def test_blurry(engine: DlibEngine, images: dict[str, RGBImage]) -> None:
    face = engine.analyse(images["obama"], descriptor=False)
    sigma = 0.03 * face.face_width
    blurred = np.asarray(Image.fromarray(images["obama"]).filter(ImageFilter.GaussianBlur(sigma)))
    with pytest.raises(FaceQuality) as caught:
        engine.analyse(blurred, descriptor=False)
    assert caught.value.reason is QualityReason.BLURRY
    assert caught.value.measured is not None
    assert caught.value.measured < 10


@pytest.mark.parametrize(
    ("quality_reason", "issue"),
    [
        (QualityReason.NO_FACE, FaceQualityIssue.NO_FACE),
        (QualityReason.MULTIPLE_FACES, FaceQualityIssue.MULTIPLE_FACES),
        (QualityReason.FACE_CUT_OFF, FaceQualityIssue.NO_FACE),
        (QualityReason.TOO_SMALL, FaceQualityIssue.POOR_QUALITY),
        (QualityReason.TOO_DARK, FaceQualityIssue.POOR_QUALITY),
        (QualityReason.BLURRY, FaceQualityIssue.POOR_QUALITY),
    ],
)
def test_the_error_carries_a_stable_code(
    quality_reason: QualityReason, issue: FaceQualityIssue
) -> None:
    error = FaceQuality(quality_reason, measured=1.23456)
    assert (error.code, error.http_status) == ("FACE_QUALITY", 422)
    assert error.details == {"reason": quality_reason.value, "measured": 1.235}
    assert error.issue is issue
    assert error.diagnostics().startswith("FACE_QUALITY: ")
