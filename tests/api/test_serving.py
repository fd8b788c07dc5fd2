"""Worker processes on sockets of their own: the kernel spreads connections over them."""

from __future__ import annotations

import os
import selectors
import socket
import time

import pytest
from uvicorn.supervisors import multiprocess

from realname.api.serving import OwnSocketProcess, bind_shared_port, own_socket_workers, own_sockets

pytestmark = pytest.mark.skipif(
    not hasattr(socket, "SO_REUSEPORT"), reason="no SO_REUSEPORT on this platform"
)


def _accept_all(listeners: list[socket.socket], expected: int) -> list[int]:
    """Accept until ``expected`` connections arrived; how many each listener took."""
    taken = [0] * len(listeners)
    accepted = []
    with selectors.DefaultSelector() as selector:
        for index, listener in enumerate(listeners):
            listener.setblocking(False)
            selector.register(listener, selectors.EVENT_READ, index)
        deadline = time.monotonic() + 10
        while sum(taken) < expected and time.monotonic() < deadline:
            for key, _ in selector.select(timeout=0.5):
                try:
                    connection, _address = key.fileobj.accept()  # type: ignore[union-attr]
                except BlockingIOError:
                    continue
                accepted.append(connection)
                taken[key.data] += 1
    for connection in accepted:
        connection.close()
    return taken


def test_each_worker_listens_on_its_own_socket_and_connections_spread_over_them() -> None:
    shared = bind_shared_port("127.0.0.1", 0)  # the supervisor's: bound, never listening
    port = shared.getsockname()[1]
    # What each of two workers does with the socket it inherits.
    workers = [own_sockets([shared.dup()])[0] for _ in range(2)]
    try:
        # Sockets of their own (a dup of the shared one would be the same socket).
        inodes = {os.fstat(sock.fileno()).st_ino for sock in [shared, *workers]}
        assert len(inodes) == 3
        for sock in workers:
            assert sock.getsockname()[1] == port
            sock.listen(64)
        clients = [socket.create_connection(("127.0.0.1", port)) for _ in range(64)]
        taken = _accept_all(workers, len(clients))
        for client in clients:
            client.close()
    finally:
        for sock in workers:
            sock.close()
        shared.close()
    # Every connection reached a worker (none queued on the supervisor's socket), and
    # both workers got some: all 64 on one by chance would be a 2**-63 event.
    assert sum(taken) == 64
    assert min(taken) > 0


def test_the_supervisor_starts_own_socket_workers_only_while_asked() -> None:
    original = multiprocess.Process
    with own_socket_workers():
        assert multiprocess.Process is OwnSocketProcess
    assert multiprocess.Process is original
