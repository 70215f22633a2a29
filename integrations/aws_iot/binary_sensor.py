"""The entry's problem binary sensor: on while something needs the operator.

A reconnect storm (another client with our thing name) or a shadow the service refuses
(401/403) cannot fix itself; the connection stops retrying, and this sensor (device
class ``problem``) and the entry's reason say why, so it is seen on the dashboard
instead of buried in a log that repeats every few seconds.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from gatehouse.core import BinarySensorEntity, DeviceInfo


class ProblemSensor(BinarySensorEntity):
    """On while ``reason()`` returns text."""

    _attr_device_class = "problem"
    _attr_icon = "mdi:alert-circle"

    def __init__(self, key: str, name: str, reason: Callable[[], str | None],
                 device: DeviceInfo) -> None:
        self._attr_unique_id = f"{key}_problem"
        self._attr_name = f"{name} problem"
        self._attr_device_info = device
        self._reason = reason

    @property
    def is_on(self) -> bool:
        return self._reason() is not None

    @property
    def extra_state_attributes(self) -> Mapping[str, Any] | None:
        reason = self._reason()
        return {"reason": reason} if reason else None

    def refresh(self) -> None:
        if self.entity_id is not None:
            self.write_state()
