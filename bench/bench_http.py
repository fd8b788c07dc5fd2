"""HTTP sandbox benchmark: the in-process sandbox against the Tencent adapter over HTTP.

Run as ``python bench/bench_http.py [--citizens N] [--calls M] [--concurrency C]``.
The same checks (ID two-element, carrier three-element, phone status) are made on
the same generated world twice: directly on ``SandboxProvider``, and through
``TencentCloudProvider`` — the official SDK, TC3 signing, JSON over loopback — against
the sandbox's API 3.0 app under uvicorn in a thread of this process. Both sides run
without simulated latency, quotas or daily limits, so the figures are the machinery
alone; the ratio is what the wire, the SDK and the server cost per check.

The loops are bounded (``--calls`` per check) and only loopback is used. Client and
server share this process and its GIL, so the HTTP figures are a floor for what a
separate server process would give.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from datetime import date

from pydantic import SecretStr

from realname.authorities.protocol import Provider
from realname.authorities.sandbox import SandboxConfig, SandboxProvider, SandboxStore, generate_into
from realname.authorities.sandbox.http import SandboxWorlds, create_app, serve_in_thread
from realname.authorities.tencentcloud import TencentCloudProvider, TencentCloudSettings

TODAY = date(2026, 12, 1)
SECRET_ID, SECRET_KEY = "AKIDbench", "bench-secret"

Person = tuple[str, str, str]  # name, ID number, phone
Check = Callable[[Provider, Person], Awaitable[object]]
CHECKS: dict[str, Check] = {
    "id_two_element": lambda p, x: p.id_two_element(x[0], x[1]),
    "carrier_three_element": lambda p, x: p.carrier_three_element(x[0], x[1], x[2]),
    "phone_status": lambda p, x: p.phone_status(x[2]),
}


def _people(store: SandboxStore, count: int) -> list[Person]:
    rows = store.query(
        "SELECT c.name, c.id_number, p.number FROM phones p JOIN citizens c"
        " ON c.world_id = p.world_id AND c.id = p.owner_id LIMIT ?",
        (count,),
    )
    return [(str(name), str(number), str(phone)) for name, number, phone in rows]


async def _sequential(
    provider: Provider, check: Check, people: list[Person], calls: int
) -> dict[str, float]:
    latencies = []
    started = time.perf_counter()
    for index in range(calls):
        begun = time.perf_counter()
        await check(provider, people[index % len(people)])
        latencies.append((time.perf_counter() - begun) * 1000)
    elapsed = time.perf_counter() - started
    quantiles = statistics.quantiles(latencies, n=20)
    return {"rps": calls / elapsed, "p50": statistics.median(latencies), "p95": quantiles[18]}


async def _concurrent(
    provider: Provider, check: Check, people: list[Person], calls: int, concurrency: int
) -> float:
    queue = iter(range(calls))

    async def worker() -> None:
        for index in queue:
            await check(provider, people[index % len(people)])

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return calls / (time.perf_counter() - started)


async def _run(
    local: Provider, remote: Provider, people: list[Person], args: argparse.Namespace
) -> None:
    # One untimed call each to open connections and warm caches.
    for check in CHECKS.values():
        await check(local, people[0])
        await check(remote, people[0])
    header = f"{'check':<24}{'side':<10}{'req/s':>10}{'p50 ms':>9}{'p95 ms':>9}"
    print(header)
    print("-" * len(header))
    ratios = []
    for name, check in CHECKS.items():
        mine = await _sequential(local, check, people, args.calls)
        wire = await _sequential(remote, check, people, args.calls)
        for side, figures in (("inproc", mine), ("http", wire)):
            print(
                f"{name:<24}{side:<10}{figures['rps']:>10,.0f}"
                f"{figures['p50']:>9.3f}{figures['p95']:>9.3f}"
            )
        ratio = mine["rps"] / wire["rps"]
        ratios.append(ratio)
        parallel = await _concurrent(remote, check, people, args.calls, args.concurrency)
        print(
            f"{'':<24}{'http x' + str(args.concurrency):<10}{parallel:>10,.0f}"
            f"{'':>18}  in-process/http = {ratio:,.1f}x"
        )
    print(f"\nin-process sandbox is {statistics.geometric_mean(ratios):,.1f}x the HTTP path")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--citizens", type=int, default=2000)
    parser.add_argument("--calls", type=int, default=400, help="calls per check and side")
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args()
    if not (1 <= args.calls <= 100_000 and 1 <= args.concurrency <= 64):
        parser.error("--calls in 1..100000, --concurrency in 1..64")

    store = SandboxStore(":memory:")
    generate_into(store, args.citizens, 1, today=TODAY, world="generated")
    people = _people(store, 500)
    # The machinery alone: no latency, no quotas, no daily limits.
    config = SandboxConfig(quotas={}, daily_limits={})
    local = SandboxProvider(store, "generated", config=config)
    worlds = SandboxWorlds.from_store(store, "generated", config=config)
    app = create_app(worlds, secrets={SECRET_ID: SECRET_KEY})
    print(
        f"{args.citizens} citizens, {args.calls} calls per check and side, "
        f"loopback HTTP in this process"
    )
    with serve_in_thread(app) as address:
        settings = TencentCloudSettings(
            secret_id=SECRET_ID,
            secret_key=SecretStr(SECRET_KEY),
            endpoint=f"http://{address}",
            timeout_seconds=10,
        )
        remote = TencentCloudProvider(settings, today=lambda: TODAY)
        asyncio.run(_run(local, remote, people, args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
