"""Shortcuts on paho's receive path, for the ingest rate, and a polite close.

paho 2.x reads every packet with three ``recv`` calls and, for a QoS 0 subscriber,
goes back to ``select`` after each packet; every one of those system calls releases
and re-takes the GIL, in competition with the event loop thread. ``FastClient`` reads
through a buffer instead and hands received messages straight to the bridge, and
closes its socket without a TCP reset. These rely on paho internals (``_create_socket``,
``_handle_on_message``, ``_sock_close``) in the narrowest
way: should those go away, the overrides are never called and paho works as before.
"""

from __future__ import annotations

import contextlib
import select
import socket
import time
from collections.abc import Callable
from typing import Any, Final

import paho.mqtt.client as paho
from paho.mqtt.enums import MQTTErrorCode

#: ``TCP_QUICKACK`` where the platform has it (Linux); ``None`` elsewhere.
TCP_QUICKACK: Final[int | None] = getattr(socket, "TCP_QUICKACK", None)

#: Packets paho reads from its buffer in one go before it returns to select().
READ_BURST: Final = 1000

#: Longest wait, in seconds, for the broker to close its side after our DISCONNECT.
CLOSE_LINGER: Final = 1.0


def close_gracefully(sock: Any, linger: float = CLOSE_LINGER) -> None:
    """Half-close ``sock`` and read (and drop) until the broker closes its side.

    Closing a socket with unread data makes the kernel send a reset instead of a FIN.
    Right after our DISCONNECT the broker often still has something for us (the PUBACK
    of the ``offline`` message ``close()`` publishes, that message itself when we
    subscribe its topic, any message of our subscriptions); the reset made its write
    fail before it read DISCONNECT, so it treated the disconnect as a connection loss
    and published the will: a second ``offline``. Reading until its EOF lets it read
    DISCONNECT (which discards the will) first. Bounded by ``linger``; any error means
    there is nothing left to be polite to. Blocking: paho calls it in its network thread.
    """
    try:
        sock.shutdown(socket.SHUT_WR)
    except (OSError, ValueError):
        return
    deadline = time.monotonic() + linger
    while (remaining := deadline - time.monotonic()) > 0:
        try:
            ready, _, _ = select.select([sock], [], [], remaining)
            if not ready:
                return
            if not sock.recv(65536):
                return  # the broker's FIN
        except (BlockingIOError, InterruptedError):
            continue
        except (OSError, ValueError):
            return


def rearm_quickack(sock: Any) -> None:
    """Ask the kernel to acknowledge what arrives at once (see ``BufferedSocket``)."""
    if TCP_QUICKACK is not None:
        # Not TCP after all (a Unix socket), or already closed: nothing to re-arm.
        with contextlib.suppress(OSError, ValueError):
            sock.setsockopt(socket.IPPROTO_TCP, TCP_QUICKACK, 1)


class BufferedSocket:
    """A plain TCP socket whose ``recv`` serves paho's small reads from one large read.

    paho reads each packet with three ``recv`` calls (type byte, length, rest), and a
    subscriber at QoS 0 goes back to ``select`` after every packet: four system calls
    per message, and a release and re-acquisition of the GIL around each, competing
    with the event loop. Reading 64 KiB at once and handing out slices cuts that to
    one call per few hundred messages (see ``FastClient.loop_read``). ``pending()`` (as on
    an ``ssl.SSLSocket``) tells paho there is buffered data, so it does not wait in
    ``select`` for bytes that already arrived. Everything else goes to the socket.

    After every read from the socket ``TCP_QUICKACK`` is set again: Linux clears it
    whenever the connection looks interactive (we sent something, a PINGREQ or a PUBACK,
    soon after receiving), and then delays our ACKs by up to 40 ms. A broker with Nagle
    on (Mosquitto's default, ``set_tcp_nodelay false``) holds back its next small
    segments until that ACK arrives, so a stream of messages stalls in 40 ms gaps
    (measured: 42-46 ms without a byte, then one ~24 KB read, at 10k msg/s; the p99 of
    the ingest latency was those gaps). Re-arming costs one ``setsockopt`` per large
    read, not per message. We cannot rely on the broker's ``set_tcp_nodelay true``.
    """

    __slots__ = ("_buffer", "_offset", "_sock")

    READ_SIZE = 65536

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock
        self._buffer = b""
        self._offset = 0

    def recv(self, size: int) -> bytes:
        buffer = self._buffer
        if buffer:
            start = self._offset
            end = start + size
            if end >= len(buffer):  # the rest (a short read is fine: paho loops)
                self._buffer = b""
                self._offset = 0
                return buffer[start:] if start else buffer
            self._offset = end
            return buffer[start:end]
        sock = self._sock
        data = sock.recv(max(size, self.READ_SIZE))
        if data:
            rearm_quickack(sock)
        if len(data) <= size:
            return data
        self._buffer = data
        self._offset = size
        return data[:size]

    def pending(self) -> int:
        return len(self._buffer) - self._offset

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sock, name)


class FastClient(paho.Client):
    """paho's client with two shortcuts on the receive path.

    * buffered reads of plain TCP sockets (``BufferedSocket``, ``loop_read``);
    * received messages handed straight to ``message_sink`` (the bridge), skipping
      paho's per-message topic decoding, filter matching and two locks, which only
      serve ``message_callback_add`` (not used here);
    * a socket closed without a TCP reset (``close_gracefully``), so a disconnect is
      never mistaken for a connection loss (one ``offline``, not two).

    ``_create_socket`` and ``_handle_on_message`` are paho internals (2.x); should they
    go away, the overrides are simply never called and paho works as before
    (``on_message`` is set too).
    """

    #: Takes every received message, in paho's network thread.
    message_sink: Callable[[paho.MQTTMessage], None] | None = None

    def _handle_on_message(self, message: paho.MQTTMessage) -> None:
        sink = self.message_sink
        if sink is None:
            super()._handle_on_message(message)
        else:
            sink(message)

    def _sock_close(self) -> None:
        """Close the connection without a TCP reset (``close_gracefully``)."""
        sock = getattr(self, "_sock", None)
        if sock is not None:
            close_gracefully(sock)
        super()._sock_close()

    def _create_socket(self) -> Any:
        sock = super()._create_socket()
        if type(sock) is socket.socket:
            return BufferedSocket(sock)
        return sock

    def loop_read(self, max_packets: int = 1) -> MQTTErrorCode:
        """Read on through data already buffered instead of one packet per select().

        A TLS socket is not a ``BufferedSocket``: quick-ACK is re-armed here instead,
        once per wake-up (paho reads every record that is already decrypted first).
        """
        rc = super().loop_read(max_packets)
        sock = self.socket()
        if sock is not None and type(sock) is not BufferedSocket:
            rearm_quickack(sock)
        pending = getattr(sock, "pending", None)
        burst = 0
        while (
            rc == MQTTErrorCode.MQTT_ERR_SUCCESS
            and pending is not None
            and burst < READ_BURST
            and self.socket() is sock
            and pending() > 0
        ):
            rc = super().loop_read(max_packets)
            burst += 1
        return rc
