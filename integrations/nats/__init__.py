"""The NATS integration: subjects as entities, JetStream through the outbox, KV, fleet.

One config entry is one NATS connection (a server list: nats-py fails over between
them). ``setup_entry`` wires the parts in an order that matters:

1. connect (bounded: unreachable servers → ``ConfigEntryNotReady``);
2. declare streams (ours and the fleet's), so the sender knows which take atomic
   batches before the outbox hands it the first message;
3. register the entry's outbox destination (messages stored before a restart are
   delivered from here on);
4. entities, then the subscriptions and consumers that feed them;
5. KV mirror, fleet bridge, services.

Everything is undone by ``entry.on_unload`` and ``entry.spawn`` (the connection is
closed last), so unload and reload need no code of their own.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Mapping
from typing import Any

import anyio
import voluptuous as vol
from nats.aio.msg import Msg

from gatehouse.core import (
    ConfigEntry,
    ConfigEntryError,
    GatehouseError,
    Host,
    YamlEntry,
    entries_by_name,
    hookimpl,
)
from gatehouse.core.helpers import OutboxStatSensor
from gatehouse.core.outbox import (
    Backoff,
    BreakerPolicy,
    Outbox,
    get_outbox,
)
from gatehouse.core.template import TemplateEngine, TemplateError
from gatehouse.core.util import slugify

from .client import NatsClient
from .config import CONFIG_SCHEMA, ENTRY_SCHEMA
from .const import (
    CONF_BINARY_SENSORS,
    CONF_CONSUMERS,
    CONF_FLEET,
    CONF_KV,
    CONF_NAME,
    CONF_OUTBOX,
    CONF_SENSORS,
    CONF_STREAMS,
    DOMAIN,
)
from .consumer import ConsumerSpec, Delivery, DurableConsumer
from .entities import (
    ConnectionSensor,
    MalformedCounter,
    MessageBinarySensor,
    MessageEntity,
    MessageSensor,
)
from .fleet import FleetBridge
from .flow import NatsConfigFlow
from .jetstream import (
    JetStreamSender,
    StreamRoutes,
    declare_stream,
    keep_declared,
    stream_config,
)
from .kv import KvMirror
from .options import NatsOptionsFlow, merged_data
from .services import LOADED
from .values import MalformedPayload, ValueExtractor, decode_json

_LOGGER = logging.getLogger(__name__)

STATS_INTERVAL = 10.0


class NatsRuntime:
    """What a loaded NATS entry holds (``entry.runtime_data``)."""

    def __init__(
        self, name: str, key: str, client: NatsClient, outbox: Outbox, destination: str,
        sender: JetStreamSender, malformed: MalformedCounter,
    ) -> None:
        self.name = name
        self.key = key
        self.client = client
        self.outbox = outbox
        self.destination = destination
        self.sender = sender
        self.malformed = malformed
        self.consumers: list[DurableConsumer] = []
        self.kv: KvMirror | None = None
        self.fleet: FleetBridge | None = None

    def diagnostics(self) -> dict[str, Any]:
        stats = self.outbox.stats(self.destination)
        return {
            "name": self.name,
            "connection": self.client.diagnostics(),
            "outbox": {
                "destination": self.destination,
                "depth": stats.depth,
                "delivered": stats.delivered,
                "retries": stats.retries,
                "breaker": str(stats.breaker_state.value),
                "atomic_batches": self.sender.atomic_batches,
            },
            "malformed": int(self.malformed.native_value or 0),
            "consumers": {c.spec.name: c.diagnostics() for c in self.consumers},
            "kv": self.kv.diagnostics() if self.kv else None,
            "fleet": self.fleet.diagnostics() if self.fleet else None,
        }


class NatsIntegration:
    domain = DOMAIN
    config_schema = CONFIG_SCHEMA
    config_flow = NatsConfigFlow
    entry_version = 1

    def entries_from_yaml(self, config: Any) -> list[YamlEntry]:
        return entries_by_name(config, CONF_NAME)

    def options_flow(self, entry: ConfigEntry[Any]) -> NatsOptionsFlow:
        return NatsOptionsFlow(entry)

    async def setup_entry(self, host: Host, entry: ConfigEntry[NatsRuntime]) -> None:
        try:
            config: dict[str, Any] = ENTRY_SCHEMA(merged_data(entry.data, entry.options))
        except vol.Invalid as err:
            raise ConfigEntryError(f"invalid NATS settings: {err}") from err
        name = config[CONF_NAME]
        key = slugify(entry.unique_id or entry.entry_id)

        client = NatsClient(config)
        await client.connect()
        entry.on_unload(client.close)

        outbox = await get_outbox(host)
        destination = f"nats_{key}"
        malformed = MalformedCounter(key, name)
        fleet = None
        if config.get(CONF_FLEET):
            fleet = FleetBridge(
                host, entry, client, outbox, destination, config[CONF_FLEET], malformed.count
            )
        routes = await _declare_streams(entry, client, config, fleet)
        sender = _register_destination(entry, client, outbox, destination, routes, config)
        runtime = NatsRuntime(name, key, client, outbox, destination, sender, malformed)
        entry.runtime_data = runtime

        connection = ConnectionSensor(client, key, name)
        depth = OutboxStatSensor(outbox, destination, "depth", name)
        depth._attr_device_info = connection.device_info
        subjects, consumer_entities = _message_entities(config, key, TemplateEngine(host))
        fed = [entity for _, _, entity in subjects] + list(consumer_entities.values())
        await host.entities.add(entry, [connection, malformed, depth, *fed])
        entry.on_unload(client.on_status(connection.refresh))
        entry.spawn(_refresh_stats(depth), f"nats {name} stats")
        await _subscribe(client, subjects, malformed)

        for item in config[CONF_CONSUMERS]:
            consumer = _consumer(host, client, item, consumer_entities.get(item["name"]), malformed)
            await consumer.ensure()
            if consumer.spec.mode == "push":
                await consumer.start_push()
                entry.on_unload(consumer.stop)
            else:
                entry.spawn(consumer.run_pull(), f"nats consumer {item['name']}")
            runtime.consumers.append(consumer)

        if config.get(CONF_KV):
            runtime.kv = KvMirror(host, client, config[CONF_KV])
            await runtime.kv.start(entry)
        if fleet is not None:
            await fleet.start()
            runtime.fleet = fleet
        LOADED.add(host, entry, runtime)

    async def unload_entry(self, host: Host, entry: ConfigEntry[NatsRuntime]) -> None:
        """Nothing to do: tasks, undos and the connection are released by the host."""


Subscription = tuple[str, str, MessageEntity]  # (subject, queue group, entity)


async def _declare_streams(
    entry: ConfigEntry[Any], client: NatsClient, config: Mapping[str, Any],
    fleet: FleetBridge | None,
) -> StreamRoutes:
    """Declare the configured streams and the fleet's; keep them declared after
    reconnects; return the routes the sender uses to pick atomic batches."""
    routes = StreamRoutes()
    declared = []
    for spec in config[CONF_STREAMS]:
        stream = stream_config(spec)
        await declare_stream(client, stream)
        routes.add(stream)
        declared.append(stream)
    if fleet is not None:
        declared.append(await fleet.declare(routes))
    if declared:
        entry.spawn(keep_declared(client, declared), f"nats {config[CONF_NAME]} streams")
    return routes


def _register_destination(
    entry: ConfigEntry[Any], client: NatsClient, outbox: Outbox, destination: str,
    routes: StreamRoutes, config: Mapping[str, Any],
) -> JetStreamSender:
    """The entry's outbox destination; messages stored before a restart flow from here."""
    settings = config[CONF_OUTBOX]
    sender = JetStreamSender(client, routes, destination, settings["ack_timeout"])
    entry.on_unload(
        outbox.register_destination(
            destination,
            sender,
            max_messages=settings["max_messages"],
            batch_size=settings["batch_size"],
            ttl=settings.get("ttl"),
            backoff=Backoff(initial=0.1, maximum=settings["retry_max"]),
            breaker=BreakerPolicy(reset_timeout=settings["breaker_reset"]),
        )
    )
    return sender


def _extractor(spec: Mapping[str, Any], engine: TemplateEngine) -> ValueExtractor:
    try:
        return ValueExtractor(
            engine, value_template=spec.get("value_template"), json_path=spec.get("json_path")
        )
    except TemplateError as err:
        raise ConfigEntryError(f"{spec['name']}: {err}") from err


def _message_entities(
    config: Mapping[str, Any], key: str, engine: TemplateEngine
) -> tuple[list[Subscription], dict[str, MessageEntity]]:
    """Entities fed by core subjects, and those fed by consumers (by consumer name)."""
    subjects: list[Subscription] = []
    for spec in config[CONF_SENSORS]:
        sensor = MessageSensor(spec, key, _extractor(spec, engine))
        subjects.append((spec["subject"], spec.get("queue", ""), sensor))
    for spec in config[CONF_BINARY_SENSORS]:
        binary = MessageBinarySensor(spec, key, _extractor(spec, engine))
        subjects.append((spec["subject"], spec.get("queue", ""), binary))
    by_consumer: dict[str, MessageEntity] = {}
    for spec in config[CONF_CONSUMERS]:
        if spec["target"] == "sensor":
            by_consumer[spec["name"]] = MessageSensor(spec, key, _extractor(spec, engine))
        elif spec["target"] == "binary_sensor":
            by_consumer[spec["name"]] = MessageBinarySensor(spec, key, _extractor(spec, engine))
    return subjects, by_consumer


def _apply(entity: MessageEntity, payload: bytes, subject: str) -> None:
    """Apply a message; a state the state machine refuses counts as malformed too."""
    try:
        entity.apply(payload, subject)
    except GatehouseError as err:
        raise MalformedPayload(str(err)) from err


async def _subscribe(
    client: NatsClient, subjects: list[Subscription], malformed: MalformedCounter
) -> None:
    """One subscription per (subject, queue), fanning out to its entities.

    The callback runs in nats-py's task for the subscription, message by message; it
    only writes states (no I/O), so it never holds up the connection.
    """
    groups: dict[tuple[str, str], list[MessageEntity]] = defaultdict(list)
    for subject, queue, entity in subjects:
        if entity.entity_id is not None:
            groups[(subject, queue)].append(entity)
    for (subject, queue), entities in groups.items():
        source = f"subject {subject}"

        async def deliver(
            msg: Msg, entities: list[MessageEntity] = entities, source: str = source
        ) -> None:
            for entity in entities:
                try:
                    _apply(entity, msg.data, msg.subject)
                except MalformedPayload as err:
                    _LOGGER.debug("%s: malformed message: %s", entity.entity_id, err)
                    malformed.count(source)

        await client.nc.subscribe(subject, queue=queue, cb=deliver)


def _consumer(
    host: Host,
    client: NatsClient,
    item: Mapping[str, Any],
    entity: MessageEntity | None,
    malformed: MalformedCounter,
) -> DurableConsumer:
    spec = ConsumerSpec(
        name=item["name"],
        stream=item["stream"],
        durable=item.get("durable") or slugify(item["name"]),
        filter_subject=item.get("filter_subject"),
        mode=item["mode"],
        batch=item["batch"],
        ack_wait=item["ack_wait"],
        fetch_timeout=item["fetch_timeout"],
    )
    if entity is not None:
        target = entity

        async def to_entity(item: Delivery) -> None:
            _apply(target, item.data, item.subject)

        return DurableConsumer(client, spec, to_entity, malformed.count)

    event_type = item["event_type"]

    async def to_event(item: Delivery) -> None:
        try:
            text = item.data.decode()
        except UnicodeDecodeError as err:
            raise MalformedPayload("payload is not UTF-8") from err
        host.bus.fire(
            event_type,
            {
                "subject": item.subject,
                "data": text,
                "json": decode_json(item.data),
                "headers": dict(item.headers),
                "stream": item.stream,
                "sequence": item.seq,
                "consumer": spec.name,
            },
        )

    return DurableConsumer(client, spec, to_event, malformed.count)


async def _refresh_stats(depth: OutboxStatSensor) -> None:
    while True:
        if depth.entity_id is not None:  # None: disabled in the registry
            depth.refresh()
        await anyio.sleep(STATS_INTERVAL)


INTEGRATION = NatsIntegration()


@hookimpl
def gatehouse_integration() -> NatsIntegration:
    return INTEGRATION


@hookimpl
def gatehouse_diagnostics(host: Host) -> Mapping[str, Any]:
    """Per loaded entry: connection, outbox, consumers, KV and fleet figures (no secrets)."""
    return {entry_id: rt.diagnostics() for entry_id, rt in LOADED.runtimes(host).items()}
