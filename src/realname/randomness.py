"""Unpredictable bytes for values that are public once used: ids, nonces, request ids.

The bytes are the operating system's CSPRNG output (``os.urandom``), as
:func:`secrets.token_bytes` gives, but fetched a page at a time and handed out in
order, each byte once. Why not :mod:`secrets` itself: every call of it is a
``getrandom`` system call, and an L2 verification needs sixteen small values (row
ids, AES-GCM nonces, a request id). On a virtual machine a system call costs far
more than its own few hundred nanoseconds — the kernel entry flushes state the
Python around it then has to rebuild — and a verification in process made 155 of
them (``bench/bench_syscalls.py``). No library
offers a buffered CSPRNG for Python; this is the few lines it takes.

Only for values that stop being secret once used: an id is stored and shown, a
nonce travels beside its ciphertext. Keys (data keys, API secrets) still come from
:mod:`secrets` directly, so no key material ever waits in this buffer.

A child process starts with an empty buffer (:func:`os.register_at_fork`): a
forked worker must never hand out the bytes its parent, or a sibling, hands out.
"""

from __future__ import annotations

import os
import threading

#: Bytes fetched from the kernel at a time (one page); larger requests bypass the buffer.
BLOCK = 4096


class _Pool:
    """The current block and how much of it is used, under a lock (threads share it)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._block = b""
        self._used = 0

    def take(self, size: int) -> bytes:
        with self._lock:
            end = self._used + size
            if end > len(self._block):
                self._block = os.urandom(BLOCK)
                end = size
                self._used = 0
            chunk = self._block[self._used : end]
            self._used = end
            return chunk

    def forget(self) -> None:
        """Drop the current block (in a fork's child, whose lock may be held too)."""
        self._lock = threading.Lock()
        self._block = b""
        self._used = 0


_POOL = _Pool()
os.register_at_fork(after_in_child=_POOL.forget)


def token_bytes(size: int) -> bytes:
    """``size`` bytes from the operating system's CSPRNG, never handed out before."""
    if size < 0:
        raise ValueError("size must not be negative")
    if size > BLOCK // 4:
        return os.urandom(size)
    return _POOL.take(size)
