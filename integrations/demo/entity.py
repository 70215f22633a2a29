"""What every demo entity shares: the device it belongs to."""

from __future__ import annotations

from gatehouse.core import DeviceInfo

from .const import DOMAIN


def demo_device(unique_prefix: str, name: str) -> DeviceInfo:
    """One device per demo entry, so the UI groups its sine, counter and switch."""
    return {
        "identifiers": {(DOMAIN, unique_prefix)},
        "name": name,
        "manufacturer": "Gatehouse",
        "model": "Demo device",
        "sw_version": "1.0",
    }
