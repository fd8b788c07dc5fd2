"""System calls per request: an L2 verification against the bare one-insert endpoint.

Run as ``python bench/bench_syscalls.py [--requests N] [--citizens N] [--flows F]``.
Needs strace (``apt-get install strace``) and permission to trace this process's
own threads; without them the script says so and exits 2.

Why a third API benchmark: neither of the others sees the kernel. ``bench_api.py``
measures time, which moves with the machine; ``bench_api_cost.py`` counts user-space
instructions, exactly, but a system call is one instruction there. On a virtual
machine a system call costs far more than its own few hundred nanoseconds: the
kernel entry flushes state (TLB, branch predictors) that the Python around it then
rebuilds. In December 2026 a verification made 155 of them (strace, in process, 16
flows): 78 ``pwrite``, some 50 of them SQLite spilling group-commit savepoint
journals to a temporary file, 21 ``getpid`` (CPython 3.11's asyncio checks the
process id on every running-loop lookup, three per ``asyncio.timeout``), 16
``getrandom`` (one per id or nonce). Taking those away (``temp_store=MEMORY``,
:mod:`realname.randomness`, :mod:`realname.authorities.attempt_timeout`) brought it to
72 (3,000 verifications), and a verification's CPU time in process down by about
a tenth in alternating runs. :mod:`realname.running_loop` then took the remaining
running-loop lookups: ``getpid`` 10.5 → 2.3 a verification, 61.7 → 52.3 system calls
in all (this script, ``--requests 600 --citizens 4000``). Of the rest, about 19 are
the sandbox's six lookups (a read lock, its release and an ``fstat`` each), standing
in for the authorities' network calls.

How: both sides run in this process through their ASGI apps (:mod:`bench.asgi_client`,
no sockets), ``--flows`` requests at a time, inside the app's lifespan as a server
runs it (its background threads count too). The set-up (sandbox world, sign-ups,
warm-up) runs untraced; then ``strace -c -f`` attaches to this process for the
measured requests only and detaches after them, and its summary is divided by the
number of requests. The set-up is the same as ``bench_api.py``'s (fresh users, each
verified once, every check answered by the in-process sandbox with no latency).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

if not __package__:  # run as a script: its folder is on the path, not its parent's
    sys.path.insert(1, str(Path(__file__).resolve().parents[1]))  # for ``bench.*``

from bench.asgi_client import AsgiClient
from bench.bench_api import (
    _quiet,
    bare_app,
    bare_insert_request,
    build_realname,
    fresh_users,
    in_flows,
    l2_request,
    lean_client,
    make_world,
)

WARMUP = 10
#: Calls that mostly wait rather than work (the loop's and the threads' sleeps).
WAITING = frozenset({"futex", "epoll_wait", "select", "poll", "clock_nanosleep", "nanosleep"})
_ROW = re.compile(r"^\s*[\d.]+\s+[\d.]+\s+\d+\s+(?P<calls>\d+)\s+(?:\d+\s+)?(?P<name>\w+)\s*$")


def parse_summary(text: str) -> dict[str, int]:
    """Calls by system call name from ``strace -c`` output (its ``total`` row left out)."""
    calls: dict[str, int] = {}
    for line in text.splitlines():
        match = _ROW.match(line)
        if match and match["name"] != "total":
            calls[match["name"]] = calls.get(match["name"], 0) + int(match["calls"])
    return calls


@dataclass(frozen=True)
class Count:
    """System calls of ``requests`` requests, by name."""

    requests: int
    calls: dict[str, int]

    def per_request(self, name: str) -> float:
        return self.calls.get(name, 0) / self.requests

    @property
    def working(self) -> float:
        """Calls per request other than waits (:data:`WAITING`)."""
        return sum(n for name, n in self.calls.items() if name not in WAITING) / self.requests


class _Tracer:
    """``strace -c -f`` attached to this process until :meth:`stop`."""

    def __init__(self) -> None:
        self._out = Path(tempfile.mkdtemp(prefix="realname-strace-")) / "summary.txt"
        self._process = subprocess.Popen(
            ["strace", "-c", "-f", "-p", str(os.getpid()), "-o", str(self._out)],
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while not _traced():  # attached: the kernel names the tracer
            if self._process.poll() is not None or time.monotonic() > deadline:
                raise SystemExit("strace could not attach (ptrace not permitted?)")
            time.sleep(0.01)

    def stop(self) -> dict[str, int]:
        self._process.send_signal(signal.SIGINT)  # detach and write the summary
        self._process.wait(timeout=30)
        text = self._out.read_text(encoding="utf-8", errors="replace")
        shutil.rmtree(self._out.parent, ignore_errors=True)
        return parse_summary(text)


def _traced() -> bool:
    status = Path("/proc/self/status").read_text(encoding="ascii", errors="replace")
    match = re.search(r"^TracerPid:\s+(\d+)", status, re.MULTILINE)
    return bool(match and int(match.group(1)))


async def _counted(requests: Sequence[Callable[[], Awaitable[None]]], flows: int) -> Count:
    """The warm-up requests one at a time, then the others ``flows`` at a time, traced."""
    for request in requests[:WARMUP]:
        await request()
    measured = requests[WARMUP:]
    tracer = _Tracer()
    try:
        await in_flows(measured, flows)
    finally:
        calls = tracer.stop()
    return Count(len(measured), calls)


async def bare_side(work: Path, requests: int, flows: int) -> Count:
    insert = bare_insert_request(AsgiClient(bare_app(work / "bare.db")))
    return await _counted([insert] * (WARMUP + requests), flows)


async def realname_side(work: Path, requests: int, citizens: int, flows: int) -> Count:
    make_world(work / "sandbox.db", citizens)
    realname = build_realname(work / "realname", work / "sandbox.db")
    try:
        users = await fresh_users(realname, work / "sandbox.db", WARMUP + requests)
        async with lean_client(realname) as client:
            return await _counted([l2_request(client, user) for user in users], flows)
    finally:
        realname.close()


def report(bare: Count, realname: Count, *, top: int = 8) -> str:
    """The busiest calls of either side, per request, and the totals without waits."""
    names = sorted(
        set(bare.calls) | set(realname.calls),
        key=lambda name: -max(realname.per_request(name), bare.per_request(name)),
    )
    shown = [name for name in names if name not in WAITING][:top]
    lines = [
        f"system calls per request, in process through ASGI, {realname.requests} requests "
        "each (strace -c -f; waits — futex, epoll_wait and the like — left out of the totals):",
        f"  {'call':14s} {'bare':>8s} {'realname':>9s}",
    ]
    for name in shown:
        bare_n, realname_n = bare.per_request(name), realname.per_request(name)
        lines.append(f"  {name:14s} {bare_n:8.1f} {realname_n:9.1f}")
    lines.append(f"  {'all but waits':14s} {bare.working:8.1f} {realname.working:9.1f}")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--citizens", type=int, default=8000)
    parser.add_argument("--flows", type=int, default=16, help="requests in flight at a time")
    args = parser.parse_args(argv)
    if shutil.which("strace") is None:
        print("bench_syscalls needs strace (apt-get install strace)", file=sys.stderr)
        return 2
    work = Path(tempfile.mkdtemp(prefix="realname-syscalls-"))
    try:
        with _quiet():
            bare = asyncio.run(bare_side(work, args.requests, args.flows))
            realname = asyncio.run(realname_side(work, args.requests, args.citizens, args.flows))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(report(bare, realname))
    return 0


if __name__ == "__main__":
    sys.exit(main())
