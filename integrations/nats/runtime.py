"""What a loaded NATS entry holds (``entry.runtime_data``), and how it comes online.

An entry has two halves. The **offline** half needs no server and is made by
``setup_entry`` in any case: the client, the outbox destination with the JetStream
sender (held until the streams are declared), the connectivity and queue sensors, the
message entities, the fleet's forwarding, the services. The **online** half needs the
server and is ``NatsRuntime.go_online``, in this order:

1. declare streams (ours and the fleet's) and keep them declared after reconnects;
   only then does the sender take batches, so it knows which streams take atomic ones;
2. the subscriptions and consumers that feed the entities;
3. the KV mirror and the fleet's import.

When the first connect succeeds within ``setup_timeout``, set-up runs the online half
itself, so a stream the server refuses still fails set-up as a configuration error.
When it does not, the entry loads offline (messages for JetStream are queued on disk)
and ``online_later`` runs the online half once connected; if that fails, the entry is
reloaded, and the reload (with the server now reachable) reports the failure as set-up
would have.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from gatehouse.core import ConfigEntry, Host
from gatehouse.core.helpers import IngressHook, OutboxLink, PayloadError, TemplateEngine

from . import binary_sensor, sensor
from .client import NatsClient
from .const import CONF_CONSUMERS, CONF_KV, CONF_NAME, CONF_STREAMS
from .consumer import DurableConsumer, consumer_spec, entity_handler, event_handler
from .entity import MessageEntity
from .fleet import FleetBridge
from .jetstream import JetStreamSender, StreamRoutes, declare_streams, stream_config
from .kv import KvMirror
from .sensor import MalformedCounter
from .subscriptions import as_subject, subject_matches, subscribe

_LOGGER = logging.getLogger(__name__)


def message_entities(
    config: Mapping[str, Any], key: str, engine: TemplateEngine
) -> list[MessageEntity]:
    """The entry's message entities, from their descriptions (subjects and consumers)."""
    entities: list[MessageEntity] = [
        sensor.MessageSensor(description, description.reader(engine))
        for description in sensor.describe(config, key)
    ]
    entities.extend(
        binary_sensor.MessageBinarySensor(description, description.reader(engine))
        for description in binary_sensor.describe(config, key)
    )
    return entities


class NatsRuntime:
    """A loaded NATS entry: its connection, outbox link, entities and parts."""

    def __init__(
        self,
        config: Mapping[str, Any],
        key: str,
        client: NatsClient,
        outbox: OutboxLink,
        routes: StreamRoutes,
        sender: JetStreamSender,
        malformed: MalformedCounter,
        entities: list[MessageEntity],
        fleet: FleetBridge | None,
    ) -> None:
        self.config = config
        self.name: str = config[CONF_NAME]
        self.key = key
        self.client = client
        self.outbox = outbox
        self.routes = routes
        self.sender = sender
        self.malformed = malformed
        self.entities = entities
        self.fleet = fleet
        self.consumers: list[DurableConsumer] = []
        self.kv: KvMirror | None = None
        self.ingress: IngressHook | None = None

    @property
    def destination(self) -> str:
        """The entry's outbox destination (JetStream publishes are queued there)."""
        return self.outbox.destination

    async def go_online(self, host: Host, entry: ConfigEntry[Any]) -> None:
        """The half of set-up that needs the server (see the module docstring)."""
        config, client = self.config, self.client
        streams = [stream_config(spec) for spec in config[CONF_STREAMS]]
        if self.fleet is not None:
            streams.append(self.fleet.stream_config())
        await declare_streams(entry, client, streams, self.routes)

        await subscribe(client, self.entities, self.malformed.count, self.ingress)
        by_consumer = {
            e.entity_description.consumer: e
            for e in self.entities
            if e.entity_description.consumer is not None
        }
        for item in config[CONF_CONSUMERS]:
            entity = by_consumer.get(item["name"])
            handler = (
                entity_handler(entity, self.ingress)
                if entity is not None
                else event_handler(host, item["event_type"], item["name"])
            )
            consumer = DurableConsumer(client, consumer_spec(item), handler, self.malformed.count)
            await consumer.start(entry)
            self.consumers.append(consumer)

        if config.get(CONF_KV):
            self.kv = KvMirror(host, client, config[CONF_KV])
            await self.kv.start(entry)
        if self.fleet is not None:
            await self.fleet.start_import()

    async def online_later(self, host: Host, entry: ConfigEntry[Any]) -> None:
        """An entry task: run ``go_online`` after the first connect (which the client
        keeps trying); reload the entry if that fails."""
        await self.client.first_outcome()
        try:
            self.client.raise_if_refused()
            await self.go_online(host, entry)
        except Exception as err:  # noqa: BLE001 - the reload reports it properly
            _LOGGER.warning(
                "NATS %s: connected, but set-up cannot finish (%s); reloading the entry",
                self.name, err,
            )
            host.spawn(host.config_entries.reload(entry.entry_id), f"reload {entry.entry_id}")
            return
        _LOGGER.info("NATS %s: connected to %s; set-up finished", self.name,
                     self.client.connected_url)

    def replay(self, topic: str, payload: bytes) -> None:
        """A quarantined message that passes after a schema fix (schema_guard's replay,
        through the ingress hook): to the entities its subject feeds, as on arrival
        (a core subject's entities, or a consumer's entity by its filter subject)."""
        subject = as_subject(topic)
        filters = {item["name"]: item.get("filter_subject")
                   for item in self.config[CONF_CONSUMERS]}
        for entity in self.entities:
            description = entity.entity_description
            pattern = description.subject
            if pattern is None and description.consumer is not None:
                pattern = filters.get(description.consumer)
            if pattern is None or entity.entity_id is None:
                continue
            if subject_matches(pattern, subject):
                try:
                    entity.apply(payload, subject)
                except PayloadError as err:
                    _LOGGER.debug("%s: replayed message unusable: %s", entity.entity_id, err)
                    self.malformed.count(f"subject {subject}")

    def diagnostics(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "connection": self.client.diagnostics(),
            "outbox": {
                **self.outbox.diagnostics(),
                "atomic_batches": self.sender.atomic_batches,
            },
            "malformed": self.malformed.total,
            "consumers": {c.spec.name: c.diagnostics() for c in self.consumers},
            "kv": self.kv.diagnostics() if self.kv else None,
            "fleet": self.fleet.diagnostics() if self.fleet else None,
        }
