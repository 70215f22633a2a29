"""OPC UA numbers: a setpoint node, written as the node's own numeric type."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from gatehouse.core import DeviceInfo, NumberEntity

from .const import CONF_MAX, CONF_MIN, CONF_MODE, CONF_STEP
from .entity import NodeDescription, NodeWriter, OpcuaEntity, shared_fields


@dataclass(frozen=True, kw_only=True)
class OpcuaNumberDescription(NodeDescription):
    """One number node as data: the node, its range, step and display mode."""

    min_value: float = 0.0
    max_value: float = 100.0
    step: float = 1.0
    mode: str = "auto"


class OpcuaNumber(OpcuaEntity, NumberEntity):
    entity_description: OpcuaNumberDescription

    def __init__(
        self, writer: NodeWriter, description: OpcuaNumberDescription, unique_id: str,
        device_info: DeviceInfo,
    ) -> None:
        super().__init__(writer, description, unique_id, device_info)
        self._attr_native_min_value = description.min_value
        self._attr_native_max_value = description.max_value
        self._attr_native_step = description.step
        self._attr_mode = description.mode

    def _set_value(self, value: Any) -> None:
        if isinstance(value, bool) or not isinstance(value, int | float):
            self._attr_native_value = None
        else:
            self._attr_native_value = float(value)

    async def set_native_value(self, value: float) -> None:
        await self._write(value)


def describe(node: Mapping[str, Any]) -> OpcuaNumberDescription:
    """The description of one validated ``nodes:`` item with ``platform: number``."""
    return OpcuaNumberDescription(
        **shared_fields(node),
        min_value=node.get(CONF_MIN, 0.0),
        max_value=node.get(CONF_MAX, 100.0),
        step=node.get(CONF_STEP, 1.0),
        mode=node.get(CONF_MODE, "auto"),
    )
