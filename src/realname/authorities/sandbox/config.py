"""How the sandbox behaves: clock, latency, prices, quotas, daily limits, faults.

Everything here is plain configuration; :class:`~.provider.SandboxProvider` applies it.
Defaults suit tests (no latency, no random faults, the real quotas and daily limits);
:meth:`SandboxConfig.realistic` gives latencies like the real services'.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum
from typing import Protocol

from realname.authorities.codes import API_SPECS
from realname.authorities.protocol import Check

# ----------------------------------------------------------------------------- clock


class Clock(Protocol):
    """The sandbox's notion of time: the calendar date (tenure, expiry, daily limits)
    and a monotonic second counter (QPS quotas)."""

    def today(self) -> date: ...

    def monotonic(self) -> float: ...


class SystemClock:
    """The real date and the process's monotonic clock."""

    def today(self) -> date:
        return date.today()

    def monotonic(self) -> float:
        return time.monotonic()


class FixedClock:
    """A clock whose date stands still until told: a fixture's ``today``.

    Its seconds (for QPS quotas) follow the process's monotonic clock, plus whatever
    :meth:`advance` adds; pass ``monotonic=`` a number to make them manual too, so
    that quota tests need no sleeps and no luck.
    """

    def __init__(self, today: date, monotonic: float | None = None) -> None:
        self._today = today
        self._manual = monotonic
        self._offset = 0.0

    def today(self) -> date:
        return self._today

    def monotonic(self) -> float:
        base = time.monotonic() if self._manual is None else self._manual
        return base + self._offset

    def advance(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("a clock cannot go back")
        self._offset += seconds

    def set_today(self, today: date) -> None:
        self._today = today


# --------------------------------------------------------------------------- latency


@dataclass(frozen=True, slots=True)
class LatencyModel:
    """A log-normal latency: ``median_ms`` is its median, ``sigma`` its log spread.

    Network and upstream latencies are right-skewed; a log-normal with sigma around
    0.35 puts the 95th percentile near 1.8 times the median.
    """

    median_ms: float
    sigma: float = 0.35

    def sample(self, rng: random.Random) -> float:
        if self.median_ms <= 0:
            return 0.0
        if self.sigma == 0:  # a constant latency (the benchmarks'): no draw to make
            return self.median_ms
        return rng.lognormvariate(math.log(self.median_ms), self.sigma)


NO_LATENCY = LatencyModel(0.0)

#: Medians in the range the real services answer in (150–300 ms for element checks,
#: longer for the bank-card network and for face checks that move a video).
REALISTIC_LATENCY: Mapping[Check, LatencyModel] = {
    Check.ID_TWO_ELEMENT: LatencyModel(150),
    Check.ID_VALIDITY: LatencyModel(180),
    Check.CARRIER_THREE_ELEMENT: LatencyModel(280),
    Check.PHONE_STATUS: LatencyModel(200),
    Check.PHONE_TENURE: LatencyModel(220),
    Check.CARRIER_LOOKUP: LatencyModel(80),
    Check.PHONE_RECYCLED: LatencyModel(300),
    Check.SIM_SWAP: LatencyModel(150),
    Check.BANK_CARD_FOUR_ELEMENT: LatencyModel(300),
    Check.FACE_LIVENESS: LatencyModel(600),
    Check.FACE_COMPARE: LatencyModel(800),
}

# ---------------------------------------------------------------------------- prices

#: Price per billable call in fen (1/100 yuan). ILLUSTRATIVE list prices only, of the
#: order the vendors publish for pay-as-you-go; they are not a quote from anyone.
#: Calls with a non-billable result code (see :mod:`realname.authorities.codes`)
#: cost nothing.
ILLUSTRATIVE_PRICES_FEN: Mapping[Check, int] = {
    Check.ID_TWO_ELEMENT: 15,
    Check.ID_VALIDITY: 20,
    Check.CARRIER_THREE_ELEMENT: 30,
    Check.PHONE_STATUS: 10,
    Check.PHONE_TENURE: 10,
    Check.CARRIER_LOOKUP: 1,
    Check.PHONE_RECYCLED: 10,
    Check.SIM_SWAP: 5,
    Check.BANK_CARD_FOUR_ELEMENT: 40,
    Check.FACE_LIVENESS: 100,
    Check.FACE_COMPARE: 100,
}

#: Requests per second per account, as the vendors document them by default.
DEFAULT_QUOTAS: Mapping[Check, int] = {check: spec.qps for check, spec in API_SPECS.items()}

# ------------------------------------------------------------------------ daily limits

#: Per-person daily limits: for each check, the input fields the limit is counted on
#: and how many calls one value of that field may make per calendar day. Tencent
#: documents, per AppId, at most 500 checks a day for the same name and 1000 for the
#: same ID number (身份信息认证), and the same counting on the name, ID number, phone
#: and card fields of its other element checks; the same figures are used for all.
_NAME_AND_ID = {"name": 500, "id_number": 1000}
DEFAULT_DAILY_LIMITS: Mapping[Check, Mapping[str, int]] = {
    Check.ID_TWO_ELEMENT: _NAME_AND_ID,
    Check.ID_VALIDITY: _NAME_AND_ID,
    Check.CARRIER_THREE_ELEMENT: {**_NAME_AND_ID, "phone": 1000},
    Check.PHONE_STATUS: {"phone": 1000},
    Check.PHONE_TENURE: {"phone": 1000},
    Check.PHONE_RECYCLED: {"phone": 1000},
    Check.BANK_CARD_FOUR_ELEMENT: {**_NAME_AND_ID, "phone": 1000, "card_number": 1000},
    Check.FACE_COMPARE: _NAME_AND_ID,
}

# ---------------------------------------------------------------------------- faults


class FaultKind(StrEnum):
    """A way for a check to fail without answering (DESIGN §5 ``faults.kind``).

    ``daily_limit`` is an addition to the DESIGN's three: it makes the check answer
    its per-person daily-limit code at once.
    """

    TIMEOUT = "timeout"
    SERVER_ERROR = "server_error"
    BUSY = "busy"
    DAILY_LIMIT = "daily_limit"


@dataclass
class FaultPlan:
    """Which checks fail, and how.

    ``forced`` makes every call of a check fail with one kind (a fixture's
    ``faults:``). ``rates`` gives, per check, the probability of each kind on each
    call; ``default_rates`` applies to checks ``rates`` does not name. Draws come
    from the provider's seeded generator, so a run is repeatable.
    """

    forced: dict[Check, FaultKind] = field(default_factory=dict)
    rates: dict[Check, dict[FaultKind, float]] = field(default_factory=dict)
    default_rates: dict[FaultKind, float] = field(default_factory=dict)

    def force(self, check: Check, kind: FaultKind) -> None:
        self.forced[check] = kind

    def clear(self, check: Check | None = None) -> None:
        """Stop forcing faults on ``check`` (on every check when ``None``)."""
        if check is None:
            self.forced.clear()
        else:
            self.forced.pop(check, None)

    def draw(self, check: Check, rng: random.Random) -> FaultKind | None:
        forced = self.forced.get(check)
        if forced is not None:
            return forced
        rates = self.rates.get(check, self.default_rates)
        if not rates:
            return None
        roll = rng.random()
        for kind, probability in rates.items():
            if roll < probability:
                return kind
            roll -= probability
        return None


# ---------------------------------------------------------------------------- config


@dataclass
class SandboxConfig:
    """Tunable behaviour of one sandbox provider."""

    latency: Mapping[Check, LatencyModel] = field(default_factory=dict)
    #: How long a call that times out hangs before failing, in milliseconds.
    timeout_ms: float = 0.0
    prices_fen: Mapping[Check, int] = field(default_factory=lambda: ILLUSTRATIVE_PRICES_FEN)
    quotas: Mapping[Check, int] = field(default_factory=lambda: DEFAULT_QUOTAS)
    daily_limits: Mapping[Check, Mapping[str, int]] = field(
        default_factory=lambda: DEFAULT_DAILY_LIMITS
    )
    #: Days before a new holder of a number appears in the re-issue data
    #: (MobileRecycledMetaVerify SubCode 103); providers report about a week.
    recycled_sync_lag_days: int = 7
    #: Seeds latency draws, random faults and request ids.
    seed: int = 0

    @classmethod
    def realistic(cls, *, seed: int = 0, timeout_ms: float = 3000.0) -> SandboxConfig:
        """Real-looking latencies, and timeouts that take ``timeout_ms``."""
        return cls(latency=dict(REALISTIC_LATENCY), timeout_ms=timeout_ms, seed=seed)

    def latency_for(self, check: Check) -> LatencyModel:
        return self.latency.get(check, NO_LATENCY)
