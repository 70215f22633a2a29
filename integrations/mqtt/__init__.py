"""The MQTT integration: a broker connection per config entry, entities, discovery,
statestream, ``mqtt.publish``, the ``mqtt_message`` event and a durable publish path.

How an entry is put together (``setup_entry``), each part in its own module:

* ``client.MqttConnection``: paho in its network thread; everything it reports reaches
  the loop in batches through ``bridge.ThreadBridge``;
* ``runtime.EntryRuntime``: publishes QoS 0 directly and QoS 1/2 through the host
  outbox (destination ``mqtt.<entry_id>``, delivered by ``sender.MqttSender``), with
  ``OutboxStatSensor`` entities showing the queue;
* ``entities``: sensors, binary sensors, switches and numbers from the entry's YAML
  and its options (``options.MqttOptionsFlow``: added in the browser);
* ``discovery``: Home Assistant discovery in (make entities) and out (announce ours);
* ``statestream``: state changes out to the broker;
* ``services``: ``mqtt.publish`` and ``mqtt_message``; ``api``: what other
  integrations use (``host.data[MQTT_API]``).

Every part registers its undo with the entry, so unload and reload need no code here;
the connection is closed last (its undo is registered first).
"""

from __future__ import annotations

import logging
from typing import Any

import anyio
import anyio.to_thread
import voluptuous as vol

from gatehouse.core import (
    ConfigEntry,
    ConfigEntryAuthFailed,
    ConfigEntryError,
    ConfigEntryNotReady,
    Entity,
    Host,
    YamlEntry,
    hookimpl,
)
from gatehouse.core.helpers import OutboxStatSensor
from gatehouse.core.outbox import Backoff, BreakerPolicy, get_outbox

from .api import MQTT_API, MqttApi
from .client import MqttConnection
from .config import CONFIG_SCHEMA, entry_data
from .const import (
    CONF_BROKER,
    CONF_CLIENT_ID,
    CONF_DISCOVERY,
    CONF_DISCOVERY_PREFIX,
    CONF_NAME,
    CONF_OUTBOX,
    CONF_PORT,
    CONF_PUBLISH_DISCOVERY,
    CONF_STATESTREAM,
    CONF_SUBSCRIBE,
    DOMAIN,
    PLATFORMS,
)
from .discovery import DiscoveryConsumer, DiscoveryPublisher
from .entities import PLATFORM_CLASSES, MqttEntity
from .flow import MqttConfigFlow
from .options import MqttOptionsFlow, merged_data
from .runtime import EntryRuntime
from .services import LOADED, setup_event_forwarding, template_engine
from .settings import ConnectError, ConnectionSettings, build_tls_context
from .statestream import StateStream

_LOGGER = logging.getLogger(__name__)


def _unique_id(data: dict[str, Any]) -> str:
    """Broker, port and client id: the same for a YAML block and a flow entry."""
    return f"{data[CONF_BROKER]}:{data[CONF_PORT]}:{data.get(CONF_CLIENT_ID) or ''}"


class MqttIntegration:
    domain = DOMAIN
    config_schema = CONFIG_SCHEMA
    config_flow = MqttConfigFlow
    entry_version = 1

    def entries_from_yaml(self, config: Any) -> list[YamlEntry]:
        items = config if isinstance(config, list) else [config]
        return [
            YamlEntry(
                unique_id=_unique_id(item),
                title=item.get(CONF_NAME) or f"{item[CONF_BROKER]}:{item[CONF_PORT]}",
                data=item,
            )
            for item in items
        ]

    def options_flow(self, entry: ConfigEntry[Any]) -> MqttOptionsFlow:
        return MqttOptionsFlow(entry)

    async def setup_entry(self, host: Host, entry: ConfigEntry[EntryRuntime]) -> None:
        try:
            data = entry_data(merged_data(entry.data, entry.options))
        except vol.Invalid as err:
            raise ConfigEntryError(f"invalid mqtt entry data: {err}") from err
        settings = ConnectionSettings.from_data(
            data, default_client_id=f"gatehouse-{entry.entry_id[-12:]}"
        )
        try:
            tls_context = await anyio.to_thread.run_sync(build_tls_context, settings)
        except ConnectError as err:
            raise ConfigEntryError(str(err)) from err
        connection = MqttConnection(host, settings, entry.entry_id, tls_context)
        try:
            await connection.start()
        except ConnectError as err:
            if err.kind == "auth":
                raise ConfigEntryAuthFailed(str(err)) from err
            raise ConfigEntryNotReady(str(err)) from err
        entry.on_unload(connection.close)

        outbox = await get_outbox(host)
        runtime = EntryRuntime(entry.entry_id, connection, outbox)
        entry.runtime_data = runtime

        settings_outbox = data[CONF_OUTBOX]
        entry.on_unload(
            outbox.register_destination(
                runtime.destination,
                runtime.sender,
                max_messages=settings_outbox["max_messages"],
                max_bytes=settings_outbox["max_bytes"],
                overflow=settings_outbox["overflow"],
                ttl=settings_outbox.get("ttl"),
                batch_size=settings_outbox["batch_size"],
                backoff=Backoff(initial=0.2, maximum=10.0),
                breaker=BreakerPolicy(failure_threshold=10, reset_timeout=5.0),
                send_timeout=60.0,
            )
        )
        api = host.data.setdefault(MQTT_API, MqttApi())
        entry.on_unload(api.attach(entry.entry_id, runtime))
        LOADED.add(host, entry, runtime)
        setup_event_forwarding(host, entry, runtime, data[CONF_SUBSCRIBE])

        stat_sensors = [
            OutboxStatSensor(outbox, runtime.destination, stat, entry.title)
            for stat in OutboxStatSensor.STATS
        ]
        await host.entities.add(entry, [*stat_sensors, *_yaml_entities(host, runtime, data)])
        entry.spawn(
            _refresh_stats(stat_sensors, float(settings_outbox["stats_interval"])),
            f"mqtt {entry.title} outbox stats",
        )

        if data[CONF_DISCOVERY]:
            consumer = DiscoveryConsumer(host, entry, runtime, data[CONF_DISCOVERY_PREFIX])
            consumer.start()
            runtime.parts["discovery"] = consumer
        if data.get(CONF_STATESTREAM) is not None or data[CONF_PUBLISH_DISCOVERY]:
            stream = StateStream(host, entry, runtime, data.get(CONF_STATESTREAM))
            stream.start()
            runtime.parts["statestream"] = stream
            if data[CONF_PUBLISH_DISCOVERY]:
                publisher = DiscoveryPublisher(
                    host, entry, runtime, data[CONF_DISCOVERY_PREFIX], stream
                )
                publisher.start()
                runtime.parts["discovery_publish"] = publisher
        if not await connection.wait_subscribed(settings.connect_timeout):
            _LOGGER.warning("%s: the broker did not acknowledge every subscription", entry.title)

    async def unload_entry(self, host: Host, entry: ConfigEntry[EntryRuntime]) -> None:
        """Nothing to do: every part registered its undo with the entry."""


def _yaml_entities(host: Host, runtime: EntryRuntime, data: dict[str, Any]) -> list[Entity]:
    """The entities the entry's YAML describes; a broken one is skipped, not fatal."""
    entities: list[Entity] = []
    engine = None
    for platform in PLATFORMS:
        for config in data.get(platform) or ():
            if engine is None and "value_template" in config:
                engine = template_engine(host)
            try:
                entity: MqttEntity = PLATFORM_CLASSES[platform](runtime, config, engine)
            except ValueError as err:  # a template that does not compile
                _LOGGER.error("Skipping mqtt %s %r: %s", platform, config.get("name"), err)
                continue
            entities.append(entity)
    return entities


async def _refresh_stats(sensors: list[OutboxStatSensor], interval: float) -> None:
    while True:
        for sensor in sensors:
            if sensor.entity_id is not None:
                sensor.refresh()
        await anyio.sleep(interval)


INTEGRATION = MqttIntegration()


@hookimpl
def gatehouse_integration() -> MqttIntegration:
    return INTEGRATION


@hookimpl
def gatehouse_diagnostics(host: Host) -> dict[str, Any]:
    """Per loaded entry: connection, sender, entities (with bad payload counts), parts."""
    result: dict[str, Any] = {}
    for entry_id, runtime in LOADED.runtimes(host).items():
        report = runtime.diagnostics()
        for name, part in runtime.parts.items():
            report[name] = part.diagnostics()
        result[entry_id] = report
    return result
