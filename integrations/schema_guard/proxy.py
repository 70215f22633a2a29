"""Proxy mode: ingress broker (or topic prefix) → egress broker (or prefix), valid only.

Every message on the ingress filters is checked by the guard; a valid one is published
to the egress with its topic rewritten (``rewrite``: the first ``from`` prefix that
matches becomes its ``to``), the same QoS and retain flag; an invalid one goes to the
quarantine (or is dropped, as its rule says). Nothing else reaches the egress.

**Acknowledgement after the fact.** The ingress client runs with paho's ``manual_ack``
and a persistent session (MQTT 5, ``clean_start`` False, ``session_expiry``): the
PUBACK (QoS 1) / PUBCOMP (QoS 2) of an inbound message is sent only once the message
was forwarded (the egress broker's PUBACK/PUBCOMP arrived) or committed to the
quarantine (a FULL-synced round, ``QuarantineWriter.submit_durable``), or dropped by
rule. A crash, a kill -9 or an unload in between leaves the message unacknowledged in
the broker's session, which redelivers it on the next connect: at least once, never
lost (a message forwarded but not yet acknowledged when the process died comes again:
the egress can see duplicates). QoS 2 has one window paho does not cover: between
its PUBREC and the broker's PUBREL the message lives only in paho's memory. The
ingress ``qos`` (default 2) caps what is kept, as MQTT delivers the lower of the
published and the subscribed QoS: ``qos: 1`` closes that window and forwards QoS 2
messages as QoS 1.

Acknowledgements leave in the order the messages arrived (MQTT 3.1.1 §4.6 asks it of
QoS 1): a FIFO of pending messages is acknowledged from its head while the head is
done. A run of bad messages therefore costs one quarantine round each (group commit:
many messages per fsync), and never stalls the subscription: the rounds are not
waited for in line, only their completion releases the acknowledgements.

**Egress outage.** paho keeps publishes made while the egress is away and sends them
after its reconnect; their inbound messages stay unacknowledged meanwhile, so the
ingress broker stops sending at ``receive_maximum`` messages in flight (MQTT 5 flow
control) and queues the rest in the session. Memory is bounded by that window.

**Threads.** Each client has paho's network thread. Inbound messages and egress
acknowledgements are handed to the event loop in batches (one ``call_soon_threadsafe``
per batch, like the mqtt integration's bridge); the guard, the rewrite, the publish
and the acknowledgements all run in the loop, so no state is shared across threads
except the hand-over list (under a lock).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import ssl
import threading
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final, cast

import anyio
import paho.mqtt.client as paho
from anyio.streams.memory import MemoryObjectSendStream
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode, MQTTProtocolVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode
from paho.mqtt.subscribeoptions import SubscribeOptions

from .const import (
    CONF_BROKER,
    CONF_CA_CERTS,
    CONF_CERTFILE,
    CONF_CLIENT_ID,
    CONF_EGRESS,
    CONF_FROM,
    CONF_INGRESS,
    CONF_KEEPALIVE,
    CONF_KEYFILE,
    CONF_MAX_INFLIGHT,
    CONF_PASSWORD,
    CONF_PORT,
    CONF_QOS,
    CONF_RECEIVE_MAXIMUM,
    CONF_REWRITE,
    CONF_SESSION_EXPIRY,
    CONF_TLS,
    CONF_TO,
    CONF_TOPICS,
    CONF_USERNAME,
    PROXY_TRANSPORT,
    QUARANTINE,
)
from .engine import Guard
from .verdict import Rejected
from .writer import QuarantineWriter, Round

_LOGGER = logging.getLogger(__name__)

_new_properties: Final[Callable[[int], Properties]] = Properties  # untyped in paho
#: Seconds between retries of a quarantine round that failed or was refused (full).
_RETRY_DELAY: Final = 0.2


@dataclass(slots=True)
class _Pending:
    """An inbound QoS 1/2 message waiting for its acknowledgement."""

    mid: int
    qos: int
    done: bool = False


class Rewrite:
    """Topic rewrite: the first ``from`` prefix that matches is replaced by its ``to``."""

    __slots__ = ("_rules",)

    def __init__(self, rules: list[tuple[str, str]]) -> None:
        self._rules = rules

    def __call__(self, topic: str) -> str:
        for old, new in self._rules:
            if topic.startswith(old):
                return new + topic[len(old):]
        return topic


def _tls_context(tls: Any) -> ssl.SSLContext | None:
    if not tls:
        return None
    tls = tls if isinstance(tls, Mapping) else {}
    context = ssl.create_default_context(cafile=tls.get(CONF_CA_CERTS))
    if tls.get(CONF_CERTFILE):
        context.load_cert_chain(tls[CONF_CERTFILE], tls.get(CONF_KEYFILE))
    return context


def _client(settings: Mapping[str, Any], client_id: str, **kwargs: Any) -> paho.Client:
    client = paho.Client(CallbackAPIVersion.VERSION2, client_id=client_id, **kwargs)
    if settings.get(CONF_USERNAME) is not None:
        client.username_pw_set(settings[CONF_USERNAME], settings.get(CONF_PASSWORD))
    context = _tls_context(settings.get(CONF_TLS))
    if context is not None:
        client.tls_set_context(context)
    client.reconnect_delay_set(1, 10)
    client.on_socket_open = _nodelay
    return client


_QUICKACK: Final[int | None] = getattr(socket, "TCP_QUICKACK", None)


def _nodelay(client: paho.Client, userdata: Any, sock: Any) -> None:
    # paho writes one packet per send(); with Nagle on, a pipelined run of publishes
    # or acknowledgements stalls on the peer's delayed ACK (40 ms on Linux).
    with contextlib.suppress(OSError, AttributeError):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


def _quickack(client: paho.Client) -> None:
    """ACK received data at once (Linux; not sticky, so set after each read): a
    broker with Nagle on (mosquitto's default) holds the rest of a batch until then."""
    if _QUICKACK is None:
        return
    sock: Any = client.socket()
    if sock is not None:
        with contextlib.suppress(OSError, AttributeError):
            sock.setsockopt(socket.IPPROTO_TCP, _QUICKACK, 1)


def _port(settings: Mapping[str, Any]) -> int:
    port = settings.get(CONF_PORT)
    if port is not None:
        return int(port)
    return 8883 if settings.get(CONF_TLS) else 1883


@dataclass(slots=True)
class ProxyStats:
    received: int = 0
    forwarded: int = 0
    quarantined: int = 0
    dropped: int = 0
    acked: int = 0
    failed: int = 0
    replayed: int = 0


class Proxy:
    """See the module docstring. ``run`` is the entry's task; ``close`` stops it."""

    def __init__(self, config: Mapping[str, Any], guard: Guard, writer: QuarantineWriter,
                 key: str) -> None:
        self._guard = guard
        self._writer = writer
        self._in_cfg = config[CONF_INGRESS]
        self._out_cfg = config[CONF_EGRESS]
        self._rewrite = Rewrite([(r[CONF_FROM], r[CONF_TO]) for r in config[CONF_REWRITE]])
        self.stats = ProxyStats()
        self._key = key
        self._lock = threading.Lock()
        self._inbox: list[Any] = []
        self._scheduled = False
        self._order: deque[_Pending] = deque()
        self._egress_waiting: dict[int, Callable[[bool], None]] = {}
        self._rounds: dict[Round, list[tuple[Rejected, bytes, _Pending]]] = {}
        self._retry: list[tuple[Rejected, bytes, _Pending]] = []
        self._retry_wake = anyio.Event()
        self._new_round: MemoryObjectSendStream[Round] | None = None
        self._call_soon_threadsafe: Callable[..., Any] | None = None
        self.ingress_connected = False
        #: True once the broker acknowledged the ingress subscriptions (SUBACK).
        self.subscribed = False
        self.egress_connected = False
        self._ingress = _client(
            self._in_cfg, self._in_cfg.get(CONF_CLIENT_ID) or f"gatehouse-guard-{key}-in",
            protocol=MQTTProtocolVersion.MQTTv5, manual_ack=True,
        )
        self._egress = _client(
            self._out_cfg, self._out_cfg.get(CONF_CLIENT_ID) or f"gatehouse-guard-{key}-out",
            protocol=MQTTProtocolVersion.MQTTv311, clean_session=True,
        )
        self._egress.max_inflight_messages_set(int(self._out_cfg[CONF_MAX_INFLIGHT]))
        self._egress.max_queued_messages_set(0)  # bounded by the ingress window
        self._ingress.on_connect = self._on_ingress_connect
        self._ingress.on_disconnect = self._on_ingress_disconnect
        self._ingress.on_message = self._on_message
        self._ingress.on_subscribe = self._on_subscribe
        self._egress.on_connect = self._on_egress_connect
        self._egress.on_disconnect = self._on_egress_disconnect
        self._egress.on_publish = self._on_egress_ack

    # -- lifecycle ---------------------------------------------------------------------

    async def run(self) -> None:
        """Connect both sides (in the background: a broker away is a state), then watch
        quarantine rounds until cancelled; on the way out disconnect without
        acknowledging anything further (the session keeps the rest)."""
        loop = asyncio.get_running_loop()
        self._call_soon_threadsafe = loop.call_soon_threadsafe
        send, receive = anyio.create_memory_object_stream[Round](max_buffer_size=1_000_000)
        self._new_round = send
        egress, ingress = self._egress, self._ingress
        props = _new_properties(PacketTypes.CONNECT)
        props.SessionExpiryInterval = int(self._in_cfg[CONF_SESSION_EXPIRY])
        props.ReceiveMaximum = int(self._in_cfg[CONF_RECEIVE_MAXIMUM])
        try:
            egress.connect_async(self._out_cfg[CONF_BROKER], _port(self._out_cfg),
                                 int(self._out_cfg[CONF_KEEPALIVE]))
            egress.loop_start()
            ingress.connect_async(self._in_cfg[CONF_BROKER], _port(self._in_cfg),
                                  int(self._in_cfg[CONF_KEEPALIVE]), clean_start=False,
                                  properties=props)
            ingress.loop_start()
            async with anyio.create_task_group() as group:
                group.start_soon(self._retry_loop)
                async with receive:
                    async for current in receive:
                        group.start_soon(self._watch, current)
        finally:
            self._new_round = None
            send.close()
            with anyio.CancelScope(shield=True):
                await anyio.to_thread.run_sync(self._stop_clients)

    def _stop_clients(self) -> None:
        # Ingress first: nothing more comes in; what is unacknowledged stays with the broker.
        for client in (self._ingress, self._egress):
            client.disconnect()
            client.loop_stop()

    # -- paho threads ------------------------------------------------------------------

    def _hand_over(self, item: Any) -> None:
        with self._lock:
            self._inbox.append(item)
            if self._scheduled:
                return
            self._scheduled = True
        call = self._call_soon_threadsafe
        if call is not None:
            with contextlib.suppress(RuntimeError):  # the loop is closed: host gone
                call(self._drain)

    def _on_message(self, client: paho.Client, userdata: Any, msg: paho.MQTTMessage) -> None:
        _quickack(client)
        self._hand_over(msg)

    def _on_egress_ack(self, client: paho.Client, userdata: Any, mid: int,
                       reason: ReasonCode, properties: Properties | None) -> None:
        _quickack(client)
        self._hand_over((mid, not reason.is_failure))

    def _on_ingress_connect(self, client: paho.Client, userdata: Any, flags: Any,
                            reason: ReasonCode, properties: Properties | None) -> None:
        if reason.is_failure:
            _LOGGER.warning("schema_guard proxy: ingress broker refused: %s", reason)
            return
        self.ingress_connected = True
        qos = int(self._in_cfg[CONF_QOS])
        # Retained messages only for a new subscription: a resumed session must not
        # get (and forward) them again on every reconnect.
        client.subscribe([(f, SubscribeOptions(qos=qos, retainHandling=1))
                          for f in self._in_cfg[CONF_TOPICS]])
        _LOGGER.info("schema_guard proxy: ingress connected (session present: %s)",
                     getattr(flags, "session_present", None))

    def _on_subscribe(self, client: paho.Client, userdata: Any, mid: int,
                      reasons: list[ReasonCode], properties: Properties | None) -> None:
        refused = [r for r in reasons if r.is_failure]
        if refused:
            _LOGGER.warning("schema_guard proxy: ingress subscription refused: %s", refused[0])
        self.subscribed = not refused

    def _on_ingress_disconnect(self, client: paho.Client, userdata: Any, flags: Any,
                               reason: ReasonCode, properties: Properties | None) -> None:
        self.ingress_connected = self.subscribed = False

    def _on_egress_connect(self, client: paho.Client, userdata: Any, flags: Any,
                           reason: ReasonCode, properties: Properties | None) -> None:
        self.egress_connected = not reason.is_failure
        if reason.is_failure:
            _LOGGER.warning("schema_guard proxy: egress broker refused: %s", reason)

    def _on_egress_disconnect(self, client: paho.Client, userdata: Any, flags: Any,
                              reason: ReasonCode, properties: Properties | None) -> None:
        self.egress_connected = False

    # -- the loop ----------------------------------------------------------------------

    def _drain(self) -> None:
        with self._lock:
            batch, self._inbox = self._inbox, []
            self._scheduled = False
        message_cls = paho.MQTTMessage
        for item in batch:
            if item.__class__ is message_cls:
                self._handle(item)
            else:
                mid, ok = item
                done = self._egress_waiting.pop(mid, None)
                if done is not None:
                    done(ok)
        self._ack_ready()

    def _handle(self, msg: paho.MQTTMessage) -> None:
        stats = self.stats
        stats.received += 1
        qos = msg.qos
        pending = _Pending(msg.mid, qos) if qos else None
        if pending is not None:
            self._order.append(pending)
        try:
            topic = msg.topic
        except UnicodeDecodeError:
            stats.failed += 1
            if pending is not None:
                pending.done = True
            return
        payload = cast(bytes, msg.payload)  # paho hands bytes
        verdict = self._guard.check(topic, payload, None, store=False,
                                    transport=PROXY_TRANSPORT)
        if not isinstance(verdict, Rejected):
            self._forward(self._rewrite(topic), payload, qos, bool(msg.retain), pending)
        elif verdict.action == QUARANTINE:
            stats.quarantined += 1
            self._quarantine(verdict, payload, pending)
        else:
            stats.dropped += 1
            if pending is not None:
                pending.done = True

    def _forward(self, topic: str, payload: bytes, qos: int, retain: bool,
                 pending: _Pending | None) -> None:
        try:
            info = self._egress.publish(topic, payload, qos, retain)
        except ValueError as err:  # a rewritten topic the broker cannot take
            _LOGGER.warning("schema_guard proxy: cannot forward to %r: %s", topic, err)
            self.stats.failed += 1
            if pending is not None:
                pending.done = True
            return
        if pending is None:
            if info.rc == MQTTErrorCode.MQTT_ERR_SUCCESS:
                self.stats.forwarded += 1
            return
        if info.rc not in (MQTTErrorCode.MQTT_ERR_SUCCESS, MQTTErrorCode.MQTT_ERR_NO_CONN):
            _LOGGER.warning("schema_guard proxy: egress publish failed: %s", info.rc)

        def acked(ok: bool) -> None:
            if ok:
                self.stats.forwarded += 1
            else:  # refused by the egress broker: nothing more can be done with it
                self.stats.failed += 1
            pending.done = True

        self._egress_waiting[info.mid] = acked

    def _quarantine(self, verdict: Rejected, payload: bytes,
                    pending: _Pending | None) -> None:
        if pending is None:
            self._writer.submit(verdict, payload)  # QoS 0: nobody to acknowledge
            return
        current = self._writer.submit_durable(verdict, payload)
        if current is None:  # over the writer's bound: keep it, unacknowledged, for later
            self._retry.append((verdict, payload, pending))
            self._retry_wake.set()
            return
        waiting = self._rounds.get(current)
        if waiting is None:
            waiting = self._rounds[current] = []
            if self._new_round is None:  # stopping: stays unacknowledged, redelivered
                return
            self._new_round.send_nowait(current)
        waiting.append((verdict, payload, pending))

    async def _watch(self, current: Round) -> None:
        await current.done.wait()
        waiting = self._rounds.pop(current, [])
        if current.error is None:
            for _, _, pending in waiting:
                pending.done = True
            self._ack_ready()
            return
        # The commit failed (disk): not acknowledged; the retry loop tries again.
        _LOGGER.warning("schema_guard proxy: quarantine commit failed (%s); %d messages "
                        "stay unacknowledged and are retried", current.error, len(waiting))
        self._retry.extend(waiting)
        self._retry_wake.set()

    async def _retry_loop(self) -> None:
        while True:
            await self._retry_wake.wait()
            self._retry_wake = anyio.Event()
            await anyio.sleep(_RETRY_DELAY)
            await self._writer.flush()
            retry, self._retry = self._retry, []
            for verdict, payload, pending in retry:
                self._quarantine(verdict, payload, pending)

    def _ack_ready(self) -> None:
        order = self._order
        ack = self._ingress.ack
        acked = 0
        while order and order[0].done:
            pending = order.popleft()
            ack(pending.mid, pending.qos)
            acked += 1
        self.stats.acked += acked

    # -- replay ------------------------------------------------------------------------

    async def replay(self, topic: str, payload: bytes) -> None:
        """A quarantined proxy message that passes now: forwarded (QoS 1), and only
        marked replayed once the egress broker acknowledged it."""
        if self._call_soon_threadsafe is None:
            raise RuntimeError("the proxy is not running")
        info = self._egress.publish(self._rewrite(topic), payload, 1, False)
        arrived = anyio.Event()
        outcome: list[bool] = []

        def acked(ok: bool) -> None:
            outcome.append(ok)
            arrived.set()

        self._egress_waiting[info.mid] = acked
        await arrived.wait()
        if not outcome[0]:
            raise RuntimeError(f"the egress broker refused {topic!r}")
        self.stats.replayed += 1

    def diagnostics(self) -> dict[str, Any]:
        return {
            "ingress": {"broker": self._in_cfg[CONF_BROKER], "port": _port(self._in_cfg),
                        "connected": self.ingress_connected, "subscribed": self.subscribed},
            "egress": {"broker": self._out_cfg[CONF_BROKER], "port": _port(self._out_cfg),
                       "connected": self.egress_connected},
            "unacknowledged": len(self._order),
            "awaiting_egress": len(self._egress_waiting),
            **{k: getattr(self.stats, k) for k in ProxyStats.__dataclass_fields__},
        }
