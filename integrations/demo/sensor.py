"""The demo's sensors: a sine wave that moves all the time, and a counter."""

from __future__ import annotations

import math

from gatehouse.core import Context, SensorEntity

from .entity import demo_device


class SineSensor(SensorEntity):
    """A value that moves all the time, so a new user sees something alive."""

    _attr_native_unit_of_measurement = "°C"
    _attr_device_class = "temperature"
    _attr_state_class = "measurement"
    _attr_suggested_display_precision = 2

    def __init__(self, prefix: str, name: str, period: float, amplitude: float) -> None:
        self._attr_unique_id = f"{prefix}_sine"
        self._attr_name = f"{name} sine"
        self._attr_device_info = demo_device(prefix, name)
        self._period = period
        self._amplitude = amplitude

    def update(self, now: float) -> None:
        self._attr_native_value = 20.0 + self._amplitude * math.sin(
            2 * math.pi * now / self._period
        )


class CounterSensor(SensorEntity):
    """Counts update ticks; ``demo.reset_counter`` sets it back to zero."""

    _attr_state_class = "total_increasing"
    _attr_icon = "mdi:counter"

    def __init__(self, prefix: str, name: str) -> None:
        self._attr_unique_id = f"{prefix}_counter"
        self._attr_name = f"{name} counter"
        self._attr_device_info = demo_device(prefix, name)
        self._attr_native_value = 0

    def tick(self) -> None:
        self._attr_native_value = int(self._attr_native_value) + 1

    def reset(self, context: Context | None = None) -> int:
        old = int(self._attr_native_value)
        self._attr_native_value = 0
        self.write_state(context=context)
        return old
