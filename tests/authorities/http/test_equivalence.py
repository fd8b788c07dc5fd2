"""The Tencent adapter over HTTP answers exactly what the in-process sandbox answers.

For every scenario of public.yaml and every Tencent-served check its submission
allows, the same call is made twice — on a fresh in-process ``SandboxProvider`` for
the scenario, and through ``TencentCloudProvider`` (the official SDK, TC3 signatures,
JSON over loopback) against ``realname sandbox serve``'s app — and the answers must
agree in type, outcome, raw code and description, billing, cost and every detail
field; an unavailability must agree in reason and raw code.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable
from datetime import date
from typing import Any

import pytest

from realname.authorities.errors import ProviderUnavailable, UnavailableReason
from realname.authorities.protocol import (
    Answer,
    CarrierMismatch,
    CarrierThreeElementOutcome,
    Check,
    Provider,
    TenureBucket,
)
from realname.authorities.sandbox import SandboxProvider, load_fixture_file
from realname.authorities.sandbox.fixtures import ConsentScope, Scenario
from realname.identity import id_number as id_numbers
from tests.authorities.http.support import PUBLIC, RunningServer

pytestmark = pytest.mark.anyio

FIXTURE = load_fixture_file(PUBLIC)
#: Fields that differ between two runs by nature.
VOLATILE = {"provider", "request_id", "latency_ms"}

Call = Callable[[Provider], Awaitable[Answer]]


def _card_dates(scenario: Scenario, submitted: str) -> tuple[date, date | None]:
    """The validity dates printed on the card (what OCR reads in a real flow)."""
    number = id_numbers.compact(submitted)
    for citizen in scenario.registry.citizens:
        if citizen.id_number == number:
            if citizen.valid_until is None:
                return date(2012, 3, 1), None
            return citizen.valid_until.replace(year=citizen.valid_until.year - 20), (
                citizen.valid_until
            )
    return date(2016, 1, 1), date(2036, 1, 1)


def allowed_calls(scenario: Scenario) -> dict[Check, Call]:
    """The Tencent-served checks the submission has the inputs and consent for."""
    submit = scenario.submit
    calls: dict[Check, Call] = {}
    name, number, phone, card = submit.name, submit.id_number, submit.phone, submit.bank_card
    if name is not None and number is not None and submit.consents_to(ConsentScope.ID):
        begin, until = _card_dates(scenario, number)
        calls[Check.ID_TWO_ELEMENT] = lambda p: p.id_two_element(name, number)
        calls[Check.ID_VALIDITY] = lambda p: p.id_validity(
            name, number, valid_from=begin, valid_until=until
        )
    if phone is not None and submit.consents_to(ConsentScope.PHONE):
        calls[Check.PHONE_STATUS] = lambda p: p.phone_status(phone)
        calls[Check.PHONE_TENURE] = lambda p: p.phone_tenure(phone)
        if name is not None and number is not None and submit.consents_to(ConsentScope.ID):
            calls[Check.CARRIER_THREE_ELEMENT] = lambda p: p.carrier_three_element(
                name, number, phone
            )
    if (
        name is not None
        and number is not None
        and card is not None
        and phone is not None
        and submit.consents_to(ConsentScope.ID)
        and submit.consents_to(ConsentScope.BANK_CARD)
    ):
        calls[Check.BANK_CARD_FOUR_ELEMENT] = lambda p: p.bank_card_four_element(
            name, number, card, phone
        )
    return calls


async def _outcome(call: Call, provider: Provider) -> tuple[str, Any]:
    try:
        answer = await call(provider)
    except ProviderUnavailable as failure:
        return "unavailable", (failure.check, failure.reason, failure.raw_code)
    fields = {
        field.name: getattr(answer, field.name)
        for field in dataclasses.fields(answer)
        if field.name not in VOLATILE
    }
    return type(answer).__name__, fields


#: Every (scenario, check) pair compared, filled as the tests run.
COMPARED: list[tuple[str, Check, str]] = []


@pytest.mark.parametrize("scenario", FIXTURE.scenarios, ids=lambda s: s.id)
async def test_adapter_over_http_agrees_with_the_in_process_sandbox(
    server: RunningServer, scenario: Scenario
) -> None:
    today = FIXTURE.today_for(scenario)
    assert today is not None
    local = SandboxProvider.for_scenario(scenario, today=today)
    # A timeout fault holds the HTTP response; the adapter gives up after a second.
    remote = server.adapter(scenario.id, timeout=1.0, today=today)
    calls = allowed_calls(scenario)
    assert calls, "every public scenario submits something a Tencent check can take"
    for check, call in calls.items():
        expected = await _outcome(call, local)
        got = await _outcome(call, remote)
        assert got == expected, f"{scenario.id}: {check.value}"
        if expected[0] == "unavailable":
            assert got[1][1] is UnavailableReason.TIMEOUT or got[1][2] is not None
        COMPARED.append((scenario.id, check, expected[0]))


async def test_known_answers_over_http(server: RunningServer) -> None:
    """A few answers spelled out, so that agreement is not agreement on nonsense."""
    parent = server.adapter("phone-of-a-parent")
    answer = await parent.carrier_three_element("王小明", "110105199003071239", "13912345678")
    assert answer.provider == "tencentcloud"
    assert answer.outcome is CarrierThreeElementOutcome.INCONSISTENT
    assert answer.mismatch is CarrierMismatch.NAME_AND_ID_NUMBER
    assert (answer.code, answer.billable, answer.cost_fen) == ("-4", True, 30)
    assert len(answer.request_id) == 36

    recycled = server.adapter("phone-recycled")
    tenure = await recycled.phone_tenure("13912345678")
    assert tenure.bucket is TenureBucket.UNDER_3
    assert (tenure.min_months, tenure.max_months) == (0, 3)


def test_the_comparison_covered_every_served_check() -> None:
    """Runs after the parametrised test (file order): the sweep was not vacuous."""
    if not COMPARED:
        pytest.skip("run together with the equivalence test")
    checks = {check for _, check, _ in COMPARED}
    assert checks == {
        Check.ID_TWO_ELEMENT,
        Check.ID_VALIDITY,
        Check.CARRIER_THREE_ELEMENT,
        Check.PHONE_STATUS,
        Check.PHONE_TENURE,
        Check.BANK_CARD_FOUR_ELEMENT,
    }
    kinds = {kind for _, _, kind in COMPARED}
    assert "unavailable" in kinds  # the scenario whose carrier check times out
    assert len(COMPARED) >= 100
