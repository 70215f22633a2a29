"""The modbus integration: poll Modbus TCP, RTU-over-TCP and serial RTU slaves.

One config entry per hub (a line: TCP endpoint or serial port). ``setup_entry``:

1. re-validates the entry data with the hub schema (stored JSON becomes typed again),
   with the points added in the options flow (``entry.options``) joined to the entry's
   own (YAML or config flow) points;
2. opens the line once — unreachable means ``ConfigEntryNotReady`` and the host retries
   with backoff; after that the hub reconnects by itself and entities go unavailable
   and come back instead;
3. builds the entity descriptions (data, one class per platform) and registers each
   point's span with the coordinator, which plans the reads per slave;
4. adds the entities, starts the coordinator (one polling task per slave) with
   ``entry.spawn`` and makes the hub reachable by the ``modbus.*`` services.

Every undo is registered with ``entry.on_unload``, so unload and reload need no code.
Module map: ``config`` (schemas), ``client`` (hub, the wire), ``datatypes`` (codec),
``planner`` (read coalescing), ``poller``/``coordinator`` (scheduling, availability),
``sensor``/``binary_sensor``/``switch``/``number``/``diagnostics`` (entities),
``services``, ``flow``.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import voluptuous as vol

from gatehouse.core import (
    ConfigEntry,
    ConfigEntryError,
    ConfigEntryNotReady,
    DeviceInfo,
    Entity,
    Host,
    YamlEntry,
    entries_by_name,
    hookimpl,
)
from gatehouse.core.util import slugify

from . import binary_sensor, number, sensor, switch
from .client import HubParams, ModbusHub
from .config import CONFIG_SCHEMA, HUB_SCHEMA, PLATFORM_SCHEMAS
from .const import (
    CONF_BAUDRATE,
    CONF_BINARY_SENSORS,
    CONF_BYTESIZE,
    CONF_COALESCE,
    CONF_DELAY,
    CONF_DIAGNOSTICS,
    CONF_HOST,
    CONF_MAX_BIT_GAP,
    CONF_MAX_GAP,
    CONF_NAME,
    CONF_NUMBERS,
    CONF_PARITY,
    CONF_PORT,
    CONF_RECONNECT_DELAY,
    CONF_RECONNECT_DELAY_MAX,
    CONF_RETRIES,
    CONF_SCAN_INTERVAL,
    CONF_SENSORS,
    CONF_SLAVE_TIMEOUTS,
    CONF_STOPBITS,
    CONF_SWITCHES,
    CONF_TIMEOUT,
    CONF_TYPE,
    CONF_UNIQUE_ID,
    DOMAIN,
    HubType,
)
from .coordinator import HubCoordinator
from .diagnostics import SlaveDiagnosticsSensor
from .entity import ModbusEntity, slave_device
from .errors import ModbusConnectionError
from .flow import ModbusConfigFlow, ModbusOptionsFlow
from .services import LOADED, attach_hub

_LOGGER = logging.getLogger(__name__)

#: Each platform: its YAML key, how a block becomes descriptions, and the entity class.
_PLATFORMS: tuple[tuple[str, Any, type[ModbusEntity]], ...] = (
    (CONF_SENSORS, sensor.describe, sensor.ModbusSensor),
    (CONF_BINARY_SENSORS, binary_sensor.describe, binary_sensor.ModbusBinarySensor),
    (CONF_SWITCHES, switch.describe, switch.ModbusSwitch),
    (CONF_NUMBERS, number.describe, number.ModbusNumber),
)


class ModbusRuntime:
    """What a loaded modbus entry holds (``entry.runtime_data``)."""

    def __init__(self, hub: ModbusHub, coordinator: HubCoordinator) -> None:
        self.hub = hub
        self.coordinator = coordinator


def hub_params(conf: Mapping[str, Any]) -> HubParams:
    """The hub's connection settings from a validated hub block."""
    hub_type = HubType(conf[CONF_TYPE])
    serial = hub_type is HubType.SERIAL
    return HubParams(
        name=conf[CONF_NAME],
        hub_type=hub_type,
        host=str(conf.get(CONF_HOST, "")),
        port=0 if serial else int(conf[CONF_PORT]),
        serial_port=str(conf[CONF_PORT]) if serial else "",
        baudrate=conf[CONF_BAUDRATE],
        bytesize=conf[CONF_BYTESIZE],
        parity=conf[CONF_PARITY],
        stopbits=conf[CONF_STOPBITS],
        timeout=conf[CONF_TIMEOUT],
        retries=conf[CONF_RETRIES],
        delay=conf[CONF_DELAY],
        reconnect_delay=conf[CONF_RECONNECT_DELAY],
        reconnect_delay_max=conf[CONF_RECONNECT_DELAY_MAX],
        slave_timeouts=dict(conf[CONF_SLAVE_TIMEOUTS]),
    )


def merged_points(entry: ConfigEntry[Any]) -> dict[str, Any]:
    """The entry's hub block with the points added in the options flow appended.

    A UI point whose name a YAML point took since is skipped (with a warning) rather
    than failing the whole hub.
    """
    data = dict(entry.data)
    for key in PLATFORM_SCHEMAS:
        added = entry.options.get(key) or []
        if not added:
            continue
        own = list(data.get(key) or [])
        taken = {p.get(CONF_UNIQUE_ID) or p[CONF_NAME] for p in own}
        for point in added:
            if (point.get(CONF_UNIQUE_ID) or point[CONF_NAME]) in taken:
                _LOGGER.warning(
                    "%s: %s %r added in the UI clashes with one in the configuration; "
                    "skipping it", entry.title, key, point[CONF_NAME],
                )
                continue
            own.append(point)
        data[key] = own
    return data


def build_entities(conf: Mapping[str, Any], coordinator: HubCoordinator) -> list[Entity]:
    """Every entity a hub block describes, with its span registered for polling."""
    name = conf[CONF_NAME]
    interval = conf[CONF_SCAN_INTERVAL]
    described = [
        (cls, description)
        for key, describe, cls in _PLATFORMS
        for item in conf[key]
        for description in describe(name, item, interval)
    ]
    slaves = sorted({d.point.slave for _, d in described})
    endpoint = coordinator.hub.params.endpoint
    devices: dict[int, DeviceInfo] = {
        s: slave_device(name, s, single_slave=len(slaves) == 1, endpoint=endpoint)
        for s in slaves
    }
    entities: list[Entity] = []
    for cls, description in described:
        coordinator.add_span(description.point.span, description.point.scan_interval)
        entities.append(cls(coordinator, description, devices[description.point.slave]))
    if conf[CONF_DIAGNOSTICS]:
        prefix = slugify(name)
        entities.extend(
            SlaveDiagnosticsSensor(coordinator, s, prefix, devices[s]) for s in slaves
        )
    return entities


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
            conf = HUB_SCHEMA(merged_points(entry))
        except vol.Invalid as err:
            raise ConfigEntryError(f"invalid modbus hub configuration: {err}") from err
        hub = ModbusHub(hub_params(conf))
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
        entry.runtime_data = ModbusRuntime(hub, coordinator)
        attach_hub(host, entry, hub)
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
    hubs = [hub.name for hub in LOADED.runtimes(host).values()]
    result: dict[str, Any] = {}
    for entry in host.config_entries.entries():
        runtime = getattr(entry, "runtime_data", None)
        if entry.domain == DOMAIN and isinstance(runtime, ModbusRuntime):
            result[runtime.hub.name] = runtime.coordinator.diagnostics()
    return {"hubs": result, "loaded": sorted(hubs)}
