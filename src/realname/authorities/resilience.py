"""Provider resilience: timeouts, retries, circuit breakers and outbound QPS limits.

:class:`ResilientProvider` wraps any :class:`~realname.authorities.protocol.Provider`
and is one itself. Every call of a check goes, for that check, through

1. its **circuit breaker** — while the authority behind the check keeps failing, calls
   fail fast with ``ProviderUnavailable(reason=circuit_open)`` without asking it;
2. its **rate limiter** — at most the API's documented QPS quota
   (:data:`~realname.authorities.codes.API_SPECS`) of calls start in any one-second
   window; callers beyond it wait their turn, first come first served;
3. a **per-attempt timeout**
   (:class:`~realname.authorities.attempt_timeout.AttemptTimeout`) — a hang becomes
   ``ProviderUnavailable(reason=timeout)``;
4. **retries** with exponential backoff and full jitter on timeouts, server errors,
   "busy" codes and rate limits;

all within one **total deadline** per call, which queueing, attempts and backoff
sleeps all count against.

What is retried, and billing. Only *non-answers* are retried. An answer — a match, a
mismatch, "no record", malformed input — is returned at once, and a per-person daily
limit (认证次数超过当日限制) is raised at once: that person is done for today. Because
the vendors bill answers only (see the 收费/不收费 split in
:mod:`realname.authorities.codes`), a retry after a server error, "busy" code or rate
limit cannot double-bill. The one exception is a timeout: the request may have
reached the authority and been answered (and billed) after we stopped waiting, so a
retry after a timeout may be billed twice. The timeouts are set an order of magnitude
above the services' median latency so that this stays rare.

Sources: full jitter — Marc Brooker, "Exponential Backoff And Jitter", AWS
Architecture Blog (2015), ``sleep = random(0, min(cap, base * 2 ** attempt))``; the
circuit breaker's three states — Michael Nygard, *Release It!* (2nd ed., 2018),
"Circuit Breaker"; the quotas — the vendors' request-rate tables (Tencent Cloud
调用频率限制, Alibaba Cloud 信息核验 QPS).

Time is injectable: ``clock`` (monotonic seconds) and ``sleep`` drive deadlines,
backoff, the breaker's cooldown, the rate limiter and the health figures, so tests
run on a fake clock; the per-attempt timeout uses the event loop's own timer.
"""

from __future__ import annotations

import asyncio
import math
import random
import time
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum
from typing import TypeVar

from realname.authorities.attempt_timeout import AttemptTimeout
from realname.authorities.codes import API_SPECS
from realname.authorities.errors import ProviderUnavailable, UnavailableReason
from realname.authorities.protocol import (
    Answer,
    BankCardAnswer,
    Carrier,
    CarrierLookupAnswer,
    CarrierThreeElementAnswer,
    Check,
    FaceCapture,
    FaceCompareAnswer,
    FaceLivenessAnswer,
    IdTwoElementAnswer,
    IdValidityAnswer,
    PhoneRecycledAnswer,
    PhoneStatusAnswer,
    PhoneTenureAnswer,
    Provider,
    SimSwapAnswer,
)

__all__ = [
    "DEFAULT_DEADLINES",
    "DEFAULT_TIMEOUTS",
    "BreakerPolicy",
    "BreakerState",
    "CheckHealth",
    "CircuitBreaker",
    "Clock",
    "QuotaLimiter",
    "ResiliencePolicy",
    "ResilientProvider",
    "RetryPolicy",
    "Sleep",
]

AnswerT = TypeVar("AnswerT", bound=Answer)

#: Monotonic seconds (``time.monotonic`` unless a test injects a fake clock).
Clock = Callable[[], float]
#: Waits the given number of seconds (``asyncio.sleep`` unless a test injects one).
Sleep = Callable[[float], Awaitable[None]]

_R = UnavailableReason
_FACE_CHECKS = frozenset({Check.FACE_LIVENESS, Check.FACE_COMPARE})


def _per_check(element: float, face: float) -> dict[Check, float]:
    return {check: face if check in _FACE_CHECKS else element for check in Check}


#: Per-attempt timeouts in seconds. The element checks answer with medians of
#: 80–300 ms and face checks, which move an image or a video, of 600–800 ms
#: (:data:`~realname.authorities.sandbox.config.REALISTIC_LATENCY`); 3 s and 10 s are
#: about ten times that, so a timeout means a hang, not a slow answer (and a retry
#: after a timeout — the one retry that may be billed twice — stays rare).
DEFAULT_TIMEOUTS: Mapping[Check, float] = _per_check(3.0, 10.0)
#: Total seconds per call, queueing, attempts and backoff included: room for two
#: timed-out attempts and the sleep between them, so that a user waiting on a
#: verification round is answered (or told "unavailable") within a bounded time.
DEFAULT_DEADLINES: Mapping[Check, float] = _per_check(8.0, 25.0)


class BreakerState(StrEnum):
    """The three states of a circuit breaker (Nygard, *Release It!*)."""

    #: Calls go through; failures are counted.
    CLOSED = "closed"
    #: Calls fail fast without reaching the authority, until the cooldown has passed.
    OPEN = "open"
    #: One probe call goes through; its success closes the breaker, its failure
    #: opens it again.
    HALF_OPEN = "half_open"


# -------------------------------------------------------------------------- policies


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How often, and after how long, a call that got no answer is tried again.

    ``max_attempts`` counts the first attempt. Before retry ``n`` (0 for the first
    retry) the caller sleeps ``uniform(0, min(max_delay, base_delay * 2**n))``
    seconds: full jitter spreads the retries of many callers who failed together, so
    that they do not return to a recovering authority in one wave.
    """

    max_attempts: int = 3
    base_delay: float = 0.2
    max_delay: float = 2.0
    #: The reasons worth another attempt. A daily limit (the person is done for
    #: today) and an open circuit never are, and answers are not errors at all.
    retry_on: frozenset[UnavailableReason] = frozenset(
        {_R.TIMEOUT, _R.SERVER_ERROR, _R.BUSY, _R.RATE_LIMITED}
    )

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if self.base_delay < 0 or self.max_delay < 0:
            raise ValueError("backoff delays cannot be negative")
        if self.retry_on & {_R.DAILY_LIMIT, _R.CIRCUIT_OPEN}:
            raise ValueError("a daily limit or an open circuit is never retried")

    def backoff_ceiling(self, retry: int) -> float:
        """The upper bound of the sleep before retry ``retry`` (0-based)."""
        if retry >= 64:  # 2**64 times any sensible base is past any cap
            return self.max_delay
        return min(self.max_delay, self.base_delay * 2.0**retry)


@dataclass(frozen=True, slots=True)
class BreakerPolicy:
    """When a check's breaker opens, and for how long.

    It opens after ``failure_threshold`` consecutive failures, or when at least
    ``min_calls`` attempts in the last ``window`` seconds failed at a rate of
    ``failure_rate`` or more (an authority that fails every other call never fails
    five times in a row). Only ``trips_on`` reasons are failures: a rate limit or a
    daily limit shows the authority is up and answering.
    """

    failure_threshold: int = 5
    failure_rate: float = 0.5
    min_calls: int = 20
    window: float = 30.0
    cooldown: float = 15.0
    trips_on: frozenset[UnavailableReason] = frozenset({_R.TIMEOUT, _R.SERVER_ERROR, _R.BUSY})

    def __post_init__(self) -> None:
        if self.failure_threshold < 1 or self.min_calls < 1:
            raise ValueError("failure_threshold and min_calls must be at least 1")
        if not 0.0 < self.failure_rate <= 1.0:
            raise ValueError("failure_rate must lie in (0, 1]")
        if self.window <= 0 or self.cooldown < 0:
            raise ValueError("window must be positive and cooldown not negative")


@dataclass(frozen=True)
class ResiliencePolicy:
    """Timeouts, deadlines, quotas, retries and breakers for a :class:`ResilientProvider`.

    ``timeouts``, ``deadlines`` and ``qps`` override the defaults per check
    (:data:`DEFAULT_TIMEOUTS`, :data:`DEFAULT_DEADLINES` and the documented quota
    ``API_SPECS[check].qps``); a ``qps`` of ``None`` turns the limiter off for that
    check (for a provider that limits nothing, or a test).
    """

    timeouts: Mapping[Check, float] = field(default_factory=dict)
    deadlines: Mapping[Check, float] = field(default_factory=dict)
    qps: Mapping[Check, int | None] = field(default_factory=dict)
    #: The window the quota is counted over. Slightly longer than the vendors' one
    #: second: our clock and the authority's are not the same, and network jitter can
    #: bring two calls that left exactly one second apart closer together there.
    rate_window: float = 1.05
    retry: RetryPolicy = RetryPolicy()
    breaker: BreakerPolicy = BreakerPolicy()
    #: The health snapshot covers attempts of the last ``health_window`` seconds, at
    #: most the ``health_samples`` most recent ones per check.
    health_window: float = 300.0
    health_samples: int = 1000

    def __post_init__(self) -> None:
        if self.rate_window <= 0 or self.health_window <= 0 or self.health_samples < 1:
            raise ValueError("rate_window, health_window and health_samples must be positive")
        for label, values in (("timeout", self.timeouts), ("deadline", self.deadlines)):
            if any(value <= 0 for value in values.values()):
                raise ValueError(f"every {label} must be positive")
        if any(value is not None and value < 1 for value in self.qps.values()):
            raise ValueError("a qps quota must be at least 1 (or None for no limit)")

    def timeout_for(self, check: Check) -> float:
        return self.timeouts.get(check, DEFAULT_TIMEOUTS[check])

    def deadline_for(self, check: Check) -> float:
        return self.deadlines.get(check, DEFAULT_DEADLINES[check])

    def qps_for(self, check: Check) -> int | None:
        return self.qps[check] if check in self.qps else API_SPECS[check].qps


# ------------------------------------------------------------------ circuit breaker


@dataclass(frozen=True, slots=True)
class _Ticket:
    """Permission for one attempt: the breaker generation it was given in, and
    whether it is the half-open probe."""

    generation: int
    probe: bool


class CircuitBreaker:
    """One check's breaker: closed, open or half-open (see :class:`BreakerPolicy`).

    Every state change starts a new *generation*; the outcome of an attempt admitted
    in an earlier generation (a call still in flight when the breaker opened) no
    longer moves the state, so a stale failure cannot re-open a breaker that a probe
    has just closed.
    """

    def __init__(self, policy: BreakerPolicy, clock: Clock) -> None:
        self._policy = policy
        self._clock = clock
        self._state = BreakerState.CLOSED
        self._generation = 0
        self._opened_at = 0.0
        self._consecutive = 0
        self._outcomes: deque[tuple[float, bool]] = deque()
        self._probing = False
        #: How many times the breaker has opened (re-opening after a probe included).
        self.opened = 0

    @property
    def state(self) -> BreakerState:
        if (
            self._state is BreakerState.OPEN
            and self._clock() - self._opened_at >= self._policy.cooldown
        ):
            self._state = BreakerState.HALF_OPEN
            self._probing = False
        return self._state

    def admit(self) -> _Ticket | None:
        """A ticket for one attempt, or ``None`` when the call must fail fast."""
        state = self.state
        if state is BreakerState.CLOSED:
            return _Ticket(self._generation, probe=False)
        if state is BreakerState.HALF_OPEN and not self._probing:
            self._probing = True
            return _Ticket(self._generation, probe=True)
        return None

    def record(self, ticket: _Ticket, failed: bool | None) -> None:
        """The outcome of ``ticket``'s attempt: failed, succeeded, or ``None`` when it
        says nothing about the authority's health (the attempt never reached it, or
        failed for a reason of our own)."""
        if ticket.generation != self._generation:
            return
        if ticket.probe:
            self._probing = False
            if failed is True:
                self._open()
            elif failed is False:
                self._close()
            return
        if failed is None or self._state is not BreakerState.CLOSED:
            return
        now = self._clock()
        self._outcomes.append((now, failed))
        while self._outcomes and self._outcomes[0][0] <= now - self._policy.window:
            self._outcomes.popleft()
        if not failed:
            self._consecutive = 0
            return
        self._consecutive += 1
        total = len(self._outcomes)
        failures = sum(1 for _, was_failure in self._outcomes if was_failure)
        if self._consecutive >= self._policy.failure_threshold or (
            total >= self._policy.min_calls and failures >= self._policy.failure_rate * total
        ):
            self._open()

    def _open(self) -> None:
        self._state = BreakerState.OPEN
        self._opened_at = self._clock()
        self._generation += 1
        self._consecutive = 0
        self._outcomes.clear()
        self.opened += 1

    def _close(self) -> None:
        self._state = BreakerState.CLOSED
        self._generation += 1
        self._consecutive = 0
        self._outcomes.clear()


# --------------------------------------------------------------------- rate limiter


class QuotaLimiter:
    """At most ``limit`` call starts in any ``window`` seconds, first come first served.

    A token bucket of ``limit`` tokens in which each call takes a token that comes
    back ``window`` seconds after the call's start — the sliding window the vendors
    (and the sandbox's ``RequestLimitExceeded``) count their QPS quota over. A
    bucket refilled continuously at ``limit`` per second would let almost twice the
    quota through in a one-second window after a burst; this one never does.

    Callers *reserve* a start time: the earliest one that keeps the window within
    the quota and comes no earlier than any reservation made before (so turns are
    handed out in arrival order). Nobody is turned away — except a caller whose turn
    would come after its own deadline, which it can then report at once instead of
    waiting for nothing. A reservation whose caller is cancelled stays taken: the
    limiter errs on the side of the quota.
    """

    def __init__(self, limit: int, window: float = 1.0) -> None:
        if limit < 1 or window <= 0:
            raise ValueError("a quota needs a limit of at least 1 and a positive window")
        self.limit = limit
        self.window = window
        #: The last ``limit`` reserved start times, in order.
        self._starts: deque[float] = deque(maxlen=limit)

    def reserve(self, now: float, latest: float = math.inf) -> float | None:
        """Reserve the next start time at or after ``now``; ``None`` (and nothing
        reserved) when it would not come before ``latest``."""
        slot = now
        if self._starts:
            slot = max(slot, self._starts[-1])
            if len(self._starts) == self.limit:
                slot = max(slot, self._starts[0] + self.window)
        if slot >= latest:
            return None
        self._starts.append(slot)
        return slot

    def waiting(self, now: float) -> int:
        """How many reserved starts still lie in the future (callers in the queue)."""
        return sum(1 for start in self._starts if start > now)


# --------------------------------------------------------------------------- health


@dataclass(frozen=True, slots=True)
class CheckHealth:
    """One check as the ops dashboard sees it.

    ``attempts``, ``error_rate``, the latencies and ``unavailable`` cover the recent
    attempts (see :attr:`ResiliencePolicy.health_window`) that reached the provider;
    ``error_rate`` is the share of them that got no answer, whatever the reason
    (``unavailable`` breaks them down). ``short_circuited`` counts calls failed fast
    by the open breaker since start, ``queued`` the callers now waiting for a turn
    under the quota.
    """

    check: Check
    state: BreakerState
    attempts: int
    error_rate: float
    latency_p50_ms: float | None
    latency_p95_ms: float | None
    unavailable: Mapping[UnavailableReason, int]
    short_circuited: int
    queued: int


def _percentile(ordered: list[float], percent: float) -> float:
    """Nearest-rank percentile of a non-empty ascending list."""
    rank = max(1, math.ceil(percent / 100 * len(ordered)))
    return ordered[rank - 1]


@dataclass(frozen=True, slots=True)
class _Sample:
    ended: float
    latency: float
    reason: UnavailableReason | None


@dataclass
class _Lane:
    """Everything kept per check."""

    breaker: CircuitBreaker
    limiter: QuotaLimiter | None
    samples: deque[_Sample]
    short_circuited: int = 0


# ------------------------------------------------------------------------- provider


class ResilientProvider:
    """``inner`` with per-check timeouts, retries, circuit breakers and QPS limits.

    It implements the whole :class:`~realname.authorities.protocol.Provider`
    protocol; ``name`` is the inner provider's, as in the answers. A call either
    returns the inner provider's answer or raises
    :class:`~realname.authorities.errors.ProviderUnavailable`: the last non-answer
    the provider gave when it was asked at least once; ``circuit_open`` when the
    breaker did not let the call through at all; ``timeout`` when the call's turn
    under the quota would have come after its deadline. Other exceptions of the
    inner provider (a missing face engine, a bug) pass through unretried.

    ``clock``, ``sleep`` and ``rng`` are for tests: a fake monotonic clock, a sleeper
    that advances it, and a seeded generator for the backoff jitter.
    """

    def __init__(
        self,
        inner: Provider,
        policy: ResiliencePolicy | None = None,
        *,
        clock: Clock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
        rng: random.Random | None = None,
    ) -> None:
        self.inner = inner
        self.name = inner.name
        self.policy = policy if policy is not None else ResiliencePolicy()
        self._clock = clock
        self._sleep = sleep
        # Jitter only spreads retries over time; it protects no secret.
        self._rng = rng if rng is not None else random.Random()  # noqa: S311
        self._lanes: dict[Check, _Lane] = {}
        for check in Check:
            qps = self.policy.qps_for(check)
            self._lanes[check] = _Lane(
                breaker=CircuitBreaker(self.policy.breaker, clock),
                limiter=QuotaLimiter(qps, self.policy.rate_window) if qps is not None else None,
                samples=deque(maxlen=self.policy.health_samples),
            )

    # ------------------------------------------------------------------ inspection

    def breaker_state(self, check: Check) -> BreakerState:
        """The state of ``check``'s circuit breaker now."""
        return self._lanes[check].breaker.state

    def health(self) -> dict[Check, CheckHealth]:
        """A snapshot of every check: breaker state, recent error rate and latency."""
        now = self._clock()
        snapshot: dict[Check, CheckHealth] = {}
        for check, lane in self._lanes.items():
            recent = [s for s in lane.samples if s.ended > now - self.policy.health_window]
            latencies = sorted(s.latency * 1000 for s in recent)
            unavailable: dict[UnavailableReason, int] = {}
            for sample in recent:
                if sample.reason is not None:
                    unavailable[sample.reason] = unavailable.get(sample.reason, 0) + 1
            snapshot[check] = CheckHealth(
                check=check,
                state=lane.breaker.state,
                attempts=len(recent),
                error_rate=sum(unavailable.values()) / len(recent) if recent else 0.0,
                latency_p50_ms=_percentile(latencies, 50) if latencies else None,
                latency_p95_ms=_percentile(latencies, 95) if latencies else None,
                unavailable=unavailable,
                short_circuited=lane.short_circuited,
                queued=lane.limiter.waiting(now) if lane.limiter is not None else 0,
            )
        return snapshot

    # -------------------------------------------------------------------- the core

    def _unavailable(
        self, check: Check, reason: UnavailableReason, message: str | None = None
    ) -> ProviderUnavailable:
        return ProviderUnavailable(check, reason, provider=self.name, message=message)

    async def _wait_until(self, moment: float) -> None:
        # Loop: a timer may fire a hair early, and the quota is a hard limit.
        while (now := self._clock()) < moment:
            await self._sleep(moment - now)

    async def _call(self, check: Check, send: Callable[[], Awaitable[AnswerT]]) -> AnswerT:
        """Run ``send`` (one request to the inner provider per call) resiliently."""
        lane = self._lanes[check]
        retry = self.policy.retry
        timeout = self.policy.timeout_for(check)
        deadline = self._clock() + self.policy.deadline_for(check)
        last: ProviderUnavailable | None = None
        for attempt in range(retry.max_attempts):
            if attempt:
                if lane.breaker.state is BreakerState.OPEN:
                    break
                delay = self._rng.uniform(0.0, retry.backoff_ceiling(attempt - 1))
                if self._clock() + delay >= deadline:
                    break
                await self._sleep(delay)
            ticket = lane.breaker.admit()
            if ticket is None:
                lane.short_circuited += 1
                if last is None:
                    raise self._unavailable(
                        check,
                        UnavailableReason.CIRCUIT_OPEN,
                        f"{self.name}: {check.value} was not asked: its circuit breaker "
                        "is open after repeated failures.",
                    )
                break
            failed: bool | None = None
            try:
                if lane.limiter is not None:
                    slot = lane.limiter.reserve(self._clock(), deadline)
                    if slot is None:
                        if last is None:
                            raise self._unavailable(
                                check,
                                UnavailableReason.TIMEOUT,
                                f"{self.name}: {check.value} was not asked: its turn under "
                                "the QPS quota would come after the call's deadline.",
                            )
                        break
                    await self._wait_until(slot)
                    if not ticket.probe and lane.breaker.state is BreakerState.OPEN:
                        # The breaker opened while this call queued: do not send it.
                        lane.short_circuited += 1
                        break
                started = self._clock()
                remaining = deadline - started
                if remaining <= 0:
                    break
                try:
                    # A timeout in this task (wait_for would spawn one per call), and
                    # not asyncio.timeout: see realname.authorities.attempt_timeout.
                    async with AttemptTimeout(min(timeout, remaining)):
                        answer = await send()
                except TimeoutError:
                    error = self._unavailable(check, UnavailableReason.TIMEOUT)
                except ProviderUnavailable as caught:
                    error = caught
                else:
                    failed = False
                    ended = self._clock()
                    lane.samples.append(_Sample(ended, ended - started, None))
                    return answer
                failed = self._trips(error.reason)
                ended = self._clock()
                lane.samples.append(_Sample(ended, ended - started, error.reason))
                last = error
                if error.reason not in retry.retry_on:
                    raise error
            finally:
                lane.breaker.record(ticket, failed)
        if last is None:
            # Only reachable when the deadline passed before the first attempt.
            raise self._unavailable(check, UnavailableReason.TIMEOUT)
        raise last

    def _trips(self, reason: UnavailableReason) -> bool | None:
        """Whether a non-answer counts against the breaker (``None``: says nothing)."""
        if reason is UnavailableReason.CIRCUIT_OPEN:
            # An inner breaker refused: nobody asked the authority.
            return None
        return reason in self.policy.breaker.trips_on

    # ------------------------------------------------------------------ the checks

    async def id_two_element(self, name: str, id_number: str) -> IdTwoElementAnswer:
        return await self._call(
            Check.ID_TWO_ELEMENT, lambda: self.inner.id_two_element(name, id_number)
        )

    async def id_validity(
        self,
        name: str,
        id_number: str,
        *,
        valid_from: date | None = None,
        valid_until: date | None = None,
    ) -> IdValidityAnswer:
        return await self._call(
            Check.ID_VALIDITY,
            lambda: self.inner.id_validity(
                name, id_number, valid_from=valid_from, valid_until=valid_until
            ),
        )

    async def carrier_three_element(
        self, name: str, id_number: str, phone: str, *, carrier: Carrier | None = None
    ) -> CarrierThreeElementAnswer:
        return await self._call(
            Check.CARRIER_THREE_ELEMENT,
            lambda: self.inner.carrier_three_element(name, id_number, phone, carrier=carrier),
        )

    async def phone_status(self, phone: str) -> PhoneStatusAnswer:
        return await self._call(Check.PHONE_STATUS, lambda: self.inner.phone_status(phone))

    async def phone_tenure(self, phone: str) -> PhoneTenureAnswer:
        return await self._call(Check.PHONE_TENURE, lambda: self.inner.phone_tenure(phone))

    async def carrier_lookup(self, phone: str) -> CarrierLookupAnswer:
        return await self._call(Check.CARRIER_LOOKUP, lambda: self.inner.carrier_lookup(phone))

    async def phone_recycled(self, phone: str, registered_on: date) -> PhoneRecycledAnswer:
        return await self._call(
            Check.PHONE_RECYCLED, lambda: self.inner.phone_recycled(phone, registered_on)
        )

    async def sim_swap(self, phone: str, max_age_days: int = 30) -> SimSwapAnswer:
        return await self._call(Check.SIM_SWAP, lambda: self.inner.sim_swap(phone, max_age_days))

    async def bank_card_four_element(
        self, name: str, id_number: str, card_number: str, phone: str
    ) -> BankCardAnswer:
        return await self._call(
            Check.BANK_CARD_FOUR_ELEMENT,
            lambda: self.inner.bank_card_four_element(name, id_number, card_number, phone),
        )

    async def face_liveness(self, capture: FaceCapture) -> FaceLivenessAnswer:
        return await self._call(Check.FACE_LIVENESS, lambda: self.inner.face_liveness(capture))

    async def face_compare(
        self, name: str, id_number: str, capture: FaceCapture
    ) -> FaceCompareAnswer:
        return await self._call(
            Check.FACE_COMPARE, lambda: self.inner.face_compare(name, id_number, capture)
        )
