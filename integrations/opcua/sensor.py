"""OPC UA sensors: any node's value as a state (arrays and long strings made to fit)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from gatehouse.core import DeviceInfo, SensorEntity, SensorEntityDescription

from .const import CONF_PRECISION, CONF_STATE_CLASS
from .entity import NodeDescription, NodeWriter, OpcuaEntity, shared_fields
from .variants import to_state_value


@dataclass(frozen=True, kw_only=True)
class OpcuaSensorDescription(SensorEntityDescription, NodeDescription):
    """One sensor node as data: the core's sensor fields plus the node."""


class OpcuaSensor(OpcuaEntity, SensorEntity):
    entity_description: OpcuaSensorDescription

    def __init__(
        self, writer: NodeWriter, description: OpcuaSensorDescription, unique_id: str,
        device_info: DeviceInfo,
    ) -> None:
        super().__init__(writer, description, unique_id, device_info)
        self._attr_state_class = description.state_class
        self._attr_suggested_display_precision = description.suggested_display_precision

    def _set_value(self, value: Any) -> None:
        self._attr_native_value = to_state_value(value)


def describe(node: Mapping[str, Any]) -> OpcuaSensorDescription:
    """The description of one validated ``nodes:`` item with ``platform: sensor``."""
    return OpcuaSensorDescription(
        **shared_fields(node),
        state_class=node.get(CONF_STATE_CLASS),
        suggested_display_precision=node.get(CONF_PRECISION),
    )
