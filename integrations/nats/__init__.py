"""The NATS integration: subjects as entities, JetStream through the outbox, KV, fleet.

One config entry is one NATS connection (a server list: nats-py fails over between
them). The modules, each with one job:

* ``const.py``, ``config.py``: names, the voluptuous schemas (YAML, forms, the shared
  ``outbox:`` block) and ``OPTIONS_LAYOUT``;
* ``client.py``: the connection (first connect, status, TLS, credentials);
* ``runtime.py``: ``NatsRuntime`` (``entry.runtime_data``) and the online half of
  set-up;
* ``entity.py``, ``sensor.py``, ``binary_sensor.py``: the entities, described by data
  (``describe``) where they come from the configuration;
* ``subscriptions.py``: core subjects → entities; ``consumer.py``: durable JetStream
  consumers → entities or bus events;
* ``jetstream.py``: stream declarations and the outbox ``Sender``; ``kv.py``: the KV
  mirror of states; ``fleet.py``: the bridge between the hosts of a site;
* ``services.py`` + ``services.yaml``: ``nats.publish`` and ``nats.request``;
  ``flow.py``: the config and options flows; ``errors.py``: the integration's errors.

``setup_entry`` starts the first connect and waits for it at most ``setup_timeout``
seconds (a refusal of the credentials fails set-up here, before anything is made).
Then, connected or not, it makes the offline half, in an order that matters: the outbox
destination (its sender held until the streams are declared) with the connectivity and
queue sensors, the entities, the fleet's forwarding, the services; so messages are
accepted from the first second whatever NATS is doing (the helpers' store-and-forward
rule). Connected, it brings the entry online itself (a refused stream fails set-up);
otherwise the entry loads offline and comes online when a server answers
(``runtime.py``).

Everything is undone by ``entry.on_unload`` and ``entry.spawn`` (the connection is
closed last: its undo is registered first), so unload and reload need no code of their
own.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from gatehouse.core import (
    ConfigEntry,
    Host,
    YamlEntry,
    entries_by_name,
    hookimpl,
)
from gatehouse.core.helpers import (
    LinkSensor,
    attach_outbox,
    ingress_guard,
    slugify,
    template_engine,
)

from .client import NatsClient
from .config import CONFIG_SCHEMA, ENTRY_SCHEMA, OPTIONS_LAYOUT
from .const import (
    CONF_ACK_TIMEOUT,
    CONF_FLEET,
    CONF_NAME,
    CONF_OUTBOX,
    CONF_SETUP_TIMEOUT,
    DOMAIN,
)
from .entity import entry_device
from .fleet import FleetBridge
from .flow import NatsConfigFlow, NatsOptionsFlow
from .jetstream import JetStreamSender, StreamRoutes
from .runtime import NatsRuntime, message_entities
from .sensor import MalformedCounter
from .services import LOADED
from .subscriptions import TRANSPORT

_LOGGER = logging.getLogger(__name__)


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
        config = OPTIONS_LAYOUT.validated(entry, ENTRY_SCHEMA, "NATS")
        name = config[CONF_NAME]
        key = slugify(entry.unique_id or entry.entry_id)
        device = entry_device(key, name)

        client = NatsClient(config)
        entry.on_unload(client.close)
        connected = await client.start(entry)

        routes = StreamRoutes()
        destination = f"nats_{key}"
        sender = JetStreamSender(client, routes, destination, config[CONF_ACK_TIMEOUT])
        link = LinkSensor(
            f"{key}_connected", f"{name} connected",
            lambda: client.connected, client.link_attributes, device,
        )
        outbox = await attach_outbox(
            host, entry, sender, config[CONF_OUTBOX],
            destination=destination, name=name, device_info=device, link=link,
        )
        entry.on_unload(client.on_status(link.refresh))

        malformed = MalformedCounter(key, name, device)
        entities = message_entities(config, key, template_engine(host))
        await host.entities.add(entry, [malformed, *entities])
        fleet = None
        if config.get(CONF_FLEET):
            fleet = FleetBridge(host, entry, client, outbox, config[CONF_FLEET], malformed.count)
            fleet.start_forwarding()
        runtime = NatsRuntime(
            config, key, client, outbox, routes, sender, malformed, entities, fleet
        )
        entry.runtime_data = runtime
        LOADED.add(host, entry, runtime)
        # Governed ingest (schema_guard, when loaded): see subscriptions.py.
        runtime.ingress = ingress_guard(host)
        entry.on_unload(runtime.ingress.set_replay_target(TRANSPORT, runtime.replay))

        if connected:
            await runtime.go_online(host, entry)
            return
        _LOGGER.warning(
            "NATS %s: %s; loaded without a connection: JetStream messages are queued "
            "and delivered once a server answers",
            name, client.unreachable(float(config[CONF_SETUP_TIMEOUT])),
        )
        entry.spawn(runtime.online_later(host, entry), f"nats {name} online")

    async def unload_entry(self, host: Host, entry: ConfigEntry[NatsRuntime]) -> None:
        """Nothing to do: tasks, undos and the connection are released by the host."""


INTEGRATION = NatsIntegration()


@hookimpl
def gatehouse_integration() -> NatsIntegration:
    return INTEGRATION


@hookimpl
def gatehouse_diagnostics(host: Host) -> Mapping[str, Any]:
    """Per loaded entry: connection, outbox, consumers, KV and fleet figures (no secrets)."""
    return {entry_id: rt.diagnostics() for entry_id, rt in LOADED.runtimes(host).items()}
