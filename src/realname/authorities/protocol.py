"""The provider protocol: one async method per authority check, one answer type each.

Every answer is a frozen dataclass carrying

- the **normalised outcome** (one enum per check), which is what the verification
  engine reasons with;
- **detail fields** exactly as far as the real service documents them (which
  element disagrees, phone status, tenure range, card sub-status …) — never more:
  a carrier never says who *does* own a number, so no answer here does either;
- the provider's **raw** ``code`` and ``message``, its ``request_id``, whether the
  call was ``billable``, its ``cost_fen`` and ``latency_ms``, and the ``provider``
  name, so that every diagnosis can be traced to what an authority actually said.

A call that gets no answer (timeout, 5xx, a "busy" code, a rate limit, a daily
limit) raises :class:`~realname.authorities.errors.ProviderUnavailable` instead of
returning: an unavailable authority is never a mismatch.

The checks and the real APIs they are modelled on (Tencent Cloud FaceID API
2018-03-01 unless noted; result codes in :mod:`realname.authorities.codes`):

=========================  ==========================================================
``id_two_element``         ``IdCardVerification`` (身份信息认证/二要素核验)
``id_validity``            ``CheckIdNameDate`` (身份信息及有效期核验)
``carrier_three_element``  ``PhoneVerification`` with ``VerifyMode=1`` (详版)
``phone_status``           ``MobileStatus`` (手机号状态查询)
``phone_tenure``           ``MobileNetworkTimeVerification`` (手机号在网时长核验)
``carrier_lookup``         Alibaba Cloud ``DescribePhoneNumberAttribute`` (号码百科)
``phone_recycled``         Alibaba Cloud ``MobileRecycledMetaVerify`` (二次放号核验)
``sim_swap``               GSMA Open Gateway / CAMARA ``SIM Swap`` ``check`` (换卡检测)
``bank_card_four_element`` ``BankCard4EVerification`` (银行卡四要素核验)
``face_liveness``          ``Liveness`` (活体检测)
``face_compare``           ``LivenessRecognition`` (活体人脸核身, authoritative portrait)
=========================  ==========================================================
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from typing import Protocol, runtime_checkable


class Check(StrEnum):
    """The authority checks. The values are the names fixture ``faults`` use."""

    ID_TWO_ELEMENT = "id_two_element"
    ID_VALIDITY = "id_validity"
    CARRIER_THREE_ELEMENT = "carrier_three_element"
    PHONE_STATUS = "phone_status"
    PHONE_TENURE = "phone_tenure"
    CARRIER_LOOKUP = "carrier_lookup"
    PHONE_RECYCLED = "phone_recycled"
    SIM_SWAP = "sim_swap"
    BANK_CARD_FOUR_ELEMENT = "bank_card_four_element"
    FACE_LIVENESS = "face_liveness"
    FACE_COMPARE = "face_compare"


class Carrier(StrEnum):
    """Mainland mobile network operators (basic carriers)."""

    CMCC = "cmcc"  # 中国移动
    CUCC = "cucc"  # 中国联通
    CTCC = "ctcc"  # 中国电信
    CBN = "cbn"  # 中国广电

    @property
    def isp_name(self) -> str:
        """The short name Tencent's ``Isp`` field uses (移动/联通/电信); 广电 for CBN."""
        return _ISP_NAMES[self]

    @classmethod
    def from_isp_name(cls, isp: str) -> Carrier | None:
        """Parse ``Isp``/``Carrier`` strings such as 移动 or 中国移动; ``None`` if unknown."""
        for carrier, short in _ISP_NAMES.items():
            if isp in (short, f"中国{short}"):
                return carrier
        return None


_ISP_NAMES = {Carrier.CMCC: "移动", Carrier.CUCC: "联通", Carrier.CTCC: "电信", Carrier.CBN: "广电"}


class Element(StrEnum):
    """An input element a provider can reject as malformed (a non-billable answer)."""

    NAME = "name"
    ID_NUMBER = "id_number"
    PHONE = "phone"
    BANK_CARD = "bank_card"
    VALIDITY = "validity"
    DOCUMENT_TYPE = "document_type"


# --------------------------------------------------------------------------- answers


@dataclass(frozen=True, slots=True, kw_only=True)
class Answer:
    """Fields every answer carries, whatever the check.

    ``code``/``message`` are the provider's raw result code and description
    (Tencent ``Result``/``Description``; for Alibaba's ``MobileRecycledMetaVerify``
    the ``SubCode``; for ``DescribePhoneNumberAttribute`` the ``Code``).
    ``billable`` follows the provider's documented 收费/不收费 split for that code;
    ``cost_fen`` is what the call cost in fen (0 when not billable).
    """

    provider: str
    code: str
    message: str
    request_id: str
    billable: bool
    cost_fen: int
    latency_ms: int


class IdTwoElementOutcome(StrEnum):
    """Tencent ``IdCardVerification.Result``."""

    CONSISTENT = "consistent"  # "0" 姓名和身份证号一致
    INCONSISTENT = "inconsistent"  # "-1" 姓名和身份证号不一致
    NO_RECORD = "no_record"  # "-5" 证件库中无此身份证记录
    INVALID_INPUT = "invalid_input"  # "-2" 非法身份证号 / "-3" 非法姓名


@dataclass(frozen=True, slots=True, kw_only=True)
class IdTwoElementAnswer(Answer):
    outcome: IdTwoElementOutcome
    #: Which element the provider rejected as malformed (``INVALID_INPUT`` only).
    invalid_element: Element | None = None


class IdValidityOutcome(StrEnum):
    """Tencent ``CheckIdNameDate.Result``, read against the answer's date.

    ``CheckIdNameDate`` answers "0" when name, ID number and the validity dates
    agree with the registry; the card is then ``EXPIRED`` when its validity end lies
    before the check's date, else ``VALID``.
    """

    VALID = "valid"  # "0" 一致, validity end not passed
    EXPIRED = "expired"  # "0" 一致, validity end passed
    INCONSISTENT = "inconsistent"  # "-1" 不一致 (name, or the dates given)
    IDENTITY_INVALID = "identity_invalid"  # "-5" 身份信息无效
    NO_RECORD = "no_record"  # "-7" 证件库中无此身份证记录
    INVALID_INPUT = "invalid_input"  # "-2" ID, "-3" name, "-4" validity malformed


@dataclass(frozen=True, slots=True, kw_only=True)
class IdValidityAnswer(Answer):
    outcome: IdValidityOutcome
    invalid_element: Element | None = None


class CarrierThreeElementOutcome(StrEnum):
    """Tencent ``PhoneVerification.Result`` (详版, ``VerifyMode=1``)."""

    CONSISTENT = "consistent"  # "0" 三要素信息一致
    INCONSISTENT = "inconsistent"  # "-4" 三要素信息不一致; ``mismatch`` says how
    NO_RECORD = "no_record"  # "-9" 没有记录: no real-name registration for the number
    INVALID_INPUT = "invalid_input"  # "-6" phone, "-7" ID, "-8" name malformed
    UNSUPPORTED_SEGMENT = "unsupported_segment"  # "-13" 该号段不支持验证


class CarrierMismatch(StrEnum):
    """Tencent ``PhoneVerification.ResultDetail`` (only with ``Result`` "-4", 详版).

    The values are Tencent's own strings.
    """

    #: 手机号码与姓名一致，与身份证号不一致 — the name agrees, the ID number does not.
    ID_NUMBER = "PhoneIdCardMismatch"
    #: 手机号码身份证号一致，与姓名不一致 — the ID number agrees, the name does not.
    NAME = "PhoneNameMismatch"
    #: 手机号码与姓名和身份证号均不一致 — neither agrees.
    NAME_AND_ID_NUMBER = "PhoneNameIdCardMismatch"
    #: 姓名和身份证号不一致 — name and ID number do not belong together.
    NAME_ID_NUMBER_PAIR = "NameIdCardMismatch"
    #: 其他不一致.
    OTHER = "OtherMismatch"


@dataclass(frozen=True, slots=True, kw_only=True)
class CarrierThreeElementAnswer(Answer):
    outcome: CarrierThreeElementOutcome
    #: ``ResultDetail``: which element disagrees (``INCONSISTENT`` only).
    mismatch: CarrierMismatch | None = None
    #: ``Isp``: the carrier currently serving the number, when the provider names it.
    carrier: Carrier | None = None
    invalid_element: Element | None = None


class PhoneStatusOutcome(StrEnum):
    """Tencent ``MobileStatus``: ``Result`` "0" carries ``StatusCode``."""

    NORMAL = "normal"  # StatusCode 0 正常
    SUSPENDED = "suspended"  # StatusCode 1 停机
    CANCELLED = "cancelled"  # StatusCode 2 销号
    NOT_IN_NETWORK = "not_in_network"  # StatusCode 4 不在网
    UNKNOWN = "unknown"  # StatusCode 99 未知状态
    NO_RESULT = "no_result"  # Result "-1" 未查询到结果
    INVALID_INPUT = "invalid_input"  # Result "-2" 手机号格式不正确


@dataclass(frozen=True, slots=True, kw_only=True)
class PhoneStatusAnswer(Answer):
    outcome: PhoneStatusOutcome
    #: The raw ``StatusCode`` (0, 1, 2, 4, 99) when ``Result`` is "0".
    status_code: int | None = None
    invalid_element: Element | None = None


class TenureBucket(StrEnum):
    """The carriers' network-tenure buckets, written as Tencent's ``Range`` strings.

    ``MobileNetworkTimeVerification.Range`` is ``[a,b)`` — "at least a months, less
    than b", ``+`` for no upper bound. Carriers answer in these five buckets
    (Alibaba's ``MobileOnlineTime.TimeCode`` 1–5 names the same ones).
    """

    UNDER_3 = "[0,3)"
    FROM_3_TO_6 = "[3,6)"
    FROM_6_TO_12 = "[6,12)"
    FROM_12_TO_24 = "[12,24)"
    OVER_24 = "[24,+)"

    @property
    def min_months(self) -> int:
        return parse_tenure_range(self.value)[0]

    @property
    def max_months(self) -> int | None:
        """The exclusive upper bound in months; ``None`` for ``[24,+)``."""
        return parse_tenure_range(self.value)[1]

    @classmethod
    def for_months(cls, months: int) -> TenureBucket:
        """The bucket holding a tenure of ``months`` whole months."""
        for bucket in cls:
            upper = bucket.max_months
            if months >= bucket.min_months and (upper is None or months < upper):
                return bucket
        raise ValueError("a tenure cannot be negative")


def parse_tenure_range(text: str) -> tuple[int, int | None]:
    """Parse a ``Range`` string such as ``[6,12)`` or ``[24,+)`` into (min, max or None)."""
    body = text.strip()
    if not (body.startswith("[") and body.endswith(")")) or "," not in body:
        raise ValueError(f"not a tenure range: {text!r}")
    low_text, high_text = (part.strip() for part in body[1:-1].split(",", 1))
    if not low_text.isdigit() or not (high_text == "+" or high_text.isdigit()):
        raise ValueError(f"not a tenure range: {text!r}")
    low = int(low_text)
    high = None if high_text == "+" else int(high_text)
    if high is not None and high <= low:
        raise ValueError(f"not a tenure range: {text!r}")
    return low, high


class PhoneTenureOutcome(StrEnum):
    """Tencent ``MobileNetworkTimeVerification.Result``."""

    FOUND = "found"  # "0" 成功, ``Range`` set
    NUMBER_NOT_FOUND = "number_not_found"  # "-2" 手机号不存在
    TENURE_UNKNOWN = "tenure_unknown"  # "-3" 手机号存在，但无法查询到在网时长
    INVALID_INPUT = "invalid_input"  # "-1" 手机号格式不正确


@dataclass(frozen=True, slots=True, kw_only=True)
class PhoneTenureAnswer(Answer):
    outcome: PhoneTenureOutcome
    #: ``Range`` parsed: whole months at least / less than (``None`` = no bound).
    min_months: int | None = None
    max_months: int | None = None
    #: The standard bucket when ``Range`` is one of the five; ``None`` otherwise.
    bucket: TenureBucket | None = None
    invalid_element: Element | None = None


class CarrierLookupOutcome(StrEnum):
    """Alibaba Cloud ``DescribePhoneNumberAttribute.Code``."""

    FOUND = "found"  # "OK"
    NOT_FOUND = "not_found"  # "isp.NUMBER_NON_EXISTENT" 传入的手机号查不到归属结果
    INVALID_INPUT = "invalid_input"  # "isv.INVALID_PARAMETERS"


@dataclass(frozen=True, slots=True, kw_only=True)
class CarrierLookupAnswer(Answer):
    outcome: CarrierLookupOutcome
    #: ``Carrier``: the carrier serving the number now (after any porting).
    carrier: Carrier | None = None
    #: ``IsNumberPortability``: whether the number was ported (携号转网).
    ported: bool | None = None
    invalid_element: Element | None = None


class PhoneRecycledOutcome(StrEnum):
    """Alibaba Cloud ``MobileRecycledMetaVerify``: ``BizCode`` and ``SubCode``.

    The caller passes the date the number was registered with it (``RegisterDate``);
    the carrier compares it with the date the current holder got the number (入网时间).
    """

    NOT_RECYCLED = "not_recycled"  # BizCode 1, SubCode 101 注册时间大于等于入网时间
    RECYCLED = "recycled"  # BizCode 1, SubCode 102 注册时间小于入网时间 (re-issued since)
    NOT_SYNCED = "not_synced"  # BizCode 1, SubCode 103 新入网用户暂未同步
    NO_RESULT = "no_result"  # BizCode 3, SubCode 301 数据异常/离网用户
    INVALID_INPUT = "invalid_input"  # Code 401 InvalidParameter


@dataclass(frozen=True, slots=True, kw_only=True)
class PhoneRecycledAnswer(Answer):
    outcome: PhoneRecycledOutcome
    #: ``BizCode``: "1" (a result, billed) or "3" (no result, not billed).
    biz_code: str | None = None
    invalid_element: Element | None = None


class SimSwapOutcome(StrEnum):
    """CAMARA SIM Swap ``POST /check``: ``{"swapped": bool}`` or an error status.

    Carriers answer whether the SIM card behind a number was replaced within
    ``maxAge`` (hours, up to 2400); a change of owner is not a SIM swap (that is what
    tenure and the re-issued-number check see).
    """

    SWAPPED = "swapped"  # 200, swapped: true
    NOT_SWAPPED = "not_swapped"  # 200, swapped: false
    UNKNOWN_NUMBER = "unknown_number"  # 404 NOT_FOUND / IDENTIFIER_NOT_FOUND
    INVALID_INPUT = "invalid_input"  # 400 INVALID_ARGUMENT


@dataclass(frozen=True, slots=True, kw_only=True)
class SimSwapAnswer(Answer):
    outcome: SimSwapOutcome
    #: The window asked about, in days (``maxAge`` / 24).
    max_age_days: int
    invalid_element: Element | None = None

    @property
    def swapped(self) -> bool:
        return self.outcome is SimSwapOutcome.SWAPPED


class CardStatus(StrEnum):
    """Card sub-status named by Tencent ``BankCard4EVerification.Result`` codes."""

    NO_CARDLESS = "no_cardless"  # "-7" 未开通无卡支付
    CONFISCATED = "confiscated"  # "-8" 此卡被没收
    INVALID_CARD = "invalid_card"  # "-9" 无效卡号
    NO_ISSUER = "no_issuer"  # "-10" 此卡无对应发卡行
    DORMANT = "dormant"  # "-11" 该卡未初始化或睡眠卡
    CAPTURED = "captured"  # "-12" 作弊卡、吞卡
    LOST = "lost"  # "-13" 此卡已挂失
    EXPIRED = "expired"  # "-14" 该卡已过期
    RESTRICTED = "restricted"  # "-15" 受限制的卡 (frozen cards answer this)
    PIN_TRIES_EXCEEDED = "pin_tries_exceeded"  # "-16" 密码错误次数超限
    ISSUER_DECLINED = "issuer_declined"  # "-17" 发卡行不支持此交易
    ABNORMAL = "abnormal"  # "-21" 卡状态异常或卡号错误


class BankCardOutcome(StrEnum):
    """Tencent ``BankCard4EVerification.Result``."""

    CONSISTENT = "consistent"  # "0" 认证通过
    INCONSISTENT = "inconsistent"  # "-1" 认证未通过
    HOLDER_MISMATCH = "holder_mismatch"  # "-6" 持卡人信息有误
    CARD_UNUSABLE = "card_unusable"  # "-7" … "-17", "-21": ``card_status`` says which
    INVALID_INPUT = "invalid_input"  # "-2" name, "-3" ID, "-4" card, "-5" phone
    UNSUPPORTED_DOCUMENT = "unsupported_document"  # "-20" 仅支持二代身份证


@dataclass(frozen=True, slots=True, kw_only=True)
class BankCardAnswer(Answer):
    outcome: BankCardOutcome
    card_status: CardStatus | None = None
    invalid_element: Element | None = None


# ------------------------------------------------------------------------------ face


@dataclass(frozen=True, slots=True)
class FaceCapture:
    """What the user's camera produced: an image or a short video.

    ``media_type`` is ``image/jpeg``, ``image/png`` or ``video/mp4``. The sandbox
    fixtures' capture names (``live:p1``, ``replay:p2``, ``none``) are turned into
    captures by the face package, not here.
    """

    content: bytes
    media_type: str


class FaceQualityIssue(StrEnum):
    """Why a capture could not be judged (Tencent ``FailedOperation.LifePhoto*``)."""

    NO_FACE = "no_face"  # FailedOperation.LifePhotoDetectNoFaces
    MULTIPLE_FACES = "multiple_faces"  # FailedOperation.LifePhotoDetectFaces
    POOR_QUALITY = "poor_quality"  # FailedOperation.LifePhotoPoorQuality (dark, small)


class FaceLivenessOutcome(StrEnum):
    """Tencent ``Liveness.Result``: ``Success`` or a ``FailedOperation`` code."""

    LIVE = "live"  # Success
    NOT_LIVE = "not_live"  # FailedOperation.LifePhotoDetectFake (replay, mask, screen)
    QUALITY = "quality"  # FailedOperation.LifePhoto{DetectNoFaces,DetectFaces,PoorQuality}


@dataclass(frozen=True, slots=True, kw_only=True)
class FaceLivenessAnswer(Answer):
    outcome: FaceLivenessOutcome
    quality_issue: FaceQualityIssue | None = None
    #: A liveness rejection reason in the manner of Tencent ``LivenessInfoTag``
    #: ("03" 疑似翻拍攻击 …), when the engine gives one.
    reason_tag: str | None = None


class FaceCompareOutcome(StrEnum):
    """Tencent ``LivenessRecognition.Result`` (comparison with the registry portrait)."""

    MATCH = "match"  # Success, ``Sim`` at or above the threshold
    MISMATCH = "mismatch"  # FailedOperation.CompareLowSimilarity
    IDENTITY_MISMATCH = "identity_mismatch"  # FailedOperation.IdNameMisMatch
    NO_RECORD = "no_record"  # FailedOperation.IdNoExistSystem 库中无此号
    NO_PORTRAIT = "no_portrait"  # FailedOperation.IdPhotoNoExist 库中无此号照片
    QUALITY = "quality"  # FailedOperation.LifePhoto*: the capture could not be used
    INVALID_INPUT = "invalid_input"  # FailedOperation.IdFormatError 输入的身份证号有误


@dataclass(frozen=True, slots=True, kw_only=True)
class FaceCompareAnswer(Answer):
    outcome: FaceCompareOutcome
    #: ``Sim``: similarity in [0.00, 100.00] when a comparison ran.
    similarity: float | None = None
    #: The pass threshold applied (Tencent recommends 70: 1/1000 false accepts).
    threshold: float | None = None
    quality_issue: FaceQualityIssue | None = None
    invalid_element: Element | None = None


# ------------------------------------------------------------------------ face engine


@dataclass(frozen=True, slots=True)
class LivenessVerdict:
    """A face engine's judgement of one capture."""

    live: bool
    quality_issue: FaceQualityIssue | None = None
    reason_tag: str | None = None


@dataclass(frozen=True, slots=True)
class FaceSimilarity:
    """A face engine's comparison of a capture with a portrait; ``score`` in [0, 100]."""

    score: float
    quality_issue: FaceQualityIssue | None = None


@runtime_checkable
class FaceEngine(Protocol):
    """A local face model the sandbox delegates face checks to.

    ``portrait`` names one of the portraits shipped with the project (``p1``, ``p2``
    …, the fixture ``portrait`` field); the engine knows how to load it.
    """

    async def assess_liveness(self, capture: FaceCapture) -> LivenessVerdict: ...

    async def compare(self, capture: FaceCapture, portrait: str) -> FaceSimilarity: ...


# --------------------------------------------------------------------------- provider


@runtime_checkable
class Provider(Protocol):
    """An authority (or a federation of them) answering every check.

    Inputs are passed as the user submitted them after the platform's own
    normalisation (18-digit upper-case ID numbers, 11-digit phone numbers, digits-only
    card numbers); providers validate their formats themselves and answer
    ``INVALID_INPUT`` where the real service does.
    """

    #: The provider's name, copied into every answer (``sandbox``, ``tencentcloud``).
    name: str

    async def id_two_element(self, name: str, id_number: str) -> IdTwoElementAnswer:
        """Do name and ID number belong together at the public-security registry?"""
        ...

    async def id_validity(
        self,
        name: str,
        id_number: str,
        *,
        valid_from: date | None = None,
        valid_until: date | None = None,
    ) -> IdValidityAnswer:
        """Is the ID card still valid?

        Real services (Tencent ``CheckIdNameDate``) need the card's validity dates as
        printed on it (a real flow reads them by OCR); ``valid_until=None`` stands for
        long-term (长期) when ``valid_from`` is given. The sandbox, which holds the
        card, also answers when no dates are given.
        """
        ...

    async def carrier_three_element(
        self, name: str, id_number: str, phone: str, *, carrier: Carrier | None = None
    ) -> CarrierThreeElementAnswer:
        """Is the phone number real-name registered to this name and ID number?

        ``carrier`` routes the query to that carrier; ``None`` routes by the number's
        allocated block, as an aggregator without number-portability data does. A
        ported number asked of the carrier it left has no registration there, so
        the engine looks the carrier up first (DESIGN §4, PHONE_PORTED). Providers
        that route by themselves (Tencent) ignore the argument.
        """
        ...

    async def phone_status(self, phone: str) -> PhoneStatusAnswer:
        """Normal, suspended (停机), cancelled (销号) or not in the network."""
        ...

    async def phone_tenure(self, phone: str) -> PhoneTenureAnswer:
        """How long the number has been with its current holder, as a month bucket."""
        ...

    async def carrier_lookup(self, phone: str) -> CarrierLookupAnswer:
        """Which carrier serves the number now, and whether it was ported."""
        ...

    async def phone_recycled(self, phone: str, registered_on: date) -> PhoneRecycledAnswer:
        """Was the number re-issued (二次放号) to a new holder after ``registered_on``?"""
        ...

    async def sim_swap(self, phone: str, max_age_days: int = 30) -> SimSwapAnswer:
        """Was the number's SIM card replaced within the last ``max_age_days`` days?"""
        ...

    async def bank_card_four_element(
        self, name: str, id_number: str, card_number: str, phone: str
    ) -> BankCardAnswer:
        """Do name, ID number and reserved phone (预留手机号) match the card's account?"""
        ...

    async def face_liveness(self, capture: FaceCapture) -> FaceLivenessAnswer:
        """Is the capture a live person (not a photo, screen or mask)?"""
        ...

    async def face_compare(
        self, name: str, id_number: str, capture: FaceCapture
    ) -> FaceCompareAnswer:
        """How similar is the captured face to the registry's portrait of this person?"""
        ...
