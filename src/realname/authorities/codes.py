"""Result-code tables of the real authority APIs, and what each code means here.

One :class:`ApiSpec` per check: the API it is modelled on, the documented default
QPS quota, and every documented result code with its description, whether the
provider bills it (收费结果码 / 不收费结果码), and either the normalised outcome it
stands for or the reason it is *not* an answer (busy, service exception, daily
limit…). The sandbox answers with these codes and the real adapters read them back
through the same tables, so both sides agree by construction.

Sources (checked against the vendors' API references and SDK model docstrings):

- Tencent Cloud FaceID API 2018-03-01: ``IdCardVerification``, ``CheckIdNameDate``,
  ``PhoneVerification``, ``MobileStatus``, ``MobileNetworkTimeVerification``,
  ``BankCard4EVerification``, ``Liveness``, ``LivenessRecognition``; request-rate
  table (调用频率限制) and the error-code centre for the ``FailedOperation.*`` codes;
  the Plus face-verification code table for which face failures are billed
  (1002 疑似非真人录制, 2006 姓名和身份证号不匹配 and 2016 相似度未达到通过阈值 are).
- Alibaba Cloud: ``MobileRecycledMetaVerify`` (信息核验, 手机号二次放号核验) and
  ``DescribePhoneNumberAttribute`` (号码百科).
- Common API errors: Tencent ``RequestLimitExceeded`` / ``InternalError``, Alibaba
  ``Throttling.User``.

A code missing from a table is read as a server error (:meth:`ApiSpec.meaning`):
an answer nobody documented must never turn into a mismatch.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Generic, TypeVar

from realname.authorities.errors import UnavailableReason
from realname.authorities.protocol import (
    BankCardOutcome,
    CardStatus,
    CarrierLookupOutcome,
    CarrierThreeElementOutcome,
    Check,
    Element,
    FaceCompareOutcome,
    FaceLivenessOutcome,
    FaceQualityIssue,
    IdTwoElementOutcome,
    IdValidityOutcome,
    PhoneRecycledOutcome,
    PhoneStatusOutcome,
    PhoneTenureOutcome,
    SimSwapOutcome,
)

OutcomeT = TypeVar("OutcomeT", bound=StrEnum)


class Vendor(StrEnum):
    TENCENT = "tencentcloud"
    ALIBABA = "aliyun"
    CAMARA = "camara"


@dataclass(frozen=True, slots=True)
class CodeMeaning(Generic[OutcomeT]):
    """What one result code of one API means.

    Exactly one of ``outcome`` and ``unavailable`` is set, except for codes whose
    outcome is carried by a detail field (``MobileStatus`` "0": see
    :data:`MOBILE_STATUS_CODES`), where both are ``None``.
    """

    code: str
    message: str
    billable: bool
    outcome: OutcomeT | None = None
    unavailable: UnavailableReason | None = None
    invalid_element: Element | None = None
    card_status: CardStatus | None = None
    quality_issue: FaceQualityIssue | None = None

    @property
    def is_answer(self) -> bool:
        return self.unavailable is None


@dataclass(frozen=True)
class ApiSpec(Generic[OutcomeT]):
    """One real API: its action name, default QPS quota and result codes."""

    check: Check
    vendor: Vendor
    action: str
    #: Default request-rate limit of the API, requests per second per account.
    qps: int
    codes: Mapping[str, CodeMeaning[OutcomeT]]
    #: The raw codes a provider answers when it is in each unavailable state.
    unavailable_codes: Mapping[UnavailableReason, str] = field(default_factory=dict)

    def meaning(self, code: str) -> CodeMeaning[OutcomeT]:
        """The meaning of ``code``; undocumented codes read as a server error."""
        known = self.codes.get(code)
        if known is not None:
            return known
        return CodeMeaning(
            code=code,
            message="undocumented result code",
            billable=False,
            unavailable=UnavailableReason.SERVER_ERROR,
        )

    def code_for(self, reason: UnavailableReason) -> str | None:
        """The raw code this API answers for ``reason`` (``None`` for a timeout)."""
        return self.unavailable_codes.get(reason)


def _answer(
    code: str,
    message: str,
    outcome: OutcomeT | None,
    *,
    billable: bool,
    invalid: Element | None = None,
    card: CardStatus | None = None,
    quality: FaceQualityIssue | None = None,
) -> tuple[str, CodeMeaning[OutcomeT]]:
    return code, CodeMeaning(
        code=code,
        message=message,
        billable=billable,
        outcome=outcome,
        invalid_element=invalid,
        card_status=card,
        quality_issue=quality,
    )


def _down(code: str, message: str, reason: UnavailableReason) -> tuple[str, CodeMeaning[OutcomeT]]:
    return code, CodeMeaning(code=code, message=message, billable=False, unavailable=reason)


_R = UnavailableReason

# Tencent API 3.0 common errors (Response.Error.Code), shared by every FaceID action.
_TENCENT_COMMON = {
    "RequestLimitExceeded": ("请求的次数超过了频率限制。", _R.RATE_LIMITED),
    "InternalError": ("内部错误。", _R.SERVER_ERROR),
}


def _tencent(
    check: Check,
    action: str,
    qps: int,
    entries: list[tuple[str, CodeMeaning[OutcomeT]]],
    *,
    busy: str,
    server_error: str = "InternalError",
    daily_limit: str | None = None,
) -> ApiSpec[OutcomeT]:
    codes: dict[str, CodeMeaning[OutcomeT]] = dict(entries)
    for code, (message, reason) in _TENCENT_COMMON.items():
        codes.setdefault(code, _down(code, message, reason)[1])
    unavailable = {
        _R.BUSY: busy,
        _R.SERVER_ERROR: server_error,
        _R.RATE_LIMITED: "RequestLimitExceeded",
    }
    if daily_limit is not None:
        unavailable[_R.DAILY_LIMIT] = daily_limit
    return ApiSpec(check, Vendor.TENCENT, action, qps, codes, unavailable)


_I2 = IdTwoElementOutcome
ID_CARD_VERIFICATION: ApiSpec[IdTwoElementOutcome] = _tencent(
    Check.ID_TWO_ELEMENT,
    "IdCardVerification",
    100,
    [
        _answer("0", "姓名和身份证号一致", _I2.CONSISTENT, billable=True),
        _answer("-1", "姓名和身份证号不一致", _I2.INCONSISTENT, billable=True),
        _answer(
            "-2",
            "非法身份证号（长度、校验位等不正确）",
            _I2.INVALID_INPUT,
            billable=False,
            invalid=Element.ID_NUMBER,
        ),
        _answer(
            "-3",
            "非法姓名（长度、格式等不正确）",
            _I2.INVALID_INPUT,
            billable=False,
            invalid=Element.NAME,
        ),
        _down("-4", "证件库服务异常", _R.SERVER_ERROR),
        _answer("-5", "证件库中无此身份证记录", _I2.NO_RECORD, billable=False),
        _down("-6", "权威比对系统升级中，请稍后再试", _R.BUSY),
        _down("-7", "认证次数超过当日限制", _R.DAILY_LIMIT),
    ],
    busy="-6",
    server_error="-4",
    daily_limit="-7",
)

_IV = IdValidityOutcome
CHECK_ID_NAME_DATE: ApiSpec[IdValidityOutcome] = _tencent(
    Check.ID_VALIDITY,
    "CheckIdNameDate",
    20,
    [
        # "0" says name, ID number and validity dates agree; whether the card has
        # expired is read from the validity end and the date of the check.
        _answer("0", "一致", _IV.VALID, billable=True),
        _answer("-1", "不一致", _IV.INCONSISTENT, billable=True),
        _answer(
            "-2",
            "非法身份证号（长度、校验位等不正确）",
            _IV.INVALID_INPUT,
            billable=False,
            invalid=Element.ID_NUMBER,
        ),
        _answer(
            "-3",
            "非法姓名（长度、格式等不正确）",
            _IV.INVALID_INPUT,
            billable=False,
            invalid=Element.NAME,
        ),
        _answer(
            "-4",
            "非法有效期（长度、格式等不正确）",
            _IV.INVALID_INPUT,
            billable=False,
            invalid=Element.VALIDITY,
        ),
        _answer("-5", "身份信息无效", _IV.IDENTITY_INVALID, billable=False),
        _down("-6", "证件库服务异常", _R.SERVER_ERROR),
        _answer("-7", "证件库中无此身份证记录", _IV.NO_RECORD, billable=False),
        _down("-8", "认证次数超过当日限制，请次日重试", _R.DAILY_LIMIT),
    ],
    # CheckIdNameDate documents no separate "busy" code; its service exception is
    # the nearest thing and the engine treats both the same way.
    busy="-6",
    server_error="-6",
    daily_limit="-8",
)

_C3 = CarrierThreeElementOutcome
PHONE_VERIFICATION: ApiSpec[CarrierThreeElementOutcome] = _tencent(
    Check.CARRIER_THREE_ELEMENT,
    "PhoneVerification",
    20,
    [
        _answer("0", "三要素信息一致", _C3.CONSISTENT, billable=True),
        _answer("-4", "三要素信息不一致", _C3.INCONSISTENT, billable=True),
        _answer("-6", "手机号码不合法", _C3.INVALID_INPUT, billable=False, invalid=Element.PHONE),
        _answer(
            "-7", "身份证号码有误", _C3.INVALID_INPUT, billable=False, invalid=Element.ID_NUMBER
        ),
        _answer("-8", "姓名校验不通过", _C3.INVALID_INPUT, billable=False, invalid=Element.NAME),
        _answer("-9", "没有记录", _C3.NO_RECORD, billable=False),
        _down("-11", "验证中心服务繁忙", _R.BUSY),
        _down("-12", "认证次数超过当日限制，请次日重试", _R.DAILY_LIMIT),
        _answer("-13", "该号段不支持验证", _C3.UNSUPPORTED_SEGMENT, billable=False),
    ],
    busy="-11",
    daily_limit="-12",
)

MOBILE_STATUS: ApiSpec[PhoneStatusOutcome] = _tencent(
    Check.PHONE_STATUS,
    "MobileStatus",
    20,
    [
        # "0" carries the status in StatusCode: see MOBILE_STATUS_CODES.
        ("0", CodeMeaning("0", "成功", billable=True)),
        _answer("-1", "未查询到结果", PhoneStatusOutcome.NO_RESULT, billable=False),
        _answer(
            "-2",
            "手机号格式不正确",
            PhoneStatusOutcome.INVALID_INPUT,
            billable=False,
            invalid=Element.PHONE,
        ),
        _down("-3", "验证中心服务繁忙", _R.BUSY),
        _down("-4", "认证次数超过当日限制，请次日重试", _R.DAILY_LIMIT),
    ],
    busy="-3",
    daily_limit="-4",
)

#: ``MobileStatus.StatusCode`` when ``Result`` is "0".
MOBILE_STATUS_CODES: Mapping[int, PhoneStatusOutcome] = {
    0: PhoneStatusOutcome.NORMAL,  # 正常
    1: PhoneStatusOutcome.SUSPENDED,  # 停机
    2: PhoneStatusOutcome.CANCELLED,  # 销号
    4: PhoneStatusOutcome.NOT_IN_NETWORK,  # 不在网
    99: PhoneStatusOutcome.UNKNOWN,  # 未知状态
}


def phone_status_outcome(result: str, status_code: int | None) -> PhoneStatusOutcome | None:
    """The outcome of a ``MobileStatus`` answer, ``None`` when it is no answer."""
    meaning = MOBILE_STATUS.meaning(result)
    if not meaning.is_answer:
        return None
    if meaning.outcome is not None:
        return meaning.outcome
    return MOBILE_STATUS_CODES.get(
        status_code if status_code is not None else 99, PhoneStatusOutcome.UNKNOWN
    )


_T = PhoneTenureOutcome
MOBILE_NETWORK_TIME: ApiSpec[PhoneTenureOutcome] = _tencent(
    Check.PHONE_TENURE,
    "MobileNetworkTimeVerification",
    20,
    [
        _answer("0", "成功", _T.FOUND, billable=True),
        _answer("-2", "手机号不存在", _T.NUMBER_NOT_FOUND, billable=True),
        _answer("-3", "手机号存在，但无法查询到在网时长", _T.TENURE_UNKNOWN, billable=True),
        _answer("-1", "手机号格式不正确", _T.INVALID_INPUT, billable=False, invalid=Element.PHONE),
        _down("-4", "验证中心服务繁忙", _R.BUSY),
        _down("-5", "认证次数超过当日限制，请次日重试", _R.DAILY_LIMIT),
    ],
    busy="-4",
    daily_limit="-5",
)

_CL = CarrierLookupOutcome
DESCRIBE_PHONE_NUMBER_ATTRIBUTE: ApiSpec[CarrierLookupOutcome] = ApiSpec(
    Check.CARRIER_LOOKUP,
    Vendor.ALIBABA,
    "DescribePhoneNumberAttribute",
    6000,
    dict(
        [
            _answer("OK", "OK", _CL.FOUND, billable=True),
            _answer(
                "isp.NUMBER_NON_EXISTENT",
                "传入的手机号查不到归属结果",
                _CL.NOT_FOUND,
                billable=False,
            ),
            _answer(
                "isv.INVALID_PARAMETERS",
                "非法参数",
                _CL.INVALID_INPUT,
                billable=False,
                invalid=Element.PHONE,
            ),
            _down("isp.SYSTEM_ERROR", "网元系统异常", _R.SERVER_ERROR),
            # Alibaba's number service asks callers to retry isp.UNKNOWN (未知异常).
            _down("isp.UNKNOWN", "未知异常", _R.BUSY),
            _down("isp.QPS_LIMIT", "触发QPS限制", _R.RATE_LIMITED),
        ]
    ),
    {
        _R.BUSY: "isp.UNKNOWN",
        _R.SERVER_ERROR: "isp.SYSTEM_ERROR",
        _R.RATE_LIMITED: "isp.QPS_LIMIT",
    },
)

_PR = PhoneRecycledOutcome
#: ``MobileRecycledMetaVerify``: answers are keyed by ``SubCode``, failures by ``Code``.
MOBILE_RECYCLED_META_VERIFY: ApiSpec[PhoneRecycledOutcome] = ApiSpec(
    Check.PHONE_RECYCLED,
    Vendor.ALIBABA,
    "MobileRecycledMetaVerify",
    # 信息核验 APIs have a dedicated per-API quota; Alibaba lists 50 QPS for its
    # phone-number checks.
    50,
    dict(
        [
            _answer("101", "注册时间大于等于手机号入网时间", _PR.NOT_RECYCLED, billable=True),
            _answer("102", "注册时间小于手机号入网时间", _PR.RECYCLED, billable=True),
            _answer("103", "新入网用户暂未同步", _PR.NOT_SYNCED, billable=True),
            _answer("301", "数据异常/离网用户", _PR.NO_RESULT, billable=False),
            _answer("401", "参数非法", _PR.INVALID_INPUT, billable=False, invalid=Element.PHONE),
            _down("402", "权威源服务异常", _R.BUSY),
            _down("403", "异常重复调用次数超限", _R.DAILY_LIMIT),
            _down("500", "系统错误", _R.SERVER_ERROR),
            _down(
                "Throttling.User", "Request was denied due to user flow control.", _R.RATE_LIMITED
            ),
        ]
    ),
    {
        _R.BUSY: "402",
        _R.SERVER_ERROR: "500",
        _R.RATE_LIMITED: "Throttling.User",
        _R.DAILY_LIMIT: "403",
    },
)

_SS = SimSwapOutcome
#: CAMARA SIM Swap (GSMA Open Gateway, offered by the mainland carriers among others):
#: answers are HTTP statuses; "200" carries its outcome in ``swapped``.
CAMARA_SIM_SWAP: ApiSpec[SimSwapOutcome] = ApiSpec(
    Check.SIM_SWAP,
    Vendor.CAMARA,
    "sim-swap/check",
    100,
    dict(
        [
            _answer("200", "OK", None, billable=True),
            _answer("404", "IDENTIFIER_NOT_FOUND", _SS.UNKNOWN_NUMBER, billable=False),
            _answer(
                "400", "INVALID_ARGUMENT", _SS.INVALID_INPUT, billable=False, invalid=Element.PHONE
            ),
            _down("429", "TOO_MANY_REQUESTS", _R.RATE_LIMITED),
            _down("500", "INTERNAL", _R.SERVER_ERROR),
            _down("503", "UNAVAILABLE", _R.BUSY),
        ]
    ),
    {_R.BUSY: "503", _R.SERVER_ERROR: "500", _R.RATE_LIMITED: "429"},
)

#: ``BizCode`` for each ``SubCode`` of ``MobileRecycledMetaVerify``.
RECYCLED_BIZ_CODES: Mapping[str, str] = {"101": "1", "102": "1", "103": "1", "301": "3"}

_B = BankCardOutcome
_CS = CardStatus
BANK_CARD_4E_VERIFICATION: ApiSpec[BankCardOutcome] = _tencent(
    Check.BANK_CARD_FOUR_ELEMENT,
    "BankCard4EVerification",
    20,
    [
        _answer("0", "认证通过", _B.CONSISTENT, billable=True),
        _answer("-1", "认证未通过", _B.INCONSISTENT, billable=True),
        _answer("-6", "持卡人信息有误", _B.HOLDER_MISMATCH, billable=True),
        _answer("-7", "未开通无卡支付", _B.CARD_UNUSABLE, billable=True, card=_CS.NO_CARDLESS),
        _answer("-8", "此卡被没收", _B.CARD_UNUSABLE, billable=True, card=_CS.CONFISCATED),
        _answer("-9", "无效卡号", _B.CARD_UNUSABLE, billable=True, card=_CS.INVALID_CARD),
        _answer("-10", "此卡无对应发卡行", _B.CARD_UNUSABLE, billable=True, card=_CS.NO_ISSUER),
        _answer("-11", "该卡未初始化或睡眠卡", _B.CARD_UNUSABLE, billable=True, card=_CS.DORMANT),
        _answer("-12", "作弊卡、吞卡", _B.CARD_UNUSABLE, billable=True, card=_CS.CAPTURED),
        _answer("-13", "此卡已挂失", _B.CARD_UNUSABLE, billable=True, card=_CS.LOST),
        _answer("-14", "该卡已过期", _B.CARD_UNUSABLE, billable=True, card=_CS.EXPIRED),
        _answer("-15", "受限制的卡", _B.CARD_UNUSABLE, billable=True, card=_CS.RESTRICTED),
        _answer(
            "-16", "密码错误次数超限", _B.CARD_UNUSABLE, billable=True, card=_CS.PIN_TRIES_EXCEEDED
        ),
        _answer(
            "-17", "发卡行不支持此交易", _B.CARD_UNUSABLE, billable=True, card=_CS.ISSUER_DECLINED
        ),
        _answer("-21", "卡状态异常或卡号错误", _B.CARD_UNUSABLE, billable=True, card=_CS.ABNORMAL),
        _answer("-2", "姓名校验不通过", _B.INVALID_INPUT, billable=False, invalid=Element.NAME),
        _answer(
            "-3", "身份证号码有误", _B.INVALID_INPUT, billable=False, invalid=Element.ID_NUMBER
        ),
        _answer(
            "-4", "银行卡号码有误", _B.INVALID_INPUT, billable=False, invalid=Element.BANK_CARD
        ),
        _answer("-5", "手机号码不合法", _B.INVALID_INPUT, billable=False, invalid=Element.PHONE),
        _down("-18", "验证中心服务繁忙", _R.BUSY),
        _down("-19", "验证次数超限，请次日重试", _R.DAILY_LIMIT),
        _answer(
            "-20",
            "该证件号暂不支持核验，当前仅支持二代身份证",
            _B.UNSUPPORTED_DOCUMENT,
            billable=False,
            invalid=Element.DOCUMENT_TYPE,
        ),
    ],
    busy="-18",
    daily_limit="-19",
)

_FL = FaceLivenessOutcome
_Q = FaceQualityIssue
_LIFE_PHOTO = [
    ("FailedOperation.LifePhotoDetectNoFaces", "未能检测到完整人脸。", _Q.NO_FACE),
    ("FailedOperation.LifePhotoDetectFaces", "检测到多张人脸。", _Q.MULTIPLE_FACES),
    ("FailedOperation.LifePhotoPoorQuality", "现场照片质量差。", _Q.POOR_QUALITY),
]
LIVENESS: ApiSpec[FaceLivenessOutcome] = _tencent(
    Check.FACE_LIVENESS,
    "Liveness",
    20,
    [
        _answer("Success", "成功", _FL.LIVE, billable=True),
        _answer(
            "FailedOperation.LifePhotoDetectFake", "真人比对没通过。", _FL.NOT_LIVE, billable=True
        ),
        *(
            _answer(code, message, _FL.QUALITY, billable=False, quality=issue)
            for code, message, issue in _LIFE_PHOTO
        ),
        _down("FailedOperation.DetectEngineSystemError", "引擎服务调用失败，请重试。", _R.BUSY),
    ],
    busy="FailedOperation.DetectEngineSystemError",
)

_FC = FaceCompareOutcome
#: Tencent's recommended pass threshold for ``Sim`` (误通过率千分之一).
FACE_SIMILARITY_THRESHOLD = 70.0
LIVENESS_RECOGNITION: ApiSpec[FaceCompareOutcome] = _tencent(
    Check.FACE_COMPARE,
    "LivenessRecognition",
    100,
    [
        _answer("Success", "成功", _FC.MATCH, billable=True),
        _answer(
            "FailedOperation.CompareLowSimilarity",
            "比对相似度未达到通过标准。",
            _FC.MISMATCH,
            billable=True,
        ),
        _answer(
            "FailedOperation.IdNameMisMatch",
            "姓名和身份证号不一致，请核实后重试。",
            _FC.IDENTITY_MISMATCH,
            billable=True,
        ),
        _answer(
            "FailedOperation.IdNoExistSystem",
            "库中无此号，请到户籍所在地进行核实。",
            _FC.NO_RECORD,
            billable=False,
        ),
        _answer(
            "FailedOperation.IdPhotoNoExist",
            "库中无此号照片，请到户籍所在地进行核实。",
            _FC.NO_PORTRAIT,
            billable=False,
        ),
        _answer(
            "FailedOperation.IdFormatError",
            "输入的身份证号有误。",
            _FC.INVALID_INPUT,
            billable=False,
            invalid=Element.ID_NUMBER,
        ),
        *(
            _answer(code, message, _FC.QUALITY, billable=False, quality=issue)
            for code, message, issue in _LIFE_PHOTO
        ),
        _down("FailedOperation.IdPhotoSystemNoanswer", "库中照片系统无应答。", _R.BUSY),
        _down("FailedOperation.CompareSystemError", "调用比对引擎接口出错。", _R.SERVER_ERROR),
    ],
    busy="FailedOperation.IdPhotoSystemNoanswer",
    server_error="FailedOperation.CompareSystemError",
)

#: Every check's API, for quotas and fault codes.
API_SPECS: Mapping[Check, ApiSpec[Any]] = {
    Check.ID_TWO_ELEMENT: ID_CARD_VERIFICATION,
    Check.ID_VALIDITY: CHECK_ID_NAME_DATE,
    Check.CARRIER_THREE_ELEMENT: PHONE_VERIFICATION,
    Check.PHONE_STATUS: MOBILE_STATUS,
    Check.PHONE_TENURE: MOBILE_NETWORK_TIME,
    Check.CARRIER_LOOKUP: DESCRIBE_PHONE_NUMBER_ATTRIBUTE,
    Check.PHONE_RECYCLED: MOBILE_RECYCLED_META_VERIFY,
    Check.SIM_SWAP: CAMARA_SIM_SWAP,
    Check.BANK_CARD_FOUR_ELEMENT: BANK_CARD_4E_VERIFICATION,
    Check.FACE_LIVENESS: LIVENESS,
    Check.FACE_COMPARE: LIVENESS_RECOGNITION,
}
