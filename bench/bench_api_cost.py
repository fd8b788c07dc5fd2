"""Instructions per request: an L2 verification against the bare one-insert endpoint.

Run as ``python bench/bench_api_cost.py [--requests N] [--citizens N] [--flows F]``. Needs
Valgrind (``apt-get install valgrind``); without it the script says so and exits 2.

Why a second API benchmark: ``bench_api.py`` measures requests per second and CPU
milliseconds, and both move with whatever else shares the machine (CPU caches,
frequency, time slices). The number of instructions a request executes does
not: Valgrind's callgrind counts them exactly, so a change of a few per cent is
visible from one run to the next. Both sides run in this process through
``httpx.ASGITransport`` (no sockets), driven one request at a time (``--flows``: that
many at a time, so that verifications finishing together share commits as under
load, :mod:`realname.store.group_commit`), and are counted
the same way in the same run: the ratio ``bare ÷ realname`` is what the throughput
ratio of ``bench_api.py`` would be if both were CPU-bound on the same core — with
the HTTP client's and the ASGI transport's own instructions counted on both sides,
as they are in the client-bound reality of step 1 there.

How: the script runs itself twice under ``valgrind --tool=callgrind
--instr-atstart=no``, once per side; each child builds its app (and users), then
switches counting on and off around the measured loop with ``callgrind_control``,
and the parent reads the count from the profile. realname's app runs inside its
lifespan, as under a server, so the background threads' instructions (WAL
checkpoints) count too. Set-up (the sandbox world, sign-ups, warm-up
requests) is never counted. Under Valgrind a verification takes about half a
second, so keep ``--requests`` small (the default 30 takes about a minute).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path

import httpx

if not __package__:  # run as a script: its folder is on the path, not its parent's
    sys.path.insert(1, str(Path(__file__).resolve().parents[1]))  # for ``bench.*``

from bench.bench_api import (
    _quiet,
    bare_app,
    bare_insert_request,
    build_realname,
    fresh_users,
    in_flows,
    in_process_client,
    l2_request,
    make_world,
)

WARMUP = 10
_TOTALS = re.compile(r"^totals:\s+(\d+)", re.MULTILINE)


def _toggle(on: bool) -> None:
    subprocess.run(
        ["callgrind_control", "--instr=" + ("on" if on else "off"), str(os.getpid())],
        check=True,
        capture_output=True,
    )


async def _counted(requests: Sequence[Callable[[], Awaitable[None]]], flows: int = 1) -> None:
    """The warm-up requests one at a time, then the counted ones ``flows`` at a time."""
    for request in requests[:WARMUP]:
        await request()
    _toggle(True)
    await in_flows(requests[WARMUP:], flows)
    _toggle(False)


async def bare_side(requests: int, flows: int) -> None:
    """Under Valgrind: count the bare endpoint's requests."""
    work = Path(tempfile.mkdtemp(prefix="realname-cost-"))
    bare = bare_app(work / "bare.db")
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=bare), base_url="http://bench"
    ) as client:
        await _counted([bare_insert_request(client)] * (WARMUP + requests), flows)


async def realname_side(requests: int, citizens: int, flows: int) -> None:
    """Under Valgrind: count realname's L2 verifications, each of a fresh user."""
    work = Path(tempfile.mkdtemp(prefix="realname-cost-"))
    make_world(work / "sandbox.db", citizens)
    with _quiet():
        realname = build_realname(work / "realname", work / "sandbox.db")
        users = await fresh_users(realname, work / "sandbox.db", WARMUP + requests)
        # The app's lifespan runs as a server runs it: its background work (WAL
        # checkpoints, re-runs, webhooks) is counted, and startup's GC freeze applies.
        async with in_process_client(realname) as client:
            await _counted([l2_request(client, user) for user in users], flows)
        realname.close()


def _instructions(args: argparse.Namespace, side: str) -> int:
    """Run one side under callgrind; the instructions counted while counting was on."""
    out_dir = Path(tempfile.mkdtemp(prefix="realname-callgrind-"))
    out = out_dir / "callgrind.out"
    command = [
        "valgrind",
        "--tool=callgrind",
        "--instr-atstart=no",
        f"--callgrind-out-file={out}",
        sys.executable,
        "-m",
        "bench.bench_api_cost",
        "--side",
        side,
        "--requests",
        str(args.requests),
        "--citizens",
        str(args.citizens),
        "--flows",
        str(args.flows),
    ]
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        print(done.stdout[-2000:], done.stderr[-4000:], sep="\n", file=sys.stderr)
        raise SystemExit(done.returncode)
    match = _TOTALS.search(out.read_text(encoding="utf-8", errors="replace"))
    if match is None:
        raise SystemExit(f"no totals in {out}")
    shutil.rmtree(out_dir, ignore_errors=True)
    return int(match.group(1))


def parent(args: argparse.Namespace) -> int:
    if shutil.which("valgrind") is None or shutil.which("callgrind_control") is None:
        print("bench_api_cost needs Valgrind (apt-get install valgrind)", file=sys.stderr)
        return 2
    bare = _instructions(args, "bare") / args.requests
    realname = _instructions(args, "realname") / args.requests
    print(
        f"instructions per request, in process through ASGI, {args.requests} requests each, "
        f"{args.flows} at a time (HTTP client and transport included on both sides):"
    )
    print(f"  bare FastAPI + 1 insert     {bare / 1e6:8.2f} M")
    print(f"  realname L2 verification    {realname / 1e6:8.2f} M")
    print(f"  ratio bare ÷ realname       {bare / realname:8.3f}  (goal of bench_api step 1: 0.4)")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--requests", type=int, default=30)
    parser.add_argument("--citizens", type=int, default=1000)
    parser.add_argument(
        "--flows",
        type=int,
        default=1,
        help="requests in flight at a time (verifications finishing together commit together)",
    )
    parser.add_argument("--side", choices=["bare", "realname"], help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.side == "bare":
        asyncio.run(bare_side(args.requests, args.flows))
        return 0
    if args.side == "realname":
        asyncio.run(realname_side(args.requests, args.citizens, args.flows))
        return 0
    return parent(args)


if __name__ == "__main__":
    sys.exit(main())
