"""Reading Tencent Cloud FaceID answers into the protocol's answer types.

Pure functions over the response fields as plain data (``{"Result": "-4",
"Description": …, "ResultDetail": "PhoneNameMismatch", "Isp": "移动", "RequestId": …}``)
and over API 3.0 error codes. Every ``Result`` goes through the action's table in
:mod:`realname.authorities.codes`: documented answers become outcomes with the
table's billing and detail fields; documented "no answer" codes (busy, service
exception, daily limit) and undocumented codes raise
:class:`~realname.authorities.errors.ProviderUnavailable` — never a mismatch.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from realname.authorities import codes
from realname.authorities.codes import API_SPECS, ApiSpec, CodeMeaning, OutcomeT
from realname.authorities.errors import ProviderUnavailable, UnavailableReason
from realname.authorities.protocol import (
    BankCardAnswer,
    Carrier,
    CarrierMismatch,
    CarrierThreeElementAnswer,
    Check,
    IdTwoElementAnswer,
    IdValidityAnswer,
    IdValidityOutcome,
    PhoneStatusAnswer,
    PhoneTenureAnswer,
    TenureBucket,
    parse_tenure_range,
)
from realname.authorities.tencentcloud.errors import (
    TencentCloudAuthError,
    TencentCloudRequestRejected,
)
from realname.errors import RealnameError

#: API 3.0 error codes (and their ``.Sub`` codes) that say the request itself is wrong.
_REJECTED_PREFIXES = (
    "InvalidParameter",
    "InvalidParameterValue",
    "MissingParameter",
    "UnknownParameter",
    "InvalidAction",
    "NoSuchVersion",
    "UnsupportedOperation",
    "UnsupportedProtocol",
    "UnsupportedRegion",
    "InvalidRequest",
    "RequestSizeLimitExceeded",
    "ActionOffline",
)
#: Error codes that say the credentials or the account are wrong.
_AUTH_PREFIXES = ("AuthFailure", "UnauthorizedOperation")


@dataclass(frozen=True, slots=True)
class Call:
    """What the adapter knows about one call besides the response fields."""

    provider: str
    latency_ms: int
    price_fen: int


def _family(code: str, prefixes: tuple[str, ...]) -> bool:
    return any(code == prefix or code.startswith(f"{prefix}.") for prefix in prefixes)


def error_for(
    check: Check,
    code: str,
    message: str | None,
    request_id: str | None,
    *,
    provider: str,
) -> RealnameError:
    """The exception for an API 3.0 ``Response.Error`` code (or an SDK client code).

    ``RequestLimitExceeded*`` is a rate limit and ``InternalError*`` a server error,
    both retryable; ``AuthFailure.*``/``UnauthorizedOperation.*`` are configuration
    errors; parameter errors are rejections; anything else is read through the
    check's table (where an undocumented code is a server error).
    """
    if _family(code, _AUTH_PREFIXES):
        return TencentCloudAuthError(
            f"Tencent Cloud refused the call ({code}).", raw_code=code, request_id=request_id
        )
    if _family(code, _REJECTED_PREFIXES):
        return TencentCloudRequestRejected(
            check,
            f"Tencent Cloud rejected the {check.value} request ({code}).",
            raw_code=code,
            request_id=request_id,
        )
    if _family(code, ("RequestLimitExceeded",)):
        reason = UnavailableReason.RATE_LIMITED
    elif _family(code, ("InternalError",)):
        reason = UnavailableReason.SERVER_ERROR
    else:
        reason = API_SPECS[check].meaning(code).unavailable or UnavailableReason.SERVER_ERROR
    return ProviderUnavailable(
        check, reason, provider=provider, raw_code=code, request_id=request_id
    )


def _text(fields: Mapping[str, Any], key: str) -> str:
    value = fields.get(key)
    return "" if value is None else str(value)


def _read(
    spec: ApiSpec[OutcomeT], fields: Mapping[str, Any], call: Call
) -> tuple[CodeMeaning[OutcomeT], dict[str, Any]]:
    """The code's meaning and the fields every answer carries; raises if no answer."""
    code = _text(fields, "Result")
    request_id = _text(fields, "RequestId")
    meaning = spec.meaning(code)
    if not meaning.is_answer:
        raise ProviderUnavailable(
            spec.check,
            meaning.unavailable or UnavailableReason.SERVER_ERROR,
            provider=call.provider,
            raw_code=code,
            request_id=request_id or None,
        )
    common: dict[str, Any] = {
        "provider": call.provider,
        "code": code,
        "message": _text(fields, "Description") or meaning.message,
        "request_id": request_id,
        "billable": meaning.billable,
        "cost_fen": call.price_fen if meaning.billable else 0,
        "latency_ms": call.latency_ms,
    }
    if meaning.invalid_element is not None:
        common["invalid_element"] = meaning.invalid_element
    return meaning, common


def _outcome(meaning: CodeMeaning[OutcomeT]) -> OutcomeT:
    """The outcome of an answer code (every answer code of these tables has one)."""
    if meaning.outcome is None:  # pragma: no cover - guarded by the code tables
        raise ValueError(f"result code {meaning.code} carries no outcome")
    return meaning.outcome


def _malformed(check: Check, fields: Mapping[str, Any], call: Call) -> ProviderUnavailable:
    """A documented code whose detail fields are unreadable: no usable answer."""
    return ProviderUnavailable(
        check,
        UnavailableReason.SERVER_ERROR,
        provider=call.provider,
        raw_code=_text(fields, "Result"),
        request_id=_text(fields, "RequestId") or None,
        message=f"{call.provider}: {check.value} answered with unreadable detail fields.",
    )


def read_id_two_element(fields: Mapping[str, Any], call: Call) -> IdTwoElementAnswer:
    """``IdCardVerification``: ``Result``."""
    meaning, common = _read(codes.ID_CARD_VERIFICATION, fields, call)
    return IdTwoElementAnswer(outcome=_outcome(meaning), **common)


def read_id_validity(
    fields: Mapping[str, Any], call: Call, *, valid_until: date | None, today: date
) -> IdValidityAnswer:
    """``CheckIdNameDate``: "0" is ``EXPIRED`` when the confirmed end lies before ``today``.

    "0" confirms the validity dates the caller sent, so the end date read against
    the day of the check says whether the card has expired (``None`` = long-term).
    """
    meaning, common = _read(codes.CHECK_ID_NAME_DATE, fields, call)
    outcome = _outcome(meaning)
    if outcome is IdValidityOutcome.VALID and valid_until is not None and valid_until < today:
        outcome = IdValidityOutcome.EXPIRED
    return IdValidityAnswer(outcome=outcome, **common)


def read_carrier_three_element(fields: Mapping[str, Any], call: Call) -> CarrierThreeElementAnswer:
    """``PhoneVerification`` (详版): ``Result``, ``ResultDetail`` on "-4", ``Isp``.

    A ``ResultDetail`` value Tencent adds later reads as ``OtherMismatch``; an
    ``Isp`` the protocol does not know reads as no carrier.
    """
    meaning, common = _read(codes.PHONE_VERIFICATION, fields, call)
    mismatch = None
    detail = _text(fields, "ResultDetail")
    if common["code"] == "-4" and detail:
        try:
            mismatch = CarrierMismatch(detail)
        except ValueError:
            mismatch = CarrierMismatch.OTHER
    isp = _text(fields, "Isp")
    carrier = Carrier.from_isp_name(isp) if isp else None
    return CarrierThreeElementAnswer(
        outcome=_outcome(meaning), mismatch=mismatch, carrier=carrier, **common
    )


def read_phone_status(fields: Mapping[str, Any], call: Call) -> PhoneStatusAnswer:
    """``MobileStatus``: ``Result``, and ``StatusCode`` when it is "0"."""
    _meaning, common = _read(codes.MOBILE_STATUS, fields, call)
    status_code: int | None = None
    if common["code"] == "0":
        raw = fields.get("StatusCode")
        if isinstance(raw, bool) or not isinstance(raw, int | str) or not str(raw).isdigit():
            raise _malformed(Check.PHONE_STATUS, fields, call)
        status_code = int(raw)
    outcome = codes.phone_status_outcome(common["code"], status_code)
    if outcome is None:  # pragma: no cover - _read has raised for non-answers
        raise _malformed(Check.PHONE_STATUS, fields, call)
    return PhoneStatusAnswer(outcome=outcome, status_code=status_code, **common)


def read_phone_tenure(fields: Mapping[str, Any], call: Call) -> PhoneTenureAnswer:
    """``MobileNetworkTimeVerification``: ``Result``, and ``Range`` (``[a,b)``) on "0"."""
    meaning, common = _read(codes.MOBILE_NETWORK_TIME, fields, call)
    low = high = None
    bucket = None
    if common["code"] == "0":
        text = _text(fields, "Range")
        try:
            low, high = parse_tenure_range(text)
        except ValueError:
            raise _malformed(Check.PHONE_TENURE, fields, call) from None
        standard = {item.value: item for item in TenureBucket}
        bucket = standard.get(text.replace(" ", ""))
    return PhoneTenureAnswer(
        outcome=_outcome(meaning), min_months=low, max_months=high, bucket=bucket, **common
    )


def read_bank_card(fields: Mapping[str, Any], call: Call) -> BankCardAnswer:
    """``BankCard4EVerification``: ``Result``; card-state codes name the card status."""
    meaning, common = _read(codes.BANK_CARD_4E_VERIFICATION, fields, call)
    return BankCardAnswer(outcome=_outcome(meaning), card_status=meaning.card_status, **common)
