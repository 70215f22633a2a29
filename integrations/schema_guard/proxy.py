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

**Threads.** One network thread (``netloop.py``) runs both paho clients, and the work
is done where the message is: it validates every message (``Guard.check``: a few µs,
bounded, see ``engine.py``), rewrites the topic, publishes a valid one to the egress,
takes the egress PUBACK/PUBCOMP and acknowledges the inbound messages now done. The
event loop sees only what needs it: rejected messages for the quarantine writer
(handed over in batches, one ``call_soon_threadsafe`` per batch) and the end of their
commit rounds (handed back with ``NetworkLoop.call_soon``, as is a replay's publish).
Before, every message crossed to the loop and back, which cost more than its
validation and tied forwarding to the loop's latency (3.5-5.8k msg/s, p99 75-81 ms at
5,000 msg/s); then a thread per client, whose two hand-overs per message (paho's
socket-pair wake-ups, the GIL, the lock ``publish`` shares with PUBACK handling) cost
as much again.

The acknowledgement FIFO, the awaited egress ids and the counters belong to the
network thread; only the quarantine hand-over list is shared (under a lock). The
guard has its own lock (the inline path checks messages in the loop at the same time).

**Sockets and decoding.** Both clients read and write through ``QuickAckSocket``
(gatehouse.core.helpers): one ``recv`` for many packets instead of three per packet,
``TCP_QUICKACK`` re-armed after each read (a broker with Nagle on otherwise holds a
burst's tail for the delayed ACK: 40 ms), writes coalesced into one ``send`` per
socket and turn, ``TCP_NODELAY``. ``pahoclient.py`` decodes PUBLISH and PUBACK
packets without paho's per-packet ``Properties`` objects (the largest cost measured).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
import threading
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final, TypeAlias, cast

import anyio
import paho.mqtt.client as paho
from anyio.streams.memory import MemoryObjectSendStream
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode, MQTTProtocolVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode
from paho.mqtt.subscribeoptions import SubscribeOptions

from gatehouse.core.helpers import BurstLog, TrackingContext, set_nodelay

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
    UNMATCHED_RULE,
)
from .engine import Guard
from .metrics import RuleMetrics
from .netloop import NetworkLoop
from .pahoclient import ProxyClient
from .verdict import Rejected
from .writer import QuarantineWriter, Round

_LOGGER = logging.getLogger(__name__)

_new_properties: Final[Callable[[int], Properties]] = Properties  # untyped in paho
#: Seconds between retries of a quarantine round that failed or was refused (full).
_RETRY_DELAY: Final = 0.2
#: Seconds a replayed message waits for the egress PUBACK before the replay gives up.
_REPLAY_TIMEOUT: Final = 10.0
#: Rejected QoS 0 messages waiting for the loop beyond which more are not kept (QoS 1/2
#: ones are bounded by the ingress window and always kept: they are unacknowledged).
_INBOX_MAX: Final = 10_000


@dataclass(slots=True)
class _Pending:
    """An inbound QoS 1/2 message waiting for its acknowledgement."""

    mid: int
    qos: int
    done: bool = False
    #: The governing rule's counters, for ``forwarded`` once the egress acknowledged.
    metrics: RuleMetrics | None = None


#: What waits for an egress PUBACK: an inbound message, or a replay's callback.
_Waiter: TypeAlias = _Pending | Callable[[bool], None]
#: A rejected message on its way to the quarantine.
_Rejection: TypeAlias = tuple[Rejected, bytes, _Pending | None]


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


def _tls_context(tls: Any) -> TrackingContext | None:
    if not tls:
        return None
    tls = tls if isinstance(tls, Mapping) else {}
    context = TrackingContext(ssl.PROTOCOL_TLS_CLIENT)  # CERT_REQUIRED, check_hostname
    if tls.get(CONF_CA_CERTS):
        context.load_verify_locations(cafile=tls[CONF_CA_CERTS])
    else:
        context.load_default_certs()
    if tls.get(CONF_CERTFILE):
        context.load_cert_chain(tls[CONF_CERTFILE], tls.get(CONF_KEYFILE))
    return context


def _client(settings: Mapping[str, Any], client_id: str, **kwargs: Any) -> ProxyClient:
    client = ProxyClient(CallbackAPIVersion.VERSION2, client_id=client_id, **kwargs)
    if settings.get(CONF_USERNAME) is not None:
        client.username_pw_set(settings[CONF_USERNAME], settings.get(CONF_PASSWORD))
    context = _tls_context(settings.get(CONF_TLS))
    if context is not None:
        client.tls_set_context(context)
        client.tracking = context
    client.reconnect_delay_set(1, 10)
    client.on_socket_open = _nodelay
    return client


def _nodelay(client: paho.Client, userdata: Any, sock: Any) -> None:
    # paho writes one packet per send(); with Nagle on, a pipelined run of publishes
    # or acknowledgements stalls on the peer's delayed ACK (40 ms on Linux).
    set_nodelay(sock)


def _paho_inflight(max_inflight: int, receive_maximum: int) -> int:
    """paho's own in-flight limit for the egress, 0 (none) when the ingress window is
    the tighter bound anyway: every forwarded QoS 1/2 message is an unacknowledged
    inbound one, so at most ``receive_maximum`` are in flight (plus one replay). With a
    limit set, paho scans all its outgoing messages on every PUBACK, under the lock
    ``publish`` needs (``_update_inflight``): O(window) per message, measured as the
    largest cost of the egress thread at 1,000 in flight."""
    return 0 if max_inflight >= receive_maximum else max_inflight


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
    #: Rejected QoS 0 messages not kept: the loop was too far behind (``_INBOX_MAX``).
    overflow: int = 0


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
        #: Per-rule counters by rule name (the objects live as long as the guard).
        self._metrics: Mapping[str, RuleMetrics] = guard.metrics()
        self._key = key
        # Network thread only:
        self._order: deque[_Pending] = deque()
        self._waiting: dict[int, _Waiter] = {}
        self._early: dict[int, bool] = {}
        # Network thread → loop, under the lock:
        self._lock = threading.Lock()
        self._inbox: list[_Rejection] = []
        self._scheduled = False
        # Loop only:
        self._rounds: dict[Round, list[_Rejection]] = {}
        self._retry: list[_Rejection] = []
        self._retry_wake = anyio.Event()
        self._new_round: MemoryObjectSendStream[Round] | None = None
        self._call_soon_threadsafe: Callable[..., Any] | None = None
        self._overflow_log = BurstLog(
            _LOGGER,
            "schema_guard proxy: the loop is behind; rejected QoS 0 messages are not "
            "quarantined (%(waiting)d waiting)",
            "schema_guard proxy: quarantine hand-over caught up after %(count)d lost",
            waiting=_INBOX_MAX,
        )
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
        self._egress.max_inflight_messages_set(_paho_inflight(
            int(self._out_cfg[CONF_MAX_INFLIGHT]), int(self._in_cfg[CONF_RECEIVE_MAXIMUM])))
        self._egress.max_queued_messages_set(0)  # bounded by the ingress window
        self._ingress.on_connect = self._on_ingress_connect
        self._ingress.on_disconnect = self._on_ingress_disconnect
        self._ingress.on_message = self._on_paho_message
        self._ingress.message_sink = self._on_message
        self._ingress.on_subscribe = self._on_subscribe
        self._egress.on_connect = self._on_egress_connect
        self._egress.on_disconnect = self._on_egress_disconnect
        self._egress.on_publish = self._on_egress_ack
        self._net = NetworkLoop([self._ingress, self._egress], f"schema_guard {key} proxy")

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
            ingress.connect_async(self._in_cfg[CONF_BROKER], _port(self._in_cfg),
                                  int(self._in_cfg[CONF_KEEPALIVE]), clean_start=False,
                                  properties=props)
            self._net.start()
            async with anyio.create_task_group() as group:
                group.start_soon(self._retry_loop)
                async with receive:
                    async for current in receive:
                        group.start_soon(self._watch, current)
        finally:
            self._new_round = None
            self._call_soon_threadsafe = None
            send.close()
            with anyio.CancelScope(shield=True):
                await anyio.to_thread.run_sync(self._stop_clients)

    def _stop_clients(self) -> None:
        self._net.stop()
        # Ingress first: nothing more comes in; what is unacknowledged stays with the broker.
        # With the network thread gone, paho writes the DISCONNECT in this thread.
        for client in (self._ingress, self._egress):
            client.disconnect()
            sock = client.socket()
            if sock is not None:  # the DISCONNECT did not go out at once
                with contextlib.suppress(OSError):
                    sock.close()

    # -- the network thread: messages ---------------------------------------------------

    def _on_paho_message(self, client: paho.Client, userdata: Any,
                         msg: paho.MQTTMessage) -> None:
        """Only if paho no longer calls ``_Client._handle_on_message``."""
        self._on_message(msg)

    def _on_message(self, msg: paho.MQTTMessage) -> None:
        """Validate, then forward, quarantine or drop."""
        stats = self.stats
        stats.received += 1
        qos = msg.qos
        pending: _Pending | None = None
        if qos:
            pending = _Pending(msg.mid, qos)
            self._order.append(pending)
        try:
            topic = msg.topic
        except UnicodeDecodeError:
            self._settle(pending, "failed")
            return
        payload = cast(bytes, msg.payload)  # paho hands bytes
        try:
            verdict = self._guard.check(topic, payload, None, store=False,
                                        transport=PROXY_TRANSPORT)
        except Exception:  # a defect must not end the thread or hold the window
            _LOGGER.exception("schema_guard proxy: checking a message on %r failed", topic)
            self._settle(pending, "failed")
            return
        if not isinstance(verdict, Rejected):
            metrics = self._metrics.get(verdict.rule or UNMATCHED_RULE)
            if pending is not None:
                pending.metrics = metrics
            self._forward(self._rewrite(topic), payload, qos, bool(msg.retain), pending,
                          metrics)
        elif verdict.action == QUARANTINE:
            self._hand_over((verdict, payload, pending))
        else:
            self._settle(pending, "dropped")

    def _settle(self, pending: _Pending | None, outcome: str) -> None:
        """Count a message that is done here (dropped, failed) and acknowledge it."""
        stats = self.stats
        setattr(stats, outcome, getattr(stats, outcome) + 1)
        if pending is not None:
            pending.done = True
            self._ack_ready()

    def _forward(self, topic: str, payload: bytes, qos: int, retain: bool,
                 pending: _Pending | None, metrics: RuleMetrics | None) -> None:
        try:
            info = self._egress.publish(topic, payload, qos, retain)
        except ValueError as err:  # a rewritten topic the broker cannot take
            _LOGGER.warning("schema_guard proxy: cannot forward to %r: %s", topic, err)
            self._settle(pending, "failed")
            return
        if pending is None:
            if info.rc == MQTTErrorCode.MQTT_ERR_SUCCESS:
                self.stats.forwarded += 1
                if metrics is not None:
                    metrics.forwarded += 1
            return
        if info.rc not in (MQTTErrorCode.MQTT_ERR_SUCCESS, MQTTErrorCode.MQTT_ERR_NO_CONN):
            _LOGGER.warning("schema_guard proxy: egress publish failed: %s", info.rc)
        self._await_egress(info.mid, pending)

    def _await_egress(self, mid: int, waiter: _Waiter) -> None:
        """Register what waits for egress message ``mid``, or settle it at once if its
        PUBACK already came (paho read it before ``publish`` returned)."""
        ok = self._early.pop(mid, None)
        if ok is None:
            self._waiting[mid] = waiter
        elif isinstance(waiter, _Pending):
            self._egress_done(waiter, ok)
        else:
            waiter(ok)

    def _on_egress_ack(self, client: paho.Client, userdata: Any, mid: int,
                       reason: ReasonCode, properties: Properties | None) -> None:
        ok = not reason.is_failure
        waiter = self._waiting.pop(mid, None)
        if waiter is None:
            self._early[mid] = ok
        elif isinstance(waiter, _Pending):
            self._egress_done(waiter, ok)
        else:
            waiter(ok)

    def _egress_done(self, pending: _Pending, ok: bool) -> None:
        """The egress broker answered for a forwarded message."""
        if ok:
            self.stats.forwarded += 1
            if pending.metrics is not None:
                pending.metrics.forwarded += 1
        else:  # refused by the egress broker: nothing more can be done with it
            self.stats.failed += 1
        pending.done = True
        self._ack_ready()

    def _ack_ready(self) -> None:
        """Acknowledge the messages at the head of the FIFO that are done (in order)."""
        order = self._order
        ack = self._ingress.ack
        acked = 0
        while order and order[0].done:
            pending = order.popleft()
            ack(pending.mid, pending.qos)
            acked += 1
        self.stats.acked += acked

    def _hand_over(self, item: _Rejection) -> None:
        """A rejected message to the loop, which owns the quarantine writer."""
        with self._lock:
            if item[2] is None and len(self._inbox) >= _INBOX_MAX:
                self.stats.overflow += 1
                self._overflow_log.hit()
                return
            self._inbox.append(item)
            if self._scheduled:
                return
            self._scheduled = True
        call = self._call_soon_threadsafe
        if call is not None:
            with contextlib.suppress(RuntimeError):  # the loop is closed: host gone
                call(self._drain)

    def _committed(self, pendings: list[_Pending | None]) -> None:
        """Quarantined messages are on disk (or, QoS 0, handed to the writer)."""
        self.stats.quarantined += len(pendings)
        for pending in pendings:
            if pending is not None:
                pending.done = True
        self._ack_ready()

    # -- the network thread: connections ---------------------------------------------

    def _on_ingress_connect(self, client: paho.Client, userdata: Any, flags: Any,
                            reason: ReasonCode, properties: Properties | None) -> None:
        if reason.is_failure:
            _LOGGER.warning("schema_guard proxy: ingress broker refused: %s", reason)
            return
        self._net.connected(client)
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
        else:
            self._net.connected(client)

    def _on_egress_disconnect(self, client: paho.Client, userdata: Any, flags: Any,
                              reason: ReasonCode, properties: Properties | None) -> None:
        self.egress_connected = False

    # -- the loop: quarantine ----------------------------------------------------------

    def _drain(self) -> None:
        with self._lock:
            batch, self._inbox = self._inbox, []
            self._scheduled = False
        handed: list[_Pending | None] = []
        for verdict, payload, pending in batch:
            if pending is None:
                self._writer.submit(verdict, payload)  # QoS 0: nobody to acknowledge
                handed.append(None)
            else:
                self._quarantine(verdict, payload, pending)
        if handed:
            self._net.call_soon(lambda: self._committed(handed))

    def _quarantine(self, verdict: Rejected, payload: bytes, pending: _Pending) -> None:
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
            pendings = [pending for _, _, pending in waiting]
            self._net.call_soon(lambda: self._committed(pendings))
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
            if self._overflow_log.burst:
                with self._lock:
                    self._overflow_log.calm()
            retry, self._retry = self._retry, []
            for verdict, payload, pending in retry:
                if pending is not None:
                    self._quarantine(verdict, payload, pending)

    # -- replay ------------------------------------------------------------------------

    async def replay(self, topic: str, payload: bytes) -> None:
        """A quarantined proxy message that passes now: forwarded (QoS 1), and only
        marked replayed once the egress broker acknowledged it. With the egress away
        (or silent for ``_REPLAY_TIMEOUT``) it raises, which ends the replay with that
        reason instead of hanging the service call."""
        call = self._call_soon_threadsafe
        if call is None:
            raise RuntimeError("the proxy is not running")
        if not self.egress_connected:  # a replay must end, not wait for an outage
            raise RuntimeError("the egress broker is not connected")
        arrived = anyio.Event()
        outcome: list[bool | BaseException] = []

        def done(ok: bool | BaseException) -> None:
            outcome.append(ok)
            arrived.set()

        def answer(ok: bool | BaseException) -> None:  # in the network thread
            with contextlib.suppress(RuntimeError):
                call(done, ok)

        def publish() -> None:  # in the network thread
            try:
                info = self._egress.publish(self._rewrite(topic), payload, 1, False)
            except ValueError as err:
                answer(err)
                return
            self._await_egress(info.mid, answer)

        self._net.call_soon(publish)
        with anyio.move_on_after(_REPLAY_TIMEOUT):
            await arrived.wait()
        if not outcome:  # sent, maybe delivered later: not marked, a next replay repeats it
            raise RuntimeError(f"no acknowledgement from the egress broker within "
                               f"{_REPLAY_TIMEOUT:g} s")
        if isinstance(outcome[0], BaseException):
            raise RuntimeError(f"cannot forward {topic!r}: {outcome[0]}")
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
            "awaiting_egress": len(self._waiting),
            **{k: getattr(self.stats, k) for k in ProxyStats.__dataclass_fields__},
        }
