"""One sensor per certificate: its days left (negative once expired).

The state is the days left as a number with one decimal (unit ``d``, device class
``duration``), so a chart shows the slope and an automation can compare it; the exact
moment is in the ``not_after`` attribute.
"""

from __future__ import annotations

import datetime as dt

from gatehouse.core import SensorEntity

from .const import UNIT_DAYS
from .entity import pki_device
from .scan import KIND_LABELS, Tracked


class CertificateExpirySensor(SensorEntity):
    """Days until one certificate (or the CRL) expires."""

    _attr_native_unit_of_measurement = UNIT_DAYS
    _attr_device_class = "duration"
    _attr_state_class = "measurement"
    _attr_suggested_display_precision = 1
    _attr_icon = "mdi:certificate"

    def __init__(self, entry_id: str, device_name: str, tracked: Tracked) -> None:
        self._attr_unique_id = f"{entry_id}_{tracked.key}"
        self._attr_name = f"{device_name} {KIND_LABELS.get(tracked.kind, tracked.kind)} " \
                          f"{tracked.common_name}"
        self._attr_device_info = pki_device(entry_id, device_name)
        self.tracked = tracked

    def update(self, tracked: Tracked, now: dt.datetime) -> None:
        """Take the latest reading of the file and recompute the days left at ``now``."""
        self.tracked = tracked
        days = tracked.days_left(now)
        self._attr_available = days is not None
        self._attr_native_value = None if days is None else round(days, 1)
        attributes: dict[str, object] = {
            "kind": tracked.kind,
            "common_name": tracked.common_name,
            "path": str(tracked.path),
            "not_after": None if tracked.not_after is None else tracked.not_after.isoformat(),
        }
        if tracked.serial is not None:
            attributes["serial"] = f"{tracked.serial:X}"
        if tracked.error is not None:
            attributes["error"] = tracked.error
        self._attr_extra_state_attributes = attributes
