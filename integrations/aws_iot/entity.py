"""What the AWS IoT entities share: the entry's device."""

from __future__ import annotations

from gatehouse.core import DeviceInfo

from .const import DOMAIN


def entry_device(key: str, name: str, thing: str) -> DeviceInfo:
    """The device that groups an entry's diagnostic entities (link, problem, queue)."""
    return {
        "identifiers": {(DOMAIN, key)},
        "name": name,
        "manufacturer": "Amazon Web Services",
        "model": f"AWS IoT thing {thing}",
    }
