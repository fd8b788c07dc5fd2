"""Resilience benchmark: what the wrapper costs, and what it buys under faults.

Run as ``python bench/bench_resilience.py [--calls N] [--burst M]``. Each figure is
printed next to a baseline measured in the same run:

- overhead: ID two-element checks/s through :class:`ResilientProvider` (limiter off)
  against the bare sandbox, sequential, no latency, no quotas;
- under faults: a burst of carrier three-element calls, all at once, to a sandbox
  with real-looking latency, its real 20 QPS quota and 10 % "busy" answers —
  answered share and wall time, wrapped against bare. The bare provider trips its
  quota on the burst (RequestLimitExceeded) and gives up on every busy answer; the
  wrapped one queues within the quota and retries.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from datetime import date
from typing import Any

from realname.authorities.errors import ProviderUnavailable
from realname.authorities.protocol import Check, Provider
from realname.authorities.resilience import ResiliencePolicy, ResilientProvider
from realname.authorities.sandbox import (
    FaultKind,
    FaultPlan,
    LatencyModel,
    SandboxConfig,
    SandboxProvider,
)
from realname.authorities.sandbox.fixtures import Scenario

TODAY = date(2026, 12, 1)
NAME, ID, PHONE = "王小明", "110105199003071239", "13912345678"
REGISTRY: dict[str, Any] = {
    "citizens": [{"ref": "a", "name": NAME, "id_number": ID, "valid_until": "2031-05-01"}],
    "phones": [{"number": PHONE, "carrier": "cmcc", "owner": "a", "owner_since": "2016-03-01"}],
}


def _sandbox(config: SandboxConfig, faults: FaultPlan | None = None) -> SandboxProvider:
    scenario = Scenario.model_validate(
        {
            "id": "bench",
            "registry": REGISTRY,
            "submit": {},
            "product_level": "L2",
            "expect": {"level": "L0"},
        }
    )
    provider = SandboxProvider.for_scenario(scenario, today=TODAY, config=config)
    if faults is not None:
        provider.faults = faults
    return provider


async def _sequential(provider: Provider, calls: int) -> float:
    started = time.perf_counter()
    for _ in range(calls):
        await provider.id_two_element(NAME, ID)
    return calls / (time.perf_counter() - started)


def bench_overhead(calls: int) -> tuple[float, float]:
    config = SandboxConfig(quotas={}, daily_limits={})
    bare = asyncio.run(_sequential(_sandbox(config), calls))
    policy = ResiliencePolicy(qps={check: None for check in Check})
    wrapped = asyncio.run(_sequential(ResilientProvider(_sandbox(config), policy), calls))
    return bare, wrapped


async def _burst(provider: Provider, calls: int) -> tuple[int, float]:
    async def one() -> bool:
        try:
            await provider.carrier_three_element(NAME, ID, PHONE)
        except ProviderUnavailable:
            return False
        return True

    started = time.perf_counter()
    answered = await asyncio.gather(*(one() for _ in range(calls)))
    return sum(answered), time.perf_counter() - started


def bench_faults(burst: int) -> tuple[tuple[int, float], tuple[int, float]]:
    check = Check.CARRIER_THREE_ELEMENT

    def config() -> SandboxConfig:
        return SandboxConfig(latency={check: LatencyModel(280)}, daily_limits={}, seed=3)

    def faults() -> FaultPlan:
        return FaultPlan(rates={check: {FaultKind.BUSY: 0.10}})

    bare = asyncio.run(_burst(_sandbox(config(), faults()), burst))
    wrapped = asyncio.run(_burst(ResilientProvider(_sandbox(config(), faults())), burst))
    return bare, wrapped


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--calls", type=int, default=20_000)
    parser.add_argument("--burst", type=int, default=100)
    args = parser.parse_args(argv)

    bare, wrapped = bench_overhead(args.calls)
    print(f"overhead ({args.calls:,} ID two-element checks, sequential, no latency)")
    print(f"  bare sandbox            {bare:>12,.0f} checks/s")
    print(f"  wrapped (limiter off)   {wrapped:>12,.0f} checks/s")
    print(f"  per-call overhead       {(1 / wrapped - 1 / bare) * 1e6:>12.1f} µs")

    (bare_ok, bare_s), (ok, seconds) = bench_faults(args.burst)
    print(f"burst of {args.burst} carrier three-element calls (20 QPS quota, 10 % busy)")
    print(f"  bare answered           {bare_ok:>8} of {args.burst} in {bare_s:6.2f} s")
    print(f"  wrapped answered        {ok:>8} of {args.burst} in {seconds:6.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
