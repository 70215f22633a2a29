"""From an entry's nodes to its entities: which platform shows a node, and how.

Each platform module (``sensor``, ``binary_sensor``, ``switch``, ``number``) turns one
validated ``nodes:`` item into its own description (``describe``) and has one entity
class for all of them. ``build_entities`` takes the entry's nodes with the ones added
in the options flow (``config.OPTIONS_LAYOUT``: YAML wins a clash), gives them the
entry's device, and a unique id that survives restarts: the item's ``unique_id``, else
``<entry unique id>:<node id>``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from gatehouse.core import ConfigEntry, DeviceInfo

from . import binary_sensor, number, sensor, switch
from .config import NODE_SCHEMA, OPTIONS_LAYOUT
from .const import CONF_NODES, CONF_PLATFORM, CONF_UNIQUE_ID, DOMAIN
from .entity import NodeDescription, NodeWriter, OpcuaEntity

#: ``describe(item)``: one validated ``nodes:`` item as its platform's description.
Describe = Callable[[Mapping[str, Any]], NodeDescription]

#: Each platform: how an item becomes a description, and the entity class.
PLATFORMS: dict[str, tuple[Describe, type[OpcuaEntity]]] = {
    "sensor": (sensor.describe, sensor.OpcuaSensor),
    "binary_sensor": (binary_sensor.describe, binary_sensor.OpcuaBinarySensor),
    "switch": (switch.describe, switch.OpcuaSwitch),
    "number": (number.describe, number.OpcuaNumber),
}


def build_entities(
    writer: NodeWriter, entry: ConfigEntry[Any], name: str, endpoint: str
) -> list[OpcuaEntity]:
    """The entities of ``entry``'s nodes (its own, then those added in the UI)."""
    prefix = entry.unique_id or entry.entry_id
    device: DeviceInfo = {
        "identifiers": {(DOMAIN, prefix)},
        "name": name,
        "manufacturer": "OPC UA",
        "model": endpoint,
    }
    entities: list[OpcuaEntity] = []
    for raw in OPTIONS_LAYOUT.merged(entry).get(CONF_NODES) or []:
        node = NODE_SCHEMA(dict(raw))  # fills defaults for entries stored by older versions
        describe, cls = PLATFORMS[node[CONF_PLATFORM]]
        description = describe(node)
        unique_id = node.get(CONF_UNIQUE_ID) or f"{prefix}:{description.node}"
        entities.append(cls(writer, description, unique_id, device))
    return entities
