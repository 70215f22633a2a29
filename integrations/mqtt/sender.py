"""The outbox ``Sender`` of an mqtt entry: QoS 1/2 publishes, pipelined, acked by mid.

The host outbox hands ``send`` a batch in queue order. Every message of the batch is
given to paho at once (pipelined: up to ``MAX_INFLIGHT`` PUBLISH packets on the wire
before the first PUBACK is back), then ``send`` waits until paho's ``on_publish`` has
reported the PUBACK (QoS 1) or PUBCOMP (QoS 2) of each message's mid, and returns one
outcome per message. The outbox deletes only the acknowledged prefix, so a message is
gone from disk only after the broker took responsibility for it.

Acknowledgements are matched to messages *in paho's network thread*, under a lock,
and the loop is woken once per batch when the last one is in. (Sending each ack to the
loop would wake it hundreds of times per batch; every wake-up is a GIL hand-over, and
those, not the broker, would then set the pace.) An ack can beat its own registration
(paho's thread may read the PUBACK before ``publish`` has returned in the loop), so
while a batch is being handed to paho, unmatched acks are kept and matched afterwards.

If the connection drops mid-batch the waiting ends at once: acknowledged messages are
``ACKED``, the rest ``RETRY`` (the outbox sends them again after the reconnect, so the
broker may see some twice: at least once, counted as redeliveries). Retried messages
are a contiguous tail of the queue, so the *first* arrival of every message is still
in order.

Abandoned publishes stay in paho's own queue and paho resends them after the
reconnect; their acknowledgements then arrive for mids nobody waits for. paho refuses
to reuse a mid while its message is still queued, so a mid can only be handed out
again after paho reported the old acknowledgement (and dropped the message).
``_stale`` counts, per mid, the acknowledgements still to come for abandoned
publishes; they are consumed first, so a stale acknowledgement never settles a new
message.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import anyio
from paho.mqtt.enums import MQTTErrorCode
from paho.mqtt.reasoncodes import ReasonCode

from gatehouse.core.helpers import DeliveryOutcome, OutboxMessage, TransientDeliveryError

if TYPE_CHECKING:
    from .client import MqttConnection

HEADER_TOPIC = "topic"
HEADER_QOS = "qos"
HEADER_RETAIN = "retain"

#: MQTT 5 PUBACK reason "quota exceeded": the broker may take it later.
_QUOTA_EXCEEDED = 0x97


def headers_for(topic: str, qos: int, retain: bool) -> dict[str, str]:
    """The outbox headers of an MQTT publish."""
    return {HEADER_TOPIC: topic, HEADER_QOS: str(qos), HEADER_RETAIN: "1" if retain else "0"}


class _Batch:
    """One ``send`` call in flight; ``outcomes`` and ``waiting`` change under the lock."""

    __slots__ = ("done", "mids", "outcomes", "signalled", "waiting")

    def __init__(self, size: int) -> None:
        self.outcomes: list[DeliveryOutcome] = [DeliveryOutcome.RETRY] * size
        self.waiting = 0
        self.mids: list[int] = []
        self.done = anyio.Event()
        self.signalled = False

    def resolve(self, index: int, reason: ReasonCode | None) -> bool:
        """Record one acknowledgement; True when it was the last one awaited."""
        if reason is None:
            self.outcomes[index] = DeliveryOutcome.ACKED
        elif reason.value != _QUOTA_EXCEEDED:
            self.outcomes[index] = DeliveryOutcome.rejected(f"broker refused: {reason}")
        self.waiting -= 1
        return self.waiting == 0


class MqttSender:
    """Outbox sender for one connection (see the module docstring)."""

    def __init__(self, connection: MqttConnection) -> None:
        self._connection = connection
        self._call_soon_threadsafe: Callable[..., None] = connection.host.call_soon_threadsafe
        self._lock = threading.Lock()
        self._pending: dict[int, tuple[_Batch, int]] = {}
        self._stale: dict[int, int] = {}
        self._early: list[tuple[int, ReasonCode | None]] = []
        self._publishing = False
        self._batches: set[_Batch] = set()
        connection.on_ack = self._on_ack
        connection.add_listener(self._on_connection)
        self.published = 0
        self.acked = 0
        self.abandoned = 0

    async def send(self, batch: Sequence[OutboxMessage]) -> Sequence[DeliveryOutcome]:
        connection = self._connection
        if not connection.connected:
            raise TransientDeliveryError(
                f"not connected to {connection.settings.where}"
                + (f" ({connection.last_error})" if connection.last_error else "")
            )
        tracker = _Batch(len(batch))
        # An MQTT 5 broker may take fewer publishes in flight than a batch holds
        # (Receive Maximum): then the batch goes out in windows, one after the other.
        window = max(1, connection.receive_maximum)
        self._batches.add(tracker)
        try:
            for start in range(0, len(batch), window):
                if not await self._send_window(tracker, batch, start, start + window):
                    break
        finally:
            self._batches.discard(tracker)
            with self._lock:
                for mid in tracker.mids:
                    found = self._pending.get(mid)
                    if found is not None and found[0] is tracker:
                        del self._pending[mid]
                        self._stale[mid] = self._stale.get(mid, 0) + 1
                        self.abandoned += 1
                result = list(tracker.outcomes)
        self.acked += sum(1 for o in result if o is DeliveryOutcome.ACKED)
        return result

    async def _send_window(
        self, tracker: _Batch, batch: Sequence[OutboxMessage], start: int, stop: int
    ) -> bool:
        """Hand ``batch[start:stop]`` to paho and wait for its acknowledgements.

        False when the rest of the batch must wait (disconnected, paho refused).
        """
        connection = self._connection
        outcomes = tracker.outcomes
        publish = connection.publish
        lock = self._lock
        registered: list[tuple[int, int]] = []
        complete = True
        with lock:
            self._publishing = True
            tracker.done = anyio.Event()
            tracker.signalled = False
        try:
            for index in range(start, min(stop, len(batch))):
                message = batch[index]
                headers = message.headers
                topic = headers.get(HEADER_TOPIC)
                if not topic:
                    outcomes[index] = DeliveryOutcome.rejected("no topic header")
                    continue
                qos = int(headers.get(HEADER_QOS, "1"))
                retain = headers.get(HEADER_RETAIN) == "1"
                try:
                    info = publish(topic, message.payload, qos, retain)
                except ValueError as err:  # invalid topic or QoS, payload too large
                    outcomes[index] = DeliveryOutcome.rejected(str(err))
                    continue
                if info.rc != MQTTErrorCode.MQTT_ERR_SUCCESS:
                    if qos and info.rc == MQTTErrorCode.MQTT_ERR_NO_CONN:
                        # paho keeps it and sends it after the reconnect: a stale ack.
                        with lock:
                            self._stale[info.mid] = self._stale.get(info.mid, 0) + 1
                    complete = False
                    break  # this one and the rest: RETRY, in order
                self.published += 1
                if qos == 0:
                    outcomes[index] = DeliveryOutcome.ACKED
                else:
                    registered.append((info.mid, index))
        finally:
            with lock:
                self._publishing = False
                early = dict(self._early)
                self._early.clear()
                for mid, index in registered:
                    tracker.mids.append(mid)
                    tracker.waiting += 1
                    if mid in early:
                        tracker.resolve(index, early.pop(mid))
                    else:
                        self._pending[mid] = (tracker, index)
                waiting = tracker.waiting
        if waiting:
            connection.quickack()
            await tracker.done.wait()
        return complete and connection.connected

    def _on_ack(self, mid: int, reason: ReasonCode | None) -> None:
        """paho's network thread: one PUBACK/PUBCOMP (``reason`` None for success)."""
        with self._lock:
            stale = self._stale.get(mid)
            if stale:
                if stale == 1:
                    del self._stale[mid]
                else:
                    self._stale[mid] = stale - 1
                return
            found = self._pending.pop(mid, None)
            if found is None:
                if self._publishing:
                    self._early.append((mid, reason))
                return  # otherwise: a QoS 0 publish, the birth message...
            tracker, index = found
            if not tracker.resolve(index, reason) or tracker.signalled:
                return
            tracker.signalled = True
        with contextlib.suppress(RuntimeError):  # the loop is gone: nobody waits
            self._call_soon_threadsafe(tracker.done.set)

    def _on_connection(self, connected: bool) -> None:
        if connected:
            return
        # Stop waiting: what is not acknowledged by now is retried after the reconnect.
        for tracker in list(self._batches):
            tracker.done.set()

    def diagnostics(self) -> dict[str, int]:
        with self._lock:
            in_flight = len(self._pending)
            stale = sum(self._stale.values())
        return {
            "published": self.published,
            "acked": self.acked,
            "in_flight": in_flight,
            "stale_acks_expected": stale,
            "abandoned_on_disconnect": self.abandoned,
        }
