"""On/off entities: the state every binary sensor and switch shares, and switching.

``OnOffEntity`` turns ``is_on`` into the state (``on``/``off``, unknown for None).
``ToggleEntity`` adds the commands: an integration writes one coroutine, ``switch_to(on)``
(publish a payload, write a coil, write a node), and gets ``turn_on``, ``turn_off`` and
``toggle``. When the device does not report its state back (an MQTT switch without a
state topic, a Modbus write without read-back), ``assumed_state`` is True and the entity
takes the commanded state itself after a successful ``switch_to``; otherwise the state
comes from the device, as it should.
"""

from __future__ import annotations

from typing import Any

from ..const import STATE_OFF, STATE_ON
from ..entity import Entity


class OnOffEntity(Entity):
    """An entity whose state is on or off (``_attr_is_on``; None: unknown)."""

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


class ToggleEntity(OnOffEntity):
    """An on/off entity that can be commanded; write ``switch_to``."""

    #: True when the device does not report its state: the command is the state.
    _attr_assumed_state: bool = False

    @property
    def assumed_state(self) -> bool:
        return self._attr_assumed_state

    async def switch_to(self, on: bool) -> None:
        """Command the device on or off; raise if it refused."""
        raise NotImplementedError

    async def turn_on(self) -> None:
        await self._command(True)

    async def turn_off(self) -> None:
        await self._command(False)

    async def toggle(self) -> None:
        """Turn off if on, else on (through ``turn_on``/``turn_off``, which an entity
        may also override instead of writing ``switch_to``)."""
        if self.is_on:
            await self.turn_off()
        else:
            await self.turn_on()

    async def _command(self, on: bool) -> None:
        await self.switch_to(on)
        if self.assumed_state:
            self._attr_is_on = on
            self.write_state()
