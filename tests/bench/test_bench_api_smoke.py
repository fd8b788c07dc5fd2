"""bench/bench_api.py runs end to end on tiny numbers, so that it cannot rot unseen."""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path

import pytest

from bench import bench_api
from realname.identity import id_number, phone

TINY = [
    "--citizens", "200",
    "--requests", "8",
    "--sequential", "4",
    "--concurrency", "2",
    "--reference-flows", "2",
    "--levels", "2",
    "--latency-ms", "5",
    "--rounds", "2",
    "--seconds", "5",
    "--http-rounds", "2",
    "--level-min-seconds", "0",
]  # fmt: skip


@pytest.mark.parametrize("workers", [1, 2])
def test_both_steps_run_and_report_both_goals(
    workers: int, capsys: pytest.CaptureFixture[str]
) -> None:
    """Step 1's servers in one process each, and with two uvicorn workers each."""
    results = bench_api.run(bench_api.parse_args([*TINY, "--workers", str(workers)]))

    http = results.http
    # Two rounds of a bare run and a realname run, each of --requests, pooled per side.
    assert len(http.rounds) == 2
    assert http.bare.ok == http.bare.done == 16
    assert http.bare_sequential.ok == 4
    # One at a time nothing contends: every fresh user reaches L2 through the API.
    assert http.realname_sequential.ok == http.realname_sequential.done == 4
    for _, realname in http.rounds:
        assert realname.done == 8  # answered, or failed by the server: none lost
    assert http.realname.done == 16
    assert http.ratio == pytest.approx(sum(http.ratios) / 2)  # the median of two
    # The client's own CPU is measured too: over HTTP it shares the machine.
    for run in (http.bare, http.realname):
        assert run.client_cpu is not None
        assert run.client_cpu > 0
        assert run.client_cores is not None
        assert 0 < run.client_cores < 4
    # Step 2's ideal is measured in process, as the levels are: fresh users, no latency.
    assert results.reference is not None
    assert results.reference.ok == results.reference.done == 8
    [level] = results.levels
    assert level.flows == 2
    assert level.api.done == 8  # rounds x flows is 4, but a level makes at least --requests
    assert level.wanted == 8
    assert level.api.unfinished == 0  # a level runs to the end
    # Capped by the mean of zero-latency rates measured again just before and just
    # after the level; the rate is taken over the steady state, after the flows'
    # staggered start.
    assert level.reference > 0
    assert level.reference_after is not None
    assert level.reference_after > 0
    assert level.cap == (level.reference + level.reference_after) / 2
    assert level.ideal == min(2 / (2 * 0.005), level.cap)
    assert level.api.window is not None
    assert level.api.window[1] > level.api.window[0]
    # The engine alone verifies every chosen citizen, in the planner's two round trips.
    assert level.engine.ok == level.engine.done == 8
    assert level.rounds == bench_api.CRITICAL_ROUNDS
    out = capsys.readouterr().out
    assert "GOAL 1" in out
    assert "client CPU per request" in out
    assert "GOAL 2" in out
    processes = "one process" if workers == 1 else f"{workers} worker processes"
    assert f"uvicorn, {processes} per side" in out


def test_out_of_range_arguments_are_refused() -> None:
    with pytest.raises(SystemExit):
        bench_api.parse_args(["--levels", "0"])
    with pytest.raises(SystemExit):
        bench_api.parse_args(["--seconds", "1000"])
    with pytest.raises(SystemExit):
        bench_api.parse_args(["--workers", "0"])


def test_a_level_is_long_enough_at_its_ideal_rate_as_well_as_rounds_and_minimum() -> None:
    # 200 flows over a 0.4 s path could make 500/s; the reference caps them at 450/s.
    assert bench_api.level_size(200, 10, 1500, 10.0, 0.4, 450.0) == 4500
    # 50 flows make at most 125/s: ten seconds is 1,250, below the --requests minimum.
    assert bench_api.level_size(50, 10, 1500, 10.0, 0.4, 450.0) == 1500
    # 1,000 flows x 10 rounds outlast ten seconds at the reference's rate.
    assert bench_api.level_size(1000, 10, 1500, 10.0, 0.4, 450.0) == 10000
    assert bench_api.level_size(200, 10, 1500, 0.0, 0.4, 450.0) == 2000
    with pytest.raises(SystemExit):
        bench_api.parse_args(["--level-min-seconds", "-1"])


def test_server_cpu_counts_the_workers_of_a_multi_process_server() -> None:
    """A supervisor that only waits, and a child that spins: the child's CPU counts."""
    import subprocess
    import sys
    import time

    spin = "import time\nend = time.monotonic() + 3\nwhile time.monotonic() < end: pass"
    wait = f"import subprocess, sys; subprocess.run([sys.executable, '-c', {spin!r}])"
    supervisor = subprocess.Popen([sys.executable, "-c", wait])
    try:
        time.sleep(1.5)
        own, tree = bench_api.process_cpu(supervisor.pid), bench_api.tree_cpu(supervisor.pid)
        assert own is not None
        assert tree is not None
        assert tree - own > 0.5
    finally:
        supervisor.wait(timeout=10)


def test_throughput_is_judged_on_the_median_round(capsys: pytest.CaptureFixture[str]) -> None:
    """A round whose bare run met a slow minute does not decide goal 1; pooled rates
    and CPU are reported beside it."""

    def pair(bare_rate: int, realname_rate: int) -> tuple[bench_api.Run, bench_api.Run]:
        bare = bench_api.Run(16, elapsed=1.0, ok=bare_rate, server_cpu=0.5, client_cpu=0.9)
        bare.latencies = [1.0] * bare_rate
        realname = bench_api.Run(16, elapsed=1.0, ok=realname_rate, server_cpu=1.4)
        realname.client_cpu = 0.4
        realname.latencies = [3.0] * realname_rate
        return bare, realname

    one = bench_api.Run(1, elapsed=1.0, ok=100)
    result = bench_api.HttpResult(
        rounds=[pair(1000, 410), pair(600, 400), pair(1000, 380)],
        bare_sequential=one,
        realname_sequential=one,
        server_errors=Counter(),
    )
    assert result.ratios == pytest.approx([0.41, 0.4 / 0.6, 0.38])
    assert result.ratio == pytest.approx(0.41)
    assert result.bare.ok == 2600
    assert result.bare.elapsed == 3.0
    assert result.realname.server_cpu == pytest.approx(4.2)
    assert bench_api.report_http(result, 16) == pytest.approx(1190 / 3)
    out = capsys.readouterr().out
    assert "each round (its two runs back to back): 0.410, 0.667, 0.380; median 0.410" in out
    assert "GOAL 1 (L2 verifications/s ≥ 0.4 x bare endpoint at 16): MET — 0.410" in out
    assert "realname L2 verification #2" in out

    result.rounds[0] = pair(1000, 390)
    bench_api.report_http(result, 16)
    assert "MISSED — 0.390 (median of 3 rounds)" in capsys.readouterr().out


def test_a_repeated_level_is_judged_on_its_median_ratio(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """One run that meets a neighbour's burst does not decide the verdict; two do."""

    def level(rate: float) -> bench_api.HidingLevel:
        api = bench_api.Run(200, elapsed=10.0, ok=int(rate * 10))
        return bench_api.HidingLevel(
            flows=200, api=api, engine=api, ideal=300.0, engine_ideal=300.0, rounds=2
        )

    reference = bench_api.Run(16, elapsed=1.0, ok=300)
    assert bench_api.report_latency([level(321), level(285), level(195)], 200, reference, 300)
    assert "MET — 0.95 (median of 3 runs: 1.07, 0.95, 0.65)" in capsys.readouterr().out
    assert not bench_api.report_latency([level(321), level(255), level(195)], 200, reference, 300)
    assert "MISSED — 0.85" in capsys.readouterr().out


def test_a_level_cut_short_by_the_world_says_so(capsys: pytest.CaptureFixture[str]) -> None:
    """Fewer eligible citizens than rounds x flows: the level ran, shorter than meant,
    and the report says how to make it whole."""
    api = bench_api.Run(1000, elapsed=10.0, ok=3000)
    api.latencies = [400.0] * 3000
    level = bench_api.HidingLevel(
        flows=1000, api=api, engine=api, ideal=300.0, engine_ideal=300.0, rounds=2, wanted=10000
    )
    bench_api.report_latency([level], 200, bench_api.Run(16, elapsed=1.0, ok=300), 300)
    assert "3,000 of the 10,000 verifications meant (too few eligible citizens" in (
        capsys.readouterr().out
    )


def test_sign_up_leaves_no_parse_remembered(tmp_path: Path) -> None:
    """Set-up is not measured: a verification must not find its phone and ID numbers
    already parsed by the sign-up, in one run and not in another."""
    sandbox = tmp_path / "sandbox.db"
    bench_api.make_world(sandbox, 200)
    with bench_api.SandboxStore(sandbox) as store:
        people = bench_api.eligible_people(
            store, bench_api.default_policies().product(bench_api.PRODUCT), 3
        )
    realname = bench_api.build_realname(tmp_path / "realname", sandbox)
    try:
        users = asyncio.run(bench_api.sign_up(realname, people))
    finally:
        realname.close()
    assert [person for _, person in users] == people
    assert phone._parse.cache_info().currsize == 0
    assert id_number._checked.cache_info().currsize == 0
