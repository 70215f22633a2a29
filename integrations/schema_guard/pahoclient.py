"""The proxy's paho client: fewer system calls, and no per-packet property objects.

paho 2.x turns every MQTT 5 PUBLISH and every PUBACK (any protocol version) into a
``Properties`` object, whose constructor builds its name tables afresh and whose
``unpack`` walks them with ``hasattr`` per name. Measured here: decoding a 300-byte
MQTT 5 PUBLISH costs 18 µs (2.7 µs as MQTT 3.1.1), decoding a 3.1.1 PUBACK 20 µs,
against 5 µs for ``json.loads`` of the payload and 8 µs for the whole guard check:
the largest cost per forwarded message. The proxy reads no properties, so:

* a PUBLISH without properties (property length 0, the usual case) is decoded here
  with ``properties`` None; one with properties goes to paho as before;
* a PUBACK/PUBCOMP of MQTT 3.1.1 (two bytes: the packet id) is decoded here and passed
  to ``on_publish`` with one shared success reason code and one shared empty
  ``Properties`` (read only: nothing here or in paho changes them); MQTT 5 ones go to
  paho.

These overrides, like ``_create_socket`` (``QuickAckSocket``) and
``_handle_on_message`` (straight to ``message_sink``), use paho internals (2.x): the
``_in_packet`` dictionary, the message tables and their locks. Should one go away, the
override falls back to paho's own method (an ``AttributeError`` is taken as that
sign), and the tests of the proxy say so.
"""

from __future__ import annotations

import socket
import struct
from collections.abc import Callable
from typing import Any, Final, Literal

import paho.mqtt.client as paho
from paho.mqtt.enums import MQTTErrorCode, MQTTProtocolVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from gatehouse.core.helpers import QuickAckSocket, TrackingContext

#: Packets read from the socket buffer in one go before the network loop writes what
#: they produced (coalesced) and turns: the first of a burst waits for the whole burst
#: (32 messages at 30-60 µs each here), against one select() and two sends per turn.
READ_BURST: Final = 32

_SUCCESS: Final = MQTTErrorCode.MQTT_ERR_SUCCESS
_PUBACK_OK: Final = ReasonCode(PacketTypes.PUBACK)
_new_properties: Final[Callable[[int], Properties]] = Properties  # untyped in paho
_NO_PROPERTIES: Final = _new_properties(PacketTypes.PUBACK)
_MID: Final = struct.Struct("!H")


def parse_publish(command: int, packet: bytes | bytearray,
                  v5: bool) -> paho.MQTTMessage | None:
    """A PUBLISH packet (after the fixed header) as paho's message, or None when it
    has MQTT 5 properties or looks wrong (paho then decodes it, or refuses it)."""
    size = len(packet)
    if size < 2:
        return None
    length = (packet[0] << 8) | packet[1]
    position = 2 + length
    qos = (command & 0x06) >> 1
    if position > size or (length == 0 and not v5) or qos == 3:
        return None
    topic = bytes(packet[2:position])
    mid = 0
    if qos:
        if position + 2 > size:
            return None
        mid = (packet[position] << 8) | packet[position + 1]
        position += 2
    if v5:
        if position >= size or packet[position] != 0:  # properties present: paho's job
            return None
        position += 1
    message = paho.MQTTMessage(mid, topic)
    message.dup = bool(command & 0x08)
    message.qos = qos
    message.retain = bool(command & 0x01)
    message.payload = bytes(packet[position:])
    return message


class ProxyClient(paho.Client):
    """paho's client reading through a ``QuickAckSocket``, in bursts, with received
    messages handed straight to ``message_sink`` and the fast decodes of the module
    docstring. Skipping ``_handle_on_message`` skips per-message topic filter matching
    and two locks that only serve ``message_callback_add`` (not used here);
    ``on_message`` is set too, for a paho that no longer calls it.
    """

    message_sink: Callable[[paho.MQTTMessage], None] | None = None
    #: The TLS context, to close the socket paho abandons after a failed handshake.
    tracking: TrackingContext | None = None

    def _handle_on_message(self, message: paho.MQTTMessage) -> None:
        sink = self.message_sink
        if sink is None:
            super()._handle_on_message(message)
        else:
            sink(message)

    def _handle_publish(self) -> MQTTErrorCode:
        try:
            in_packet = self._in_packet
            message = parse_publish(in_packet["command"], in_packet["packet"],
                                    self._protocol == MQTTProtocolVersion.MQTTv5)
        except AttributeError:  # paho changed: its own way
            message = None
        if message is None:
            return super()._handle_publish()
        message.timestamp = paho.time_func()
        qos = message.qos
        if qos == 0:
            self._handle_on_message(message)
            return _SUCCESS
        if qos == 1:
            self._handle_on_message(message)
            return _SUCCESS if self._manual_ack else self._send_puback(message.mid)
        rc = self._send_pubrec(message.mid)
        message.state = paho.mqtt_ms_wait_for_pubrel
        with self._in_message_mutex:
            self._in_messages[message.mid] = message
        return rc

    def _handle_pubackcomp(self, cmd: Literal["PUBACK", "PUBCOMP"]) -> MQTTErrorCode:
        try:
            packet = self._in_packet["packet"]
            fast = self._protocol != MQTTProtocolVersion.MQTTv5 and len(packet) == 2
        except AttributeError:
            fast = False
        if not fast:
            return super()._handle_pubackcomp(cmd)
        (mid,) = _MID.unpack(packet)
        with self._out_message_mutex:
            if mid in self._out_messages:  # only once per message, as paho does
                rc: MQTTErrorCode = self._do_on_publish(mid, _PUBACK_OK, _NO_PROPERTIES)
                return rc
        return _SUCCESS

    def _create_socket(self) -> Any:
        try:
            sock = super()._create_socket()
        except BaseException:
            if self.tracking is not None:  # the failed handshake's socket, not left open
                self.tracking.close_failed(None)
            raise
        if isinstance(sock, socket.socket):  # TCP, TLS over TCP, Unix; not websockets
            # Writes coalesced: the network loop flushes once per turn.
            return QuickAckSocket(sock, coalesce=True)
        return sock

    def loop_read(self, max_packets: int = 1) -> MQTTErrorCode:
        """Read on through data already buffered instead of one packet per select()."""
        rc = super().loop_read(max_packets)
        sock = self.socket()
        pending = getattr(sock, "pending", None)
        burst = 0
        while (
            rc == _SUCCESS
            and pending is not None
            and burst < READ_BURST
            and self.socket() is sock
            and pending() > 0
        ):
            rc = super().loop_read(max_packets)
            burst += 1
        return rc
