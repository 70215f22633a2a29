"""The modbus integration: poll Modbus TCP, RTU-over-TCP and serial RTU slaves.

One config entry per hub (a line: TCP endpoint or serial port). ``setup_entry``:

1. re-validates the entry data with the hub schema (stored JSON becomes typed again),
   with the points added in the options flow (``entry.options``) joined to the entry's
   own (YAML or config flow) points by ``config.OPTIONS_LAYOUT`` (YAML wins a clash);
2. opens the line once — unreachable means ``ConfigEntryNotReady`` and the host retries
   with backoff; after that the hub reconnects by itself and entities go unavailable
   and come back instead;
3. builds the entity descriptions (data, one class per platform) and registers each
   point's span with the coordinator, which plans the reads per slave;
4. adds the entities, starts the coordinator (one polling task per slave) with
   ``entry.spawn`` and makes the hub reachable by the ``modbus.*`` services.

Every undo is registered with ``entry.on_unload``, so unload and reload need no code.

Module map: ``const``/``config`` (names, schemas, the options layout), ``client`` (the
hub: the wire, reconnects, error translation), ``datatypes`` (register codec),
``planner`` (read coalescing), ``poller``/``coordinator`` (scheduling, availability),
``runtime`` (``ModbusRuntime``, what a loaded entry holds), ``platforms`` (hub block →
entities), ``entity`` (the shared base) and ``sensor``/``binary_sensor``/``switch``/
``number`` (one module per platform), ``services``, ``flow``, ``errors``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import voluptuous as vol

from gatehouse.core import (
    ConfigEntry,
    ConfigEntryError,
    ConfigEntryNotReady,
    Host,
    YamlEntry,
    entries_by_name,
    hookimpl,
)
from gatehouse.core.helpers import describe_invalid

from .client import HubParams, ModbusHub
from .config import CONFIG_SCHEMA, HUB_SCHEMA, OPTIONS_LAYOUT
from .const import CONF_COALESCE, CONF_MAX_BIT_GAP, CONF_MAX_GAP, CONF_NAME, DOMAIN
from .coordinator import HubCoordinator
from .errors import ModbusConnectionError
from .flow import ModbusConfigFlow, ModbusOptionsFlow
from .platforms import build_entities
from .runtime import ModbusRuntime
from .services import LOADED, attach_hub


class ModbusIntegration:
    domain = DOMAIN
    config_schema = CONFIG_SCHEMA
    config_flow = ModbusConfigFlow
    entry_version = 1

    def entries_from_yaml(self, config: Any) -> list[YamlEntry]:
        return entries_by_name(config, CONF_NAME)

    def options_flow(self, entry: ConfigEntry[Any]) -> ModbusOptionsFlow:
        """Add and remove points in the web UI (kept in ``entry.options``)."""
        return ModbusOptionsFlow(entry)

    async def setup_entry(self, host: Host, entry: ConfigEntry[ModbusRuntime]) -> None:
        try:
            conf = HUB_SCHEMA(OPTIONS_LAYOUT.merged(entry))
        except vol.Invalid as err:
            raise ConfigEntryError(
                f"invalid modbus hub configuration: {describe_invalid(err)}"
            ) from err
        hub = ModbusHub(HubParams.from_config(conf))
        hub.on_health = entry.set_health  # connected / reconnecting, for the UI and API
        entry.on_unload(hub.close)
        try:
            await hub.connect()
        except ModbusConnectionError as err:
            raise ConfigEntryNotReady(str(err)) from err
        coordinator = HubCoordinator(
            hub, max_gap=conf[CONF_MAX_GAP], max_bit_gap=conf[CONF_MAX_BIT_GAP],
            coalesce=conf[CONF_COALESCE],
        )
        entities = build_entities(conf, coordinator)
        runtime = entry.runtime_data = ModbusRuntime(hub, coordinator)
        attach_hub(host, entry, runtime)
        await host.entities.add(entry, entities)
        entry.spawn(coordinator.run(), f"modbus {hub.name} polling")

    async def unload_entry(self, host: Host, entry: ConfigEntry[ModbusRuntime]) -> None:
        """Nothing to do: polling, entities, services and the line are undone by the host."""


INTEGRATION = ModbusIntegration()


@hookimpl
def gatehouse_integration() -> ModbusIntegration:
    return INTEGRATION


@hookimpl
def gatehouse_diagnostics(host: Host) -> Mapping[str, Any]:
    """Per-hub, per-slave counters of every loaded hub (no secrets: no credentials exist)."""
    runtimes = LOADED.runtimes(host).values()
    return {
        "hubs": {runtime.name: runtime.coordinator.diagnostics() for runtime in runtimes},
        "loaded": sorted(runtime.name for runtime in runtimes),
    }
