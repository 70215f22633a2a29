"""paho-mqtt wrapped for the event loop: one ``MqttConnection`` per config entry.

(Settings are read in ``config.py``, the TLS context made in ``tls.py``; paho's faster
receive path is in ``transport.py``.)

Threads: paho's network loop runs in its own thread (``loop_start``) and keeps the
connection alive, reconnecting with backoff (``reconnect_delay_set``) after a broker
loss; it resends unacknowledged QoS 1/2 publishes itself. Everything paho reports —
received messages, publish acknowledgements, connects and disconnects — goes through
one ``ThreadBridge`` into the loop, in the order paho saw it, and every consumer runs
there. The only calls made *from* the loop into paho are ``publish``, ``subscribe`` and
``unsubscribe`` (queue a packet and wake the network thread: no I/O, short locks) and,
off the loop in a worker thread, the blocking first connect and ``loop_stop``.

On every (re)connect the network thread itself re-subscribes every filter in use and
publishes the birth message, before any queued publish goes out; the loop learns of the
connect afterwards.

Governed subscriptions (``subscribe(..., governed=True)``: entity state topics) pass
each message through the core ingress hook (``gatehouse.core.helpers.ingress_guard``;
schema_guard installs itself there) once per message, before any governed callback
runs; a message the guard refuses reaches none of them (counted: ``rejected``), while
the other subscribers of the topic (availability, discovery, the API) still get it.
Without a guard the check is one method call returning a constant. ``replay`` is the
way back in for a quarantined message that passes after a schema fix: to the governed
callbacks only (the others had it when it arrived), without a second check.

Boot while the broker is down: an entry must load anyway, so that ``mqtt.publish`` exists
and QoS 1/2 messages are queued in the outbox instead of refused. ``start(keep_trying=
True)`` therefore treats "nobody answers" (connection refused, no route, DNS, no CONNACK
in time) as a state, not an error: the network thread keeps trying in the background
with paho's reconnect backoff, and listeners hear of the first connect like of any
reconnect. A broker that answers and says no (credentials, certificates) is still an
error: waiting would not fix it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import ssl
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Final, cast

import anyio
import anyio.to_thread
import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from gatehouse.core import Host
from gatehouse.core.helpers import TrackingContext, ingress_guard

from .api import MessageCallback, MqttMessage, Unsubscribe
from .bridge import ThreadBridge
from .errors import ConnectError
from .topics import TopicRouter
from .transport import FastClient, RawMessage

if TYPE_CHECKING:
    from .config import ConnectionSettings

_LOGGER = logging.getLogger(__name__)

MQTTMessage = paho.MQTTMessage
_new_tuple = tuple.__new__

#: Publishes paho keeps in flight (sent, awaiting PUBACK) before queueing the rest.
#: paho's default of 20 would cap outbox delivery at 20 round trips' worth per batch.
MAX_INFLIGHT: Final = 1000
RECONNECT_MIN_DELAY: Final = 1
RECONNECT_MAX_DELAY: Final = 30
#: Filters per SUBSCRIBE packet when (re)subscribing many at once.
SUBSCRIBE_CHUNK: Final = 200

_QUICKACK: int | None = getattr(socket, "TCP_QUICKACK", None)

#: CONNACK reasons that retrying with the same settings cannot fix.
_AUTH_REASONS: Final = frozenset({"Bad user name or password", "Not authorized", "Banned"})

#: paho's ``Properties`` constructor is untyped; this is its signature, declared once.
_new_properties = cast(Callable[[int], Properties], Properties)


class _ConnectionChange:
    """Bridge item: a CONNACK (``connack`` True; accepted or refused) or a disconnect.

    ``filters`` is the subscription set the network thread restored on connect, so the
    loop can catch up with filters that changed while the news was on its way.
    """

    __slots__ = ("connack", "connected", "filters", "reason")

    def __init__(
        self,
        connected: bool,
        reason: ReasonCode | None,
        *,
        connack: bool,
        filters: dict[str, int] | None = None,
    ) -> None:
        self.connected = connected
        self.reason = reason
        self.connack = connack
        self.filters = filters


class _Subscribed:
    """Bridge item: SUBSCRIBE packets the network thread sent (their mids)."""

    __slots__ = ("mids",)

    def __init__(self, mids: list[int]) -> None:
        self.mids = mids


class _SubAck:
    """Bridge item: a SUBACK."""

    __slots__ = ("mid",)

    def __init__(self, mid: int) -> None:
        self.mid = mid


class _Governed:
    """A subscriber whose messages pass the ingress guard first (see the module
    docstring); the router holds this wrapper instead of the bare callback."""

    __slots__ = ("callback",)

    def __init__(self, callback: MessageCallback) -> None:
        self.callback = callback

    def __call__(self, message: MqttMessage) -> None:
        self.callback(message)

    def __repr__(self) -> str:
        return f"<governed {self.callback!r}>"


#: The transport name quarantined MQTT messages are recorded with.
TRANSPORT: Final = "mqtt"

AckHandler = Callable[[int, "ReasonCode | None"], None]
ConnectionListener = Callable[[bool], None]


class MqttConnection:
    """One broker connection (see the module docstring)."""

    def __init__(
        self,
        host: Host,
        settings: ConnectionSettings,
        entry_id: str,
        tls_context: ssl.SSLContext | None = None,
    ) -> None:
        self.host = host
        self.settings = settings
        self.entry_id = entry_id
        self.connected = False
        self.router: TopicRouter[MessageCallback] = TopicRouter()
        self._ingress = ingress_guard(host)
        #: Messages on governed subscriptions the ingress guard refused.
        self.rejected = 0
        #: Filter → QoS we want at the broker: the loop's own, changed in place.
        self._filters: dict[str, int] = {}
        #: A snapshot of ``_filters`` for the network thread (it re-subscribes them on
        #: connect). Replaced, never mutated, so the thread can iterate the dict it read;
        #: taken once per batch of changes (``_publish_filters``), not per subscription,
        #: which would copy the whole dict for each of ten thousand entities.
        self._broker_filters: dict[str, int] = {}
        self._pending_subscribe: set[str] = set()
        self._suback_pending: set[int] = set()
        self._suback_done = anyio.Event()
        self._unsubscribe_later: set[str] = set()
        self._flush_scheduled = False
        self._listeners: list[ConnectionListener] = []
        #: Called *in paho's network thread* for each PUBACK/PUBCOMP (the outbox sender).
        self.on_ack: AckHandler | None = None
        self.connects = 0
        self.disconnects = 0
        self.last_error: str | None = None
        #: QoS 1/2 publishes the broker takes in flight (MQTT 5 CONNACK; else ours).
        self.receive_maximum = MAX_INFLIGHT
        #: True when the last CONNACK refused us (versus a connection that died).
        self.refused = False
        self._connack = anyio.Event()
        #: True once start() returned: from then on the loop hears of every change.
        self._started = False
        self._closed = False
        self._loop_started = False
        # The host runs on asyncio; the bridge schedules its own follow-up drains.
        loop = asyncio.get_running_loop()
        self._call_soon = loop.call_soon
        self._bridge: ThreadBridge[Any] = ThreadBridge(
            host.call_soon_threadsafe, loop.call_later, self._handle
        )
        self._tls_context = tls_context
        self._client = self._make_client(tls_context)

    # -- construction ------------------------------------------------------------------

    def _make_client(self, tls_context: ssl.SSLContext | None) -> paho.Client:
        s = self.settings
        if s.is_v5:
            client = FastClient(
                CallbackAPIVersion.VERSION2,
                client_id=s.client_id,
                protocol=MQTTProtocolVersion.MQTTv5,
            )
        else:
            client = FastClient(
                CallbackAPIVersion.VERSION2,
                client_id=s.client_id,
                clean_session=s.clean_session,
                protocol=MQTTProtocolVersion.MQTTv311,
            )
        # A callback that raises must not kill the network thread; ours do not raise,
        # but a surprise in paho's own callback plumbing should cost a log line only.
        client.suppress_exceptions = True
        client.max_inflight_messages_set(MAX_INFLIGHT)
        client.max_queued_messages_set(0)
        client.reconnect_delay_set(RECONNECT_MIN_DELAY, RECONNECT_MAX_DELAY)
        client.connect_timeout = s.connect_timeout
        if s.username:
            client.username_pw_set(s.username, s.password)
        if tls_context is not None:
            client.tls_set_context(tls_context)
        if s.will is not None:
            client.will_set(s.will.topic, s.will.payload, s.will.qos, s.will.retain)
        client.on_socket_open = self._on_socket_open
        client.on_connect = self._on_connect
        client.on_connect_fail = self._on_connect_fail
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        client.message_sink = self._bridge.put
        client.on_publish = self._on_publish
        client.on_subscribe = self._on_subscribe
        return client

    # -- lifecycle -----------------------------------------------------------------------

    async def start(self, *, keep_trying: bool = False) -> None:
        """Connect and start the network thread; return once the broker accepted us.

        Raises ``ConnectError`` (and leaves nothing running) when the TLS handshake
        fails, the broker hangs up before CONNACK, or CONNACK refuses us, and also when
        the broker cannot be reached or does not answer in time, unless
        ``keep_trying``: then it returns disconnected, with the network thread trying
        again in the background (see the module docstring).
        """
        await self._first_connect(keep_trying)
        self._started = True

    async def _first_connect(self, keep_trying: bool) -> None:
        s = self.settings
        where = s.where
        try:
            await anyio.to_thread.run_sync(self._connect_blocking)
        except ssl.SSLCertVerificationError as err:
            self._close_socket()
            raise ConnectError(
                "tls",
                f"TLS certificate verification of {where} failed: "
                f"{err.verify_message or err} (is ca_certs the CA that signed the broker?)",
            ) from err
        except ssl.SSLError as err:
            self._close_socket()
            raise ConnectError("tls", f"TLS handshake with {where} failed: {err}") from err
        except OSError as err:
            self._close_socket()
            if not keep_trying:
                raise ConnectError(
                    "cannot_connect", f"cannot connect to {where}: {err}"
                ) from err
            self.last_error = f"cannot connect to {where}: {err}"
            _LOGGER.warning("MQTT broker %s unreachable (%s); trying in the background",
                            where, err)
            # Hand the first connect to the network thread (paho's CONNECT_ASYNC state).
            self._client.connect_async(s.broker, s.port, s.keepalive, **self._v5_connect_args())
            self._start_loop()
            return
        self._start_loop()
        try:
            with anyio.move_on_after(s.connect_timeout):
                await self._connack.wait()
        except BaseException:  # cancelled (the host is stopping): stop the thread
            with anyio.CancelScope(shield=True):
                await self.close()
            raise
        if self.connected:
            return
        reason, refused = self.last_error, self.refused
        if reason is None:
            message = f"no CONNACK from {where} within {s.connect_timeout:g} s"
            if keep_trying:
                # paho keeps the connection attempt (and its keepalive) going.
                self.last_error = message
                _LOGGER.warning("%s; trying in the background", message)
                return
            await self.close()
            raise ConnectError("timeout", message)
        await self.close()
        if not refused:
            raise ConnectError("cannot_connect", f"{where}: {reason}")
        raise ConnectError(
            "auth" if reason in _AUTH_REASONS else "refused",
            f"{where} refused the connection: {reason}",
        )

    def _start_loop(self) -> None:
        self._client.loop_start()
        self._loop_started = True

    def _v5_connect_args(self) -> dict[str, Any]:
        """``connect``'s MQTT 5 arguments (none for 3.1.1)."""
        s = self.settings
        if not s.is_v5:
            return {}
        properties = _new_properties(PacketTypes.CONNECT)
        if not s.clean_session:
            # Without an expiry an MQTT 5 session ends with the connection.
            properties.SessionExpiryInterval = s.session_expiry
        return {"clean_start": s.clean_session, "properties": properties}

    def _connect_blocking(self) -> None:
        s = self.settings
        self._client.connect(s.broker, s.port, s.keepalive, **self._v5_connect_args())

    def _close_socket(self) -> None:
        sock = self._client.socket()
        if sock is not None:
            sock.close()
        self._close_failed_tls_socket()

    def _close_failed_tls_socket(self) -> None:
        """Close a TLS socket paho abandoned after a failed handshake (any thread)."""
        context = self._tls_context
        if isinstance(context, TrackingContext):
            context.close_failed(self._client.socket())

    async def close(self) -> None:
        """Say ``offline`` (if a will is set), disconnect, stop the network thread.

        A graceful disconnect makes the broker discard the will, so the offline
        message is published explicitly first; packets leave in order, so the broker
        stores it before it sees DISCONNECT.
        """
        if self._closed:
            return
        self._closed = True
        self._bridge.close()
        client = self._client
        will = self.settings.will
        if self.connected and will is not None:
            client.publish(will.topic, will.payload, will.qos, will.retain)
        self.connected = False
        client.disconnect()
        if self._loop_started:
            # Joins the network thread (it exits within its select timeout): off the loop.
            with anyio.CancelScope(shield=True):
                await anyio.to_thread.run_sync(client.loop_stop)
        # loop_start made a socket pair to wake the network thread; paho only closes it
        # when the client object is collected, which a reference cycle can delay: close
        # it now so reloads do not leak descriptors.
        reset = getattr(client, "_reset_sockets", None)
        if reset is not None:
            reset()
        self._listeners.clear()
        self.on_ack = None

    @property
    def closed(self) -> bool:
        return self._closed

    def drop_connection(self) -> None:
        """Cut the TCP connection without DISCONNECT, as a crash would (tests, tools).

        The broker then publishes the will; paho reconnects as after any network loss.
        """
        sock: Any = self._client.socket()
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    # -- subscriptions -------------------------------------------------------------------

    def subscribe(
        self, topic_filter: str, callback: MessageCallback, qos: int = 0, *,
        governed: bool = False,
    ) -> Unsubscribe:
        """Route messages matching ``topic_filter`` to ``callback`` (in the loop);
        ``governed``: only messages the ingress guard passes (module docstring).

        Broker SUBSCRIBE packets are batched: filters added in one loop iteration (an
        entry adding a thousand entities) go out together right after it.
        """
        remove = self.router.add(topic_filter, _Governed(callback) if governed else callback)
        current = self._filters.get(topic_filter)
        self._unsubscribe_later.discard(topic_filter)
        if current is None or qos > current:
            self._filters[topic_filter] = qos
            self._pending_subscribe.add(topic_filter)
            self._schedule_flush()
        done = False

        def unsubscribe() -> None:
            nonlocal done
            if done:
                return
            done = True
            if remove():
                self._filters.pop(topic_filter, None)
                self._pending_subscribe.discard(topic_filter)
                self._unsubscribe_later.add(topic_filter)
                self._schedule_flush()

        return unsubscribe

    def _schedule_flush(self) -> None:
        if not self._flush_scheduled and not self._closed:
            self._flush_scheduled = True
            self._call_soon(self._flush_subscriptions)

    def _publish_filters(self) -> None:
        """Hand the network thread a fresh snapshot if the filters changed."""
        if self._broker_filters != self._filters:
            self._broker_filters = dict(self._filters)

    def _flush_subscriptions(self) -> None:
        self._flush_scheduled = False
        self._publish_filters()
        subscribe, self._pending_subscribe = self._pending_subscribe, set()
        unsubscribe, self._unsubscribe_later = self._unsubscribe_later, set()
        if self._closed or not self.connected:
            return  # the next connect subscribes every filter in _broker_filters
        filters = self._filters
        self._suback_pending.update(
            self._send_subscribe(self._client, [(f, filters[f]) for f in subscribe if f in filters])
        )
        gone = [f for f in unsubscribe if f not in filters]
        for start in range(0, len(gone), SUBSCRIBE_CHUNK):
            self._client.unsubscribe(gone[start : start + SUBSCRIBE_CHUNK])

    @staticmethod
    def _send_subscribe(client: paho.Client, pairs: list[tuple[str, int]]) -> list[int]:
        """SUBSCRIBE in chunks (a thousand entities make a thousand filters); the mids."""
        mids = []
        for start in range(0, len(pairs), SUBSCRIBE_CHUNK):
            _, mid = client.subscribe(pairs[start : start + SUBSCRIBE_CHUNK])
            if mid is not None:
                mids.append(mid)
        return mids

    async def wait_subscribed(self, timeout: float) -> bool:
        """Wait until the broker acknowledged every SUBSCRIBE sent so far (SUBACK).

        Only then does a message published by *another* client reach our filters; set-up
        waits for it so that "loaded" means "listening". Flushes pending filters first.
        False on timeout.
        """
        self._flush_subscriptions()
        with anyio.move_on_after(timeout):
            while self._suback_pending and self.connected:
                self._suback_done = anyio.Event()
                await self._suback_done.wait()
            return True
        return False

    def _suback(self, mid: int) -> None:
        self._suback_pending.discard(mid)
        if not self._suback_pending:
            self._suback_done.set()

    def _catch_up(self, restored: dict[str, int]) -> None:
        """Fix up filters that changed between the network thread's restore and now."""
        self._publish_filters()
        current = self._broker_filters
        if current is restored:
            return
        missing = [(f, q) for f, q in current.items() if restored.get(f, -1) < q]
        if missing:
            self._suback_pending.update(self._send_subscribe(self._client, missing))
        extra = [f for f in restored if f not in current]
        for start in range(0, len(extra), SUBSCRIBE_CHUNK):
            self._client.unsubscribe(extra[start : start + SUBSCRIBE_CHUNK])

    # -- publishing ----------------------------------------------------------------------

    def publish(self, topic: str, payload: bytes, qos: int, retain: bool) -> paho.MQTTMessageInfo:
        """Hand a publish to paho now (no outbox). Raises ``ValueError`` for a bad topic.

        QoS 0 while disconnected is dropped by paho (``rc`` says so); QoS 1/2 while
        disconnected is kept by paho and sent after the reconnect.
        """
        return self._client.publish(topic, payload, qos, retain)

    # -- connection listeners -------------------------------------------------------------

    def add_listener(self, listener: ConnectionListener) -> Unsubscribe:
        """``listener(connected)`` in the loop after each connect and disconnect, and
        when the reason the broker is unreachable changes (``last_error``)."""
        self._listeners.append(listener)

        def remove() -> None:
            if listener in self._listeners:
                self._listeners.remove(listener)

        return remove

    # -- paho callbacks (network thread) ---------------------------------------------------

    def _on_connect(
        self,
        client: paho.Client,
        userdata: Any,
        flags: paho.ConnectFlags,
        reason: ReasonCode,
        properties: Properties | None,
    ) -> None:
        filters = self._broker_filters
        receive_maximum = getattr(properties, "ReceiveMaximum", None)
        if isinstance(receive_maximum, int) and receive_maximum > 0:
            # An MQTT 5 broker says how many QoS 1/2 publishes it takes in flight;
            # paho neither enforces it nor lets us lower its limit while connected,
            # so the outbox sender keeps its batches within it.
            self.receive_maximum = receive_maximum
        if not reason.is_failure:
            # Always re-subscribe, even with session_present: a filter added while the
            # connection was going down may never have reached the broker.
            try:
                if filters:
                    mids = self._send_subscribe(client, list(filters.items()))
                    self._bridge.put(_Subscribed(mids))
                birth = self.settings.birth
                if birth is not None:
                    client.publish(birth.topic, birth.payload, birth.qos, birth.retain)
            except ValueError:
                _LOGGER.exception("Cannot restore subscriptions or send the birth message")
        self._bridge.put(
            _ConnectionChange(not reason.is_failure, reason, connack=True, filters=filters)
        )

    @staticmethod
    def _on_socket_open(client: paho.Client, userdata: Any, sock: Any) -> None:
        # paho writes one PUBLISH per send(); with Nagle's algorithm on, a pipelined
        # batch stalls on the broker's delayed ACK (40 ms a round on Linux).
        with contextlib.suppress(OSError, AttributeError):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def quickack(self) -> None:
        """Ask the kernel to ACK received data at once (Linux; any thread).

        Most brokers (mosquitto's default) leave Nagle's algorithm on: after the first
        PUBACK of a pipelined batch they hold the rest until we ACK it, and Linux delays
        that ACK by up to 40 ms when we have nothing to send. The flag is not sticky,
        so it is set again after each acknowledgement and when a batch is out.
        """
        if _QUICKACK is None:
            return
        sock: Any = self._client.socket()
        if sock is not None:
            with contextlib.suppress(OSError, AttributeError):
                sock.setsockopt(socket.IPPROTO_TCP, _QUICKACK, 1)

    def _on_connect_fail(self, client: paho.Client, userdata: Any) -> None:
        # A reconnect attempt failed before MQTT began (refused, TLS handshake).
        self._close_failed_tls_socket()

    def _on_disconnect(
        self,
        client: paho.Client,
        userdata: Any,
        flags: paho.DisconnectFlags,
        reason: ReasonCode,
        properties: Properties | None,
    ) -> None:
        self._bridge.put(_ConnectionChange(False, reason, connack=False))

    def _on_message(self, client: paho.Client, userdata: Any, message: MQTTMessage) -> None:
        # Only when FastClient's shortcut is gone (it calls the bridge itself): the same
        # untracked tuple as the shortcut queues (transport.RawMessage says why).
        try:
            topic = message.topic
        except UnicodeDecodeError:
            return
        self._bridge.put((topic, message.payload, message.qos, message.retain))

    def _on_publish(
        self,
        client: paho.Client,
        userdata: Any,
        mid: int,
        reason: ReasonCode,
        properties: Properties | None,
    ) -> None:
        self.quickack()
        # Matched to the outbox batch right here (see sender.py), not in the loop.
        on_ack = self.on_ack
        if on_ack is not None:
            on_ack(mid, reason if reason.is_failure else None)

    def _on_subscribe(
        self,
        client: paho.Client,
        userdata: Any,
        mid: int,
        reasons: list[ReasonCode],
        properties: Properties | None,
    ) -> None:
        self._bridge.put(_SubAck(mid))
        failed = [r for r in reasons if r.is_failure]
        if failed:
            _LOGGER.warning("The broker refused a subscription: %s", failed[0])

    # -- bridge handler (loop) -------------------------------------------------------------

    def _handle(self, item: Any) -> None:
        cls = item.__class__
        if cls is tuple:  # a RawMessage: the hot path
            self._dispatch(item)
        elif cls is _ConnectionChange:
            self._connection_changed(item)
        elif cls is _SubAck:
            self._suback(item.mid)
        elif cls is _Subscribed:
            self._suback_pending.update(item.mids)

    def _dispatch(self, raw: RawMessage) -> None:
        topic = raw[0]
        callbacks = self.router.match(topic)
        if not callbacks:
            return
        # tuple.__new__ skips the NamedTuple's Python-level __new__ (hot path).
        message = _new_tuple(MqttMessage, (*raw, self.entry_id))
        admitted: bool | None = None
        for callback in callbacks:
            if callback.__class__ is _Governed:
                if admitted is None:
                    verdict = self._ingress.check(topic, message.payload, transport=TRANSPORT)
                    admitted = verdict.passed
                    if not admitted:
                        self.rejected += 1
                        _LOGGER.debug("%s: refused by the ingress guard: %s", topic,
                                      verdict.reason)
                if not admitted:
                    continue
                # The wrapped callback itself: one Python call per message fewer.
                target: MessageCallback = callback.callback
            else:
                target = callback
            try:
                target(message)
            except Exception:
                _LOGGER.exception("Error in MQTT subscriber %r for %s", callback, topic)

    def replay(self, topic: str, payload: bytes) -> None:
        """A replayed message (it passed the guard again): to the governed callbacks."""
        message = _new_tuple(MqttMessage, (topic, payload, 0, False, self.entry_id))
        for callback in self.router.match(topic):
            if callback.__class__ is not _Governed:
                continue
            try:
                callback(message)
            except Exception:
                _LOGGER.exception("Error in MQTT subscriber %r for %s", callback, topic)

    def _connection_changed(self, change: _ConnectionChange) -> None:
        was, error_before = self.connected, self.last_error
        where = self.settings.where
        if change.connected:
            self.connected = True
            self.connects += 1
            self.last_error = None
            self.refused = False
            self._catch_up(change.filters or {})
            if not self._connack.is_set():
                self._connack.set()
                if self._started:  # start() returned before the broker was there
                    _LOGGER.info("Connected to MQTT broker %s", where)
            else:
                _LOGGER.info("Reconnected to MQTT broker %s", where)
        else:
            self.connected = False
            reason = str(change.reason) if change.reason is not None else "connection lost"
            if change.connack:
                if self._started and reason != self.last_error:
                    # start() reports a refusal itself; later ones would go unseen.
                    _LOGGER.warning("MQTT broker %s refused the connection: %s; retrying",
                                    where, reason)
                self.last_error = reason
                self.refused = True
            elif self.refused and not was:
                pass  # the disconnect after a refused CONNACK says less than the CONNACK
            elif not self._connack.is_set():
                self.last_error = (
                    f"the broker closed the connection before CONNACK ({reason}); "
                    "a refused client certificate looks like this"
                )
            else:
                self.last_error = reason
            self._suback_pending.clear()
            self._suback_done.set()
            if was:
                self.disconnects += 1
                _LOGGER.warning("Lost MQTT broker %s (%s); reconnecting", where, reason)
            if not self._connack.is_set():
                self._connack.set()  # start() reports why
        # Also when only the reason changed (a broker that refuses us after start-up):
        # the link sensor shows ``last_error``, which must not go stale.
        if was != self.connected or error_before != self.last_error:
            for listener in list(self._listeners):
                try:
                    listener(self.connected)
                except Exception:
                    _LOGGER.exception("Error in MQTT connection listener %r", listener)

    # -- diagnostics --------------------------------------------------------------------

    def tls_version(self) -> str | None:
        """The TLS version negotiated on the current connection (None: plain TCP)."""
        sock = self._client.socket()
        version = getattr(sock, "version", None)
        return version() if callable(version) else None

    def diagnostics(self) -> dict[str, Any]:
        return {
            **self.settings.describe(),
            "tls_negotiated": self.tls_version(),
            "connected": self.connected,
            "connects": self.connects,
            "disconnects": self.disconnects,
            "last_error": self.last_error,
            "items_from_network_thread": self._bridge.items_total,
            "subscriptions": len(self._filters),
            "bridge_drains": self._bridge.drains,
            "bridge_items": self._bridge.items_total,
            "rejected_by_ingress_guard": self.rejected,
        }

