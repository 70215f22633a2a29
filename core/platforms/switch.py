"""Switches: on/off that can be commanded (``switch.turn_on``/``turn_off``/``toggle``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from ..const import STATE_OFF, STATE_ON
from ..entity import Entity
from ..services import ServiceCall
from ._service import register_entity_service

if TYPE_CHECKING:
    from ..host import Host


class SwitchEntity(Entity):
    platform_domain: ClassVar[str] = "switch"
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

    async def turn_on(self) -> None:
        raise NotImplementedError

    async def turn_off(self) -> None:
        raise NotImplementedError

    async def toggle(self) -> None:
        """Default: turn off if on, else on."""
        if self.is_on:
            await self.turn_off()
        else:
            await self.turn_on()


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
