"""Errors of the local face engine.

Both carry stable codes. Neither message ever describes the face or the person in
an image: a code, a reason and, where useful, a measured number.
"""

from __future__ import annotations

from enum import StrEnum
from typing import ClassVar

from realname.authorities.protocol import FaceQualityIssue
from realname.errors import RealnameError


class QualityReason(StrEnum):
    """Why a capture cannot be judged (the ``reason`` of :class:`FaceQuality`).

    Values are stable API, like cause codes: add, never rename.
    """

    NO_FACE = "no_face"
    MULTIPLE_FACES = "multiple_faces"
    FACE_CUT_OFF = "face_cut_off"
    TOO_SMALL = "too_small"
    TOO_DARK = "too_dark"
    BLURRY = "blurry"

    @property
    def issue(self) -> FaceQualityIssue:
        """The provider protocol's coarser issue (Tencent ``FailedOperation.LifePhoto*``).

        A cut-off face is "no complete face" — Tencent's ``LifePhotoDetectNoFaces``
        reads 未能检测到完整人脸 — the rest are ``LifePhotoPoorQuality``.
        """
        return _ISSUES[self]


_ISSUES = {
    QualityReason.NO_FACE: FaceQualityIssue.NO_FACE,
    QualityReason.MULTIPLE_FACES: FaceQualityIssue.MULTIPLE_FACES,
    QualityReason.FACE_CUT_OFF: FaceQualityIssue.NO_FACE,
    QualityReason.TOO_SMALL: FaceQualityIssue.POOR_QUALITY,
    QualityReason.TOO_DARK: FaceQualityIssue.POOR_QUALITY,
    QualityReason.BLURRY: FaceQualityIssue.POOR_QUALITY,
}

_MESSAGES = {
    QualityReason.NO_FACE: "No face was found in the image.",
    QualityReason.MULTIPLE_FACES: "More than one face was found in the image.",
    QualityReason.FACE_CUT_OFF: "The face is not entirely inside the image.",
    QualityReason.TOO_SMALL: "The face is too small in the image.",
    QualityReason.TOO_DARK: "The image is too dark.",
    QualityReason.BLURRY: "The face is blurred.",
}


class FaceQuality(RealnameError):
    """The image cannot be judged: the cause code ``FACE_QUALITY`` with a ``reason``.

    ``measured`` (when given) is the number that failed its threshold — face width
    in pixels, mean face luma, sharpness — for diagnostics, never personal data.
    """

    code: ClassVar[str] = "FACE_QUALITY"
    http_status: ClassVar[int] = 422
    default_message: ClassVar[str] = "The face image cannot be used."

    def __init__(self, reason: QualityReason, *, measured: float | None = None) -> None:
        self.reason = reason
        self.measured = measured
        details: dict[str, object] = {"reason": reason.value}
        if measured is not None:
            details["measured"] = round(measured, 3)
        super().__init__(_MESSAGES[reason], **details)

    @property
    def issue(self) -> FaceQualityIssue:
        return self.reason.issue


class FaceImageInvalid(RealnameError):
    """The bytes are not an image the engine can read (format, size, media type).

    ``details["problem"]`` is one of ``undecodable``, ``format``, ``too_large``,
    ``shape``, ``media_type``, ``too_many_frames``.
    """

    code: ClassVar[str] = "FACE_IMAGE_INVALID"
    http_status: ClassVar[int] = 400
    default_message: ClassVar[str] = "The image cannot be read."
