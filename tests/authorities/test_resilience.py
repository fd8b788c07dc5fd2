"""ResilientProvider: retries, timeouts, circuit breakers and QPS limits, on a fake clock.

Time is virtual: :class:`VirtualTime` is the wrapper's clock and sleeper, and moves
only when someone sleeps (or a test advances it), so backoff, cooldowns and quota
windows are exact and cost no real time. Only the per-attempt timeout runs on the
event loop's real timer, with timeouts of a few milliseconds.
"""

from __future__ import annotations

import asyncio
import heapq
import inspect
import itertools
import random
from collections.abc import Coroutine
from contextvars import ContextVar
from dataclasses import dataclass, field, replace
from datetime import date
from pathlib import Path
from typing import Any, TypeVar

import pytest
from hypothesis import given
from hypothesis import strategies as st

from realname.authorities.errors import ProviderUnavailable, UnavailableReason
from realname.authorities.protocol import (
    Carrier,
    Check,
    FaceCapture,
    FaceSimilarity,
    IdTwoElementOutcome,
    LivenessVerdict,
    PhoneStatusAnswer,
    PhoneStatusOutcome,
    Provider,
)
from realname.authorities.resilience import (
    BreakerPolicy,
    BreakerState,
    QuotaLimiter,
    ResiliencePolicy,
    ResilientProvider,
    RetryPolicy,
)
from realname.authorities.sandbox import (
    FaultKind,
    FaultPlan,
    SandboxConfig,
    SandboxProvider,
    load_fixture_file,
)
from tests.authorities.support import PHONE_A, TODAY, XIAOMING, provider

pytestmark = pytest.mark.anyio

T = TypeVar("T")
NAME, ID = XIAOMING["name"], XIAOMING["id_number"]
REGISTRY = {
    "citizens": [XIAOMING],
    "phones": [{"number": PHONE_A, "carrier": "cmcc", "owner": "a", "owner_since": "2016-03-01"}],
}
PUBLIC = Path(__file__).parent / "data" / "public.yaml"
CAPTURE = FaceCapture(b"\xff\xd8 not really a jpeg", "image/jpeg")


# ------------------------------------------------------------------------- helpers


class VirtualTime:
    """A fake monotonic clock with a sleeper that moves it instead of waiting.

    Outside :meth:`gather` a sleep simply advances the clock (one caller at a time).
    Inside it, sleepers wake in time order: whenever every task is idle the clock
    jumps to the earliest wake-up, so concurrent callers see consistent times.
    """

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []
        self._timers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._order = itertools.count()
        self._driving = False

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        if not self._driving:
            self.now += max(seconds, 0.0)
            await asyncio.sleep(0)
            return
        wake = asyncio.get_running_loop().create_future()
        heapq.heappush(self._timers, (self.now + max(seconds, 0.0), next(self._order), wake))
        await wake

    async def gather(self, *calls: Coroutine[Any, Any, T]) -> list[T | BaseException]:
        loop = asyncio.get_running_loop()
        tasks = [loop.create_task(call) for call in calls]
        self._driving = True
        try:
            while not all(task.done() for task in tasks):
                for _ in range(50):  # let every runnable task run until it blocks
                    await asyncio.sleep(0)
                if self._timers:
                    when = self._timers[0][0]
                    self.now = max(self.now, when)
                    while self._timers and self._timers[0][0] == when:
                        heapq.heappop(self._timers)[2].set_result(None)
        finally:
            self._driving = False
        return list(await asyncio.gather(*tasks, return_exceptions=True))


class VirtualSandboxClock:
    """The sandbox's clock on virtual seconds, so its own QPS quota uses them too."""

    def __init__(self, time: VirtualTime) -> None:
        self._time = time

    def today(self) -> date:
        return TODAY

    def monotonic(self) -> float:
        return self._time.now


@dataclass
class ScriptedFaults(FaultPlan):
    """Faults in a given order, one per call, then none."""

    script: list[FaultKind | None] = field(default_factory=list)

    def draw(self, check: Check, rng: random.Random) -> FaultKind | None:
        return self.script.pop(0) if self.script else None


class Scripted:
    """A phone-status-only test double: each step is a latency (an answer after that
    many virtual seconds) or a reason to be unavailable; ``gate`` holds calls."""

    name = "scripted"

    def __init__(self, time: VirtualTime, steps: list[float | UnavailableReason]) -> None:
        self.time = time
        self.steps = steps
        self.calls = 0
        self.gate: asyncio.Event | None = None

    async def phone_status(self, phone: str) -> PhoneStatusAnswer:
        self.calls += 1
        step = self.steps.pop(0) if self.steps else 0.0
        if self.gate is not None:
            await self.gate.wait()
        if isinstance(step, UnavailableReason):
            raise ProviderUnavailable(Check.PHONE_STATUS, step, provider=self.name)
        self.time.advance(step)
        return PhoneStatusAnswer(
            provider=self.name,
            code="0",
            message="成功",
            request_id="r",
            billable=True,
            cost_fen=10,
            latency_ms=round(step * 1000),
            outcome=PhoneStatusOutcome.NORMAL,
            status_code=0,
        )


def wrap(
    inner: Any, time: VirtualTime, policy: ResiliencePolicy | None = None, seed: int = 7
) -> ResilientProvider:
    return ResilientProvider(inner, policy, clock=time, sleep=time.sleep, rng=random.Random(seed))


def _sandbox(**kwargs: Any) -> SandboxProvider:
    return provider(REGISTRY, **kwargs)


# ------------------------------------------------------------------------- retries


@pytest.mark.parametrize("kind", [FaultKind.BUSY, FaultKind.SERVER_ERROR])
async def test_failures_then_an_answer_are_retried_with_full_jitter(kind: FaultKind) -> None:
    sandbox = _sandbox(faults=ScriptedFaults(script=[kind, kind]))
    time = VirtualTime()
    retry = RetryPolicy(max_attempts=4, base_delay=0.5, max_delay=0.8)
    wrapper = wrap(sandbox, time, ResiliencePolicy(retry=retry), seed=11)

    answer = await wrapper.id_two_element(NAME, ID)

    assert answer.outcome is IdTwoElementOutcome.CONSISTENT
    assert sandbox.ledger.of(Check.ID_TWO_ELEMENT).calls == 3
    assert sandbox.ledger.of(Check.ID_TWO_ELEMENT).unavailable == 2
    # Full jitter: sleep n is uniform in [0, min(cap, base * 2**n)], drawn from rng.
    ceilings = [0.5, 0.8]
    assert [retry.backoff_ceiling(n) for n in range(2)] == ceilings
    assert all(0.0 <= s <= c for s, c in zip(time.sleeps, ceilings, strict=True))
    expected = random.Random(11)
    assert time.sleeps == [expected.uniform(0.0, c) for c in ceilings]
    assert wrapper.breaker_state(Check.ID_TWO_ELEMENT) is BreakerState.CLOSED


async def test_retries_give_up_after_max_attempts_with_the_last_error() -> None:
    sandbox = _sandbox(faults=FaultPlan(forced={Check.PHONE_STATUS: FaultKind.BUSY}))
    time = VirtualTime()
    wrapper = wrap(sandbox, time, ResiliencePolicy(retry=RetryPolicy(max_attempts=3)))

    with pytest.raises(ProviderUnavailable) as caught:
        await wrapper.phone_status(PHONE_A)

    assert caught.value.reason is UnavailableReason.BUSY
    assert caught.value.raw_code == "-3"  # the provider's own code survives the wrapper
    assert sandbox.ledger.of(Check.PHONE_STATUS).calls == 3
    assert len(time.sleeps) == 2


async def test_daily_limit_is_not_retried() -> None:
    sandbox = _sandbox(faults=FaultPlan(forced={Check.ID_TWO_ELEMENT: FaultKind.DAILY_LIMIT}))
    time = VirtualTime()
    wrapper = wrap(sandbox, time)

    with pytest.raises(ProviderUnavailable) as caught:
        await wrapper.id_two_element(NAME, ID)

    assert caught.value.reason is UnavailableReason.DAILY_LIMIT
    assert sandbox.ledger.of(Check.ID_TWO_ELEMENT).calls == 1
    assert time.sleeps == []
    with pytest.raises(ValueError, match="never retried"):
        RetryPolicy(retry_on=frozenset({UnavailableReason.DAILY_LIMIT}))


async def test_an_inconsistent_answer_is_not_retried() -> None:
    sandbox = _sandbox()
    time = VirtualTime()
    wrapper = wrap(sandbox, time)

    answer = await wrapper.id_two_element("王晓明", ID)

    assert answer.outcome is IdTwoElementOutcome.INCONSISTENT
    assert sandbox.ledger.of(Check.ID_TWO_ELEMENT).calls == 1
    assert time.sleeps == []


async def test_a_hanging_provider_times_out() -> None:
    # The sandbox hangs for a minute on a timeout fault; the wrapper waits 10 ms.
    sandbox = _sandbox(
        config=SandboxConfig(timeout_ms=60_000),
        faults=FaultPlan(forced={Check.CARRIER_THREE_ELEMENT: FaultKind.TIMEOUT}),
    )
    time = VirtualTime()
    policy = ResiliencePolicy(
        timeouts={Check.CARRIER_THREE_ELEMENT: 0.01}, retry=RetryPolicy(max_attempts=2)
    )
    wrapper = wrap(sandbox, time, policy)

    with pytest.raises(ProviderUnavailable) as caught:
        await wrapper.carrier_three_element(NAME, ID, PHONE_A)

    assert caught.value.reason is UnavailableReason.TIMEOUT
    assert (caught.value.raw_code, caught.value.request_id) == (None, None)
    assert sandbox.ledger.of(Check.CARRIER_THREE_ELEMENT).calls == 2


async def test_retries_stop_at_the_deadline() -> None:
    sandbox = _sandbox(faults=FaultPlan(forced={Check.PHONE_STATUS: FaultKind.SERVER_ERROR}))
    time = VirtualTime()
    policy = ResiliencePolicy(
        deadlines={Check.PHONE_STATUS: 1.0},
        retry=RetryPolicy(max_attempts=50, base_delay=0.2, max_delay=0.4),
        breaker=BreakerPolicy(failure_threshold=100, min_calls=100),
    )
    wrapper = wrap(sandbox, time, policy)

    with pytest.raises(ProviderUnavailable) as caught:
        await wrapper.phone_status(PHONE_A)

    assert caught.value.reason is UnavailableReason.SERVER_ERROR
    assert time.now < 1.0
    assert 2 <= sandbox.ledger.of(Check.PHONE_STATUS).calls < 50


# ------------------------------------------------------------------ circuit breaker


async def test_breaker_opens_fails_fast_half_opens_and_closes() -> None:
    check = Check.PHONE_TENURE
    sandbox = _sandbox(faults=FaultPlan(forced={check: FaultKind.SERVER_ERROR}))
    time = VirtualTime()
    policy = ResiliencePolicy(
        retry=RetryPolicy(max_attempts=1),
        breaker=BreakerPolicy(failure_threshold=3, cooldown=10.0),
    )
    wrapper = wrap(sandbox, time, policy)

    def calls() -> int:
        return sandbox.ledger.of(check).calls

    for _ in range(3):
        with pytest.raises(ProviderUnavailable):
            await wrapper.phone_tenure(PHONE_A)
    assert wrapper.breaker_state(check) is BreakerState.OPEN
    assert calls() == 3

    # Open: fails fast, and the sandbox is not asked.
    with pytest.raises(ProviderUnavailable) as caught:
        await wrapper.phone_tenure(PHONE_A)
    assert caught.value.reason is UnavailableReason.CIRCUIT_OPEN
    assert caught.value.provider == "sandbox"
    assert calls() == 3
    # Other checks have breakers of their own.
    assert wrapper.breaker_state(Check.PHONE_STATUS) is BreakerState.CLOSED

    time.advance(9.9)
    assert wrapper.breaker_state(check) is BreakerState.OPEN
    time.advance(0.1)
    assert wrapper.breaker_state(check) is BreakerState.HALF_OPEN

    # A failed probe opens it again, for another full cooldown.
    with pytest.raises(ProviderUnavailable) as caught:
        await wrapper.phone_tenure(PHONE_A)
    assert caught.value.reason is UnavailableReason.SERVER_ERROR
    assert calls() == 4
    assert wrapper.breaker_state(check) is BreakerState.OPEN
    with pytest.raises(ProviderUnavailable) as caught:
        await wrapper.phone_tenure(PHONE_A)
    assert caught.value.reason is UnavailableReason.CIRCUIT_OPEN
    assert calls() == 4

    # The authority recovers; after the cooldown the probe succeeds and closes it.
    sandbox.faults.clear()
    time.advance(10.0)
    assert wrapper.breaker_state(check) is BreakerState.HALF_OPEN
    answer = await wrapper.phone_tenure(PHONE_A)
    assert answer.bucket is not None
    assert calls() == 5
    assert wrapper.breaker_state(check) is BreakerState.CLOSED
    assert wrapper.health()[check].short_circuited == 2


async def test_half_open_lets_exactly_one_probe_through() -> None:
    time = VirtualTime()
    inner = Scripted(time, [UnavailableReason.BUSY, 0.05, 0.05])
    policy = ResiliencePolicy(
        retry=RetryPolicy(max_attempts=1),
        breaker=BreakerPolicy(failure_threshold=1, cooldown=5.0),
    )
    wrapper = wrap(inner, time, policy)
    with pytest.raises(ProviderUnavailable):
        await wrapper.phone_status(PHONE_A)
    time.advance(5.0)

    inner.gate = asyncio.Event()
    probe = asyncio.create_task(wrapper.phone_status(PHONE_A))
    for _ in range(10):  # let the probe reach the provider
        await asyncio.sleep(0)
    assert inner.calls == 2  # the probe is in flight
    with pytest.raises(ProviderUnavailable) as caught:
        await wrapper.phone_status(PHONE_A)
    assert caught.value.reason is UnavailableReason.CIRCUIT_OPEN
    assert inner.calls == 2

    inner.gate.set()
    assert (await probe).outcome is PhoneStatusOutcome.NORMAL
    assert wrapper.breaker_state(Check.PHONE_STATUS) is BreakerState.CLOSED


async def test_breaker_opens_on_a_failure_rate_without_a_failure_streak() -> None:
    time = VirtualTime()
    inner = Scripted(time, [0.01, UnavailableReason.BUSY] * 5)
    policy = ResiliencePolicy(
        retry=RetryPolicy(max_attempts=1),
        breaker=BreakerPolicy(failure_threshold=3, failure_rate=0.5, min_calls=10),
    )
    wrapper = wrap(inner, time, policy)
    for _ in range(5):
        assert wrapper.breaker_state(Check.PHONE_STATUS) is BreakerState.CLOSED
        await wrapper.phone_status(PHONE_A)
        with pytest.raises(ProviderUnavailable):
            await wrapper.phone_status(PHONE_A)
    # Never two failures in a row, but five of the last ten attempts failed.
    assert wrapper.breaker_state(Check.PHONE_STATUS) is BreakerState.OPEN


async def test_limits_do_not_trip_the_breaker() -> None:
    sandbox = _sandbox(faults=FaultPlan(forced={Check.ID_VALIDITY: FaultKind.DAILY_LIMIT}))
    time = VirtualTime()
    policy = ResiliencePolicy(breaker=BreakerPolicy(failure_threshold=2))
    wrapper = wrap(sandbox, time, policy)
    for _ in range(5):
        with pytest.raises(ProviderUnavailable):
            await wrapper.id_validity(NAME, ID)
    assert wrapper.breaker_state(Check.ID_VALIDITY) is BreakerState.CLOSED


# --------------------------------------------------------------------- rate limiter


async def test_fifty_concurrent_calls_keep_to_a_quota_of_twenty_per_second() -> None:
    time = VirtualTime()
    check = Check.CARRIER_THREE_ELEMENT
    sandbox = _sandbox()
    # The sandbox counts its own quota (20/s, RequestLimitExceeded) on the same clock.
    sandbox.clock = VirtualSandboxClock(time)
    starts: list[tuple[float, int]] = []
    caller: ContextVar[int] = ContextVar("caller")

    class Recording:
        name = sandbox.name

        async def carrier_three_element(self, *args: Any, **kwargs: Any) -> Any:
            starts.append((time.now, caller.get()))
            return await sandbox.carrier_three_element(*args, **kwargs)

    wrapper = wrap(Recording(), time, ResiliencePolicy(qps={check: 20}))

    async def call(number: int) -> Any:
        caller.set(number)
        return await wrapper.carrier_three_element(NAME, ID, PHONE_A)

    results = await time.gather(*(call(number) for number in range(50)))

    assert not [r for r in results if isinstance(r, BaseException)]  # none dropped
    assert len(starts) == 50
    assert sandbox.ledger.of(check).unavailable == 0  # the sandbox never throttled us
    times = [t for t, _ in starts]
    for i, t in enumerate(times):
        in_window = sum(1 for other in times[i:] if other < t + 1.0)
        assert in_window <= 20
    # First come, first served: calls start in the order they were made.
    assert [number for _, number in starts] == list(range(50))
    assert times[-1] == pytest.approx(2 * 1.05)  # 20 now, 20 a window later, then 10


async def test_queueing_counts_toward_the_deadline() -> None:
    time = VirtualTime()
    sandbox = _sandbox()
    sandbox.clock = VirtualSandboxClock(time)
    policy = ResiliencePolicy(qps={Check.PHONE_STATUS: 1}, deadlines={Check.PHONE_STATUS: 2.0})
    wrapper = wrap(sandbox, time, policy)

    results = await time.gather(*(wrapper.phone_status(PHONE_A) for _ in range(3)))

    # Turns at 0, 1.05 and 2.10 s: the third would come after its 2 s deadline.
    assert not isinstance(results[0], BaseException)
    assert not isinstance(results[1], BaseException)
    assert isinstance(results[2], ProviderUnavailable)
    assert results[2].reason is UnavailableReason.TIMEOUT
    assert sandbox.ledger.of(Check.PHONE_STATUS).calls == 2


@given(
    limit=st.integers(1, 25),
    window=st.sampled_from([0.5, 1.0, 1.05]),
    gaps=st.lists(st.floats(0.0, 0.3, allow_nan=False), min_size=1, max_size=80),
)
def test_quota_limiter_never_exceeds_its_quota_and_serves_in_order(
    limit: int, window: float, gaps: list[float]
) -> None:
    limiter = QuotaLimiter(limit, window)
    arrivals = list(itertools.accumulate(gaps))
    slots = [limiter.reserve(now) for now in arrivals]
    assert all(slot is not None for slot in slots)
    starts = [slot for slot in slots if slot is not None]
    assert all(slot >= now for slot, now in zip(starts, arrivals, strict=True))
    assert starts == sorted(starts)
    for i, start in enumerate(starts):
        assert sum(1 for other in starts[i:] if other < start + window) <= limit


# --------------------------------------------------------------------------- health


async def test_health_reports_state_error_rate_and_latency_percentiles() -> None:
    time = VirtualTime()
    latencies = [0.01 * n for n in range(1, 20)]  # 10 … 190 ms
    inner = Scripted(time, [*latencies, UnavailableReason.BUSY])
    wrapper = wrap(inner, time, ResiliencePolicy(retry=RetryPolicy(max_attempts=1)))
    for _ in range(19):
        await wrapper.phone_status(PHONE_A)
    with pytest.raises(ProviderUnavailable):
        await wrapper.phone_status(PHONE_A)

    health = wrapper.health()
    status = health[Check.PHONE_STATUS]
    assert status.state is BreakerState.CLOSED
    assert status.attempts == 20
    assert status.error_rate == pytest.approx(1 / 20)
    assert status.unavailable == {UnavailableReason.BUSY: 1}
    # Nearest rank over 20 samples (a busy answer took no time): p50 is the 10th
    # smallest, p95 the 19th.
    assert status.latency_p50_ms == pytest.approx(90.0)
    assert status.latency_p95_ms == pytest.approx(180.0)
    assert set(health) == set(Check)
    idle = health[Check.FACE_COMPARE]
    assert (idle.attempts, idle.error_rate, idle.latency_p50_ms) == (0, 0.0, None)

    time.advance(301.0)  # beyond the health window
    assert wrapper.health()[Check.PHONE_STATUS].attempts == 0


# ----------------------------------------------------------------------- pass-through


class StubFaceEngine:
    async def assess_liveness(self, capture: FaceCapture) -> LivenessVerdict:
        return LivenessVerdict(live=True)

    async def compare(self, capture: FaceCapture, portrait: str) -> FaceSimilarity:
        return FaceSimilarity(88.5)


def _public_sandbox() -> SandboxProvider:
    fixture = load_fixture_file(PUBLIC)
    scenario = fixture.scenario("happy-l3-face")
    today = fixture.today_for(scenario)
    assert today is not None
    return SandboxProvider.for_scenario(scenario, today=today, face_engine=StubFaceEngine())


async def _every_check(p: Any) -> dict[Check, Any]:
    # Keyword arguments chosen so that dropping them would change the answer.
    return {
        Check.ID_TWO_ELEMENT: await p.id_two_element(NAME, ID),
        Check.ID_VALIDITY: await p.id_validity(
            NAME, ID, valid_from=date(2011, 5, 1), valid_until=date(2030, 1, 1)
        ),
        Check.CARRIER_THREE_ELEMENT: await p.carrier_three_element(
            NAME, ID, PHONE_A, carrier=Carrier.CUCC
        ),
        Check.PHONE_STATUS: await p.phone_status(PHONE_A),
        Check.PHONE_TENURE: await p.phone_tenure(PHONE_A),
        Check.CARRIER_LOOKUP: await p.carrier_lookup(PHONE_A),
        Check.PHONE_RECYCLED: await p.phone_recycled(PHONE_A, date(2020, 1, 1)),
        Check.SIM_SWAP: await p.sim_swap(PHONE_A, max_age_days=7),
        Check.BANK_CARD_FOUR_ELEMENT: await p.bank_card_four_element(
            NAME, ID, "6222020200112230004", PHONE_A
        ),
        Check.FACE_LIVENESS: await p.face_liveness(CAPTURE),
        Check.FACE_COMPARE: await p.face_compare(NAME, ID, CAPTURE),
    }


async def test_the_wrapped_sandbox_answers_every_check_as_the_bare_one() -> None:
    wrapper = ResilientProvider(_public_sandbox())
    assert isinstance(wrapper, Provider)
    assert wrapper.name == "sandbox"

    wrapped = await _every_check(wrapper)
    bare = await _every_check(_public_sandbox())  # same seed: same request ids

    assert set(wrapped) == set(Check)
    for check in Check:
        assert replace(wrapped[check], latency_ms=0) == replace(bare[check], latency_ms=0)
    assert wrapped[Check.SIM_SWAP].max_age_days == 7
    assert wrapped[Check.CARRIER_THREE_ELEMENT].code == "-9"  # asked of CUCC
    assert wrapped[Check.ID_VALIDITY].code == "-1"  # the dates were passed on
    assert all(h.attempts == 1 for h in wrapper.health().values())


def test_every_protocol_method_keeps_its_signature() -> None:
    for check in Check:
        theirs = inspect.signature(getattr(Provider, check.value))
        ours = inspect.signature(getattr(ResilientProvider, check.value))
        assert ours == theirs, check
