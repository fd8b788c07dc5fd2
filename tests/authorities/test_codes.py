"""Known-answer tests: every documented result code of every API, and what it means.

The expectations are transcribed from the vendors' API references (Tencent Cloud
FaceID 2018-03-01 output parameters, 收费结果码/不收费结果码; Alibaba Cloud
MobileRecycledMetaVerify and DescribePhoneNumberAttribute), independently of the
tables in ``realname.authorities.codes``, so a wrong mapping there fails here.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

import pytest

from realname.authorities import codes, protocol
from realname.authorities.codes import ApiSpec
from realname.authorities.errors import UnavailableReason as R
from realname.authorities.protocol import Check, Element

B = protocol.BankCardOutcome
CS = protocol.CardStatus
CL = protocol.CarrierLookupOutcome
C3 = protocol.CarrierThreeElementOutcome
FC = protocol.FaceCompareOutcome
FL = protocol.FaceLivenessOutcome
I2 = protocol.IdTwoElementOutcome
IV = protocol.IdValidityOutcome
PR = protocol.PhoneRecycledOutcome
PS = protocol.PhoneStatusOutcome
PT = protocol.PhoneTenureOutcome

# (code, billable, outcome or unavailable reason, invalid element or card status)
Row = tuple[str, bool, StrEnum, StrEnum | None]

KNOWN: dict[str, tuple[ApiSpec[Any], list[Row]]] = {
    "IdCardVerification": (
        codes.ID_CARD_VERIFICATION,
        [
            ("0", True, I2.CONSISTENT, None),
            ("-1", True, I2.INCONSISTENT, None),
            ("-2", False, I2.INVALID_INPUT, Element.ID_NUMBER),
            ("-3", False, I2.INVALID_INPUT, Element.NAME),
            ("-4", False, R.SERVER_ERROR, None),
            ("-5", False, I2.NO_RECORD, None),
            ("-6", False, R.BUSY, None),
            ("-7", False, R.DAILY_LIMIT, None),
        ],
    ),
    "CheckIdNameDate": (
        codes.CHECK_ID_NAME_DATE,
        [
            ("0", True, IV.VALID, None),
            ("-1", True, IV.INCONSISTENT, None),
            ("-2", False, IV.INVALID_INPUT, Element.ID_NUMBER),
            ("-3", False, IV.INVALID_INPUT, Element.NAME),
            ("-4", False, IV.INVALID_INPUT, Element.VALIDITY),
            ("-5", False, IV.IDENTITY_INVALID, None),
            ("-6", False, R.SERVER_ERROR, None),
            ("-7", False, IV.NO_RECORD, None),
            ("-8", False, R.DAILY_LIMIT, None),
        ],
    ),
    "PhoneVerification": (
        codes.PHONE_VERIFICATION,
        [
            ("0", True, C3.CONSISTENT, None),
            ("-4", True, C3.INCONSISTENT, None),
            ("-6", False, C3.INVALID_INPUT, Element.PHONE),
            ("-7", False, C3.INVALID_INPUT, Element.ID_NUMBER),
            ("-8", False, C3.INVALID_INPUT, Element.NAME),
            ("-9", False, C3.NO_RECORD, None),
            ("-11", False, R.BUSY, None),
            ("-12", False, R.DAILY_LIMIT, None),
            ("-13", False, C3.UNSUPPORTED_SEGMENT, None),
        ],
    ),
    "MobileNetworkTimeVerification": (
        codes.MOBILE_NETWORK_TIME,
        [
            ("0", True, PT.FOUND, None),
            ("-2", True, PT.NUMBER_NOT_FOUND, None),
            ("-3", True, PT.TENURE_UNKNOWN, None),
            ("-1", False, PT.INVALID_INPUT, Element.PHONE),
            ("-4", False, R.BUSY, None),
            ("-5", False, R.DAILY_LIMIT, None),
        ],
    ),
    "MobileStatus": (
        codes.MOBILE_STATUS,
        [
            ("-1", False, PS.NO_RESULT, None),
            ("-2", False, PS.INVALID_INPUT, Element.PHONE),
            ("-3", False, R.BUSY, None),
            ("-4", False, R.DAILY_LIMIT, None),
        ],
    ),
    "DescribePhoneNumberAttribute": (
        codes.DESCRIBE_PHONE_NUMBER_ATTRIBUTE,
        [
            ("OK", True, CL.FOUND, None),
            ("isp.NUMBER_NON_EXISTENT", False, CL.NOT_FOUND, None),
            ("isv.INVALID_PARAMETERS", False, CL.INVALID_INPUT, Element.PHONE),
            ("isp.SYSTEM_ERROR", False, R.SERVER_ERROR, None),
            ("isp.QPS_LIMIT", False, R.RATE_LIMITED, None),
        ],
    ),
    "MobileRecycledMetaVerify": (
        codes.MOBILE_RECYCLED_META_VERIFY,
        [
            ("101", True, PR.NOT_RECYCLED, None),
            ("102", True, PR.RECYCLED, None),
            ("103", True, PR.NOT_SYNCED, None),
            ("301", False, PR.NO_RESULT, None),
            ("401", False, PR.INVALID_INPUT, Element.PHONE),
            ("Throttling.User", False, R.RATE_LIMITED, None),
        ],
    ),
    "BankCard4EVerification": (
        codes.BANK_CARD_4E_VERIFICATION,
        [
            ("0", True, B.CONSISTENT, None),
            ("-1", True, B.INCONSISTENT, None),
            ("-6", True, B.HOLDER_MISMATCH, None),
            ("-7", True, B.CARD_UNUSABLE, CS.NO_CARDLESS),
            ("-8", True, B.CARD_UNUSABLE, CS.CONFISCATED),
            ("-9", True, B.CARD_UNUSABLE, CS.INVALID_CARD),
            ("-10", True, B.CARD_UNUSABLE, CS.NO_ISSUER),
            ("-11", True, B.CARD_UNUSABLE, CS.DORMANT),
            ("-12", True, B.CARD_UNUSABLE, CS.CAPTURED),
            ("-13", True, B.CARD_UNUSABLE, CS.LOST),
            ("-14", True, B.CARD_UNUSABLE, CS.EXPIRED),
            ("-15", True, B.CARD_UNUSABLE, CS.RESTRICTED),
            ("-16", True, B.CARD_UNUSABLE, CS.PIN_TRIES_EXCEEDED),
            ("-17", True, B.CARD_UNUSABLE, CS.ISSUER_DECLINED),
            ("-21", True, B.CARD_UNUSABLE, CS.ABNORMAL),
            ("-2", False, B.INVALID_INPUT, Element.NAME),
            ("-3", False, B.INVALID_INPUT, Element.ID_NUMBER),
            ("-4", False, B.INVALID_INPUT, Element.BANK_CARD),
            ("-5", False, B.INVALID_INPUT, Element.PHONE),
            ("-18", False, R.BUSY, None),
            ("-19", False, R.DAILY_LIMIT, None),
            ("-20", False, B.UNSUPPORTED_DOCUMENT, Element.DOCUMENT_TYPE),
        ],
    ),
    "Liveness": (
        codes.LIVENESS,
        [
            ("Success", True, FL.LIVE, None),
            ("FailedOperation.LifePhotoDetectFake", True, FL.NOT_LIVE, None),
            ("FailedOperation.LifePhotoDetectNoFaces", False, FL.QUALITY, None),
            ("FailedOperation.LifePhotoDetectFaces", False, FL.QUALITY, None),
            ("FailedOperation.LifePhotoPoorQuality", False, FL.QUALITY, None),
        ],
    ),
    "LivenessRecognition": (
        codes.LIVENESS_RECOGNITION,
        [
            ("Success", True, FC.MATCH, None),
            ("FailedOperation.CompareLowSimilarity", True, FC.MISMATCH, None),
            ("FailedOperation.IdNameMisMatch", True, FC.IDENTITY_MISMATCH, None),
            ("FailedOperation.IdNoExistSystem", False, FC.NO_RECORD, None),
            ("FailedOperation.IdPhotoNoExist", False, FC.NO_PORTRAIT, None),
            ("FailedOperation.IdFormatError", False, FC.INVALID_INPUT, Element.ID_NUMBER),
            ("FailedOperation.LifePhotoDetectNoFaces", False, FC.QUALITY, None),
            ("FailedOperation.LifePhotoDetectFaces", False, FC.QUALITY, None),
            ("FailedOperation.LifePhotoPoorQuality", False, FC.QUALITY, None),
            ("FailedOperation.CompareSystemError", False, R.SERVER_ERROR, None),
        ],
    ),
}

CASES = [
    pytest.param(spec, row, id=f"{api}:{row[0]}")
    for api, (spec, rows) in KNOWN.items()
    for row in rows
]


@pytest.mark.parametrize(("spec", "row"), CASES)
def test_every_documented_code_means_what_the_vendor_says(spec: ApiSpec[StrEnum], row: Row) -> None:
    code, billable, meaning, extra = row
    got = spec.meaning(code)
    assert got.code == code
    assert got.billable is billable
    assert got.message
    if isinstance(meaning, R):
        assert got.unavailable is meaning
        assert got.outcome is None
        assert not got.is_answer
    else:
        assert got.outcome is meaning
        assert got.unavailable is None
    if isinstance(extra, Element):
        assert got.invalid_element is extra
    elif isinstance(extra, CS):
        assert got.card_status is extra
    else:
        assert got.invalid_element is None
        assert got.card_status is None


@pytest.mark.parametrize("api", sorted(KNOWN))
def test_tables_hold_no_undocumented_answer_codes(api: str) -> None:
    spec, rows = KNOWN[api]
    documented = {row[0] for row in rows}
    if api == "MobileStatus":
        documented.add("0")  # its outcome travels in StatusCode: tested below
    # Besides the documented answer codes a table may only hold failure codes.
    for code, meaning in spec.codes.items():
        if code not in documented:
            assert not meaning.is_answer, f"{api} {code} is an answer nobody documented"


def test_every_billable_code_is_an_answer() -> None:
    for spec in codes.API_SPECS.values():
        for meaning in spec.codes.values():
            if meaning.billable:
                assert meaning.is_answer


@pytest.mark.parametrize("spec", list(codes.API_SPECS.values()), ids=lambda s: s.action)
def test_an_undocumented_code_is_a_server_error_never_a_mismatch(spec: ApiSpec[StrEnum]) -> None:
    meaning = spec.meaning("-999")
    assert meaning.unavailable is R.SERVER_ERROR
    assert meaning.outcome is None
    assert meaning.billable is False


@pytest.mark.parametrize(
    ("status_code", "outcome"),
    [
        (0, PS.NORMAL),
        (1, PS.SUSPENDED),
        (2, PS.CANCELLED),
        (4, PS.NOT_IN_NETWORK),
        (99, PS.UNKNOWN),
        (7, PS.UNKNOWN),
        (None, PS.UNKNOWN),
    ],
)
def test_mobile_status_codes(status_code: int | None, outcome: PS) -> None:
    assert codes.MOBILE_STATUS.meaning("0").billable is True
    assert codes.phone_status_outcome("0", status_code) is outcome


def test_mobile_status_failures_are_no_answer() -> None:
    assert codes.phone_status_outcome("-3", None) is None
    assert codes.phone_status_outcome("-1", None) is PS.NO_RESULT


@pytest.mark.parametrize(
    ("check", "qps"),
    [
        (Check.ID_TWO_ELEMENT, 100),
        (Check.ID_VALIDITY, 20),
        (Check.CARRIER_THREE_ELEMENT, 20),
        (Check.PHONE_STATUS, 20),
        (Check.PHONE_TENURE, 20),
        (Check.BANK_CARD_FOUR_ELEMENT, 20),
        (Check.FACE_LIVENESS, 20),
        (Check.FACE_COMPARE, 100),
    ],
)
def test_documented_default_quotas(check: Check, qps: int) -> None:
    assert codes.API_SPECS[check].qps == qps


def test_every_check_has_an_api_with_busy_server_error_and_rate_limit_codes() -> None:
    assert set(codes.API_SPECS) == set(Check)
    for spec in codes.API_SPECS.values():
        for reason in (R.BUSY, R.SERVER_ERROR, R.RATE_LIMITED):
            raw = spec.code_for(reason)
            assert raw is not None
            expected = reason
            if spec.action == "CheckIdNameDate" and reason is R.BUSY:
                # It documents no busy code; its service exception stands in.
                expected = R.SERVER_ERROR
            assert spec.meaning(raw).unavailable is expected, (spec.action, reason)
        assert spec.code_for(R.TIMEOUT) is None
