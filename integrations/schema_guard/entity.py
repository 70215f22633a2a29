"""What every schema_guard entity shares: the guard's device."""

from __future__ import annotations

from gatehouse.core import DeviceInfo

from .const import DOMAIN


def guard_device(key: str, name: str) -> DeviceInfo:
    """One device per guard, so the UI groups its counters and its problem entity."""
    return {
        "identifiers": {(DOMAIN, key)},
        "name": name,
        "manufacturer": "Gatehouse",
        "model": "Schema guard",
    }
