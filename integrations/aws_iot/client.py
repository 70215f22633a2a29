"""The mutual-TLS MQTT connection to AWS IoT Core: ``AwsConnection`` (an ``MqttLink``).

Why not the mqtt integration's connection: its ``api`` module offers publish/subscribe
on an *mqtt entry's* broker, configured by that entry; AWS needs a connection of its own
(client certificate, ALPN on 443, thing name as client id, a publish-rate quota, the
duplicate-client-id storm, a swap of certificates after fleet provisioning), and other
modules of that integration are not public. So this is a small paho client built on the
same patterns: paho's network thread keeps the connection (reconnecting with backoff),
everything it reports is handed to the event loop with ``call_soon_threadsafe``, and the
loop only ever calls paho's non-blocking ``publish``/``subscribe``.

AWS specifics, each enforced here so no caller can break them:

* TLS 1.2 minimum, the server verified against ``root_ca`` with SNI = the endpoint
  (paho passes the host name to ``wrap_socket``), the device certificate and key;
  ALPN ``x-amzn-mqtt-ca`` on port 443 (AWS takes MQTT there only with it);
* QoS 0/1 only (AWS has no QoS 2 and drops the connection for it);
* payloads over 128 KB are refused (``PayloadTooLarge``) and counted: AWS would close
  the connection, and the outbox would send the same message again for ever;
* publishes are paced to ``max_publish_rate`` per second (AWS's per-connection quota is
  100/s; beyond it AWS throttles and may disconnect) by giving each publish a time slot;
* a *storm*: AWS closes a connection when another one connects with the same client id,
  and two devices with one thing name then take turns for ever. ``disconnects``
  connections that each died within ``window`` seconds of their CONNACK, within
  ``window``, with every reconnect in between accepted at once, stop the reconnecting
  for ``pause`` seconds and set ``problem`` (shown on the entry and on a problem binary
  sensor) instead of looping; then one more try, and the problem clears once a
  connection has held for ``window`` seconds. A failed connect attempt starts the count
  again (an endpoint that restarts slowly or a network that flaps refuses us in between,
  a duplicate client id never does); a false alarm (fast restarts) costs one pause.

Boot while the endpoint is down: ``start`` hands the first connect to paho's thread
(``connect_async``) and waits at most ``connect_timeout``; the entry loads anyway and
the outbox holds telemetry until the connection comes up.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
import threading
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Final

import anyio
import anyio.to_thread
import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode, MQTTProtocolVersion
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from gatehouse.core.helpers import TrackingContext

from .const import ALPN_PROTOCOL, MAX_PAYLOAD, MAX_TOPIC_BYTES
from .errors import AwsIotNotConnected, AwsIotPublishError, PayloadTooLarge
from .link import MessageCallback

_LOGGER = logging.getLogger(__name__)

RECONNECT_MAX_DELAY: Final = 30
SUBACK_TIMEOUT: Final = 10.0
MAX_INFLIGHT: Final = 100
#: Received messages waiting for the loop; more are dropped (and counted). AWS answers
#: only what we ask (shadow, jobs, provisioning): a backlog this deep is a flood.
MAX_INBOUND: Final = 10_000


@dataclass(frozen=True, slots=True)
class Credentials:
    """Who connects: the client id (thing name) and the certificate/key files."""

    client_id: str
    certificate: str
    private_key: str


@dataclass(frozen=True, slots=True)
class Endpoint:
    """Where and how: everything of the connection but the credentials."""

    host: str
    port: int
    root_ca: str
    alpn: bool
    keepalive: int = 30
    connect_timeout: float = 5.0
    reconnect_min_delay: float = 1.0
    reconnect_max_delay: float = RECONNECT_MAX_DELAY
    max_publish_rate: float = 100.0
    storm_disconnects: int = 3
    storm_window: float = 30.0
    storm_pause: float = 300.0

    @property
    def where(self) -> str:
        return f"{self.host}:{self.port}"


def tls_context(endpoint: Endpoint, credentials: Credentials) -> TrackingContext:
    """TLS 1.2+, server verified against ``root_ca``, our certificate; ALPN on request.

    Blocking (reads files). Errors name the file, never its contents.
    """
    context = TrackingContext(ssl.PROTOCOL_TLS_CLIENT)  # CERT_REQUIRED + check_hostname
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        context.load_verify_locations(cafile=endpoint.root_ca)
    except (OSError, ssl.SSLError) as err:
        raise AwsIotNotConnected(f"root_ca: cannot load {endpoint.root_ca}: {err}") from None
    try:
        context.load_cert_chain(credentials.certificate, credentials.private_key)
    except (OSError, ssl.SSLError) as err:
        raise AwsIotNotConnected(
            f"certificate: cannot load {credentials.certificate} with its key "
            f"{credentials.private_key}: {err.__class__.__name__}"
        ) from None
    if endpoint.alpn:
        context.set_alpn_protocols([ALPN_PROTOCOL])
    return context


class RatePacer:
    """Time slots ``1/rate`` apart: a publish waits for its slot (no bursts above rate).

    One pacer per connection, shared by telemetry, shadow and jobs, since AWS counts the
    connection's publishes, not a module's.
    """

    def __init__(self, rate: float) -> None:
        self.interval = 1.0 / rate
        self._next = 0.0
        self.waited = 0.0

    def reserve(self) -> float:
        """Take the next slot; return how long to wait for it (0: now)."""
        now = time.monotonic()
        slot = max(self._next, now)
        self._next = slot + self.interval
        delay = slot - now
        self.waited += delay
        return delay

    def pending(self) -> float:
        """Seconds the next publish would wait for its slot now."""
        return max(0.0, self._next - time.monotonic())

    async def wait(self) -> None:
        delay = self.reserve()
        if delay > 0:
            await anyio.sleep(delay)


class AwsConnection:
    """One connection (see the module docstring); implements ``link.MqttLink``."""

    def __init__(self, endpoint: Endpoint, credentials: Credentials,
                 context: TrackingContext) -> None:
        self.endpoint = endpoint
        self.credentials = credentials
        self.connected = False
        self.connects = 0
        self.disconnects = 0
        self.last_error: str | None = None
        #: Set when a reconnect storm stopped the connection (see the module docstring).
        self.problem: str | None = None
        self.too_large = 0
        self.storms = 0
        self.published = 0
        self.pacer = RatePacer(endpoint.max_publish_rate)
        self._loop = asyncio.get_running_loop()
        self._filters: dict[str, int] = {}
        self._callbacks: dict[str, list[MessageCallback]] = {}
        self._pending: dict[int, asyncio.Future[None]] = {}
        self._subacks: dict[int, asyncio.Future[None]] = {}
        self._on_connect_callbacks: list[Callable[[], Awaitable[None]]] = []
        self._listeners: list[Callable[[], None]] = []
        self._connected_at = 0.0
        self._short_lived: deque[float] = deque()
        self._first = asyncio.Event()
        self._closed = False
        self._loop_started = False
        self._tasks: set[asyncio.Task[None]] = set()
        self._context = context
        self._inbound = 0
        self._inbound_lock = threading.Lock()
        #: Received messages dropped because the loop had MAX_INBOUND waiting.
        self.inbound_dropped = 0
        self._wrapped_seen = context.wrapped
        client = paho.Client(
            CallbackAPIVersion.VERSION2,
            client_id=credentials.client_id,
            clean_session=True,
            protocol=MQTTProtocolVersion.MQTTv311,
        )
        client.suppress_exceptions = True
        client.max_inflight_messages_set(MAX_INFLIGHT)
        client.max_queued_messages_set(0)
        # Annotated int, but paho waits float seconds (tests reconnect in 0.1 s).
        client.reconnect_delay_set(endpoint.reconnect_min_delay,  # type: ignore[arg-type]
                                   endpoint.reconnect_max_delay)  # type: ignore[arg-type]
        client.connect_timeout = endpoint.connect_timeout
        client.tls_set_context(context)
        client.on_connect = self._thread_connect
        client.on_connect_fail = self._thread_connect_fail
        client.on_disconnect = self._thread_disconnect
        client.on_message = self._thread_message
        client.on_publish = self._thread_publish
        client.on_subscribe = self._thread_subscribe
        self._client = client

    # -- lifecycle -------------------------------------------------------------------

    async def start(self) -> bool:
        """Begin connecting; True when connected within ``connect_timeout``.

        False leaves paho trying in the background (the entry loads and buffers).
        """
        e = self.endpoint
        self._client.connect_async(e.host, e.port, e.keepalive)
        self._client.loop_start()
        self._loop_started = True
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._first.wait(), e.connect_timeout)
        return self.connected

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self.connected = False
        self._fail_pending("connection closed")
        for task in list(self._tasks):
            task.cancel()
        await self._stop_network()
        self._listeners.clear()

    async def _stop_network(self) -> None:
        client = self._client
        client.disconnect()
        if self._loop_started:
            self._loop_started = False
            with anyio.CancelScope(shield=True):
                await anyio.to_thread.run_sync(client.loop_stop)
        reset = getattr(client, "_reset_sockets", None)
        if reset is not None:
            reset()
        self._context.close_failed(None)

    @property
    def closed(self) -> bool:
        """True once ``close`` ran (the entry unloaded): nothing runs any more."""
        return self._closed and not self._loop_started

    def add_listener(self, listener: Callable[[], None]) -> Callable[[], None]:
        """``listener()`` on the loop after each connection change (link sensors)."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener) if listener in self._listeners else None

    # -- MqttLink ----------------------------------------------------------------------

    async def publish(self, topic: str, payload: bytes, qos: int = 1) -> None:
        await self.publish_start(topic, payload, qos)

    async def publish_start(self, topic: str, payload: bytes, qos: int = 1) -> Awaitable[None]:
        """Wait for a rate slot, hand the message to paho; return what resolves on
        PUBACK (QoS 1) or at once (QoS 0). Pipelining callers await it later."""
        if qos not in (0, 1):
            raise AwsIotPublishError(f"qos {qos}: AWS IoT Core takes QoS 0 and 1 only")
        if len(topic.encode("utf-8")) > MAX_TOPIC_BYTES:
            raise AwsIotPublishError(f"topic over AWS's {MAX_TOPIC_BYTES} bytes: {topic[:80]}...")
        if len(payload) > MAX_PAYLOAD:
            self.too_large += 1
            raise PayloadTooLarge(
                f"{topic}: payload of {len(payload)} bytes is over AWS's {MAX_PAYLOAD} "
                f"({self.too_large} refused so far)"
            )
        await self.pacer.wait()
        if not self.connected:
            raise AwsIotNotConnected(self._not_connected())
        try:
            info = self._client.publish(topic, payload, qos)
        except ValueError as err:  # a topic paho refuses
            raise AwsIotPublishError(f"{topic}: {err}") from None
        if info.rc != MQTTErrorCode.MQTT_ERR_SUCCESS:
            raise AwsIotNotConnected(self._not_connected())
        self.published += 1
        future: asyncio.Future[None] = self._loop.create_future()
        if qos == 0:
            future.set_result(None)
        else:
            self._pending[info.mid] = future
        return future

    async def subscribe(self, topic_filter: str, callback: MessageCallback, qos: int = 1) -> None:
        self._callbacks.setdefault(topic_filter, []).append(callback)
        if self._filters.get(topic_filter, -1) >= qos:
            return
        self._filters[topic_filter] = qos
        if not self.connected:
            return  # the next connect subscribes every filter
        result, mid = self._client.subscribe(topic_filter, qos)
        if result != MQTTErrorCode.MQTT_ERR_SUCCESS or mid is None:
            return
        future = self._subacks[mid] = self._loop.create_future()
        with contextlib.suppress(TimeoutError, AwsIotNotConnected):
            await asyncio.wait_for(future, SUBACK_TIMEOUT)

    def on_connect(self, callback: Callable[[], Awaitable[None]]) -> Callable[[], None]:
        self._on_connect_callbacks.append(callback)

        def remove() -> None:
            if callback in self._on_connect_callbacks:
                self._on_connect_callbacks.remove(callback)

        return remove

    # -- paho callbacks (network thread) --------------------------------------------

    def _post(self, handler: Callable[..., None], *args: Any) -> None:
        with contextlib.suppress(RuntimeError):  # the loop is gone: nobody listens
            self._loop.call_soon_threadsafe(handler, *args)

    def _thread_connect(self, client: paho.Client, userdata: Any, flags: Any,
                        reason: ReasonCode, properties: Properties | None) -> None:
        mids: list[int] = []
        self._wrapped_seen = self._context.wrapped
        if not reason.is_failure:
            # Restore every filter before anything queued goes out (packets leave in
            # order); the loop runs the on_connect callbacks once these are acknowledged.
            filters = list(self._filters.items())
            if filters:
                result, mid = client.subscribe(filters)
                if result == MQTTErrorCode.MQTT_ERR_SUCCESS and mid is not None:
                    mids.append(mid)
        self._post(self._connection_up if not reason.is_failure else self._refused,
                   str(reason) if reason.is_failure else mids)

    def _thread_connect_fail(self, client: paho.Client, userdata: Any) -> None:
        tls = self._context.wrapped != self._wrapped_seen
        self._wrapped_seen = self._context.wrapped
        self._context.close_failed(client.socket())
        self._post(self._connect_failed, tls)

    def _thread_disconnect(self, client: paho.Client, userdata: Any, flags: Any,
                           reason: ReasonCode, properties: Properties | None) -> None:
        self._post(self._connection_down, str(reason))

    def _thread_message(self, client: paho.Client, userdata: Any,
                        message: paho.MQTTMessage) -> None:
        try:
            topic = message.topic
        except UnicodeDecodeError:  # a topic that is not UTF-8 matches no filter of ours
            return
        with self._inbound_lock:
            if self._inbound >= MAX_INBOUND:
                # The loop is behind: never let a flood grow its queue without bound.
                self.inbound_dropped += 1
                return
            self._inbound += 1
        self._post(self._dispatch, topic, bytes(message.payload))

    def _thread_publish(self, client: paho.Client, userdata: Any, mid: int,
                        reason: ReasonCode, properties: Properties | None) -> None:
        self._post(self._acked, mid, str(reason) if reason.is_failure else None)

    def _thread_subscribe(self, client: paho.Client, userdata: Any, mid: int,
                          reasons: list[ReasonCode], properties: Properties | None) -> None:
        self._post(self._subscribed, mid)

    # -- on the loop ---------------------------------------------------------------------

    def _not_connected(self) -> str:
        text = f"not connected to {self.endpoint.where}"
        why = self.problem or self.last_error
        return f"{text} ({why})" if why else text

    def _notify(self) -> None:
        for listener in list(self._listeners):
            try:
                listener()
            except Exception:
                _LOGGER.exception("Error in AWS IoT connection listener")

    def _connection_up(self, mids: list[int]) -> None:
        if self._closed:
            return
        self.connected = True
        self.connects += 1
        self.last_error = None
        self._connected_at = time.monotonic()
        self._first.set()
        _LOGGER.info("AWS IoT: connected to %s as %s", self.endpoint.where,
                     self.credentials.client_id)
        if self.problem is not None:
            self._loop.call_later(self.endpoint.storm_window, self._held, self.connects)
        waits = [self._subacks.setdefault(mid, self._loop.create_future()) for mid in mids]
        task = self._loop.create_task(self._after_connect(waits))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        self._notify()

    async def _after_connect(self, waits: list[asyncio.Future[None]]) -> None:
        if waits:
            with contextlib.suppress(TimeoutError, AwsIotNotConnected):
                await asyncio.wait_for(asyncio.gather(*waits), SUBACK_TIMEOUT)
        for callback in list(self._on_connect_callbacks):
            if not self.connected:
                return
            try:
                await callback()
            except AwsIotNotConnected:
                return
            except Exception:
                _LOGGER.exception("AWS IoT: error in an on-connect callback")

    def _refused(self, reason: str) -> None:
        self._short_lived.clear()  # not a takeover: see the module docstring
        self.last_error = f"{self.endpoint.where} refused the connection: {reason}"
        self._first.set()
        self._notify()

    def _connect_failed(self, tls: bool) -> None:
        # A refused TCP connection or failed handshake is an answer: set-up need not
        # wait out connect_timeout to learn the endpoint is down (paho keeps trying).
        self._first.set()
        self._short_lived.clear()  # not a takeover: see the module docstring
        where = self.endpoint.where
        error = (
            f"TLS handshake with {where} refused (certificate not accepted, or the "
            "server not trusted by root_ca)" if tls else f"cannot connect to {where}"
        )
        if error != self.last_error:
            self.last_error = error
            self._notify()

    def _connection_down(self, reason: str) -> None:
        was = self.connected
        self.connected = False
        self._fail_pending(reason)
        if not was:
            error = (
                f"connection closed before CONNACK ({reason}): a client certificate the "
                "endpoint does not accept looks like this"
            )
            # A CONNACK refusal (``_refused``, just before) says more: keep it.
            refused = f"{self.endpoint.where} refused the connection"
            if error != self.last_error and not (self.last_error or "").startswith(refused):
                self.last_error = error
                self._notify()
            return
        self.disconnects += 1
        self.last_error = reason
        now = time.monotonic()
        window = self.endpoint.storm_window
        if now - self._connected_at <= window:
            self._short_lived.append(now)
        while self._short_lived and now - self._short_lived[0] > window:
            self._short_lived.popleft()
        if len(self._short_lived) >= self.endpoint.storm_disconnects and not self._closed:
            self.problem = (
                f"reconnect storm: {len(self._short_lived)} disconnects within "
                f"{window:g} s, each right after connecting: another client is probably "
                f"using client id {self.credentials.client_id!r}; reconnecting paused for "
                f"{self.endpoint.storm_pause:g} s"
            )
            _LOGGER.error("AWS IoT %s: %s", self.endpoint.where, self.problem)
            self.storms += 1
            self._short_lived.clear()
            task = self._loop.create_task(self._pause_then_resume())
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        else:
            _LOGGER.warning("AWS IoT: lost %s (%s); reconnecting", self.endpoint.where, reason)
        self._notify()

    async def _pause_then_resume(self) -> None:
        await self._stop_network()
        await asyncio.sleep(self.endpoint.storm_pause)
        if self._closed:
            return
        e = self.endpoint
        self._client.connect_async(e.host, e.port, e.keepalive)
        self._client.loop_start()
        self._loop_started = True

    def _held(self, connects: int) -> None:
        """``window`` seconds after a connect: if it is still the same connection, the
        storm (if any) is over."""
        if self.connected and self.connects == connects and self.problem is not None:
            _LOGGER.info("AWS IoT %s: the connection holds again; storm over",
                         self.endpoint.where)
            self.problem = None
            self._notify()

    def _fail_pending(self, reason: str) -> None:
        pending, self._pending = self._pending, {}
        subacks, self._subacks = self._subacks, {}
        error = AwsIotNotConnected(f"connection to {self.endpoint.where} lost ({reason})")
        for future in (*pending.values(), *subacks.values()):
            if not future.done():
                future.set_exception(error)
                # Nobody may await it (the caller gave up): do not warn about it.
                future.exception()

    def _acked(self, mid: int, failure: str | None) -> None:
        future = self._pending.pop(mid, None)
        if future is None or future.done():
            return  # QoS 0, or a publish abandoned at a disconnect and resent by paho
        if failure is None:
            future.set_result(None)
        else:
            future.set_exception(AwsIotPublishError(f"refused by the broker: {failure}"))

    def _subscribed(self, mid: int) -> None:
        future = self._subacks.pop(mid, None)
        if future is not None and not future.done():
            future.set_result(None)

    def _dispatch(self, topic: str, payload: bytes) -> None:
        with self._inbound_lock:
            self._inbound -= 1
        for topic_filter, callbacks in list(self._callbacks.items()):
            if topic_filter == topic or paho.topic_matches_sub(topic_filter, topic):
                for callback in list(callbacks):
                    try:
                        callback(topic, payload)
                    except Exception:
                        _LOGGER.exception("AWS IoT: error in the handler of %s", topic)

    # -- diagnostics -----------------------------------------------------------------

    def tls_version(self) -> str | None:
        sock = self._client.socket()
        version = getattr(sock, "version", None)
        return version() if callable(version) else None

    def diagnostics(self) -> dict[str, Any]:
        e = self.endpoint
        return {
            "endpoint": e.where,
            "client_id": self.credentials.client_id,
            # Paths only: key contents never leave the file.
            "certificate": self.credentials.certificate,
            "private_key": self.credentials.private_key,
            "root_ca": e.root_ca,
            "alpn": ALPN_PROTOCOL if e.alpn else None,
            "tls_negotiated": self.tls_version(),
            "connected": self.connected,
            "connects": self.connects,
            "disconnects": self.disconnects,
            "last_error": self.last_error,
            "problem": self.problem,
            "storms": self.storms,
            "published": self.published,
            "payloads_too_large": self.too_large,
            "inbound_dropped": self.inbound_dropped,
            "max_publish_rate": e.max_publish_rate,
            "pacing_wait_s": round(self.pacer.waited, 3),
            "subscriptions": len(self._filters),
        }


async def connect_once(endpoint: Endpoint, credentials: Credentials, timeout: float) -> None:
    """Connect and disconnect (the config flow's check). Raises ``AwsIotNotConnected``
    with a message for the form's log; ``OSError`` text names the endpoint."""
    context = await anyio.to_thread.run_sync(tls_context, endpoint, credentials)

    def attempt() -> None:
        client = paho.Client(CallbackAPIVersion.VERSION2, client_id=credentials.client_id,
                             protocol=MQTTProtocolVersion.MQTTv311)
        client.tls_set_context(context)
        client.connect_timeout = timeout
        try:
            client.connect(endpoint.host, endpoint.port, 30)
            deadline = time.monotonic() + timeout
            while not client.is_connected() and time.monotonic() < deadline:
                rc = client.loop(timeout=0.1)
                if rc != MQTTErrorCode.MQTT_ERR_SUCCESS:
                    raise AwsIotNotConnected(
                        f"{endpoint.where} closed the connection before CONNACK "
                        "(a refused client certificate looks like this)"
                    )
            if not client.is_connected():
                raise AwsIotNotConnected(f"no CONNACK from {endpoint.where} in {timeout:g} s")
            client.disconnect()
        except ssl.SSLCertVerificationError as err:
            raise AwsIotNotConnected(
                f"endpoint: the server {endpoint.where} is not trusted by root_ca "
                f"({err.verify_message})"
            ) from None
        except ssl.SSLError as err:
            raise AwsIotNotConnected(f"TLS with {endpoint.where} failed: {err.reason}") from None
        except OSError as err:
            raise AwsIotNotConnected(
                f"endpoint: cannot reach {endpoint.where}: {err.strerror or err}"
            ) from None
        finally:
            sock = client.socket()
            if sock is not None:
                with contextlib.suppress(OSError):
                    sock.close()
            context.close_failed(None)
            reset = getattr(client, "_reset_sockets", None)
            if reset is not None:
                reset()

    await anyio.to_thread.run_sync(attempt)
