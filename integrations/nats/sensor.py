"""NATS sensors: values from messages, the malformed-message counter, remote sensors.

* ``MessageSensor``: a value taken from the messages of a core subject or a JetStream
  consumer, described by a ``NatsSensorDescription`` (``describe``). A ``json_path``
  that selects an object or a list gives its compact JSON text: a state is a string.
* ``MalformedCounter``: messages that could not be used, per source in the attributes.
* ``RemoteSensor``: another host's entity (fleet bridge), read-only; its state string is
  copied as is, its attributes say where it comes from.

The connectivity sensor and the queue sensors are the helpers' ``LinkSensor`` and
``OutboxStatSensor`` (``attach_outbox`` adds them).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from gatehouse.core import DeviceInfo, SensorEntity, SensorEntityDescription

from .const import CONF_CONSUMERS, CONF_SENSORS
from .entity import MessageDescription, MessageEntity, RemoteMirror, message_fields


@dataclass(frozen=True, kw_only=True)
class NatsSensorDescription(MessageDescription, SensorEntityDescription):
    """A sensor fed by messages: the core's sensor fields plus where its value comes from."""


def describe(config: Mapping[str, Any], key: str) -> list[NatsSensorDescription]:
    """The sensors of a validated entry: its ``sensor`` items and the ``consumers``
    whose target is ``sensor``."""
    items = [(item, False) for item in config[CONF_SENSORS]] + [
        (item, True) for item in config[CONF_CONSUMERS] if item["target"] == "sensor"
    ]
    return [
        NatsSensorDescription(
            **message_fields(item, key, consumer=consumer),
            unit_of_measurement=item.get("unit_of_measurement"),
            state_class=item.get("state_class"),
        )
        for item, consumer in items
    ]


class MessageSensor(MessageEntity, SensorEntity):
    """A sensor whose value comes from NATS messages."""

    entity_description: NatsSensorDescription

    def _take(self, value: Any) -> None:
        if isinstance(value, dict | list):
            value = json.dumps(value, separators=(",", ":"))
        self._attr_native_value = value


class MalformedCounter(SensorEntity):
    """Counts messages that could not be used (per source in the attributes)."""

    _attr_state_class = "total_increasing"
    _attr_icon = "mdi:message-alert"

    def __init__(self, key: str, name: str, device_info: DeviceInfo) -> None:
        self._attr_unique_id = f"{key}_malformed"
        self._attr_name = f"{name} malformed messages"
        self._attr_device_info = device_info
        self._attr_native_value = 0
        self._by_source: dict[str, int] = {}

    @property
    def extra_state_attributes(self) -> Mapping[str, Any]:
        return dict(self._by_source)

    @property
    def total(self) -> int:
        return int(self._attr_native_value)

    def count(self, source: str) -> None:
        self._by_source[source] = self._by_source.get(source, 0) + 1
        self._attr_native_value = int(self._attr_native_value) + 1
        if self.entity_id is not None:
            self.write_state()


class RemoteSensor(RemoteMirror, SensorEntity):
    """Another host's entity, read-only; its state string is copied as is."""

    @property
    def unit_of_measurement(self) -> str | None:
        return self._unit

    def _take_state(self, state: Any) -> None:
        self._attr_native_value = state
