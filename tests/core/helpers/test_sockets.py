"""QuickAckSocket on real loopback TCP connections.

Small reads are served from one large read; ``TCP_QUICKACK`` is set again after every
read of the kernel socket (Linux clears it; setting it once left 40 ms delayed-ACK
stalls); with ``coalesce`` many sends leave in one ``flush`` and ``close`` flushes
first, so a last packet written just before it is not lost.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest

from gatehouse.core.helpers import QuickAckSocket, set_nodelay

QUICKACK = getattr(socket, "TCP_QUICKACK", None)


@pytest.fixture
def pair() -> Iterator[tuple[socket.socket, socket.socket]]:
    """A connected loopback TCP pair (client, server side)."""
    with socket.create_server(("127.0.0.1", 0)) as listener:
        client = socket.create_connection(listener.getsockname())
        server, _ = listener.accept()
    try:
        yield client, server
    finally:
        client.close()
        server.close()


def _recv_exactly(sock: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        assert chunk, "connection closed early"
        data += chunk
    return data


def test_small_reads_come_from_one_kernel_read(pair: tuple[socket.socket, socket.socket]) -> None:
    client, server = pair
    server.sendall(b"abcdefghij")
    wrapped = QuickAckSocket(client)
    client.settimeout(5)
    first = wrapped.recv(1)
    assert first == b"a"
    # the rest is already here: no kernel read needed, pending says so
    assert wrapped.pending() == 9
    client.setblocking(False)  # a kernel read would now raise BlockingIOError
    assert wrapped.recv(3) == b"bcd"
    assert wrapped.recv(100) == b"efghij"  # a short read of what is left
    assert wrapped.pending() == 0
    with pytest.raises(BlockingIOError):
        wrapped.recv(1)


@pytest.mark.skipif(QUICKACK is None, reason="TCP_QUICKACK is Linux-only")
def test_quickack_is_set_again_after_every_kernel_read(
    pair: tuple[socket.socket, socket.socket],
) -> None:
    client, server = pair
    assert QUICKACK is not None
    wrapped = QuickAckSocket(client)
    client.settimeout(5)
    for round_ in range(3):
        client.setsockopt(socket.IPPROTO_TCP, QUICKACK, 0)  # as the kernel does
        server.sendall(b"x%d" % round_)
        assert wrapped.recv(1) == b"x"
        assert client.getsockopt(socket.IPPROTO_TCP, QUICKACK) == 1
        assert wrapped.recv(10) == str(round_).encode()


def test_coalesced_sends_leave_on_flush_and_on_close(
    pair: tuple[socket.socket, socket.socket],
) -> None:
    client, server = pair
    set_nodelay(client)
    wrapped = QuickAckSocket(client, coalesce=True)
    for n in range(100):
        assert wrapped.send(b"%03d" % n) == 3
    assert wrapped.unflushed == 300
    server.setblocking(False)
    with pytest.raises(BlockingIOError):
        server.recv(1)  # nothing left yet
    assert wrapped.flush() is True
    assert wrapped.unflushed == 0
    server.settimeout(5)
    assert _recv_exactly(server, 300) == b"".join(b"%03d" % n for n in range(100))
    wrapped.send(b"BYE")
    wrapped.close()  # flushes first
    assert _recv_exactly(server, 3) == b"BYE"
    assert server.recv(1) == b""  # and closed


def test_without_coalesce_sends_go_straight_out(
    pair: tuple[socket.socket, socket.socket],
) -> None:
    client, server = pair
    wrapped = QuickAckSocket(client)
    wrapped.send(b"now")
    assert wrapped.unflushed == 0
    server.settimeout(5)
    assert _recv_exactly(server, 3) == b"now"


def test_a_broken_connection_drops_what_was_not_flushed(
    pair: tuple[socket.socket, socket.socket],
) -> None:
    client, server = pair
    wrapped = QuickAckSocket(client, coalesce=True)
    server.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    server.close()  # RST
    client.settimeout(5)
    wrapped.send(b"lost")
    for _ in range(3):  # the first send may still be taken; then EPIPE/ECONNRESET
        wrapped.flush()
        wrapped.send(b"lost")
    assert wrapped.flush() is True
    assert wrapped.unflushed == 0
