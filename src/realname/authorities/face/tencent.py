"""Tencent Cloud FaceID result codes for face answers: the shapes the sandbox speaks.

Tencent's 人脸核身 flows (``DetectAuth`` + ``GetDetectInfoEnhanced`` on H5/mini
programs, the App SDK's ``GetFaceIdResult``) report one ``ErrCode`` per attempt
plus the stage results ``LiveStatus``/``LiveMsg`` (liveness) and
``Comparestatus``/``Comparemsg``/``Sim`` (comparison with the authoritative
portrait), and in the Plus edition a ``LivenessInfoTag`` saying why liveness
rejected. The codes below are the documented ones this engine can produce:

- system codes 0 成功, 2 调用方式出错, 14 本次校验已完成, 15 Token 过期 — the
  Plus code table (cloud.tencent.com/document/product/1007/31082);
- liveness codes 1002 疑似非真人录制 (billed), 1003, 1004, 1005 — same table;
  1202 光线不佳 — the App SDK back-end table (…/1007/101997);
- comparison codes 2009, 2012 多张人脸, 2013 脸部未完整露出, 2014 视频像素太低,
  2016 相似度未达到通过阈值 (billed) — the App SDK back-end table;
- ``LivenessInfoTag`` values 01 用户全程闭眼, 02 用户未完成指定动作, 03 疑似翻拍攻击,
  11 人脸质量过差 — the ``GetFaceIdResult``/``GetDetectInfoEnhanced`` field docs.

Where Tencent has no code of its own for one of our reasons the nearest documented
one is used and the table says so; the engine's own reason always travels beside
the code, so nothing is lost.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class TencentCode:
    """One documented result: the numeric code, its message, and a liveness tag."""

    code: int
    message: str
    #: ``LivenessInfoTag`` for liveness rejections (Plus edition), else ``None``.
    tag: str | None = None
    #: Tencent bills the attempt for this code (收费).
    billable: bool = False


SUCCESS = TencentCode(0, "成功", billable=True)
CHALLENGE_INVALID = TencentCode(2, "调用方式出错，请参考人脸核身 DetectAuth 文档进行调用")
CHALLENGE_REPLAYED = TencentCode(14, "本次校验已完成")
CHALLENGE_EXPIRED = TencentCode(15, "Token 过期，请重试")

FLAT_REPLAY = TencentCode(1002, "疑似非真人录制", tag="03", billable=True)
IDENTITY_CHANGED = TencentCode(1003, "人脸识别验证未成功，请重试")
NO_FACE = TencentCode(1004, "人脸验证失败，请重试")
LIVENESS_FAILED = TencentCode(1005, "人脸验证失败，请重试")
ACTION_NOT_DONE = TencentCode(1005, "人脸验证失败，请重试", tag="02")
EYES_CLOSED = TencentCode(1005, "人脸验证失败，请重试", tag="01")
TOO_DARK = TencentCode(1202, "光线不佳，建议在光源充足的室内环境验证", tag="11")

PORTRAIT_UNUSABLE = TencentCode(2009, "查询到照片分辨率过低，请通过其他渠道验证")
MULTIPLE_FACES = TencentCode(2012, "检测到多张人脸，请保持验证视频中只有本人")
FACE_CUT_OFF = TencentCode(2013, "脸部未完整露出，请保持正脸面对屏幕", tag="11")
LOW_RESOLUTION = TencentCode(2014, "视频像素太低无法检测，请更换手机进行验证", tag="11")
LOW_SIMILARITY = TencentCode(
    2016, "无法判断为同一人，请确认身份后重试(相似度未达到通过阈值)", billable=True
)

#: Quality reasons (``QualityReason`` values) → code. ``blurry`` and ``too_small``
#: share 2014: Tencent reports an unusably small or soft face as "too few pixels".
QUALITY: dict[str, TencentCode] = {
    "no_face": NO_FACE,
    "multiple_faces": MULTIPLE_FACES,
    "face_cut_off": FACE_CUT_OFF,
    "too_small": LOW_RESOLUTION,
    "blurry": LOW_RESOLUTION,
    "too_dark": TOO_DARK,
}

#: Liveness reasons (``LivenessReason`` values other than ``face_quality``) → code.
#: ``no_motion`` and ``too_few_frames`` (nothing to judge) use 1005 without a tag;
#: ``identity_changed`` uses 1003, Tencent's "face recognition did not succeed".
LIVENESS: dict[str, TencentCode] = {
    "challenge_unknown": CHALLENGE_INVALID,
    "challenge_replayed": CHALLENGE_REPLAYED,
    "challenge_expired": CHALLENGE_EXPIRED,
    "too_few_frames": LIVENESS_FAILED,
    "identity_changed": IDENTITY_CHANGED,
    "eyes_closed": EYES_CLOSED,
    "flat_replay": FLAT_REPLAY,
    "action_missing": ACTION_NOT_DONE,
    "action_order": ACTION_NOT_DONE,
    "no_motion": LIVENESS_FAILED,
}
