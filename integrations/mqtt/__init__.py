"""The MQTT integration: a broker connection per config entry, entities, discovery,
statestream, ``mqtt.publish``, the ``mqtt_message`` event and a durable publish path.

The modules, each with one job:

* ``const.py``, ``config.py``: names, the voluptuous schemas (YAML, flow forms), the
  ``OPTIONS_LAYOUT`` and ``ConnectionSettings``; ``errors.py``: the exceptions;
* ``client.MqttConnection``: paho in its network thread (``transport.py`` speeds up its
  receive path, ``tls.py`` makes its TLS context); everything it reports reaches the
  loop in batches through ``bridge.ThreadBridge``; ``topics.py`` validates and routes;
* ``runtime.MqttRuntime``: publishes QoS 0 directly and QoS 1/2 through the host outbox
  (``attach_outbox``, destination ``mqtt.<entry_id>``, delivered by
  ``sender.MqttSender``), with queue sensors and a ``LinkSensor`` for the broker link;
* ``entity.py`` and one module per platform (``sensor.py``, ``binary_sensor.py``,
  ``switch.py``, ``number.py``): entities described by data; ``platforms.py`` makes them
  from YAML, the options flow (``flow.MqttOptionsFlow``) and discovery alike;
* ``discovery``: Home Assistant discovery in (make entities) and out (announce ours);
* ``statestream``: state changes out to the broker;
* ``services``: ``mqtt.publish`` and ``mqtt_message``; ``api``: what other
  integrations use (``host.data[MQTT_API]``);
* ``provisioning``: devices on a Mosquitto with dynamic security (an entry's
  ``provisioning:`` block) and the live traffic monitor, with their REST/WS API.

Why set-up runs in this order: the connection is started first and its close registered
first, so it is undone last, after everything that uses it. A broker that cannot be
reached does not stop set-up (only a refused login or broken TLS files do): the entry
loads, ``mqtt.publish`` is registered and QoS 1/2 messages wait in the outbox while paho
keeps trying, because an entry stuck in ``setup_retry`` would have no service and
callers' messages would be refused instead of queued. The outbox is attached before the
runtime publishes anything, entities are added before discovery and statestream start
(they announce what exists), and set-up waits for the broker's SUBACKs last, so that
"loaded" means "listening" when the broker is there. Every part registers its undo with
the entry, so unload and reload need no code here.
"""

from __future__ import annotations

import logging
from typing import Any

import anyio.to_thread
import voluptuous as vol

from gatehouse.core import (
    ConfigEntry,
    ConfigEntryAuthFailed,
    ConfigEntryError,
    ConfigEntryNotReady,
    Host,
    YamlEntry,
    hookimpl,
)
from gatehouse.core.helpers import LinkSensor, attach_outbox, describe_invalid, ingress_guard
from gatehouse.core.http import RouteDef, WsCommand

from .api import MQTT_API, MqttApi
from .client import TRANSPORT, MqttConnection
from .config import (
    CONFIG_SCHEMA,
    OPTIONS_LAYOUT,
    ConnectionSettings,
    entry_data,
    entry_title,
    entry_unique_id,
)
from .const import (
    CONF_DISCOVERY,
    CONF_DISCOVERY_PREFIX,
    CONF_OUTBOX,
    CONF_PUBLISH_DISCOVERY,
    CONF_STATESTREAM,
    CONF_SUBSCRIBE,
    DOMAIN,
)
from .discovery import DiscoveryConsumer, DiscoveryPublisher
from .errors import ConnectError
from .flow import MqttConfigFlow, MqttOptionsFlow
from .platforms import configured_entities
from .provisioning import setup_provisioning
from .provisioning.config import CONF_PROVISIONING
from .runtime import MqttRuntime, destination_name
from .sender import MqttSender
from .services import LOADED, setup_event_forwarding
from .statestream import StateStream
from .tls import build_tls_context

_LOGGER = logging.getLogger(__name__)


class MqttIntegration:
    domain = DOMAIN
    config_schema = CONFIG_SCHEMA
    config_flow = MqttConfigFlow
    entry_version = 1

    def entries_from_yaml(self, config: Any) -> list[YamlEntry]:
        items = config if isinstance(config, list) else [config]
        return [
            YamlEntry(unique_id=entry_unique_id(item), title=entry_title(item), data=item)
            for item in items
        ]

    def options_flow(self, entry: ConfigEntry[Any]) -> MqttOptionsFlow:
        return MqttOptionsFlow(entry)

    async def setup_entry(self, host: Host, entry: ConfigEntry[MqttRuntime]) -> None:
        try:
            data = entry_data(OPTIONS_LAYOUT.merged(entry))
        except vol.Invalid as err:
            raise ConfigEntryError(f"invalid mqtt entry data: {describe_invalid(err)}") from err
        settings = ConnectionSettings.from_data(
            data, default_client_id=f"gatehouse-{entry.entry_id[-12:]}"
        )
        try:
            tls_context = await anyio.to_thread.run_sync(build_tls_context, settings)
        except ConnectError as err:
            raise ConfigEntryError(str(err)) from err
        connection = MqttConnection(host, settings, entry.entry_id, tls_context)
        try:
            await connection.start(keep_trying=True)
        except ConnectError as err:
            if err.kind == "auth":
                raise ConfigEntryAuthFailed(str(err)) from err
            raise ConfigEntryNotReady(str(err)) from err
        entry.on_unload(connection.close)
        entry.on_unload(ingress_guard(host).set_replay_target(TRANSPORT, connection.replay))

        # On while the broker link is up: at boot with the broker away, it shows why
        # messages are queued rather than delivered.
        link = LinkSensor(
            f"{entry.entry_id}_link",
            f"{entry.title} link",
            lambda: connection.connected,
            lambda: {"broker": settings.where, "last_error": connection.last_error},
        )
        connection.add_listener(lambda _connected: link.refresh())
        sender = MqttSender(connection)
        outbox = await attach_outbox(
            host, entry, sender, data[CONF_OUTBOX], destination=destination_name(entry.entry_id),
            name=entry.title, link=link,
        )
        runtime = entry.runtime_data = MqttRuntime(entry.entry_id, connection, sender, outbox)
        api = host.data.setdefault(MQTT_API, MqttApi())
        entry.on_unload(api.attach(entry.entry_id, runtime))
        LOADED.add(host, entry, runtime)
        setup_event_forwarding(host, entry, runtime, data[CONF_SUBSCRIBE])
        await host.entities.add(entry, configured_entities(host, runtime, data))

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
        if data.get(CONF_PROVISIONING) is not None:
            runtime.parts["provisioning"] = await setup_provisioning(
                host, entry, runtime, data[CONF_PROVISIONING], settings.broker, settings.port
            )
        if not await connection.wait_subscribed(settings.connect_timeout):
            _LOGGER.warning("%s: the broker did not acknowledge every subscription", entry.title)

    async def unload_entry(self, host: Host, entry: ConfigEntry[MqttRuntime]) -> None:
        """Nothing to do: every part registered its undo with the entry."""


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


@hookimpl
def gatehouse_http_routes(host: Host) -> list[RouteDef]:
    """Device provisioning's REST API (admins only; ``provisioning/views.py``)."""
    from .provisioning.views import routes

    return routes(host)


@hookimpl
def gatehouse_ws_commands(host: Host) -> list[WsCommand]:
    """Provisioning and the live traffic monitor over the WebSocket (admins only;
    ``provisioning/wscommands.py``)."""
    from .provisioning.wscommands import commands

    return commands(host)
