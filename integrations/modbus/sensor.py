"""Modbus sensors: a holding or input register (or several) decoded into a value."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from gatehouse.core import DeviceInfo, SensorEntity, SensorEntityDescription

from .const import (
    CONF_DEVICE_CLASS,
    CONF_ICON,
    CONF_INPUT_TYPE,
    CONF_PRECISION,
    CONF_STATE_CLASS,
    CONF_UNIT,
    RegisterType,
)
from .entity import ModbusEntity, PointSpec, expand

if TYPE_CHECKING:
    from .coordinator import HubCoordinator


@dataclass(frozen=True, kw_only=True)
class ModbusSensorDescription(SensorEntityDescription):
    """One sensor as data: the core's sensor fields plus where its value lives."""

    point: PointSpec
    unique_id: str


class ModbusSensor(ModbusEntity, SensorEntity):
    """Every Modbus sensor; what it reads and how comes from its description."""

    entity_description: ModbusSensorDescription

    def __init__(
        self,
        coordinator: HubCoordinator,
        description: ModbusSensorDescription,
        device_info: DeviceInfo,
    ) -> None:
        super().__init__(coordinator, description, device_info)
        self.entity_description = description

    def _apply(self, values: tuple[int | bool, ...]) -> None:
        self._attr_native_value = self.point.codec.decode([int(v) for v in values])


def describe(
    hub_name: str, conf: Mapping[str, Any], default_interval: float
) -> list[ModbusSensorDescription]:
    """The sensor descriptions of one validated ``sensors:`` block."""
    register_type = RegisterType(conf.get(CONF_INPUT_TYPE, RegisterType.HOLDING))
    return [
        ModbusSensorDescription(
            key=item.unique_id,
            unique_id=item.unique_id,
            name=item.name,
            point=item.point,
            unit_of_measurement=conf.get(CONF_UNIT),
            device_class=conf.get(CONF_DEVICE_CLASS),
            icon=conf.get(CONF_ICON),
            state_class=conf.get(CONF_STATE_CLASS),
            suggested_display_precision=conf.get(CONF_PRECISION),
        )
        for item in expand(hub_name, conf, register_type, default_interval)
    ]
