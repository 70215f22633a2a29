"""NATS binary sensors: on/off from messages, and remote binary sensors.

* ``MessageBinarySensor``: the value read from a message (a core subject or a JetStream
  consumer) must be the description's on or off word (the helpers' ``OnOffPayload``;
  a JSON boolean counts as itself); anything else is a malformed message.
* ``RemoteBinarySensor``: another host's binary sensor (fleet bridge), read-only.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from gatehouse.core import STATE_OFF, STATE_ON, BinarySensorEntity
from gatehouse.core.helpers import OnOffPayload

from .const import CONF_BINARY_SENSORS, CONF_CONSUMERS
from .entity import MessageDescription, MessageEntity, RemoteMirror, message_fields


@dataclass(frozen=True, kw_only=True)
class NatsBinarySensorDescription(MessageDescription):
    """A binary sensor fed by messages, and the words its device uses for on and off."""

    payload: OnOffPayload = field(default_factory=OnOffPayload)


def describe(config: Mapping[str, Any], key: str) -> list[NatsBinarySensorDescription]:
    """The binary sensors of a validated entry: its ``binary_sensor`` items and the
    ``consumers`` whose target is ``binary_sensor``."""
    items = [(item, False) for item in config[CONF_BINARY_SENSORS]] + [
        (item, True) for item in config[CONF_CONSUMERS] if item["target"] == "binary_sensor"
    ]
    return [
        NatsBinarySensorDescription(
            **message_fields(item, key, consumer=consumer),
            payload=OnOffPayload(
                on=item.get("payload_on", "ON"), off=item.get("payload_off", "OFF")
            ),
        )
        for item, consumer in items
    ]


class MessageBinarySensor(MessageEntity, BinarySensorEntity):
    """A binary sensor whose value comes from NATS messages."""

    entity_description: NatsBinarySensorDescription

    def _take(self, value: Any) -> None:
        self._attr_is_on = self.entity_description.payload.parse(value)


class RemoteBinarySensor(RemoteMirror, BinarySensorEntity):
    """Another host's binary sensor, read-only."""

    def _take_state(self, state: Any) -> None:
        self._attr_is_on = None if state not in (STATE_ON, STATE_OFF) else state == STATE_ON
