"""TCP_QUICKACK is re-armed after every read of the MQTT socket (issue 16).

The socket is ``QuickAckSocket`` from ``gatehouse.core.helpers`` (shared with
schema_guard's proxy); these tests hold it to what the mqtt integration needs.

Linux leaves quick-ACK mode as soon as a connection looks interactive (we sent
something shortly after receiving: a PUBACK, a PINGREQ), and then delays ACKs by up to
40 ms; a broker with Nagle on waits for that ACK before it sends its next small
segments, so an ingest stream stalls in 40 ms gaps. The kernel reports the mode through
``getsockopt(TCP_QUICKACK)``, which lets the test see it directly instead of timing gaps.
"""

from __future__ import annotations

import socket
import sys
from collections.abc import Iterator

import pytest
from mqtt_helpers import entry_data, loaded

from gatehouse.core import Host
from gatehouse.core.helpers import QuickAckSocket
from gatehouse.core.testing import Mosquitto, add_entry

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="TCP_QUICKACK is Linux's"
)


@pytest.fixture
def tcp_pair() -> Iterator[tuple[socket.socket, socket.socket]]:
    listener = socket.create_server(("127.0.0.1", 0))
    client = socket.create_connection(listener.getsockname())
    server, _ = listener.accept()
    listener.close()
    try:
        yield client, server
    finally:
        client.close()
        server.close()


def _quickack(sock: socket.socket) -> int:
    return sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_QUICKACK)


def _make_interactive(client: socket.socket, server: socket.socket) -> None:
    """Request/response exchanges: the kernel switches the client to delayed ACKs."""
    for _ in range(3):
        server.sendall(b"x" * 10)
        assert client.recv(100)
        client.sendall(b"y")
        assert server.recv(10)


def test_socket_rearms_quickack_after_each_read(
    tcp_pair: tuple[socket.socket, socket.socket],
) -> None:
    client, server = tcp_pair
    wrapped = QuickAckSocket(client)
    for _ in range(3):
        _make_interactive(client, server)
        assert _quickack(client) == 0  # the kernel left quick-ACK mode (the hazard)
        server.sendall(b"\x30\x05\x00\x01tpay")
        assert wrapped.recv(1) == b"\x30"  # one read of the socket, then the buffer
        assert _quickack(client) == 1
        assert wrapped.recv(100) == b"\x05\x00\x01tpay"


def test_socket_tolerates_sockets_without_tcp() -> None:
    left, right = socket.socketpair()
    try:
        right.sendall(b"abc")
        assert QuickAckSocket(left).recv(10) == b"abc"
    finally:
        left.close()
        right.close()



@pytest.mark.anyio
async def test_mqtt_connections_read_through_a_quickack_socket(
    mosquitto: Mosquitto, mosquitto_tls: Mosquitto, host: Host
) -> None:
    """Plain TCP and TLS: the socket paho reads is the one that re-arms quick-ACK."""
    certs = mosquitto_tls.certs
    client = certs.client()
    plain = await add_entry(host, "mqtt", entry_data(mosquitto.port, client_id="qa-plain"))
    tls = await add_entry(
        host, "mqtt",
        entry_data(mosquitto_tls.tls_port, client_id="qa-tls", ca_certs=str(certs.ca_cert),
                   client_cert=str(client.cert), client_key=str(client.key)),
    )
    for entry in (plain, tls):
        assert loaded(entry), entry.reason
        sock = entry.runtime_data.connection._client.socket()
        assert isinstance(sock, QuickAckSocket), sock
    assert tls.runtime_data.connection.tls_version() == "TLSv1.3"
    assert plain.runtime_data.connection.tls_version() is None
