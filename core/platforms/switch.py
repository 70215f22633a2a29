"""Switches: on/off that can be commanded (``switch.turn_on``/``turn_off``/``toggle``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from ..services import ServiceCall
from ._service import register_entity_service
from .toggle import ToggleEntity

if TYPE_CHECKING:
    from ..host import Host


class SwitchEntity(ToggleEntity):
    """A switch: write ``switch_to(on)`` (see ``ToggleEntity``)."""

    platform_domain: ClassVar[str] = "switch"


async def _turn_on(entity: SwitchEntity, call: ServiceCall) -> None:
    await entity.turn_on()


async def _turn_off(entity: SwitchEntity, call: ServiceCall) -> None:
    await entity.turn_off()


async def _toggle(entity: SwitchEntity, call: ServiceCall) -> None:
    await entity.toggle()


def register_services(host: Host) -> None:
    register_entity_service(host, "switch", "turn_on", SwitchEntity, _turn_on)
    register_entity_service(host, "switch", "turn_off", SwitchEntity, _turn_off)
    register_entity_service(host, "switch", "toggle", SwitchEntity, _toggle)
