"""MQTT switches: commands out on ``command_topic``, state back on ``state_topic``.

Without a state topic (or with ``optimistic: true``) the device does not report its
state, so the switch assumes the commanded one (``assumed_state``, ``ToggleEntity``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from gatehouse.core import SwitchEntity
from gatehouse.core.helpers import OnOffPayload

from .api import MqttMessage
from .entity import (
    Command,
    MqttEntity,
    MqttEntityDescription,
    command_of,
    common_fields,
    optimistic,
)


@dataclass(frozen=True, kw_only=True)
class MqttSwitchDescription(MqttEntityDescription):
    """One MQTT switch as data: the words it sends and the words its state comes in."""

    command: Command
    #: ``payload_on``/``payload_off``: sent as commands.
    payload: OnOffPayload = field(default_factory=OnOffPayload)
    #: ``state_on``/``state_off`` (default: the command words): read from the state.
    state: OnOffPayload = field(default_factory=OnOffPayload)
    optimistic: bool = False


def describe(config: Mapping[str, Any]) -> MqttSwitchDescription:
    """The description of one validated ``switch`` config."""
    payload = OnOffPayload(config.get("payload_on", "ON"), config.get("payload_off", "OFF"))
    return MqttSwitchDescription(
        **common_fields(config),
        command=command_of(config),
        payload=payload,
        state=OnOffPayload(
            config.get("state_on", payload.on), config.get("state_off", payload.off)
        ),
        optimistic=optimistic(config),
    )


class MqttSwitch(MqttEntity, SwitchEntity):
    """Every MQTT switch (see the module docstring)."""

    platform_domain: ClassVar[str] = "switch"
    entity_description: MqttSwitchDescription

    @property
    def assumed_state(self) -> bool:
        return self.entity_description.optimistic

    def _on_state(self, message: MqttMessage) -> None:
        is_on = self._read_on_off(message, self.entity_description.state)
        if is_on is not None:
            self._attr_is_on = is_on
            self._write_value()

    async def switch_to(self, on: bool) -> None:
        description = self.entity_description
        await self._send(description.command, description.payload.word(on))
