"""The demo's switch: it remembers its position; while it is on, the counter counts."""

from __future__ import annotations

import time

from gatehouse.core import SwitchEntity

from .entity import demo_device


class DemoSwitch(SwitchEntity):
    """A switch that remembers its position; when on, the counter counts."""

    _attr_icon = "mdi:toggle-switch"

    def __init__(self, prefix: str, name: str) -> None:
        self._attr_unique_id = f"{prefix}_switch"
        self._attr_name = f"{name} switch"
        self._attr_device_info = demo_device(prefix, name)
        self._attr_is_on = True
        self._attr_extra_state_attributes = {"last_switched": None}

    async def switch_to(self, on: bool) -> None:
        """No device to command: the switch is its own state (with when it changed)."""
        self._attr_is_on = on
        self._attr_extra_state_attributes = {"last_switched": time.time()}
        self.write_state()
