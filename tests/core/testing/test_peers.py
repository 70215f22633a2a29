"""Proof that each harness fixture yields a real, working protocol peer.

These tests guard the harness itself: if a later integration test fails, these tell
whether the peer or the code under test is at fault.
"""

from __future__ import annotations

import socket
import ssl
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import anyio
import nats
import nats.errors
import nats.js.errors
import paho.mqtt.client as mqtt
import pytest
from nats.js.api import PubAck, StreamConfig
from nats.js.client import JetStreamContext
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.reasoncodes import ReasonCode

from gatehouse.core.testing import Mosquitto, NatsCluster, NatsServer, Pki, port_is_open

WAIT = 5.0
"""Upper bound for any single event; tests finish far faster when things work."""

pytestmark = pytest.mark.timeout(60)


# -- MQTT helpers --------------------------------------------------------------------


@dataclass
class MqttProbe:
    """A paho client in threaded-loop mode with events to wait on instead of sleeping."""

    client: mqtt.Client
    connected: threading.Event = field(default_factory=threading.Event)
    subscribed: threading.Event = field(default_factory=threading.Event)
    disconnected: threading.Event = field(default_factory=threading.Event)
    got_message: threading.Event = field(default_factory=threading.Event)
    messages: list[mqtt.MQTTMessage] = field(default_factory=list)
    connect_reason: ReasonCode | None = None
    session_present: bool = False

    def wait_message(self) -> mqtt.MQTTMessage:
        """Block until a message arrives (assert, not hang, if none does)."""
        assert self.got_message.wait(WAIT), "no MQTT message received"
        return self.messages[0]


@contextmanager
def mqtt_client(
    host: str,
    port: int,
    *,
    client_id: str = "",
    clean_session: bool = True,
    tls: ssl.SSLContext | None = None,
) -> Iterator[MqttProbe]:
    """Connect a paho client, wait for CONNACK, and always disconnect afterwards."""
    client = mqtt.Client(
        CallbackAPIVersion.VERSION2,
        client_id=client_id or f"probe-{uuid.uuid4().hex[:8]}",
        clean_session=clean_session,
    )
    probe = MqttProbe(client)

    def on_connect(
        c: mqtt.Client, u: Any, flags: mqtt.ConnectFlags, reason: ReasonCode, p: Any
    ) -> None:
        probe.connect_reason = reason
        probe.session_present = flags.session_present
        probe.connected.set()

    def on_subscribe(c: mqtt.Client, u: Any, mid: int, reasons: list[ReasonCode], p: Any) -> None:
        probe.subscribed.set()

    def on_message(c: mqtt.Client, u: Any, msg: mqtt.MQTTMessage) -> None:
        probe.messages.append(msg)
        probe.got_message.set()

    def on_disconnect(c: mqtt.Client, u: Any, flags: Any, reason: ReasonCode, p: Any) -> None:
        probe.disconnected.set()

    client.on_connect = on_connect
    client.on_subscribe = on_subscribe
    client.on_message = on_message
    client.on_disconnect = on_disconnect
    if tls is not None:
        client.tls_set_context(tls)
    client.connect(host, port, keepalive=10)
    client.loop_start()
    try:
        assert probe.connected.wait(WAIT), "no CONNACK"
        reason = probe.connect_reason
        assert reason is not None and not reason.is_failure, reason
        yield probe
    finally:
        client.disconnect()
        client.loop_stop()


def subscribe(probe: MqttProbe, topic: str, qos: int = 1) -> None:
    """Subscribe and wait for SUBACK so a following publish cannot overtake it."""
    probe.subscribed.clear()
    probe.client.subscribe(topic, qos=qos)
    assert probe.subscribed.wait(WAIT), "no SUBACK"


def publish(probe: MqttProbe, topic: str, payload: bytes, qos: int = 1) -> None:
    """Publish and, for QoS 1, wait for the broker's PUBACK."""
    info = probe.client.publish(topic, payload, qos=qos)
    info.wait_for_publish(WAIT)
    assert info.is_published(), "broker did not acknowledge the publish"


def client_tls_context(pki: Pki, *, with_cert: bool = True) -> ssl.SSLContext:
    """Verifying client context trusting the test CA, optionally presenting a cert."""
    ctx = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=str(pki.ca_cert))
    if with_cert:
        client = pki.client()
        ctx.load_cert_chain(str(client.cert), str(client.key))
    return ctx


def mqtt_connect_packet(client_id: str) -> bytes:
    """A minimal MQTT 3.1.1 CONNECT, for talking to the broker below paho."""
    cid = client_id.encode()
    variable = b"\x00\x04MQTT\x04\x02\x00\x3c" + len(cid).to_bytes(2, "big") + cid
    return bytes([0x10, len(variable)]) + variable


# -- Mosquitto -------------------------------------------------------------------------


def test_mosquitto_plain_round_trip(mosquitto: Mosquitto) -> None:
    with (
        mqtt_client(mosquitto.host, mosquitto.port) as sub,
        mqtt_client(mosquitto.host, mosquitto.port) as pub,
    ):
        subscribe(sub, "gatehouse/test/plain")
        publish(pub, "gatehouse/test/plain", b"hello")
        msg = sub.wait_message()
    assert msg.topic == "gatehouse/test/plain"
    assert msg.payload == b"hello"
    assert msg.qos == 1


def test_mosquitto_tls13_with_client_certificate(mosquitto_tls: Mosquitto) -> None:
    ctx = client_tls_context(mosquitto_tls.certs)
    with mqtt_client(mosquitto_tls.host, mosquitto_tls.tls_port, tls=ctx) as probe:
        sock = probe.client.socket()
        assert isinstance(sock, ssl.SSLSocket)
        assert sock.version() == "TLSv1.3"
        subscribe(probe, "gatehouse/test/tls")
        publish(probe, "gatehouse/test/tls", b"secret")
        assert probe.wait_message().payload == b"secret"
    # use_identity_as_username: the broker logs the certificate CN as the username.
    assert f"u'{mosquitto_tls.certs.client().common_name}'" in mosquitto_tls.log_text()


def test_mosquitto_tls_refuses_client_without_certificate(mosquitto_tls: Mosquitto) -> None:
    ctx = client_tls_context(mosquitto_tls.certs, with_cert=False)
    address = (mosquitto_tls.host, mosquitto_tls.tls_port)
    # TLS 1.3 finishes the client's side of the handshake before the server has checked
    # the (missing) certificate, so the refusal shows up on the first read: as an alert,
    # an unexpected EOF or a reset, but never as a CONNACK.
    with (
        socket.create_connection(address, timeout=WAIT) as raw,
        ctx.wrap_socket(raw, server_hostname="127.0.0.1") as tls,
    ):
        try:
            tls.sendall(mqtt_connect_packet("no-cert"))
            answer = tls.recv(4)
        except (ssl.SSLError, ConnectionError):
            answer = b""
    assert answer == b"", f"broker answered {answer!r} to a client without a certificate"
    assert "no-cert" not in mosquitto_tls.log_text()


def test_mosquitto_tls_refuses_tls12(mosquitto_tls: Mosquitto) -> None:
    ctx = client_tls_context(mosquitto_tls.certs)
    ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    address = (mosquitto_tls.host, mosquitto_tls.tls_port)
    with (
        socket.create_connection(address, timeout=WAIT) as raw,
        pytest.raises((ssl.SSLError, ConnectionError)),
    ):
        ctx.wrap_socket(raw, server_hostname="127.0.0.1")


def test_mosquitto_restart_keeps_port_and_persistent_session(mosquitto: Mosquitto) -> None:
    port = mosquitto.port
    topic = "gatehouse/test/persist"
    with mqtt_client(mosquitto.host, port, client_id="persistent", clean_session=False) as sub:
        subscribe(sub, topic)
    # Queued for the offline persistent session, then the broker goes away and back.
    with mqtt_client(mosquitto.host, port) as pub:
        publish(pub, topic, b"queued-while-offline")
    old_pid = mosquitto.pid
    mosquitto.restart()
    assert mosquitto.port == port
    assert mosquitto.pid != old_pid
    with mqtt_client(mosquitto.host, port, client_id="persistent", clean_session=False) as sub:
        assert sub.session_present, "persistent session lost across restart"
        assert sub.wait_message().payload == b"queued-while-offline"

    mosquitto.kill()
    assert not mosquitto.running
    assert not port_is_open(mosquitto.host, port)
    mosquitto.start()
    assert port_is_open(mosquitto.host, port)


# -- NATS ------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_nats_pub_sub_and_jetstream_ack(nats_server: NatsServer) -> None:
    nc = await nats.connect(nats_server.url, connect_timeout=WAIT, allow_reconnect=False)
    try:
        sub = await nc.subscribe("gatehouse.test.core")
        await nc.publish("gatehouse.test.core", b"ping")
        msg = await sub.next_msg(timeout=WAIT)
        assert msg.data == b"ping"

        js = nc.jetstream(timeout=WAIT)
        await js.add_stream(StreamConfig(name="HARNESS", subjects=["gatehouse.js.>"]))
        ack = await js.publish("gatehouse.js.one", b"stored")
        assert (ack.stream, ack.seq) == ("HARNESS", 1)
        stored = await js.get_msg("HARNESS", seq=1)
        assert stored.data == b"stored"
    finally:
        await nc.close()


async def publish_until_acked(
    js: JetStreamContext, subject: str, payload: bytes, msg_id: str
) -> PubAck:
    """Publish with retries while the cluster re-elects; the msg id de-duplicates retries."""
    deadline = time.monotonic() + 20.0
    while True:
        try:
            return await js.publish(subject, payload, timeout=1.0, headers={"Nats-Msg-Id": msg_id})
        except (
            nats.errors.TimeoutError,
            nats.errors.NoRespondersError,
            nats.js.errors.NoStreamResponseError,
            nats.js.errors.APIError,
        ) as exc:
            if time.monotonic() >= deadline:
                raise AssertionError(f"no JetStream ack for {msg_id} within 20s") from exc
            await anyio.sleep(0.05)  # back-off between retries, not synchronisation


@pytest.mark.anyio
async def test_nats_cluster_r3_stream_survives_node_loss(nats_cluster: NatsCluster) -> None:
    nc = await nats.connect(
        servers=nats_cluster.urls,
        connect_timeout=WAIT,
        reconnect_time_wait=0.1,
        max_reconnect_attempts=-1,
    )
    try:
        js = nc.jetstream(timeout=WAIT)
        info = await js.add_stream(StreamConfig(name="REPL", subjects=["repl.>"], num_replicas=3))
        assert info.config.num_replicas == 3
        for i in range(3):
            ack = await publish_until_acked(js, "repl.a", f"m{i}".encode(), f"m{i}")
            assert ack.seq == i + 1

        info = await js.stream_info("REPL")
        assert info.cluster is not None and info.cluster.leader is not None
        assert len(info.cluster.replicas or []) == 2
        # Take away the stream leader: the harder case, forcing a re-election.
        victim = nats_cluster.index_of(info.cluster.leader)
        await anyio.to_thread.run_sync(nats_cluster.stop_node, victim)
        assert not nats_cluster.nodes[victim].running

        for i in range(3, 6):
            ack = await publish_until_acked(js, "repl.a", f"m{i}".encode(), f"m{i}")
            assert ack.seq == i + 1 and not ack.duplicate
        info = await js.stream_info("REPL")
        assert info.state.messages == 6
        assert info.cluster is not None and info.cluster.leader != nats_cluster.server_names[victim]

        await anyio.to_thread.run_sync(nats_cluster.start_node, victim)
        # The rejoined replica must catch up on the 3 messages it missed.
        rejoined = nats_cluster.nodes[victim]
        deadline = time.monotonic() + 15.0
        while (jsz := await anyio.to_thread.run_sync(rejoined.jsz)).get("messages") != 6:
            assert time.monotonic() < deadline, jsz
            await anyio.sleep(0.05)
        ack = await publish_until_acked(js, "repl.a", b"m6", "m6")
        assert ack.seq == 7
    finally:
        await nc.close()
