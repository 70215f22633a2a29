"""OPC UA nodes as entities: one description dataclass, one class per platform.

A node's state follows its status code, never hiding it: Good shows the value;
Uncertain shows the value with ``quality: uncertain`` and the status name as
attributes; Bad (or no session, or a node that cannot be resolved) makes the entity
unavailable. Switches and numbers write through the runtime, which converts the value
to the node's own DataType; a write the server accepted shows at once, and the
subscription confirms it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from gatehouse.core import (
    BinarySensorEntity,
    DeviceInfo,
    Entity,
    EntityDescription,
    NumberEntity,
    SensorEntity,
    SwitchEntity,
)

from .const import ATTR_NODE, ATTR_QUALITY, ATTR_STATUS
from .monitor import MonitorSpec
from .nodeid import NodeRef
from .translate import Reading
from .variants import to_state_value


class NodeWriter(Protocol):
    """What entities need from the runtime: a write converted to the node's type."""

    async def write(self, ref: NodeRef, value: Any) -> None: ...


@dataclass(frozen=True, kw_only=True)
class OpcuaEntityDescription(EntityDescription):
    """One configured node: which platform shows it, how, and how it is watched."""

    node: NodeRef
    platform: str
    monitor: MonitorSpec = field(default_factory=MonitorSpec)
    state_class: str | None = None
    suggested_display_precision: int | None = None
    min_value: float = 0.0
    max_value: float = 100.0
    step: float = 1.0
    number_mode: str = "auto"


class OpcuaEntity(Entity):
    """Shared behaviour of the platform classes below (not a platform itself)."""

    entity_description: OpcuaEntityDescription

    def __init__(
        self,
        writer: NodeWriter,
        description: OpcuaEntityDescription,
        unique_id: str,
        device_info: DeviceInfo,
    ) -> None:
        self.entity_description = description
        self._writer = writer
        self._attr_unique_id = unique_id
        self._attr_device_info = device_info
        self._attr_icon = description.icon
        self._connected = False
        self._reading: Reading | None = None
        self.problem: str | None = None
        """Why the node cannot be watched in this session (unknown namespace...)."""

    @property
    def node(self) -> NodeRef:
        return self.entity_description.node

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
        await self._writer.write(self.node, value)
        self._set_value(value)
        self.write_state()


def _as_bool(value: Any) -> bool | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value.strip().lower() in {"true", "on", "1", "yes"}
    return bool(value)


class OpcuaSensor(OpcuaEntity, SensorEntity):
    def __init__(
        self, writer: NodeWriter, description: OpcuaEntityDescription, unique_id: str,
        device_info: DeviceInfo,
    ) -> None:
        super().__init__(writer, description, unique_id, device_info)
        self._attr_state_class = description.state_class
        self._attr_suggested_display_precision = description.suggested_display_precision

    def _set_value(self, value: Any) -> None:
        self._attr_native_value = to_state_value(value)


class OpcuaBinarySensor(OpcuaEntity, BinarySensorEntity):
    def _set_value(self, value: Any) -> None:
        self._attr_is_on = _as_bool(value)


class OpcuaSwitch(OpcuaEntity, SwitchEntity):
    def _set_value(self, value: Any) -> None:
        self._attr_is_on = _as_bool(value)

    async def turn_on(self) -> None:
        await self._write(True)

    async def turn_off(self) -> None:
        await self._write(False)


class OpcuaNumber(OpcuaEntity, NumberEntity):
    def __init__(
        self, writer: NodeWriter, description: OpcuaEntityDescription, unique_id: str,
        device_info: DeviceInfo,
    ) -> None:
        super().__init__(writer, description, unique_id, device_info)
        self._attr_native_min_value = description.min_value
        self._attr_native_max_value = description.max_value
        self._attr_native_step = description.step
        self._attr_mode = description.number_mode

    def _set_value(self, value: Any) -> None:
        if isinstance(value, bool) or not isinstance(value, int | float):
            self._attr_native_value = None
        else:
            self._attr_native_value = float(value)

    async def set_native_value(self, value: float) -> None:
        await self._write(value)


ENTITY_CLASSES: dict[str, type[OpcuaEntity]] = {
    "sensor": OpcuaSensor,
    "binary_sensor": OpcuaBinarySensor,
    "switch": OpcuaSwitch,
    "number": OpcuaNumber,
}
