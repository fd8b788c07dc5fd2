"""Buffered CSPRNG bytes: each byte handed out once, and never shared with a fork."""

from __future__ import annotations

import os
import sys
import threading

import pytest

from realname import randomness


def test_values_have_the_asked_size_and_do_not_repeat() -> None:
    values = [randomness.token_bytes(16) for _ in range(5_000)]  # many blocks' worth
    assert {len(value) for value in values} == {16}
    assert len(set(values)) == len(values)
    assert randomness.token_bytes(0) == b""


def test_consecutive_values_are_different_bytes_of_the_kernels_output() -> None:
    """Nothing is handed out twice: no value overlaps the next one."""
    stream = b"".join(randomness.token_bytes(10) for _ in range(2_000))
    chunks = {stream[i : i + 10] for i in range(0, len(stream), 10)}
    assert len(chunks) == 2_000
    # Not a constant or a counter: all 256 byte values show up in 20,000 bytes.
    assert len(set(stream)) == 256


def test_large_requests_bypass_the_buffer() -> None:
    assert len(randomness.token_bytes(randomness.BLOCK)) == randomness.BLOCK
    assert len(randomness.token_bytes(randomness.BLOCK * 3)) == randomness.BLOCK * 3


def test_a_negative_size_is_refused() -> None:
    with pytest.raises(ValueError, match="negative"):
        randomness.token_bytes(-1)


def test_threads_never_receive_the_same_bytes() -> None:
    seen: list[bytes] = []
    lock = threading.Lock()

    def draw() -> None:
        mine = [randomness.token_bytes(12) for _ in range(2_000)]
        with lock:
            seen.extend(mine)

    threads = [threading.Thread(target=draw) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(seen)) == len(seen) == 16_000


@pytest.mark.skipif(sys.platform == "win32", reason="os.fork is POSIX")
def test_a_forked_child_does_not_hand_out_its_parents_buffered_bytes() -> None:
    randomness.token_bytes(8)  # the parent now holds a partly used block
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report the next value and leave at once
        os.close(read_end)
        os.write(write_end, randomness.token_bytes(32))
        os._exit(0)
    os.close(write_end)
    child = b""
    while len(child) < 32:
        piece = os.read(read_end, 32 - len(child))
        if not piece:
            break
        child += piece
    os.close(read_end)
    os.waitpid(pid, 0)
    parent = randomness.token_bytes(32)
    assert len(child) == 32
    assert child != parent
