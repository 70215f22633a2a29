"""What the pki entities share: one "Certificates" device, so the UI groups them."""

from __future__ import annotations

from gatehouse.core import DeviceInfo

from .const import DOMAIN


def pki_device(entry_id: str, name: str) -> DeviceInfo:
    return {
        "identifiers": {(DOMAIN, entry_id)},
        "name": name,
        "manufacturer": "Gatehouse",
        "model": "Certificate expiry",
    }
