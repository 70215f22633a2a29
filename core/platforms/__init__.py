"""Entity platforms: what a sensor, switch, number... is, and the services that act on them.

Each platform module defines its entity class and ``register_services(host)``; the host
registers the services of every platform at start-up, so ``switch.turn_on`` works for
the switches of every integration.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from . import binary_sensor, button, number, sensor, switch
from .binary_sensor import BinarySensorEntity
from .button import ButtonEntity
from .number import NumberEntity
from .sensor import SensorEntity, SensorEntityDescription
from .switch import SwitchEntity
from .toggle import OnOffEntity, ToggleEntity

if TYPE_CHECKING:
    from ..host import Host

PLATFORMS = ("sensor", "binary_sensor", "switch", "number", "button")

__all__ = [
    "PLATFORMS",
    "BinarySensorEntity",
    "ButtonEntity",
    "NumberEntity",
    "OnOffEntity",
    "SensorEntity",
    "SensorEntityDescription",
    "SwitchEntity",
    "ToggleEntity",
    "register_platform_services",
]


def register_platform_services(host: Host) -> None:
    """Register the entity services of every platform (switch.turn_on, number.set_value...)."""
    for module in (sensor, binary_sensor, switch, number, button):
        module.register_services(host)
