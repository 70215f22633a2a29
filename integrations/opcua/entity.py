"""What every OPC UA entity shares: a node described as data, fed by the runtime.

A node's state follows its status code, never hiding it: Good shows the value;
Uncertain shows the value with ``quality: uncertain`` and the status name as
attributes; Bad (or no session, or a node that cannot be resolved) makes the entity
unavailable. Switches and numbers write through the runtime, which converts the value
to the node's own DataType; a write the server accepted shows at once, and the
subscription confirms it.

Each platform module (``sensor``, ``binary_sensor``, ``switch``, ``number``) has its own
description, a ``NodeDescription`` built by its ``describe(node)`` from a validated
``nodes:`` item, and one entity class on top of ``OpcuaEntity``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from gatehouse.core import DeviceInfo, Entity, EntityDescription

from .const import (
    ATTR_NODE,
    ATTR_QUALITY,
    ATTR_STATUS,
    CONF_DEADBAND,
    CONF_DEADBAND_TYPE,
    CONF_DEVICE_CLASS,
    CONF_ICON,
    CONF_MONITOR,
    CONF_NAME,
    CONF_NODE,
    CONF_POLL_INTERVAL,
    CONF_QUEUE_SIZE,
    CONF_SAMPLING_INTERVAL,
    CONF_UNIT,
)
from .monitor import MonitorSpec
from .nodeid import NodeRef, parse_node
from .translate import Reading


class NodeWriter(Protocol):
    """What entities need from the runtime: a write converted to the node's type."""

    async def write(self, ref: NodeRef, value: Any) -> None: ...


@dataclass(frozen=True, kw_only=True)
class NodeDescription(EntityDescription):
    """What every OPC UA description holds besides the core's fields: the node and how
    it is watched. Each platform's description derives from it."""

    node: NodeRef
    monitor: MonitorSpec = field(default_factory=MonitorSpec)


def shared_fields(node: Mapping[str, Any]) -> dict[str, Any]:
    """The description fields of every platform, from a validated ``nodes:`` item."""
    ref = parse_node(node[CONF_NODE])
    return {
        "key": str(ref),
        "name": node.get(CONF_NAME) or ref.identifier,
        "icon": node.get(CONF_ICON),
        "device_class": node.get(CONF_DEVICE_CLASS),
        "unit_of_measurement": node.get(CONF_UNIT),
        "node": ref,
        "monitor": MonitorSpec(
            mode=node[CONF_MONITOR],
            sampling_interval=node[CONF_SAMPLING_INTERVAL],
            deadband=node[CONF_DEADBAND],
            deadband_type=node[CONF_DEADBAND_TYPE],
            queue_size=node[CONF_QUEUE_SIZE],
            poll_interval=node[CONF_POLL_INTERVAL],
        ),
    }


def as_bool(value: Any) -> bool | None:
    """A node value as on/off (binary sensors and switches): None stays unknown."""
    if value is None:
        return None
    if isinstance(value, str):
        return value.strip().lower() in {"true", "on", "1", "yes"}
    return bool(value)


class OpcuaEntity(Entity):
    """Shared behaviour of the platform classes (not a platform itself).

    Subclasses implement ``_set_value`` (a node value into their platform's state) and
    narrow ``entity_description`` to their own description.
    """

    def __init__(
        self,
        writer: NodeWriter,
        description: NodeDescription,
        unique_id: str,
        device_info: DeviceInfo,
    ) -> None:
        self.entity_description = description
        self.node: NodeRef = description.node
        self.monitor: MonitorSpec = description.monitor
        self._writer = writer
        self._attr_unique_id = unique_id
        self._attr_device_info = device_info
        self._attr_icon = description.icon
        self._connected = False
        self._reading: Reading | None = None
        self.problem: str | None = None
        """Why the node cannot be watched in this session (unknown namespace...)."""

    @property
    def last_reading(self) -> Reading | None:
        """The reading behind the current state (with its timestamps), if any."""
        return self._reading

    @property
    def available(self) -> bool:
        reading = self._reading
        return self._connected and reading is not None and reading.quality != "bad"

    @property
    def extra_state_attributes(self) -> Mapping[str, Any]:
        attrs: dict[str, Any] = {ATTR_NODE: str(self.node)}
        reading = self._reading
        if reading is not None and reading.quality != "good":
            attrs[ATTR_QUALITY] = reading.quality
            attrs[ATTR_STATUS] = reading.status
        return attrs

    # -- fed by the runtime --------------------------------------------------------

    def apply_reading(self, reading: Reading) -> None:
        self._reading = reading
        self.problem = None
        if reading.quality != "bad":
            self._set_value(reading.value)
        if self.host is not None:
            self.write_state()

    def set_connected(self, connected: bool) -> None:
        """Session up or down; a new session starts without a value until it reads one."""
        self._connected = connected
        self._reading = None
        if self.host is not None:
            self.write_state()

    def set_problem(self, problem: str) -> None:
        self.problem = problem
        self._reading = None
        if self.host is not None:
            self.write_state()

    def _set_value(self, value: Any) -> None:
        raise NotImplementedError

    async def _write(self, value: Any) -> None:
        """Write through the runtime; what the server accepted shows at once."""
        await self._writer.write(self.node, value)
        self._set_value(value)
        self.write_state()
