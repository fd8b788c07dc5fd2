"""The HTTP sandbox speaks Tencent Cloud API 3.0: TC3 authentication, the common
errors, the parameter rules and each action's response fields.

Requests here are built without the SDK (``RunningServer.post`` signs them as
Tencent's document describes), so the server is checked against the spec, not
against one client.
"""

from __future__ import annotations

import json
import time
from typing import Any

import httpx
import pytest

from realname.authorities.sandbox.http.tc3 import authorization_header
from realname.authorities.tencentcloud import TencentCloudAuthError
from tests.authorities.http.support import SECRET_ID, SECRET_KEY, RunningServer

pytestmark = pytest.mark.anyio

XIAOMING = {"Name": "王小明", "IdCard": "110105199003071239"}


def _error(response: dict[str, Any]) -> str:
    assert "Result" not in response
    code: str = response["Error"]["Code"]
    assert response["Error"]["Message"]
    return code


# ------------------------------------------------------------------ authentication


def test_a_correctly_signed_request_is_answered(server: RunningServer) -> None:
    response = server.post("IdCardVerification", XIAOMING)
    assert response["Result"] == "0"
    assert response["Description"] == "姓名和身份证号一致"
    assert set(response) == {"Result", "Description", "RequestId"}


def test_a_wrong_secret_key_is_a_signature_failure(server: RunningServer) -> None:
    response = server.post("IdCardVerification", XIAOMING, secret_key="not-the-key")
    assert _error(response) == "AuthFailure.SignatureFailure"


def test_an_unknown_secret_id_is_not_found(server: RunningServer) -> None:
    response = server.post("IdCardVerification", XIAOMING, secret_id="AKIDunknown")
    assert _error(response) == "AuthFailure.SecretIdNotFound"


@pytest.mark.parametrize("skew", [-301, 301])
def test_a_timestamp_more_than_five_minutes_off_has_expired(
    server: RunningServer, skew: int
) -> None:
    response = server.post("IdCardVerification", XIAOMING, timestamp=int(time.time()) + skew)
    assert _error(response) == "AuthFailure.SignatureExpire"


def test_a_timestamp_within_five_minutes_is_accepted(server: RunningServer) -> None:
    response = server.post("IdCardVerification", XIAOMING, timestamp=int(time.time()) - 250)
    assert response["Result"] == "0"


def test_a_missing_authorization_header_is_invalid(server: RunningServer) -> None:
    response = server.post("IdCardVerification", XIAOMING, sign=False)
    assert _error(response) == "AuthFailure.InvalidAuthorization"


@pytest.mark.parametrize(
    "value",
    [
        "HMAC-SHA256 Credential=x/2026-12-01/faceid/tc3_request, SignedHeaders=content-type;host,"
        " Signature=00",
        f"TC3-HMAC-SHA256 Credential={SECRET_ID}/2026-12-01/faceid/tc3_request, Signature=00",
        f"TC3-HMAC-SHA256 Credential={SECRET_ID}/2026-12-01/faceid/tc3_request,"
        " SignedHeaders=host, Signature=00",
        "Bearer abc",
    ],
)
def test_a_malformed_authorization_header_is_invalid(server: RunningServer, value: str) -> None:
    response = server.post(
        "IdCardVerification", XIAOMING, sign=False, extra={"authorization": value}
    )
    assert _error(response) == "AuthFailure.InvalidAuthorization"


def test_a_signature_for_another_service_is_invalid(server: RunningServer) -> None:
    response = server.post("IdCardVerification", XIAOMING, service="cvm")
    assert _error(response) == "AuthFailure.InvalidAuthorization"


def test_a_body_changed_after_signing_fails(server: RunningServer) -> None:
    stamp = int(time.time())
    body = json.dumps(XIAOMING).encode()
    headers = {"content-type": "application/json", "host": server.address}
    authorization = authorization_header(
        secret_id=SECRET_ID,
        secret_key=SECRET_KEY,
        service="faceid",
        timestamp=stamp,
        headers=headers,
        payload=body,
    )
    tampered = body.replace(b"071239", b"071238")
    assert tampered != body
    response = server.post(
        "IdCardVerification",
        tampered,
        timestamp=stamp,
        sign=False,
        extra={"authorization": authorization},
    )
    assert _error(response) == "AuthFailure.SignatureFailure"


def test_an_unsigned_payload_header_is_honoured(server: RunningServer) -> None:
    """``X-TC-Content-SHA256: UNSIGNED-PAYLOAD`` signs the literal instead of the body."""
    stamp = int(time.time())
    headers = {"content-type": "application/json", "host": server.address}
    authorization = authorization_header(
        secret_id=SECRET_ID,
        secret_key=SECRET_KEY,
        service="faceid",
        timestamp=stamp,
        headers=headers,
        payload=b"UNSIGNED-PAYLOAD",
    )
    response = server.post(
        "IdCardVerification",
        XIAOMING,
        timestamp=stamp,
        sign=False,
        extra={"authorization": authorization, "x-tc-content-sha256": "UNSIGNED-PAYLOAD"},
    )
    assert response["Result"] == "0"


async def test_the_sdk_adapter_reports_auth_failures_as_configuration_errors(
    server: RunningServer,
) -> None:
    with pytest.raises(TencentCloudAuthError) as wrong_key:
        await server.adapter(secret_key="not-the-key").id_two_element("王小明", XIAOMING["IdCard"])
    assert wrong_key.value.raw_code == "AuthFailure.SignatureFailure"
    assert wrong_key.value.code == "PROVIDER_AUTH_FAILED"
    with pytest.raises(TencentCloudAuthError) as unknown:
        await server.adapter(secret_id="AKIDunknown").phone_status("13912345678")
    assert unknown.value.raw_code == "AuthFailure.SecretIdNotFound"


# ------------------------------------------------------------------ action routing


@pytest.mark.parametrize(
    "action",
    ["DescribeInstances", "Liveness", "DescribePhoneNumberAttribute", "idcardverification"],
)
def test_an_unknown_or_unserved_action_is_invalid(server: RunningServer, action: str) -> None:
    assert _error(server.post(action, XIAOMING)) == "InvalidAction"


def test_a_missing_action_or_version_is_a_missing_parameter(server: RunningServer) -> None:
    assert _error(server.post(None, XIAOMING)) == "MissingParameter"
    assert _error(server.post("IdCardVerification", XIAOMING, version=None)) == "MissingParameter"


def test_an_unknown_version_does_not_exist(server: RunningServer) -> None:
    response = server.post("IdCardVerification", XIAOMING, version="2017-03-12")
    assert _error(response) == "NoSuchVersion"


# -------------------------------------------------------------------- parameters


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({"Name": "王小明"}, "MissingParameter"),
        ({**XIAOMING, "Nickname": "明"}, "UnknownParameter"),
        ({**XIAOMING, "IdCard": 110105199003071239}, "InvalidParameter"),
        ({**XIAOMING, "Encryption": {"EncryptList": ["Name"]}}, "UnsupportedOperation"),
    ],
)
def test_parameter_errors(server: RunningServer, params: dict[str, Any], code: str) -> None:
    assert _error(server.post("IdCardVerification", params)) == code


def test_a_body_that_is_not_a_json_object_is_invalid(server: RunningServer) -> None:
    assert _error(server.post("IdCardVerification", b"{not json")) == "InvalidParameter"
    assert _error(server.post("IdCardVerification", b"[1, 2]")) == "InvalidParameter"


def test_an_unknown_world_is_an_invalid_parameter_value(server: RunningServer) -> None:
    response = server.post("IdCardVerification", XIAOMING, extra={"x-sandbox-world": "nowhere"})
    assert _error(response) == "InvalidParameterValue"


# ------------------------------------------------------------- response fields


def test_phone_verification_detail_only_in_the_detailed_mode(server: RunningServer) -> None:
    world = {"x-sandbox-world": "phone-of-a-parent"}
    params = {**XIAOMING, "Phone": "13912345678"}
    simple = server.post("PhoneVerification", params, extra=world)
    detailed = server.post("PhoneVerification", {**params, "VerifyMode": "1"}, extra=world)
    assert simple["Result"] == detailed["Result"] == "-4"
    assert simple["ResultDetail"] == ""
    assert detailed["ResultDetail"] == "PhoneNameIdCardMismatch"
    assert detailed["Isp"] == "移动"
    assert set(detailed) == {"Result", "Description", "Isp", "ResultDetail", "RequestId"}
    invalid = server.post("PhoneVerification", {**params, "VerifyMode": "2"}, extra=world)
    assert _error(invalid) == "InvalidParameterValue"


def test_mobile_status_and_tenure_fields(server: RunningServer) -> None:
    status = server.post(
        "MobileStatus", {"Mobile": "18612340003"}, extra={"x-sandbox-world": "phone-suspended"}
    )
    assert (status["Result"], status["StatusCode"]) == ("0", 1)
    malformed = server.post("MobileStatus", {"Mobile": "1391234"})
    assert (malformed["Result"], malformed["StatusCode"]) == ("-2", None)
    tenure = server.post("MobileNetworkTimeVerification", {"Mobile": "13912345678"})
    assert (tenure["Result"], tenure["Range"]) == ("0", "[24,+)")


def test_check_id_name_date_reads_its_dates(server: RunningServer) -> None:
    dates = {"ValidityBegin": "20110501", "ValidityEnd": "20310501"}
    assert server.post("CheckIdNameDate", {**XIAOMING, **dates})["Result"] == "0"
    other_end = {**dates, "ValidityEnd": "20300501"}
    assert server.post("CheckIdNameDate", {**XIAOMING, **other_end})["Result"] == "-1"
    long_term = {**dates, "ValidityEnd": "00000000"}
    assert server.post("CheckIdNameDate", {**XIAOMING, **long_term})["Result"] == "-1"
    malformed = {**dates, "ValidityEnd": "2031-05-01"}
    assert server.post("CheckIdNameDate", {**XIAOMING, **malformed})["Result"] == "-4"
    # The ID number is judged before the dates, as the result-code order says.
    bad_id = {**XIAOMING, "IdCard": "110105199003071238", **malformed}
    assert server.post("CheckIdNameDate", bad_id)["Result"] == "-2"


def test_bank_card_with_another_document_type_is_unsupported(server: RunningServer) -> None:
    params = {**XIAOMING, "BankCard": "6222020200112230004", "Phone": "13912345678"}
    response = server.post("BankCard4EVerification", {**params, "CertType": 1})
    assert response["Result"] == "-20"
    assert response["Description"] == "该证件号暂不支持核验，当前仅支持二代身份证"


def test_errors_keep_http_200_and_the_envelope(server: RunningServer) -> None:
    response = httpx.post(server.url, content=b"{}", headers={"content-type": "application/json"})
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"Response"}
    assert set(body["Response"]) == {"Error", "RequestId"}


def test_the_control_api_needs_the_secret_key(server: RunningServer) -> None:
    assert httpx.get(f"{server.url}/_sandbox/worlds").status_code == 401
    wrong = httpx.get(f"{server.url}/_sandbox/worlds", headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401
    listing = server.control("GET", "").json()
    assert listing["default"] == "happy-l2-phone"
    assert len(listing["worlds"]) == 28
