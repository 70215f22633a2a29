"""The proxy client's PUBLISH decoding agrees with paho's, and leaves to paho what it
does not handle (MQTT 5 properties, malformed packets)."""

from __future__ import annotations

import struct

import pytest
from paho.mqtt import _packet
from paho.mqtt.enums import MQTTProtocolVersion

from gatehouse.integrations.schema_guard.pahoclient import parse_publish


def _publish(topic: bytes, payload: bytes, qos: int, mid: int, *, v5: bool,
             props: bytes = b"\x00") -> bytes:
    body = struct.pack("!H", len(topic)) + topic
    if qos:
        body += struct.pack("!H", mid)
    if v5:
        body += props
    return body + payload


@pytest.mark.parametrize("v5", [False, True])
@pytest.mark.parametrize("qos", [0, 1, 2])
@pytest.mark.parametrize("flags", [0x00, 0x01, 0x08, 0x09])
def test_same_message_as_paho(v5: bool, qos: int, flags: int) -> None:
    if qos == 0 and flags & 0x08:
        return  # DUP is only set on QoS 1/2
    command = 0x30 | (qos << 1) | flags
    packet = bytearray(_publish(b"plant/\xc3\xa9/reading", b'{"n": 1}', qos, 4242, v5=v5))
    version = MQTTProtocolVersion.MQTTv5 if v5 else MQTTProtocolVersion.MQTTv311
    ours = parse_publish(command, packet, v5)
    theirs = _packet.decode_publish(command, bytes(packet), version)
    assert ours is not None
    assert (ours.topic, ours.payload, ours.qos, ours.mid, ours.dup, ours.retain) == (
        theirs.topic.decode(), theirs.payload, theirs.qos, theirs.mid, theirs.dup,
        theirs.retain)
    assert isinstance(ours.payload, bytes)


def test_properties_and_bad_packets_go_to_paho() -> None:
    with_props = _publish(b"a/b", b"x", 1, 7, v5=True, props=b"\x02\x01\x01")  # format 1
    assert parse_publish(0x32, with_props, True) is None
    assert parse_publish(0x32, b"\x00", False) is None                   # no topic length
    assert parse_publish(0x32, b"\x00\x09a/b", False) is None            # topic cut short
    assert parse_publish(0x32, b"\x00\x03a/b\x00", False) is None        # mid cut short
    assert parse_publish(0x30, b"\x00\x00x", False) is None              # empty topic, 3.1.1
    assert parse_publish(0x36, b"\x00\x03a/b\x00\x01", False) is None    # QoS 3
    assert parse_publish(0x32, b"\x00\x03a/b\x00\x01", True) is None     # v5, no prop length
