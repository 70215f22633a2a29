"""The guard's problem entity: on while a schema file or a rule binding has trouble.

Its attributes name each broken file or rule and the reason, which is where an operator
looks after a hot reload kept the previous version in force.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from gatehouse.core import BinarySensorEntity, DeviceInfo


class SchemaProblem(BinarySensorEntity):
    """On when ``read()`` reports any problem (file or rule → reason)."""

    _attr_device_class = "problem"
    _attr_icon = "mdi:file-alert"

    def __init__(
        self, unique_id: str, name: str, device: DeviceInfo,
        read: Callable[[], Mapping[str, str]],
    ) -> None:
        self._attr_unique_id = unique_id
        self._attr_name = name
        self._attr_device_info = device
        self._read = read
        self._attr_is_on = False
        self._attr_extra_state_attributes = {}
        self._take()

    def _take(self) -> bool:
        problems = dict(sorted(self._read().items()))
        changed = problems != self._attr_extra_state_attributes
        self._attr_is_on = bool(problems)
        self._attr_extra_state_attributes = problems
        return changed

    def refresh(self) -> None:
        if self._take() and self.host is not None and self.entity_id is not None:
            self.write_state()
