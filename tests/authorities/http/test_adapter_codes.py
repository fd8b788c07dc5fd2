"""Every way a Tencent call can end, over the wire: each documented result code, the
sandbox's faults and quotas, timeouts, network errors and API 3.0 error codes."""

from __future__ import annotations

import dataclasses
import socket
import time
from collections.abc import Awaitable, Callable, Iterator
from datetime import date
from typing import Any

import pytest

from realname.authorities.codes import API_SPECS
from realname.authorities.errors import ProviderUnavailable, UnavailableReason
from realname.authorities.protocol import (
    Answer,
    BankCardOutcome,
    CardStatus,
    Carrier,
    CarrierMismatch,
    CarrierThreeElementOutcome,
    Check,
    Element,
    IdTwoElementOutcome,
    IdValidityOutcome,
    PhoneStatusOutcome,
    PhoneTenureOutcome,
    TenureBucket,
)
from realname.authorities.sandbox.config import ILLUSTRATIVE_PRICES_FEN, FaultKind
from realname.authorities.tencentcloud import (
    CheckNotOffered,
    TencentCloudAuthError,
    TencentCloudProvider,
    TencentCloudRequestRejected,
)
from tests.authorities.http.support import RunningServer

pytestmark = pytest.mark.anyio

WORLD = "happy-l2-phone"
NAME, ID, PHONE = "王小明", "110105199003071239", "13912345678"
CARD = "6222020200112230004"

Call = Callable[[TencentCloudProvider], Awaitable[Answer]]
CALLS: dict[Check, Call] = {
    Check.ID_TWO_ELEMENT: lambda p: p.id_two_element(NAME, ID),
    Check.ID_VALIDITY: lambda p: p.id_validity(
        NAME, ID, valid_from=date(2011, 5, 1), valid_until=date(2031, 5, 1)
    ),
    Check.CARRIER_THREE_ELEMENT: lambda p: p.carrier_three_element(NAME, ID, PHONE),
    Check.PHONE_STATUS: lambda p: p.phone_status(PHONE),
    Check.PHONE_TENURE: lambda p: p.phone_tenure(PHONE),
    Check.BANK_CARD_FOUR_ELEMENT: lambda p: p.bank_card_four_element(NAME, ID, CARD, PHONE),
}


@pytest.fixture
def world(server: RunningServer) -> Iterator[str]:
    """The test world, with its faults, quotas and forced results reset afterwards."""
    yield WORLD
    server.control("POST", f"/{WORLD}/reset")


# ------------------------------------------------------------------------ faults


@pytest.mark.parametrize("check", list(CALLS))
@pytest.mark.parametrize("kind", [FaultKind.BUSY, FaultKind.SERVER_ERROR, FaultKind.DAILY_LIMIT])
async def test_sandbox_faults_reach_the_adapter_as_unavailability(
    server: RunningServer, world: str, check: Check, kind: FaultKind
) -> None:
    spec = API_SPECS[check]
    expected_code = spec.code_for(UnavailableReason(kind.value))
    assert expected_code is not None, "every Tencent element check documents these codes"
    server.control("PUT", f"/{world}/faults/{check.value}", {"kind": kind.value})
    with pytest.raises(ProviderUnavailable) as caught:
        await CALLS[check](server.adapter(world))
    failure = caught.value
    # On the wire only the code travels: CheckIdNameDate answers "-6" (证件库服务异常)
    # both when busy and on a service exception, and "-6" reads as a server error.
    reason = UnavailableReason(kind.value)
    if (check, kind) == (Check.ID_VALIDITY, FaultKind.BUSY):
        reason = UnavailableReason.SERVER_ERROR
    assert (failure.check, failure.reason, failure.raw_code) == (check, reason, expected_code)
    assert failure.provider == "tencentcloud"
    assert failure.request_id is not None
    # Cleared, the same call is answered again.
    server.control("DELETE", f"/{world}/faults/{check.value}")
    answer = await CALLS[check](server.adapter(world))
    assert answer.billable


async def test_a_tripped_quota_is_a_rate_limit(server: RunningServer) -> None:
    # A world no other test here calls: its one-second quota window starts empty.
    world = "name-typo"
    server.control("PUT", f"/{world}/quotas/phone_status", {"qps": 2})
    adapter = server.adapter(world)
    started = time.monotonic()
    await adapter.phone_status(PHONE)
    await adapter.phone_status(PHONE)
    with pytest.raises(ProviderUnavailable) as caught:
        await adapter.phone_status(PHONE)
    # The quota window is one second: the test is only meaningful inside it.
    assert time.monotonic() - started < 1.0
    server.control("POST", f"/{world}/reset")
    assert caught.value.reason is UnavailableReason.RATE_LIMITED
    assert caught.value.raw_code == "RequestLimitExceeded"


async def test_a_timeout_fault_hangs_until_the_adapter_gives_up(
    server: RunningServer, world: str
) -> None:
    server.control("PUT", f"/{world}/faults/id_two_element", {"kind": "timeout"})
    adapter = server.adapter(world, timeout=0.3)
    started = time.monotonic()
    with pytest.raises(ProviderUnavailable) as caught:
        await adapter.id_two_element(NAME, ID)
    elapsed = time.monotonic() - started
    assert caught.value.reason is UnavailableReason.TIMEOUT
    assert (caught.value.raw_code, caught.value.request_id) == (None, None)
    assert 0.25 < elapsed < 2.0


async def test_nothing_listening_is_a_server_error(server: RunningServer) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    # The port is free again: nothing answers there.
    adapter = dataclasses.replace(server, address=f"127.0.0.1:{port}").adapter(timeout=1.0)
    with pytest.raises(ProviderUnavailable) as caught:
        await adapter.phone_status(PHONE)
    assert caught.value.reason is UnavailableReason.SERVER_ERROR
    assert caught.value.raw_code is None


# ----------------------------------------------------------- every result code


def _result_codes(check: Check) -> list[str]:
    return [code for code in API_SPECS[check].codes if code.lstrip("-").isdigit()]


CODE_CASES = [(check, code) for check in CALLS for code in _result_codes(check)]


@pytest.mark.parametrize(("check", "code"), CODE_CASES, ids=lambda v: str(v))
async def test_every_documented_result_code_is_read_through_the_table(
    server: RunningServer, world: str, check: Check, code: str
) -> None:
    spec = API_SPECS[check]
    meaning = spec.meaning(code)
    forced: dict[str, Any] = {"Result": code}
    if check is Check.PHONE_STATUS and code == "0":
        forced["StatusCode"] = 1
    if check is Check.PHONE_TENURE and code == "0":
        forced["Range"] = "[6,12)"
    server.control("PUT", f"/{world}/results/{spec.action}", forced)
    adapter = server.adapter(world)
    if not meaning.is_answer:
        with pytest.raises(ProviderUnavailable) as caught:
            await CALLS[check](adapter)
        assert caught.value.reason is meaning.unavailable
        assert caught.value.raw_code == code
        assert caught.value.request_id
        return
    answer = await CALLS[check](adapter)
    assert answer.code == code
    assert answer.message == meaning.message
    assert answer.billable is meaning.billable
    assert answer.cost_fen == (ILLUSTRATIVE_PRICES_FEN[check] if meaning.billable else 0)
    assert answer.request_id
    assert answer.latency_ms >= 0
    if meaning.outcome is not None:
        assert answer.outcome is meaning.outcome  # type: ignore[attr-defined]
    assert getattr(answer, "invalid_element", None) is meaning.invalid_element
    if check is Check.BANK_CARD_FOUR_ELEMENT:
        assert answer.card_status is meaning.card_status  # type: ignore[attr-defined]


#: Spelled out from Tencent's documentation, independently of the code tables.
SPOT_CHECKS: list[tuple[Check, dict[str, Any], dict[str, Any]]] = [
    (Check.ID_TWO_ELEMENT, {"Result": "-1"}, {"outcome": IdTwoElementOutcome.INCONSISTENT}),
    (
        Check.ID_TWO_ELEMENT,
        {"Result": "-3"},
        {"outcome": IdTwoElementOutcome.INVALID_INPUT, "invalid_element": Element.NAME},
    ),
    (Check.ID_TWO_ELEMENT, {"Result": "-5"}, {"outcome": IdTwoElementOutcome.NO_RECORD}),
    (
        Check.ID_VALIDITY,
        {"Result": "-4"},
        {"outcome": IdValidityOutcome.INVALID_INPUT, "invalid_element": Element.VALIDITY},
    ),
    (Check.ID_VALIDITY, {"Result": "-5"}, {"outcome": IdValidityOutcome.IDENTITY_INVALID}),
    (
        Check.CARRIER_THREE_ELEMENT,
        {"Result": "-4", "ResultDetail": "PhoneIdCardMismatch", "Isp": "联通"},
        {
            "outcome": CarrierThreeElementOutcome.INCONSISTENT,
            "mismatch": CarrierMismatch.ID_NUMBER,
            "carrier": Carrier.CUCC,
            "billable": True,
        },
    ),
    (
        Check.CARRIER_THREE_ELEMENT,
        {"Result": "-4", "ResultDetail": "SomethingTencentAddsLater", "Isp": "电信"},
        {"mismatch": CarrierMismatch.OTHER, "carrier": Carrier.CTCC},
    ),
    (
        Check.CARRIER_THREE_ELEMENT,
        {"Result": "-9"},
        {"outcome": CarrierThreeElementOutcome.NO_RECORD, "carrier": None, "billable": False},
    ),
    (
        Check.CARRIER_THREE_ELEMENT,
        {"Result": "-13"},
        {"outcome": CarrierThreeElementOutcome.UNSUPPORTED_SEGMENT},
    ),
    (Check.PHONE_STATUS, {"Result": "0", "StatusCode": 0}, {"outcome": PhoneStatusOutcome.NORMAL}),
    (
        Check.PHONE_STATUS,
        {"Result": "0", "StatusCode": 2},
        {"outcome": PhoneStatusOutcome.CANCELLED, "status_code": 2},
    ),
    (
        Check.PHONE_STATUS,
        {"Result": "0", "StatusCode": 4},
        {"outcome": PhoneStatusOutcome.NOT_IN_NETWORK},
    ),
    # 5 在网但不可用 is newer than the code table: read as unknown, never as normal.
    (Check.PHONE_STATUS, {"Result": "0", "StatusCode": 5}, {"outcome": PhoneStatusOutcome.UNKNOWN}),
    (Check.PHONE_STATUS, {"Result": "-1"}, {"outcome": PhoneStatusOutcome.NO_RESULT}),
    (
        Check.PHONE_TENURE,
        {"Result": "0", "Range": "[0,3)"},
        {"bucket": TenureBucket.UNDER_3, "min_months": 0, "max_months": 3},
    ),
    (
        Check.PHONE_TENURE,
        {"Result": "0", "Range": "[24,+)"},
        {"bucket": TenureBucket.OVER_24, "min_months": 24, "max_months": None},
    ),
    (
        Check.PHONE_TENURE,
        {"Result": "0", "Range": "[12,36)"},
        {"bucket": None, "min_months": 12, "max_months": 36},
    ),
    (
        Check.PHONE_TENURE,
        {"Result": "-2"},
        {"outcome": PhoneTenureOutcome.NUMBER_NOT_FOUND, "billable": True},
    ),
    (
        Check.BANK_CARD_FOUR_ELEMENT,
        {"Result": "-8"},
        {
            "outcome": BankCardOutcome.CARD_UNUSABLE,
            "card_status": CardStatus.CONFISCATED,
            "billable": True,
        },
    ),
    (
        Check.BANK_CARD_FOUR_ELEMENT,
        {"Result": "-6"},
        {"outcome": BankCardOutcome.HOLDER_MISMATCH, "card_status": None},
    ),
    (
        Check.BANK_CARD_FOUR_ELEMENT,
        {"Result": "-20"},
        {"outcome": BankCardOutcome.UNSUPPORTED_DOCUMENT, "billable": False},
    ),
]


@pytest.mark.parametrize(("check", "forced", "expected"), SPOT_CHECKS)
async def test_spot_checks_of_the_mapping(
    server: RunningServer,
    world: str,
    check: Check,
    forced: dict[str, Any],
    expected: dict[str, Any],
) -> None:
    server.control("PUT", f"/{world}/results/{API_SPECS[check].action}", forced)
    answer = await CALLS[check](server.adapter(world))
    assert {key: getattr(answer, key) for key in expected} == expected


@pytest.mark.parametrize(
    ("check", "forced", "reason"),
    [
        (Check.ID_TWO_ELEMENT, {"Result": "-6"}, UnavailableReason.BUSY),
        (Check.ID_TWO_ELEMENT, {"Result": "-4"}, UnavailableReason.SERVER_ERROR),
        (Check.CARRIER_THREE_ELEMENT, {"Result": "-12"}, UnavailableReason.DAILY_LIMIT),
        (Check.PHONE_STATUS, {"Result": "-3"}, UnavailableReason.BUSY),
        (Check.PHONE_TENURE, {"Result": "-5"}, UnavailableReason.DAILY_LIMIT),
        (Check.BANK_CARD_FOUR_ELEMENT, {"Result": "-18"}, UnavailableReason.BUSY),
        # Undocumented codes are never answers.
        (Check.ID_TWO_ELEMENT, {"Result": "-99"}, UnavailableReason.SERVER_ERROR),
        (Check.PHONE_STATUS, {"Result": "-13"}, UnavailableReason.SERVER_ERROR),
        # A "0" whose detail cannot be read is no answer either.
        (Check.PHONE_TENURE, {"Result": "0", "Range": "long"}, UnavailableReason.SERVER_ERROR),
        (Check.PHONE_STATUS, {"Result": "0"}, UnavailableReason.SERVER_ERROR),
    ],
)
async def test_no_answer_codes(
    server: RunningServer,
    world: str,
    check: Check,
    forced: dict[str, Any],
    reason: UnavailableReason,
) -> None:
    server.control("PUT", f"/{world}/results/{API_SPECS[check].action}", forced)
    with pytest.raises(ProviderUnavailable) as caught:
        await CALLS[check](server.adapter(world))
    assert caught.value.reason is reason
    assert caught.value.raw_code == forced["Result"]


async def test_an_expired_card_is_read_against_the_adapters_day(
    server: RunningServer, world: str
) -> None:
    server.control("PUT", f"/{world}/results/CheckIdNameDate", {"Result": "0"})
    adapter = server.adapter(world, today=date(2031, 5, 2))
    answer = await adapter.id_validity(
        NAME, ID, valid_from=date(2011, 5, 1), valid_until=date(2031, 5, 1)
    )
    assert answer.outcome is IdValidityOutcome.EXPIRED
    long_term = await adapter.id_validity(NAME, ID, valid_from=date(2011, 5, 1))
    assert long_term.outcome is IdValidityOutcome.VALID


async def test_id_validity_without_dates_is_rejected_before_calling(
    server: RunningServer,
) -> None:
    with pytest.raises(TencentCloudRequestRejected) as caught:
        await server.adapter(WORLD).id_validity(NAME, ID)
    assert caught.value.check is Check.ID_VALIDITY


# ------------------------------------------------------------ API 3.0 errors


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("RequestLimitExceeded", UnavailableReason.RATE_LIMITED),
        ("RequestLimitExceeded.UinLimitExceeded", UnavailableReason.RATE_LIMITED),
        ("InternalError", UnavailableReason.SERVER_ERROR),
        ("InternalError.UnKnown", UnavailableReason.SERVER_ERROR),
        ("FailedOperation.UnKnown", UnavailableReason.SERVER_ERROR),
        ("AuthFailure.SignatureExpire", TencentCloudAuthError),
        ("UnauthorizedOperation.Nonactivated", TencentCloudAuthError),
        ("UnauthorizedOperation.Arrears", TencentCloudAuthError),
        ("InvalidParameterValue", TencentCloudRequestRejected),
        ("MissingParameter", TencentCloudRequestRejected),
        ("UnsupportedOperation", TencentCloudRequestRejected),
    ],
)
async def test_api_error_codes(
    server: RunningServer, world: str, code: str, expected: UnavailableReason | type
) -> None:
    server.control(
        "PUT", f"/{world}/results/MobileStatus", {"Error": {"Code": code, "Message": "forced"}}
    )
    adapter = server.adapter(world)
    if isinstance(expected, UnavailableReason):
        with pytest.raises(ProviderUnavailable) as unavailable:
            await adapter.phone_status(PHONE)
        assert unavailable.value.reason is expected
        assert unavailable.value.raw_code == code
        assert unavailable.value.request_id
    else:
        with pytest.raises(expected) as refused:
            await adapter.phone_status(PHONE)
        assert refused.value.raw_code == code  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    "check",
    [Check.CARRIER_LOOKUP, Check.PHONE_RECYCLED, Check.SIM_SWAP, Check.FACE_LIVENESS],
)
async def test_checks_tencent_does_not_offer(server: RunningServer, check: Check) -> None:
    adapter = server.adapter(WORLD)
    calls = {
        Check.CARRIER_LOOKUP: lambda: adapter.carrier_lookup(PHONE),
        Check.PHONE_RECYCLED: lambda: adapter.phone_recycled(PHONE, date(2020, 1, 1)),
        Check.SIM_SWAP: lambda: adapter.sim_swap(PHONE),
        Check.FACE_LIVENESS: lambda: adapter.face_liveness(None),  # type: ignore[arg-type]
    }
    with pytest.raises(CheckNotOffered) as caught:
        await calls[check]()
    assert caught.value.check is check
    assert check not in adapter.offered
