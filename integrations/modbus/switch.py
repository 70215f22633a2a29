"""Modbus switches: write a coil or a holding register, then read it back to be sure.

Read-back matters on Modbus: a write can be acknowledged and still not take effect
(an interlock in the PLC, a register that only accepts certain values), and only the
read tells. With ``verify`` (the default) the state shown is the one read back, and a
mismatch is an error to the caller; without it the state is assumed from the write
(``assumed_state``).
A switch on one ``bit`` of a holding register reads the register, flips the bit and
writes the word back.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from gatehouse.core import DeviceInfo, SwitchEntity

from .binary_sensor import point_is_on
from .const import CONF_COMMAND_OFF, CONF_COMMAND_ON, CONF_VERIFY, CONF_WRITE_TYPE, RegisterType
from .datatypes import set_bit
from .entity import ModbusEntity, PointDescription, describe_points
from .errors import ModbusError

if TYPE_CHECKING:
    from .coordinator import HubCoordinator


@dataclass(frozen=True, kw_only=True)
class ModbusSwitchDescription(PointDescription):
    """One switch as data: where it lives, the words that mean on and off, read-back."""

    command_on: int = 1
    command_off: int = 0
    verify: bool = True


class ModbusSwitch(ModbusEntity, SwitchEntity):
    """Every Modbus switch: a coil, a register value pair, or one bit of a register.

    Without ``verify`` nothing is read back after a write, so the state is assumed
    (``assumed_state``): the base class shows the commanded state once the write went
    through.
    """

    entity_description: ModbusSwitchDescription

    def __init__(
        self,
        coordinator: HubCoordinator,
        description: ModbusSwitchDescription,
        device_info: DeviceInfo,
    ) -> None:
        super().__init__(coordinator, description, device_info)
        self._attr_assumed_state = not description.verify

    def _apply(self, values: tuple[int | bool, ...]) -> None:
        desc = self.entity_description
        point = self.point
        if point.register_type.is_bit or point.codec.bit is not None:
            self._attr_is_on = point_is_on(point, values)
        elif int(values[0]) == desc.command_on:
            self._attr_is_on = True
        elif int(values[0]) == desc.command_off:
            self._attr_is_on = False
        else:
            self._attr_is_on = None  # a value that is neither command: unknown

    async def switch_to(self, on: bool) -> None:
        """Write the coil, the command word or the bit; with ``verify``, read it back."""
        desc, point = self.entity_description, self.point
        hub = self.coordinator.hub
        if point.register_type is RegisterType.COIL:
            await hub.write_coils(point.slave, point.address, [on])
        elif point.codec.bit is not None:
            current = await self.coordinator.refresh(point.span)
            if current.values is None:
                raise ModbusError(f"cannot read {self.entity_id} before changing one bit")
            word = set_bit(int(current.values[0]), point.codec.bit, on)
            await hub.write_registers(point.slave, point.address, [word])
        else:
            command = desc.command_on if on else desc.command_off
            await hub.write_registers(point.slave, point.address, [command])
        if desc.verify:
            state = await self.coordinator.refresh(point.span)  # listeners write the state
            self._take(state)
            if self.is_on is not on:
                raise ModbusError(
                    f"{self.entity_id}: wrote {'on' if on else 'off'} to slave {point.slave} "
                    f"{point.register_type} {point.address} but read back "
                    f"{self.coordinator.state(point.span).values}"
                )


def describe(
    hub_name: str, conf: Mapping[str, Any], default_interval: float
) -> list[ModbusSwitchDescription]:
    """The switch descriptions of one validated ``switches:`` block."""
    register_type = RegisterType(conf.get(CONF_WRITE_TYPE, RegisterType.COIL))
    return describe_points(
        ModbusSwitchDescription, hub_name, conf, register_type, default_interval,
        command_on=int(conf.get(CONF_COMMAND_ON, 1)),
        command_off=int(conf.get(CONF_COMMAND_OFF, 0)),
        verify=bool(conf.get(CONF_VERIFY, True)),
    )
