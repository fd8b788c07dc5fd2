"""Faults, QPS quotas and daily limits: no answer, never a mismatch, never billed."""

from __future__ import annotations

import random
import time
from collections.abc import Awaitable, Callable
from datetime import date, timedelta
from typing import Any

import pytest

from realname.authorities.errors import ProviderUnavailable, UnavailableReason
from realname.authorities.protocol import Check
from realname.authorities.sandbox import (
    FaultKind,
    FaultPlan,
    FixedClock,
    LatencyModel,
    SandboxConfig,
    SandboxProvider,
)
from tests.authorities.support import CARD, PHONE_A, TODAY, XIAOMING, provider, scenario

pytestmark = pytest.mark.anyio

NAME, ID = XIAOMING["name"], XIAOMING["id_number"]
REGISTRY = {
    "citizens": [XIAOMING],
    "phones": [{"number": PHONE_A, "carrier": "cmcc", "owner": "a", "owner_since": "2016-03-01"}],
    "bank_cards": [{"number": CARD, "owner": "a", "reserved_phone": PHONE_A}],
}

Call = Callable[[SandboxProvider], Awaitable[Any]]
CALLS: dict[Check, Call] = {
    Check.ID_TWO_ELEMENT: lambda p: p.id_two_element(NAME, ID),
    Check.ID_VALIDITY: lambda p: p.id_validity(NAME, ID),
    Check.CARRIER_THREE_ELEMENT: lambda p: p.carrier_three_element(NAME, ID, PHONE_A),
    Check.PHONE_STATUS: lambda p: p.phone_status(PHONE_A),
    Check.PHONE_TENURE: lambda p: p.phone_tenure(PHONE_A),
    Check.CARRIER_LOOKUP: lambda p: p.carrier_lookup(PHONE_A),
    Check.PHONE_RECYCLED: lambda p: p.phone_recycled(PHONE_A, date(2020, 1, 1)),
    Check.BANK_CARD_FOUR_ELEMENT: lambda p: p.bank_card_four_element(NAME, ID, CARD, PHONE_A),
}

# The raw code each API answers when busy, failing or over its daily limit, as the
# vendors document them.
FAULT_CODES: dict[Check, dict[FaultKind, str]] = {
    Check.ID_TWO_ELEMENT: {FaultKind.BUSY: "-6", FaultKind.SERVER_ERROR: "-4",
                           FaultKind.DAILY_LIMIT: "-7"},
    Check.ID_VALIDITY: {FaultKind.BUSY: "-6", FaultKind.SERVER_ERROR: "-6",
                        FaultKind.DAILY_LIMIT: "-8"},
    Check.CARRIER_THREE_ELEMENT: {FaultKind.BUSY: "-11", FaultKind.SERVER_ERROR: "InternalError",
                                  FaultKind.DAILY_LIMIT: "-12"},
    Check.PHONE_STATUS: {FaultKind.BUSY: "-3", FaultKind.SERVER_ERROR: "InternalError",
                         FaultKind.DAILY_LIMIT: "-4"},
    Check.PHONE_TENURE: {FaultKind.BUSY: "-4", FaultKind.SERVER_ERROR: "InternalError",
                         FaultKind.DAILY_LIMIT: "-5"},
    Check.CARRIER_LOOKUP: {FaultKind.BUSY: "isp.UNKNOWN", FaultKind.SERVER_ERROR:
                           "isp.SYSTEM_ERROR"},
    Check.PHONE_RECYCLED: {FaultKind.BUSY: "402", FaultKind.SERVER_ERROR: "500",
                           FaultKind.DAILY_LIMIT: "403"},
    Check.BANK_CARD_FOUR_ELEMENT: {FaultKind.BUSY: "-18", FaultKind.SERVER_ERROR: "InternalError",
                                   FaultKind.DAILY_LIMIT: "-19"},
}  # fmt: skip


@pytest.mark.parametrize("check", list(CALLS))
@pytest.mark.parametrize("kind", list(FaultKind))
async def test_each_fault_kind_raises_provider_unavailable(check: Check, kind: FaultKind) -> None:
    sandbox = provider(REGISTRY, faults=FaultPlan(forced={check: kind}))
    with pytest.raises(ProviderUnavailable) as caught:
        await CALLS[check](sandbox)
    error = caught.value
    assert error.code == "PROVIDER_UNAVAILABLE"
    assert error.http_status == 503
    assert error.check is check
    assert error.reason.value == kind.value
    if kind is FaultKind.TIMEOUT:
        # A request that timed out never reached the provider: no code, no id.
        assert (error.raw_code, error.request_id) == (None, None)
    else:
        # DescribePhoneNumberAttribute documents no daily-limit code.
        assert error.raw_code == FAULT_CODES[check].get(kind)
        assert error.request_id
    assert error.details == {
        "check": check.value,
        "reason": kind.value,
        "provider": "sandbox",
        "raw_code": error.raw_code,
        "request_id": error.request_id,
    }
    assert sandbox.ledger.total_fen == 0
    assert sandbox.ledger.of(check).unavailable == 1
    # Other checks still answer.
    other = Check.PHONE_STATUS if check is not Check.PHONE_STATUS else Check.PHONE_TENURE
    await CALLS[other](sandbox)


async def test_a_scenario_fault_applies_to_its_check_only() -> None:
    fixture = scenario(REGISTRY, faults=[{"check": "carrier_three_element", "kind": "timeout"}])
    sandbox = SandboxProvider.for_scenario(fixture, today=TODAY)
    with pytest.raises(ProviderUnavailable) as caught:
        await sandbox.carrier_three_element(NAME, ID, PHONE_A)
    assert caught.value.reason is UnavailableReason.TIMEOUT
    assert (await sandbox.id_two_element(NAME, ID)).code == "0"
    sandbox.faults.clear(Check.CARRIER_THREE_ELEMENT)
    assert (await sandbox.carrier_three_element(NAME, ID, PHONE_A)).code == "0"


async def test_random_faults_follow_their_rate_and_repeat_by_seed() -> None:
    def run(seed: int) -> list[str]:
        rng = random.Random(seed)
        plan = FaultPlan(default_rates={FaultKind.BUSY: 0.2, FaultKind.SERVER_ERROR: 0.1})
        return [plan.draw(Check.PHONE_STATUS, rng) or "ok" for _ in range(5000)]

    first = run(7)
    assert run(7) == first
    assert run(8) != first
    assert 0.17 < first.count("busy") / 5000 < 0.23
    assert 0.08 < first.count("server_error") / 5000 < 0.12


async def test_per_check_rates_override_the_default() -> None:
    plan = FaultPlan(
        rates={Check.PHONE_STATUS: {}},
        default_rates={FaultKind.SERVER_ERROR: 1.0},
    )
    sandbox = provider(REGISTRY, faults=plan)
    assert (await sandbox.phone_status(PHONE_A)).code == "0"
    with pytest.raises(ProviderUnavailable):
        await sandbox.phone_tenure(PHONE_A)


async def test_a_timeout_takes_the_configured_time() -> None:
    sandbox = provider(
        REGISTRY,
        config=SandboxConfig(timeout_ms=30),
        faults=FaultPlan(forced={Check.PHONE_STATUS: FaultKind.TIMEOUT}),
    )
    started = time.perf_counter()
    with pytest.raises(ProviderUnavailable):
        await sandbox.phone_status(PHONE_A)
    assert time.perf_counter() - started >= 0.03


async def test_latency_is_applied_and_reported() -> None:
    config = SandboxConfig(latency={Check.PHONE_STATUS: LatencyModel(median_ms=40, sigma=0.01)})
    answer = await provider(REGISTRY, config=config).phone_status(PHONE_A)
    assert 35 <= answer.latency_ms <= 80
    quick = await provider(REGISTRY).phone_status(PHONE_A)
    assert quick.latency_ms < 20


def test_the_realistic_profile_has_latencies_of_a_few_hundred_ms() -> None:
    config = SandboxConfig.realistic()
    rng = random.Random(1)
    samples = sorted(
        config.latency_for(Check.CARRIER_THREE_ELEMENT).sample(rng) for _ in range(2001)
    )
    assert 200 < samples[1000] < 350
    assert samples[0] > 50
    assert config.latency_for(Check.ID_TWO_ELEMENT).median_ms == 150


# --------------------------------------------------------------------------- quotas


async def test_the_21st_call_within_a_second_is_rate_limited() -> None:
    sandbox = provider(REGISTRY)
    clock = sandbox.clock
    assert isinstance(clock, FixedClock)
    for _ in range(20):
        await sandbox.carrier_three_element(NAME, ID, PHONE_A)
        clock.advance(0.01)
    with pytest.raises(ProviderUnavailable) as caught:
        await sandbox.carrier_three_element(NAME, ID, PHONE_A)
    assert caught.value.reason is UnavailableReason.RATE_LIMITED
    assert caught.value.raw_code == "RequestLimitExceeded"
    assert caught.value.request_id
    # Another API has its own quota.
    await sandbox.phone_status(PHONE_A)
    # One second after the first call, its slot is free again.
    clock.advance(1.0 - 0.2 + 0.001)
    assert (await sandbox.carrier_three_element(NAME, ID, PHONE_A)).code == "0"
    with pytest.raises(ProviderUnavailable):
        await sandbox.carrier_three_element(NAME, ID, PHONE_A)


async def test_id_two_element_allows_100_per_second() -> None:
    sandbox = provider(REGISTRY)
    for _ in range(100):
        await sandbox.id_two_element(NAME, ID)
    with pytest.raises(ProviderUnavailable) as caught:
        await sandbox.id_two_element(NAME, ID)
    assert caught.value.reason is UnavailableReason.RATE_LIMITED


async def test_bank_card_quota_is_20_per_second_and_alibaba_uses_its_own_code() -> None:
    sandbox = provider(REGISTRY)
    for _ in range(20):
        await sandbox.bank_card_four_element(NAME, ID, CARD, PHONE_A)
    with pytest.raises(ProviderUnavailable):
        await sandbox.bank_card_four_element(NAME, ID, CARD, PHONE_A)
    quota = SandboxConfig(quotas={Check.PHONE_RECYCLED: 1})
    alibaba = provider(REGISTRY, config=quota)
    await alibaba.phone_recycled(PHONE_A, date(2020, 1, 1))
    with pytest.raises(ProviderUnavailable) as caught:
        await alibaba.phone_recycled(PHONE_A, date(2020, 1, 1))
    assert caught.value.raw_code == "Throttling.User"


# ---------------------------------------------------------------------- daily limits


async def test_the_same_name_is_checked_at_most_500_times_a_day() -> None:
    sandbox = provider(REGISTRY)
    clock = sandbox.clock
    assert isinstance(clock, FixedClock)
    for _ in range(500):
        clock.advance(0.1)  # stay under the QPS quota
        await sandbox.id_two_element(NAME, ID)
    clock.advance(0.1)
    with pytest.raises(ProviderUnavailable) as caught:
        await sandbox.id_two_element(NAME, ID)
    assert caught.value.reason is UnavailableReason.DAILY_LIMIT
    assert caught.value.raw_code == "-7"
    # Someone else is not limited, and tomorrow the count starts again.
    assert (await sandbox.id_two_element("王晓明", ID)).code == "-1"
    clock.set_today(TODAY + timedelta(days=1))
    assert (await sandbox.id_two_element(NAME, ID)).code == "0"


async def test_daily_limits_are_configurable_per_field() -> None:
    config = SandboxConfig(daily_limits={Check.CARRIER_THREE_ELEMENT: {"phone": 2}})
    sandbox = provider(REGISTRY, config=config)
    await sandbox.carrier_three_element(NAME, ID, PHONE_A)
    await sandbox.carrier_three_element("王晓明", ID, PHONE_A)
    with pytest.raises(ProviderUnavailable) as caught:
        await sandbox.carrier_three_element("王大明", ID, PHONE_A)
    assert (caught.value.reason, caught.value.raw_code) == (UnavailableReason.DAILY_LIMIT, "-12")
    # Limits count per check: the same phone still gets a status answer.
    assert (await sandbox.phone_status(PHONE_A)).code == "0"


def test_unavailability_messages_carry_no_personal_data() -> None:
    error = ProviderUnavailable(
        Check.CARRIER_THREE_ELEMENT,
        UnavailableReason.BUSY,
        provider="sandbox",
        raw_code="-11",
        request_id="r",
    )
    assert error.retryable
    assert PHONE_A not in error.message
    assert NAME not in error.message
    assert "busy" in error.diagnostics()


async def test_quota_windows_follow_real_seconds_by_default() -> None:
    sandbox = provider(REGISTRY, manual_seconds=False)
    clock = sandbox.clock
    assert isinstance(clock, FixedClock)
    for _ in range(20):
        await sandbox.phone_status(PHONE_A)
    with pytest.raises(ProviderUnavailable):
        await sandbox.phone_status(PHONE_A)
    clock.advance(1.0)
    assert (await sandbox.phone_status(PHONE_A)).code == "0"


def test_a_provider_over_a_stored_world_keeps_that_worlds_day() -> None:
    from realname.authorities.sandbox import SandboxStore, SystemClock

    store = SandboxStore()
    with store.transaction():
        store.create_world("dated", kind="generated", today=date(2030, 1, 2))
        store.create_world("undated", kind="generated")
    assert SandboxProvider(store, "dated").clock.today() == date(2030, 1, 2)
    assert isinstance(SandboxProvider(store, "undated").clock, SystemClock)
