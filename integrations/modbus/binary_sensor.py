"""Modbus binary sensors: a coil, a discrete input, or a register (one bit or non-zero)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from gatehouse.core import BinarySensorEntity

from .const import CONF_INPUT_TYPE, RegisterType
from .entity import ModbusEntity, PointDescription, PointSpec, describe_points


@dataclass(frozen=True, kw_only=True)
class ModbusBinarySensorDescription(PointDescription):
    """One binary sensor as data: the shared fields say it all."""


class ModbusBinarySensor(ModbusEntity, BinarySensorEntity):
    """On when the bit is set; for a register without ``bit``, when it is not zero."""

    entity_description: ModbusBinarySensorDescription

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
    """The binary sensor descriptions of one validated ``binary_sensors:`` block."""
    register_type = RegisterType(conf.get(CONF_INPUT_TYPE, RegisterType.COIL))
    return describe_points(
        ModbusBinarySensorDescription, hub_name, conf, register_type, default_interval
    )
