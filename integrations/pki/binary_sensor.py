"""The one problem sensor: on while any certificate has fewer than ``warn_days`` left.

Its ``certificates_expiring`` attribute (the names, days left and dates, soonest first)
is also how the web UI recognises it for its banner, whatever its entity id became.
"""

from __future__ import annotations

import datetime as dt

from gatehouse.core import BinarySensorEntity

from .entity import pki_device
from .scan import KIND_LABELS, Tracked


class ExpiringBinarySensor(BinarySensorEntity):
    """Problem: some certificate (or the CRL) expires within ``warn_days``."""

    _attr_device_class = "problem"
    _attr_icon = "mdi:certificate-outline"

    def __init__(self, entry_id: str, device_name: str, warn_days: int) -> None:
        self._attr_unique_id = f"{entry_id}_expiring"
        self._attr_name = f"{device_name} expiring"
        self._attr_device_info = pki_device(entry_id, device_name)
        self.warn_days = warn_days
        self._attr_is_on = False

    def update(self, tracked: list[Tracked], errors: list[str], now: dt.datetime) -> None:
        soon: list[tuple[float, Tracked]] = []
        for item in tracked:
            days = item.days_left(now)
            if days is not None and days < self.warn_days:
                soon.append((days, item))
        soon.sort(key=lambda pair: pair[0])
        self._attr_is_on = bool(soon)
        self._attr_extra_state_attributes = {
            "warn_days": self.warn_days,
            "certificates_expiring": [
                {"name": f"{KIND_LABELS.get(i.kind, i.kind)} {i.common_name}",
                 "days_left": round(days, 1),
                 "not_after": i.not_after.isoformat() if i.not_after else None}
                for days, i in soon
            ],
            "errors": list(errors),
        }
