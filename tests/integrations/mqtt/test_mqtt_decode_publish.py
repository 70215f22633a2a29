"""``decode_publish``: the network thread's own decode of a QoS 0/1 PUBLISH (issue 16).

It must give what paho's decoder gives for the packets it takes, and hand everything
else (QoS 2, MQTT 5 properties, malformed packets) back to paho, so paho keeps its
handshakes and its errors.
"""

from __future__ import annotations

import struct

from paho.mqtt import _packet
from paho.mqtt.enums import MQTTProtocolVersion

from gatehouse.integrations.mqtt.transport import decode_publish


def _body(
    topic: bytes, payload: bytes, mid: int | None = None, props: bytes | None = None
) -> bytes:
    out = struct.pack("!H", len(topic)) + topic
    if mid is not None:
        out += struct.pack("!H", mid)
    if props is not None:
        out += props
    return out + payload


def test_qos0_and_qos1_match_paho() -> None:
    for command, body, v5 in [
        (0x30, _body(b"a/b", b'{"value": 1}'), False),
        (0x31, _body("t/é".encode(), b""), False),  # retained, empty payload
        (0x32, _body(b"q1", b"x", mid=513), False),
        (0x3A, _body(b"q1", b"x", mid=7), False),  # dup
        (0x30, _body(b"v5", b"42", props=b"\x00"), True),
        (0x32, _body(b"v5", b"42", mid=9, props=b"\x00"), True),
    ]:
        protocol = MQTTProtocolVersion.MQTTv5 if v5 else MQTTProtocolVersion.MQTTv311
        paho_says = _packet.decode_publish(command, body, protocol)
        assert decode_publish(command, body, v5) == (
            (paho_says.topic.decode(), paho_says.payload, paho_says.qos, paho_says.retain),
            paho_says.qos,
            paho_says.mid,
        )
        assert decode_publish(command, bytearray(body), v5) == decode_publish(command, body, v5)


def test_left_to_paho() -> None:
    assert decode_publish(0x34, _body(b"q2", b"x", mid=1), False) is None  # QoS 2
    assert decode_publish(0x36, _body(b"q3", b"x", mid=1), False) is None  # QoS 3: invalid
    assert decode_publish(0x30, _body(b"", b"x"), False) is None  # empty topic
    # MQTT 5 with properties (a topic alias here) and a topic that needs one.
    assert decode_publish(0x30, _body(b"t", b"x", props=b"\x03\x23\x00\x01"), True) is None
    assert decode_publish(0x30, _body(b"", b"x", props=b"\x03\x23\x00\x01"), True) is None
    assert decode_publish(0x30, _body(b"t", b""), True) is None  # no property length
    assert decode_publish(0x30, b"\x00", False) is None
    assert decode_publish(0x30, b"\x00\x09abc", False) is None  # topic past the end
    assert decode_publish(0x32, b"\x00\x01t\x00", False) is None  # mid cut short


def test_topic_not_utf8_is_dropped_but_acknowledged() -> None:
    assert decode_publish(0x30, _body(b"\xff\xfe", b"x"), False) == (None, 0, 0)
    assert decode_publish(0x32, _body(b"\xff", b"x", mid=5), False) == (None, 1, 5)
