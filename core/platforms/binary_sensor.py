"""Binary sensors: on/off, read-only (a door contact, a pump running flag)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from ..const import STATE_OFF, STATE_ON
from ..entity import Entity

if TYPE_CHECKING:
    from ..host import Host


class BinarySensorEntity(Entity):
    platform_domain: ClassVar[str] = "binary_sensor"
    _attr_is_on: bool | None = None

    @property
    def is_on(self) -> bool | None:
        return self._attr_is_on

    @property
    def state(self) -> Any:
        is_on = self.is_on
        if is_on is None:
            return None
        return STATE_ON if is_on else STATE_OFF


def register_services(host: Host) -> None:
    """Binary sensors have no services."""
