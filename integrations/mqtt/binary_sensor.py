"""MQTT binary sensors: on/off read from a topic, in the device's own words."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from gatehouse.core import BinarySensorEntity
from gatehouse.core.helpers import OnOffPayload

from .api import MqttMessage
from .entity import MqttEntity, MqttEntityDescription, common_fields


@dataclass(frozen=True, kw_only=True)
class MqttBinarySensorDescription(MqttEntityDescription):
    """One MQTT binary sensor as data: the shared fields plus its on/off words."""

    payload: OnOffPayload = field(default_factory=OnOffPayload)


def describe(config: Mapping[str, Any]) -> MqttBinarySensorDescription:
    """The description of one validated ``binary_sensor`` config."""
    return MqttBinarySensorDescription(
        **common_fields(config),
        payload=OnOffPayload(config.get("payload_on", "ON"), config.get("payload_off", "OFF")),
    )


class MqttBinarySensor(MqttEntity, BinarySensorEntity):
    """Every MQTT binary sensor: JSON booleans, or ``payload_on``/``payload_off``."""

    platform_domain: ClassVar[str] = "binary_sensor"
    entity_description: MqttBinarySensorDescription

    def _on_state(self, message: MqttMessage) -> None:
        is_on = self._read_on_off(message, self.entity_description.payload)
        if is_on is not None:
            self._attr_is_on = is_on
            self._write_value()
