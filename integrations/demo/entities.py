"""The demo's live entities: a sine wave, a counter, and a switch."""

from __future__ import annotations

import math
import time
from typing import Any

from gatehouse.core import Context, DeviceInfo, SensorEntity, SwitchEntity

from .const import DOMAIN


def _device(unique_prefix: str, name: str) -> DeviceInfo:
    return {
        "identifiers": {(DOMAIN, unique_prefix)},
        "name": name,
        "manufacturer": "Gatehouse",
        "model": "Demo device",
        "sw_version": "1.0",
    }


class SineSensor(SensorEntity):
    """A value that moves all the time, so a new user sees something alive."""

    _attr_native_unit_of_measurement = "°C"
    _attr_device_class = "temperature"
    _attr_state_class = "measurement"
    _attr_suggested_display_precision = 2

    def __init__(self, prefix: str, name: str, period: float, amplitude: float) -> None:
        self._attr_unique_id = f"{prefix}_sine"
        self._attr_name = f"{name} sine"
        self._attr_device_info = _device(prefix, name)
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
        self._attr_device_info = _device(prefix, name)
        self._attr_native_value = 0

    def tick(self) -> None:
        self._attr_native_value = int(self._attr_native_value) + 1

    def reset(self, context: Context | None = None) -> int:
        old = int(self._attr_native_value)
        self._attr_native_value = 0
        self.write_state(context=context)
        return old


class DemoSwitch(SwitchEntity):
    """A switch that remembers its position; when on, the counter counts."""

    _attr_icon = "mdi:toggle-switch"

    def __init__(self, prefix: str, name: str) -> None:
        self._attr_unique_id = f"{prefix}_switch"
        self._attr_name = f"{name} switch"
        self._attr_device_info = _device(prefix, name)
        self._attr_is_on = True
        self._attr_extra_state_attributes = {"last_switched": None}

    async def turn_on(self) -> None:
        self._set(True)

    async def turn_off(self) -> None:
        self._set(False)

    def _set(self, on: bool) -> None:
        self._attr_is_on = on
        self._attr_extra_state_attributes = {"last_switched": time.time()}
        self.write_state()

    def snapshot(self) -> dict[str, Any]:
        return {"is_on": self._attr_is_on}
