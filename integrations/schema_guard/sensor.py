"""Schema_guard sensors: per-rule counters and latency, and the quarantine's size.

They read the guard's plain counters on an interval (``refresh``), never per message:
the hot path only increments integers, and a state is written only when it changed.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from gatehouse.core import DeviceInfo, SensorEntity


class GuardSensor(SensorEntity):
    """A number read from the guard by ``read`` (with attributes from ``attrs``)."""

    def __init__(
        self,
        unique_id: str,
        name: str,
        device: DeviceInfo,
        read: Callable[[], Any],
        *,
        attrs: Callable[[], Mapping[str, Any]] | None = None,
        unit: str | None = None,
        state_class: str = "total_increasing",
        icon: str = "mdi:shield-check",
    ) -> None:
        self._attr_unique_id = unique_id
        self._attr_name = name
        self._attr_device_info = device
        self._attr_native_unit_of_measurement = unit
        self._attr_state_class = state_class
        self._attr_icon = icon
        self._read = read
        self._attrs = attrs
        self._attr_native_value = read()
        self._attr_extra_state_attributes = dict(attrs()) if attrs else {}

    def refresh(self) -> None:
        """Re-read; write the state only if it changed (cheap to call on a timer)."""
        value = self._read()
        extra = dict(self._attrs()) if self._attrs else {}
        if value == self._attr_native_value and extra == self._attr_extra_state_attributes:
            return
        self._attr_native_value = value
        self._attr_extra_state_attributes = extra
        if self.host is not None and self.entity_id is not None:
            self.write_state()
