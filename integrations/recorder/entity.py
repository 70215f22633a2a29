"""The recorder's device: it groups the problem entity."""

from __future__ import annotations

from gatehouse.core import DeviceInfo

from .const import DOMAIN


def recorder_device(key: str, name: str) -> DeviceInfo:
    return {"identifiers": {(DOMAIN, key)}, "name": name, "manufacturer": "Gatehouse",
            "model": "Recorder (SQLite)"}
