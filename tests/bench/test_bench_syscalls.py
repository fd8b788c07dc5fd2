"""bench_syscalls: reading strace's summary, and what the report shows per request."""

from __future__ import annotations

import shutil

import pytest
from bench.bench_syscalls import Count, main, parse_summary, report

# strace -c -f as strace 6.1 writes it (an errors column only where a call failed).
SUMMARY = """\
% time     seconds  usecs/call     calls    errors syscall
------ ----------- ----------- --------- --------- ----------------
 92.44   25.297515        7642      3310       400 futex
  2.23    0.609015           7     79084           pwrite64
  1.33    0.362728           5     62383           getpid
  0.43    0.117435           6     19271        37 newfstatat
  0.07    0.019756          12      1552           epoll_wait
------ ----------- ----------- --------- --------- ----------------
100.00   27.366092         166    165600       437 total
"""


def test_the_summary_gives_each_calls_count_and_leaves_out_the_total() -> None:
    assert parse_summary(SUMMARY) == {
        "futex": 3310,
        "pwrite64": 79084,
        "getpid": 62383,
        "newfstatat": 19271,
        "epoll_wait": 1552,
    }


def test_lines_that_are_not_rows_are_ignored() -> None:
    assert parse_summary("strace: Process 7 attached\n\n% time  seconds\n") == {}


def test_counts_per_request_leave_waits_out_of_the_total() -> None:
    count = Count(1000, parse_summary(SUMMARY))
    assert count.per_request("pwrite64") == pytest.approx(79.084)
    assert count.per_request("absent") == 0
    # futex and epoll_wait are waits; the rest is work.
    assert count.working == pytest.approx((79084 + 62383 + 19271) / 1000)


def test_the_report_lists_the_busiest_working_calls_of_both_sides() -> None:
    realname = Count(100, {"pwrite64": 2500, "getpid": 1000, "futex": 90_000})
    bare = Count(100, {"pwrite64": 300, "sendto": 100})
    text = report(bare, realname)
    lines = text.splitlines()
    assert "pwrite64" in lines[2]  # the busiest first
    assert lines[2].split() == ["pwrite64", "3.0", "25.0"]
    assert not any(line.split()[0] == "futex" for line in lines[2:])  # a wait, not work
    assert lines[-1].split()[-2:] == ["4.0", "35.0"]


def test_without_strace_it_says_so_and_exits_2(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(shutil, "which", lambda name: None)
    assert main(["--requests", "1"]) == 2
    assert "needs strace" in capsys.readouterr().err
