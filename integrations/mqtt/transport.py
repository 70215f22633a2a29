"""Shortcuts on paho's receive path, for the ingest rate, and a polite close.

paho 2.x reads every packet with three ``recv`` calls and, for a QoS 0 subscriber,
goes back to ``select`` after each packet; every one of those system calls releases
and re-takes the GIL, in competition with the event loop thread. ``FastClient`` reads
through a buffer instead (``QuickAckSocket``, which also re-arms ``TCP_QUICKACK`` after
every read, so a broker with Nagle on is not held back by our delayed ACKs: 40 ms
stalls), hands received messages straight to the bridge as plain tuples (see
``RawMessage``), and closes its socket without a TCP reset. These rely on paho
internals (``_create_socket``, ``_handle_on_message``, ``_sock_close``) in the narrowest
way: should those go away, the overrides are never called and paho works as before.
"""

from __future__ import annotations

import select
import socket
import time
from collections.abc import Callable
from typing import Any, Final, cast

import paho.mqtt.client as paho
from paho.mqtt.enums import MQTTErrorCode, MQTTProtocolVersion

from gatehouse.core.helpers import QuickAckSocket

#: A received message as it waits in the bridge: ``(topic, payload, qos, retain)``.
#: A plain tuple of str/bytes/int/bool on purpose: the garbage collector untracks such a
#: tuple the first time it survives a young collection, so a backlog of queued messages
#: (paho reads faster than the loop ingests: tens of thousands at full load) is never
#: promoted and never rescanned. paho's ``MQTTMessage`` (and its ``MQTTMessageInfo``)
#: are tracked containers: held in the queue, 100,000 messages made a dozen full
#: collections of everything queued (11-33 ms each) and about 10 % of the ingest time.
RawMessage = tuple[str, bytes, int, bool]

#: Packets paho reads from its buffer in one go before it returns to select().
READ_BURST: Final = 1000

_SUCCESS: Final = MQTTErrorCode.MQTT_ERR_SUCCESS
_MQTT_V5: Final = MQTTProtocolVersion.MQTTv5

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


def decode_publish(
    command: int, packet: bytes | bytearray, v5: bool
) -> tuple[RawMessage | None, int, int] | None:
    """A QoS 0/1 PUBLISH (``packet``: after the fixed header) as ``(message, qos, mid)``.

    ``message`` is None for a topic that is not UTF-8 (dropped, but a QoS 1 one is still
    acknowledged, as paho does). None for anything paho should decode itself: QoS 2 (its
    PUBREC/PUBREL handshake), MQTT 5 properties (a topic alias, user properties: nothing
    here reads them), an empty topic (refused by MQTT 3.1.1), a packet too short.
    paho's own decoder builds a ``Properties`` object for every MQTT 5 PUBLISH, an
    ``MQTTMessage`` and ``MQTTMessageInfo``, and formats a debug line: most of the
    network thread's time per message, which the event loop waits for (the GIL).
    """
    qos = (command & 0x06) >> 1
    size = len(packet)
    if qos > 1 or size < 2:
        return None
    end = 2 + ((packet[0] << 8) | packet[1])
    if end == 2 or end > size:
        return None
    mid = 0
    position = end
    if qos:
        if position + 2 > size:
            return None
        mid = (packet[position] << 8) | packet[position + 1]
        position += 2
    if v5:
        if position >= size or packet[position]:  # a property length other than 0
            return None
        position += 1
    try:
        topic = packet[2:end].decode()
    except UnicodeDecodeError:
        return None, qos, mid
    return (topic, bytes(packet[position:]), qos, bool(command & 0x01)), qos, mid


class FastClient(paho.Client):
    """paho's client with shortcuts on the receive path and a polite close.

    * buffered reads and ``TCP_QUICKACK`` re-armed after every read of the socket
      (``QuickAckSocket`` from ``gatehouse.core.helpers``: plain TCP and TLS), and
      ``loop_read`` reading on through what is already buffered;
    * received messages handed straight to ``message_sink`` (the bridge) as a
      ``RawMessage`` tuple, skipping paho's filter matching and two locks, which only
      serve ``message_callback_add`` (not used here); the paho message object itself
      is freed at once (a topic that is not UTF-8 is dropped here); a QoS 0/1 PUBLISH
      without MQTT 5 properties (the usual case) is decoded straight into that tuple
      (``decode_publish``), with no paho message object at all;
    * a socket closed without a TCP reset (``close_gracefully``), so a disconnect is
      never mistaken for a connection loss (one ``offline``, not two).

    ``_create_socket``, ``_handle_on_message``, ``_handle_publish`` (with ``_in_packet``)
    and ``_sock_close`` are paho internals (2.x); should they
    go away, the overrides are simply never called and paho works as before
    (``on_message`` is set too).
    """

    #: Takes every received message, in paho's network thread.
    message_sink: Callable[[RawMessage], None] | None = None

    def _handle_on_message(self, message: paho.MQTTMessage) -> None:
        sink = self.message_sink
        if sink is None:
            super()._handle_on_message(message)
            return
        try:
            topic = message._topic.decode()
        except UnicodeDecodeError:
            return  # MQTT topics are UTF-8; nothing could subscribe to this one
        # paho slices the payload from the bytes it read (typed ``bytes | bytearray``).
        sink((topic, cast(bytes, message.payload), message.qos, message.retain))

    def _handle_publish(self) -> MQTTErrorCode:
        sink = self.message_sink
        decoded = None
        if sink is not None:
            try:
                in_packet = self._in_packet
                decoded = decode_publish(
                    in_packet["command"], in_packet["packet"], self._protocol == _MQTT_V5
                )
            except (AttributeError, KeyError, TypeError):  # paho changed: its own way
                decoded = None
        if sink is None or decoded is None:
            return super()._handle_publish()
        message, qos, mid = decoded
        if message is not None:
            sink(message)
        if qos and not self._manual_ack:
            return self._send_puback(mid)  # after the hand-over, as paho does
        return _SUCCESS

    def _sock_close(self) -> None:
        """Close the connection without a TCP reset (``close_gracefully``)."""
        sock = getattr(self, "_sock", None)
        if sock is not None:
            close_gracefully(sock)
        super()._sock_close()

    def _create_socket(self) -> Any:
        sock = super()._create_socket()
        if isinstance(sock, socket.socket):  # TCP, TLS over TCP (a Unix socket too)
            return QuickAckSocket(sock)
        return sock  # paho's websocket wrapper

    def loop_read(self, max_packets: int = 1) -> MQTTErrorCode:
        """Read on through data already buffered instead of one packet per select()."""
        rc = super().loop_read(max_packets)
        sock = self.socket()
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
