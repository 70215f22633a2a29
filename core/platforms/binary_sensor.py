"""Binary sensors: on/off, read-only (a door contact, a pump running flag)."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from .toggle import OnOffEntity

if TYPE_CHECKING:
    from ..host import Host


class BinarySensorEntity(OnOffEntity):
    platform_domain: ClassVar[str] = "binary_sensor"


def register_services(host: Host) -> None:
    """Binary sensors have no services."""
