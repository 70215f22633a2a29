"""From a hub block to its entities: which platform reads which list, and how.

Each platform module (``sensor``, ``binary_sensor``, ``switch``, ``number``) turns one
configured point block into descriptions (``describe``: data, one per register or copy)
and has one entity class for all of them. ``build_entities`` runs every block of a hub
through its platform, gives each slave its device, registers each point's span with the
coordinator (which plans the reads), and adds one diagnostics sensor per slave.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from gatehouse.core import DeviceInfo, Entity
from gatehouse.core.helpers import slugify

from . import binary_sensor, number, sensor, switch
from .const import (
    CONF_BINARY_SENSORS,
    CONF_DIAGNOSTICS,
    CONF_NAME,
    CONF_NUMBERS,
    CONF_SCAN_INTERVAL,
    CONF_SENSORS,
    CONF_SWITCHES,
)
from .coordinator import HubCoordinator
from .entity import ModbusEntity, PointDescription, slave_device

#: ``describe(hub_name, block, default_interval)``: one point block as descriptions.
Describe = Callable[[str, Mapping[str, Any], float], Sequence[PointDescription]]

#: Each platform: its YAML key, how a block becomes descriptions, and the entity class.
PLATFORMS: tuple[tuple[str, Describe, type[ModbusEntity]], ...] = (
    (CONF_SENSORS, sensor.describe, sensor.ModbusSensor),
    (CONF_BINARY_SENSORS, binary_sensor.describe, binary_sensor.ModbusBinarySensor),
    (CONF_SWITCHES, switch.describe, switch.ModbusSwitch),
    (CONF_NUMBERS, number.describe, number.ModbusNumber),
)


def build_entities(conf: Mapping[str, Any], coordinator: HubCoordinator) -> list[Entity]:
    """Every entity a validated hub block describes, with its span registered for polling."""
    name = conf[CONF_NAME]
    interval = conf[CONF_SCAN_INTERVAL]
    described = [
        (cls, description)
        for key, describe, cls in PLATFORMS
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
            sensor.SlaveDiagnosticsSensor(coordinator, s, prefix, devices[s]) for s in slaves
        )
    return entities
