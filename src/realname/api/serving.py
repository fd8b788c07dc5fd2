"""Several API worker processes, each listening on a socket of its own (``SO_REUSEPORT``).

uvicorn's ``--workers N`` binds one socket in the supervisor and every worker accepts
from it. asyncio accepts up to ``backlog`` connections (uvicorn passes 2,048) each
time the socket wakes it, so the worker that wakes first takes a whole burst of new
connections, and keep-alive pins them there: a reverse proxy's pool of upstream
connections, or a benchmark's, ends up on one worker while the others idle
(``bench/bench_api.py``, two workers: one worker's loop on the CPU 2.9 s of 4 s, the
other's under 0.01 s, and the same L2/s as with a single worker).

With ``SO_REUSEPORT`` each worker binds its own listening socket to the same address
and the kernel spreads new connections over them by a hash of the client's address
and port, whichever worker is awake. The supervisor's own socket is bound with the
option (so the workers may join the port) but never listens, so no connection is
queued on it. Where the option does not exist, the shared socket is used as before.

No library does this for uvicorn: its supervisor builds each worker's
:class:`~uvicorn.supervisors.multiprocess.Process` by module-global name, so
:func:`own_socket_workers` swaps that name for the supervisor's lifetime.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from contextlib import contextmanager

from uvicorn.config import Config
from uvicorn.supervisors import multiprocess


def reuse_port_supported() -> bool:
    """Whether this platform lets several sockets listen on one port (Linux, BSDs)."""
    return hasattr(socket, "SO_REUSEPORT")


def bind_shared_port(host: str, port: int) -> socket.socket:
    """A TCP socket bound to ``host:port`` that other sockets may bind to as well
    (``SO_REUSEPORT``, when the platform has it); not yet listening."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP, so that asyncio turns Nagle off on the accepted sockets.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if reuse_port_supported():
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    sock.set_inheritable(True)
    return sock


def own_sockets(shared: list[socket.socket]) -> list[socket.socket]:
    """In a worker: a socket of its own on the address of each of ``shared`` (which are
    closed here: this process no longer accepts from them)."""
    if not reuse_port_supported():
        return shared
    own = []
    for sock in shared:
        host, port = sock.getsockname()[:2]
        own.append(bind_shared_port(host, port))
        sock.close()
    return own


class OwnSocketProcess(multiprocess.Process):
    """A uvicorn worker that serves on sockets of its own (:func:`own_sockets`)."""

    def target(self, sockets: list[socket.socket] | None = None) -> None:  # pragma: no cover
        # Runs in the worker process: tests/api/test_workers.py starts real workers.
        super().target(own_sockets(sockets or []))


@contextmanager
def own_socket_workers() -> Iterator[None]:
    """While inside, uvicorn's supervisor starts :class:`OwnSocketProcess` workers."""
    original = multiprocess.Process
    multiprocess.Process = OwnSocketProcess  # type: ignore[misc]
    try:
        yield
    finally:
        multiprocess.Process = original  # type: ignore[misc]


def run_workers(config: Config) -> None:
    """What ``uvicorn.run`` does for ``config.workers`` above 1, each worker listening
    on its own socket on ``config.host:config.port``."""
    sock = bind_shared_port(config.host, config.port)
    try:
        with own_socket_workers():
            multiprocess.Multiprocess(config, sockets=[sock]).run()
    finally:
        sock.close()
