"""Modbus numbers: a setpoint in holding registers, written with type conversion.

The value a user sets goes through the same ``Codec`` that decodes it (scale, offset,
type, byte and word order), so ``number.set_value 42.5`` on a ``uint16`` with
``scale: 0.1`` writes 425. Two range checks guard the write: the configured
``min``/``max`` (the core checks those for the service, this class again for direct
callers) and the register type's own range, so a value the registers cannot hold is
refused with a message naming the type instead of being silently wrapped.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from gatehouse.core import DeviceInfo, NumberEntity

from .const import CONF_MAX, CONF_MIN, CONF_STEP, CONF_UNIT, CONF_VERIFY, RegisterType
from .entity import ModbusEntity, PointDescription, describe_points
from .errors import ModbusError, ModbusValueError

if TYPE_CHECKING:
    from .coordinator import HubCoordinator


@dataclass(frozen=True, kw_only=True)
class ModbusNumberDescription(PointDescription):
    """One setpoint as data: where it lives, its range and step, read-back."""

    min_value: float = 0.0
    max_value: float = 100.0
    step: float = 1.0
    verify: bool = True


class ModbusNumber(ModbusEntity, NumberEntity):
    """Every Modbus number: holding registers decoded and encoded by the point's codec."""

    entity_description: ModbusNumberDescription

    def __init__(
        self,
        coordinator: HubCoordinator,
        description: ModbusNumberDescription,
        device_info: DeviceInfo,
    ) -> None:
        super().__init__(coordinator, description, device_info)
        self._attr_native_min_value = description.min_value
        self._attr_native_max_value = description.max_value
        self._attr_native_step = description.step
        self._attr_native_unit_of_measurement = description.unit_of_measurement

    def _apply(self, values: tuple[int | bool, ...]) -> None:
        value = self.point.codec.decode([int(v) for v in values])
        self._attr_native_value = float(value) if isinstance(value, (int, float)) else None

    async def set_native_value(self, value: float) -> None:
        if not self.min_value <= value <= self.max_value:
            raise ModbusValueError(
                f"{value} is outside {self.min_value}..{self.max_value} of {self.entity_id}"
            )
        point = self.point
        codec = point.codec
        registers = codec.encode(value)
        await self.coordinator.hub.write_registers(point.slave, point.address, registers)
        if not self.entity_description.verify:
            self._attr_native_value = float(value)
            self.write_state()
            return
        state = await self.coordinator.refresh(point.span)
        expected = codec.decode(registers)
        got = codec.decode([int(v) for v in state.values or ()]) if state.values else None
        if not _same(expected, got):
            raise ModbusError(
                f"{self.entity_id}: wrote {expected} to slave {point.slave} holding "
                f"{point.address} but read back {got}"
            )


def _same(a: object, b: object) -> bool:
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return math.isclose(a, b, rel_tol=1e-6, abs_tol=1e-9)
    return a == b


def describe(
    hub_name: str, conf: Mapping[str, Any], default_interval: float
) -> list[ModbusNumberDescription]:
    """The number descriptions of one validated ``numbers:`` block."""
    return describe_points(
        ModbusNumberDescription, hub_name, conf, RegisterType.HOLDING, default_interval,
        unit_of_measurement=conf.get(CONF_UNIT),
        min_value=float(conf.get(CONF_MIN, 0.0)),
        max_value=float(conf.get(CONF_MAX, 100.0)),
        step=float(conf.get(CONF_STEP, 1.0)),
        verify=bool(conf.get(CONF_VERIFY, True)),
    )
