"""The running event loop, found without a system call.

:func:`asyncio.get_running_loop` in CPython 3.11 checks the process id on every call,
a ``getpid`` system call, so that a forked child never takes its parent's loop for
its own (3.12 stopped doing that). A verification asked for the loop eight times
(five provider attempts, admission, the finishing turn, the group commit), and on a
virtual machine a system call costs far more than its own runtime: the kernel entry
flushes state that the Python around it then rebuilds (``bench/bench_syscalls.py``).
No library offers this lookup; it is these few lines.

:func:`running_loop` remembers, per thread, the loop it found last, and hands it out
again while that loop is running *in this thread*. A thread runs at most one loop at
a time (asyncio refuses to nest them), so such a loop is the thread's running loop;
once it stops, or runs on in another thread, the next call asks asyncio again. A
forked child starts with nothing remembered (:func:`os.register_at_fork`), so there
asyncio's own check decides, as before.
"""

from __future__ import annotations

import asyncio
import os
import threading


class _Remembered(threading.local):
    loop: asyncio.AbstractEventLoop | None = None


_remembered = _Remembered()


def running_loop() -> asyncio.AbstractEventLoop:
    """The running loop of this thread, as :func:`asyncio.get_running_loop` returns it.

    Raises :class:`RuntimeError` when no loop runs in this thread, as asyncio does.
    """
    loop = _remembered.loop
    # asyncio's loops record the thread they run in (None once stopped); a loop that
    # does not is always looked up.
    if loop is not None and getattr(loop, "_thread_id", None) == threading.get_ident():
        return loop
    loop = asyncio.get_running_loop()
    _remembered.loop = loop
    return loop


def _forget() -> None:
    """In a forked child (whose one thread is the one that forked): nothing the
    parent found is the child's."""
    _remembered.loop = None


os.register_at_fork(after_in_child=_forget)
