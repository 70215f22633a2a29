"""The outbox ``Sender`` of an entry: telemetry to AWS IoT Core, paced and pipelined.

The outbox hands ``send`` a batch in queue order (alarms first). Each message waits for
its publish slot (the connection's rate pacer: AWS's per-connection quota), is handed to
paho, and the next one follows without waiting for the first PUBACK (pipelined); then
``send`` awaits the acknowledgements in order. A message is ``ACKED`` only once AWS
acknowledged it (QoS 1; QoS 0 once written), so the outbox deletes from disk only what
the broker took: a broker restart or a host kill loses nothing acknowledged.

A payload over 128 KB is rejected (dead-lettered, counted by the connection) rather than
retried for ever; a lost connection stops the batch (the rest ``RETRY``, in order).

A batch is cut where the publish slots would run past ``budget`` seconds (half the
outbox's ``send_timeout``): at a low rate a full batch would take longer than the
outbox waits, the whole batch (acknowledged messages too) would be retried, and the
same happen again, for ever. The cut messages are ``RETRY`` and lead the next batch.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Sequence

from gatehouse.core.helpers import DeliveryOutcome, OutboxMessage, TransientDeliveryError

from .client import AwsConnection
from .const import HDR_QOS, HDR_TOPIC, THING_FIELD
from .errors import AwsIotNotConnected, AwsIotPublishError, PayloadTooLarge


class TelemetrySender:
    """Sends outbox messages over whatever connection ``connection()`` returns now
    (None before provisioning finished or while the entry has none)."""

    def __init__(self, connection: Callable[[], AwsConnection | None],
                 budget: float = 30.0) -> None:
        self._connection = connection
        self._budget = budget
        self.cut = 0
        self.acked = 0
        self.rejected = 0

    async def send(self, batch: Sequence[OutboxMessage]) -> Sequence[DeliveryOutcome]:
        connection = self._connection()
        if connection is None or not connection.connected:
            why = connection.problem or connection.last_error if connection else None
            raise TransientDeliveryError("not connected to AWS IoT" + (f" ({why})" if why else ""))
        thing = connection.credentials.client_id
        outcomes = [DeliveryOutcome.RETRY] * len(batch)
        waiting: list[tuple[int, Awaitable[None]]] = []
        deadline = time.monotonic() + self._budget
        pacer = connection.pacer
        for index, message in enumerate(batch):
            if waiting and time.monotonic() + pacer.pending() > deadline:
                self.cut += 1
                break  # the rest leads the next batch (see the module docstring)
            topic = message.headers.get(HDR_TOPIC)
            if not topic:
                outcomes[index] = DeliveryOutcome.rejected("no topic header")
                continue
            topic = topic.replace(THING_FIELD, thing)
            qos = 1 if message.headers.get(HDR_QOS, "1") != "0" else 0
            try:
                waiting.append((index, await connection.publish_start(topic, message.payload, qos)))
            except PayloadTooLarge as err:
                outcomes[index] = DeliveryOutcome.rejected(str(err))
                self.rejected += 1
            except AwsIotNotConnected:
                break
            except AwsIotPublishError as err:
                outcomes[index] = DeliveryOutcome.rejected(str(err))
                self.rejected += 1
        for index, ack in waiting:
            try:
                await ack
            except AwsIotNotConnected:
                break  # this one and every later one: RETRY
            except AwsIotPublishError as err:
                outcomes[index] = DeliveryOutcome.rejected(str(err))
                self.rejected += 1
                continue
            outcomes[index] = DeliveryOutcome.ACKED
            self.acked += 1
        return outcomes
