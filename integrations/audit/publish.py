"""Checkpoints off the box: each signed note also goes to an MQTT or NATS topic.

A log and its checkpoints on the same disk only prove the log agrees with itself:
whoever can rewrite the log can re-sign it with the key beside it. A copy of every
checkpoint somewhere else (a broker another system records) pins the log's history
at each checkpoint: a rewrite that changes a record before it no longer matches the
copy, whatever the key.

Configuration::

    audit:
      publish_checkpoints:
        integration: mqtt            # or nats
        topic: plant/audit/checkpoints
        qos: 1                       # mqtt: 1 or 2 (delivered through mqtt's outbox)
        retain: false                # mqtt: keep the newest on the broker
        jetstream: false             # nats: publish to JetStream (a stream must take it)
        entry: null                  # mqtt/nats entry, id or title (needed if several)
        outbox: {...}                # the usual outbox block (bounds, retry pacing)

The message is the note itself (UTF-8, exactly the text in ``checkpoints.jsonl``):
a consumer verifies it with the log's verifier key (``audit_ed25519.pub``), e.g.
``note.verify(text, Verifier.parse(pub))`` or any C2SP signed-note verifier.

How it travels: each checkpoint is enqueued in the host outbox under the audit
entry's own destination (``attach_outbox``, ``audit.<entry_id>``) the moment it is on
disk, so it is stored from boot on whether or not the broker, or the mqtt/nats entry,
is there; the destination's sender hands it to ``mqtt.publish`` / ``nats.publish``
(called by the system: not audited itself). Any failure there (integration not
loaded yet, broker down) is a retry with the outbox's backoff, never a drop: the
topic is checked with the configuration (``config.PUBLISH_SCHEMA``), so a message
cannot fail for good. Only a queue past its bound (default 10,000 checkpoints, i.e.
months of a broker gone) drops, oldest first: each newer checkpoint commits to the
whole log before it, so the newest copy is the one that matters.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any, Final

from gatehouse.core import ConfigEntry, Host
from gatehouse.core.helpers import (
    DeliveryOutcome,
    OutboxLink,
    OutboxMessage,
    TransientDeliveryError,
    attach_outbox,
)

_LOGGER = logging.getLogger(__name__)

HEADER_ORIGIN: Final = "origin"
HEADER_SIZE: Final = "size"


class CheckpointSender:
    """The outbox sender: one ``<integration>.publish`` call per checkpoint, in order."""

    def __init__(self, host: Host, settings: Mapping[str, Any]) -> None:
        self._host = host
        self._settings = settings

    def service_data(self, payload: bytes) -> dict[str, Any]:
        s = self._settings
        text = payload.decode("utf-8")
        if s["integration"] == "mqtt":
            data: dict[str, Any] = {"topic": s["topic"], "payload": text, "qos": s["qos"],
                                    "retain": s["retain"]}
            if s["entry"]:
                data["entry_id"] = s["entry"]
        else:
            data = {"subject": s["topic"], "payload": text}
            if s["jetstream"]:
                data["jetstream"] = True
            if s["entry"]:
                data["entry_id"] = s["entry"]
        return data

    async def send(self, batch: Sequence[OutboxMessage]) -> Sequence[DeliveryOutcome]:
        outcomes: list[DeliveryOutcome] = []
        domain = self._settings["integration"]
        for message in batch:
            try:
                await self._host.services.call(domain, "publish",
                                               self.service_data(message.payload))
            except Exception as err:
                if not outcomes:
                    raise TransientDeliveryError(
                        f"{domain}.publish of an audit checkpoint failed: {err}") from err
                break  # the rest of the batch: RETRY (missing outcomes)
            outcomes.append(DeliveryOutcome.ACKED)
        return outcomes


class CheckpointPublisher:
    """Enqueues each new checkpoint note in the entry's outbox destination."""

    def __init__(self, link: OutboxLink) -> None:
        self.link = link
        self.offered = 0
        self.failed = 0

    def offer(self, note: str, origin: str, size: int) -> None:
        """Synchronous (called from the writer task): committed with the outbox's next
        group commit, milliseconds later. A refusal is logged and counted."""
        try:
            self.link.enqueue_nowait(note.encode(), headers={HEADER_ORIGIN: origin,
                                                             HEADER_SIZE: str(size)})
        except Exception as err:  # noqa: BLE001 - the log itself must go on
            self.failed += 1
            _LOGGER.error("Audit log: checkpoint %d not queued for publication: %s",
                          size, err)
            return
        self.offered += 1

    def diagnostics(self) -> dict[str, Any]:
        return {"offered": self.offered, "failed": self.failed, **self.link.diagnostics()}


async def start_publisher(
    host: Host, entry: ConfigEntry[Any], settings: Mapping[str, Any], name: str,
) -> CheckpointPublisher:
    """Register the entry's destination (for its lifetime) and return the publisher."""
    link = await attach_outbox(
        host, entry, CheckpointSender(host, settings), settings["outbox"],
        destination=f"audit.{entry.entry_id}", name=f"{name} checkpoints",
    )
    return CheckpointPublisher(link)
