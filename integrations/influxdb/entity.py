"""What the InfluxDB entities share: the entry's device."""

from __future__ import annotations

from gatehouse.core import DeviceInfo

from .const import DOMAIN


def entry_device(key: str, name: str) -> DeviceInfo:
    """The device that groups an entry's entities (link, queue, query sensors)."""
    return {
        "identifiers": {(DOMAIN, key)},
        "name": name,
        "manufacturer": "InfluxData",
        "model": "InfluxDB",
    }
