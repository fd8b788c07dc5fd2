"""The FaceID actions the sandbox serves: their parameters and their response fields.

Each action reads its request parameters exactly as Tencent Cloud FaceID API
2018-03-01 names them (``IdCard``, ``Name``, ``Phone``, ``Mobile``, ``BankCard`` …),
asks the in-process :class:`~realname.authorities.sandbox.SandboxProvider`, and
writes the response fields the action documents (``Result``, ``Description``, and
``Isp``/``ResultDetail``, ``StatusCode`` or ``Range``). Result codes and their
descriptions come from :mod:`realname.authorities.codes` through the provider, so the
HTTP answers carry the same codes as the in-process ones.

Parameter problems answer the API 3.0 common errors: ``MissingParameter``,
``UnknownParameter``, ``InvalidParameter`` (wrong JSON type) and
``InvalidParameterValue``. Encrypted requests (``Encryption``, and
``CiphertextBlob``/``EncryptList``/``Iv`` of ``PhoneVerification``) are out of the
sandbox's scope and answer ``UnsupportedOperation``.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from realname.authorities import codes
from realname.authorities.codes import ApiSpec
from realname.authorities.sandbox.provider import SandboxProvider

#: Request fields of encrypted calls; the sandbox does not decrypt.
ENCRYPTED_FIELDS = frozenset({"Encryption", "CiphertextBlob", "EncryptList", "Iv"})

_YYYYMMDD = re.compile(r"[0-9]{8}")
#: ``CheckIdNameDate.ValidityEnd`` of a long-term (长期) card.
LONG_TERM = "00000000"
#: A validity pair the sandbox's ``id_validity`` reads as malformed (start not before
#: end), so that it answers "-4" after its ID-number and name checks, as Tencent does.
_MALFORMED_VALIDITY = (date.max, date.min)


class ApiError(Exception):
    """An API 3.0 error answer (``Response.Error``)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


Fields = dict[str, Any]
Handler = Callable[[SandboxProvider, Mapping[str, Any]], Awaitable[tuple[Fields, str | None]]]


@dataclass(frozen=True)
class Action:
    """One served action: its code table, parameters and handler."""

    name: str
    spec: ApiSpec[Any]
    #: Parameter name → JSON type (``str`` or ``int``).
    params: Mapping[str, type]
    required: frozenset[str]
    #: The action's detail fields as they read when the answer carries none.
    empty_details: Mapping[str, Any]
    handler: Handler

    def read(self, params: Mapping[str, Any]) -> Mapping[str, Any]:
        """Check ``params`` against the action's parameter list (API 3.0 errors)."""
        for key, value in params.items():
            if key in ENCRYPTED_FIELDS:
                raise ApiError(
                    "UnsupportedOperation",
                    f"The sandbox does not support encrypted requests (parameter {key}).",
                )
            expected = self.params.get(key)
            if expected is None:
                raise ApiError("UnknownParameter", f"The parameter `{key}` is not recognized.")
            if value is None:
                continue
            if not isinstance(value, expected) or isinstance(value, bool):
                raise ApiError(
                    "InvalidParameter",
                    f"The parameter `{key}` must be of type {expected.__name__}.",
                )
        for key in sorted(self.required):
            if params.get(key) is None:
                raise ApiError(
                    "MissingParameter", f"The request is missing a required parameter `{key}`."
                )
        return params

    def result(self, code: str, description: str | None = None, **details: Any) -> Fields:
        """Response fields for result ``code`` (details default to their empty form)."""
        fields: Fields = {
            "Result": code,
            "Description": description
            if description is not None
            else self.spec.meaning(code).message,
        }
        fields.update(self.empty_details)
        fields.update(details)
        return fields


def _parse_validity(begin: str, end: str) -> tuple[date | None, date | None] | None:
    """``ValidityBegin``/``ValidityEnd`` (``YYYYMMDD``; end ``00000000`` = long-term)."""

    def parse(text: str) -> date | None:
        if _YYYYMMDD.fullmatch(text) is None:
            raise ValueError(text)
        return date(int(text[:4]), int(text[4:6]), int(text[6:]))

    try:
        start = parse(begin)
        until = None if end == LONG_TERM else parse(end)
    except ValueError:
        return None
    return start, until


async def _id_card_verification(
    provider: SandboxProvider, params: Mapping[str, Any]
) -> tuple[Fields, str | None]:
    answer = await provider.id_two_element(params["Name"], params["IdCard"])
    return ID_CARD_VERIFICATION.result(answer.code, answer.message), answer.request_id


async def _check_id_name_date(
    provider: SandboxProvider, params: Mapping[str, Any]
) -> tuple[Fields, str | None]:
    validity = _parse_validity(params["ValidityBegin"], params["ValidityEnd"])
    valid_from, valid_until = validity if validity is not None else _MALFORMED_VALIDITY
    answer = await provider.id_validity(
        params["Name"], params["IdCard"], valid_from=valid_from, valid_until=valid_until
    )
    return CHECK_ID_NAME_DATE.result(answer.code, answer.message), answer.request_id


async def _phone_verification(
    provider: SandboxProvider, params: Mapping[str, Any]
) -> tuple[Fields, str | None]:
    mode = params.get("VerifyMode") or "0"
    if mode not in ("0", "1"):
        raise ApiError("InvalidParameterValue", "VerifyMode must be 0 (简版) or 1 (详版).")
    answer = await provider.carrier_three_element(params["Name"], params["IdCard"], params["Phone"])
    detail = answer.mismatch.value if mode == "1" and answer.mismatch is not None else ""
    fields = PHONE_VERIFICATION.result(
        answer.code,
        answer.message,
        Isp=answer.carrier.isp_name if answer.carrier is not None else "",
        ResultDetail=detail,
    )
    return fields, answer.request_id


async def _mobile_status(
    provider: SandboxProvider, params: Mapping[str, Any]
) -> tuple[Fields, str | None]:
    answer = await provider.phone_status(params["Mobile"])
    fields = MOBILE_STATUS.result(answer.code, answer.message, StatusCode=answer.status_code)
    return fields, answer.request_id


async def _mobile_network_time(
    provider: SandboxProvider, params: Mapping[str, Any]
) -> tuple[Fields, str | None]:
    answer = await provider.phone_tenure(params["Mobile"])
    span = ""
    if answer.min_months is not None:
        upper = "+" if answer.max_months is None else str(answer.max_months)
        span = f"[{answer.min_months},{upper})"
    fields = MOBILE_NETWORK_TIME_VERIFICATION.result(answer.code, answer.message, Range=span)
    return fields, answer.request_id


#: ``BankCard4EVerification`` answers this when ``CertType`` is not 0 (ID card).
UNSUPPORTED_CERT_TYPE = "-20"


async def _bank_card_4e(
    provider: SandboxProvider, params: Mapping[str, Any]
) -> tuple[Fields, str | None]:
    cert_type = params.get("CertType")
    if cert_type not in (None, 0):
        # Only second-generation ID cards are supported (CertType 0); Tencent answers
        # -20 without asking the bank, so the sandbox does not ask its banks either
        # (nor counts the call against quotas: the app gives it a request id).
        return BANK_CARD_4E_VERIFICATION.result(UNSUPPORTED_CERT_TYPE), None
    answer = await provider.bank_card_four_element(
        params["Name"], params["IdCard"], params["BankCard"], params["Phone"]
    )
    return BANK_CARD_4E_VERIFICATION.result(answer.code, answer.message), answer.request_id


_STR = str
ID_CARD_VERIFICATION = Action(
    "IdCardVerification",
    codes.ID_CARD_VERIFICATION,
    {"IdCard": _STR, "Name": _STR},
    frozenset({"IdCard", "Name"}),
    {},
    _id_card_verification,
)
CHECK_ID_NAME_DATE = Action(
    "CheckIdNameDate",
    codes.CHECK_ID_NAME_DATE,
    {"Name": _STR, "IdCard": _STR, "ValidityBegin": _STR, "ValidityEnd": _STR},
    frozenset({"Name", "IdCard", "ValidityBegin", "ValidityEnd"}),
    {},
    _check_id_name_date,
)
PHONE_VERIFICATION = Action(
    "PhoneVerification",
    codes.PHONE_VERIFICATION,
    {"IdCard": _STR, "Name": _STR, "Phone": _STR, "VerifyMode": _STR},
    frozenset({"IdCard", "Name", "Phone"}),
    {"Isp": "", "ResultDetail": ""},
    _phone_verification,
)
MOBILE_STATUS = Action(
    "MobileStatus",
    codes.MOBILE_STATUS,
    {"Mobile": _STR},
    frozenset({"Mobile"}),
    {"StatusCode": None},
    _mobile_status,
)
MOBILE_NETWORK_TIME_VERIFICATION = Action(
    "MobileNetworkTimeVerification",
    codes.MOBILE_NETWORK_TIME,
    {"Mobile": _STR},
    frozenset({"Mobile"}),
    {"Range": ""},
    _mobile_network_time,
)
BANK_CARD_4E_VERIFICATION = Action(
    "BankCard4EVerification",
    codes.BANK_CARD_4E_VERIFICATION,
    {"Name": _STR, "BankCard": _STR, "Phone": _STR, "IdCard": _STR, "CertType": int},
    frozenset({"Name", "BankCard", "Phone", "IdCard"}),
    {},
    _bank_card_4e,
)

#: Every served action by its ``X-TC-Action`` name.
ACTIONS: Mapping[str, Action] = {
    action.name: action
    for action in (
        ID_CARD_VERIFICATION,
        CHECK_ID_NAME_DATE,
        PHONE_VERIFICATION,
        MOBILE_STATUS,
        MOBILE_NETWORK_TIME_VERIFICATION,
        BANK_CARD_4E_VERIFICATION,
    )
}
