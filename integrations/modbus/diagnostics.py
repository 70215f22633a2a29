"""Per-slave diagnostics as a sensor: requests sent, with every error counter attached.

One entity per slave (not one per counter) keeps the entity list readable; the state is
the request count (``total_increasing``, so it graphs as a rate) and the attributes
carry errors, timeouts, bad frames, exception responses, connection errors and the
size and duration of the last poll cycle. It stays available while the slave is not:
that is exactly when a user opens it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from gatehouse.core import DeviceInfo, SensorEntity, SensorEntityDescription

if TYPE_CHECKING:
    from .coordinator import HubCoordinator


class SlaveDiagnosticsSensor(SensorEntity):
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
