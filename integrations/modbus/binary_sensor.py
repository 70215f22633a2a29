"""Modbus binary sensors: a coil, a discrete input, or a register (one bit or non-zero)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from gatehouse.core import BinarySensorEntity, DeviceInfo, EntityDescription

from .const import CONF_DEVICE_CLASS, CONF_ICON, CONF_INPUT_TYPE, RegisterType
from .entity import ModbusEntity, PointSpec, expand

if TYPE_CHECKING:
    from .coordinator import HubCoordinator


@dataclass(frozen=True, kw_only=True)
class ModbusBinarySensorDescription(EntityDescription):
    point: PointSpec
    unique_id: str


class ModbusBinarySensor(ModbusEntity, BinarySensorEntity):
    """On when the bit is set; for a register without ``bit``, when it is not zero."""

    entity_description: ModbusBinarySensorDescription

    def __init__(
        self,
        coordinator: HubCoordinator,
        description: ModbusBinarySensorDescription,
        device_info: DeviceInfo,
    ) -> None:
        super().__init__(coordinator, description, device_info)
        self.entity_description = description

    def _apply(self, values: tuple[int | bool, ...]) -> None:
        self._attr_is_on = point_is_on(self.point, values)


def point_is_on(point: PointSpec, values: tuple[int | bool, ...]) -> bool:
    """Whether a bit-like point reads as on (shared with switches)."""
    if point.register_type.is_bit:
        return bool(values[0])
    if point.codec.bit is not None:
        return bool(point.codec.decode([int(v) for v in values]))
    return any(int(v) for v in values)


def describe(
    hub_name: str, conf: Mapping[str, Any], default_interval: float
) -> list[ModbusBinarySensorDescription]:
    register_type = RegisterType(conf.get(CONF_INPUT_TYPE, RegisterType.COIL))
    return [
        ModbusBinarySensorDescription(
            key=item.unique_id,
            unique_id=item.unique_id,
            name=item.name,
            point=item.point,
            device_class=conf.get(CONF_DEVICE_CLASS),
            icon=conf.get(CONF_ICON),
        )
        for item in expand(hub_name, conf, register_type, default_interval)
    ]
