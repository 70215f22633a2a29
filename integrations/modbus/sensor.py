"""Modbus sensors: a holding or input register (or several) decoded into a value.

Also the per-slave diagnostics sensor: requests sent, with every error counter attached.
One entity per slave (not one per counter) keeps the entity list readable; its state is
the request count (``total_increasing``, so it graphs as a rate) and the attributes
carry errors, timeouts, bad frames, exception responses, connection errors and the
size and duration of the last poll cycle. It stays available while the slave is not:
that is exactly when a user opens it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from gatehouse.core import DeviceInfo, SensorEntity, SensorEntityDescription

from .const import (
    CONF_INPUT_TYPE,
    CONF_PRECISION,
    CONF_STATE_CLASS,
    CONF_UNIT,
    RegisterType,
)
from .entity import ModbusEntity, PointDescription, describe_points

if TYPE_CHECKING:
    from .coordinator import HubCoordinator


@dataclass(frozen=True, kw_only=True)
class ModbusSensorDescription(SensorEntityDescription, PointDescription):
    """One sensor as data: the core's sensor fields plus where its value lives."""


class ModbusSensor(ModbusEntity, SensorEntity):
    """Every Modbus sensor; what it reads and how comes from its description."""

    entity_description: ModbusSensorDescription

    def _apply(self, values: tuple[int | bool, ...]) -> None:
        self._attr_native_value = self.point.codec.decode([int(v) for v in values])


def describe(
    hub_name: str, conf: Mapping[str, Any], default_interval: float
) -> list[ModbusSensorDescription]:
    """The sensor descriptions of one validated ``sensors:`` block."""
    register_type = RegisterType(conf.get(CONF_INPUT_TYPE, RegisterType.HOLDING))
    return describe_points(
        ModbusSensorDescription, hub_name, conf, register_type, default_interval,
        unit_of_measurement=conf.get(CONF_UNIT),
        state_class=conf.get(CONF_STATE_CLASS),
        suggested_display_precision=conf.get(CONF_PRECISION),
    )


class SlaveDiagnosticsSensor(SensorEntity):
    """Requests sent to one slave, with its error counters as attributes."""

    _attr_state_class = "total_increasing"
    _attr_icon = "mdi:lan-connect"

    def __init__(
        self, coordinator: HubCoordinator, slave: int, unique_prefix: str, device: DeviceInfo
    ) -> None:
        self.coordinator = coordinator
        self.slave = slave
        self._attr_unique_id = f"{unique_prefix}_slave_{slave}_diagnostics"
        self._attr_name = f"{device.get('name', unique_prefix)} diagnostics"
        self._attr_device_info = device
        self.entity_description = SensorEntityDescription(
            key=self._attr_unique_id, entity_category="diagnostic"
        )

    @property
    def native_value(self) -> Any:
        return self.coordinator.hub.stats_for(self.slave).requests

    @property
    def extra_state_attributes(self) -> dict[str, Any]:
        stats = self.coordinator.hub.stats_for(self.slave).as_dict()
        stats.pop("requests")
        return stats

    async def added_to_host(self) -> None:
        poller = self.coordinator.poller(self.slave)
        self.on_remove(poller.listen_cycles(self._on_cycle))

    def _on_cycle(self) -> None:
        if self.host is not None:
            self.write_state()
