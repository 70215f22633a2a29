"""MQTT sensors: a value read from a topic (the payload, a ``json_path`` or a template).

The state message callback is the ingest hot path: read, check the type, write; the
checks are ordered for the common case (a number).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from gatehouse.core import SensorEntity, SensorEntityDescription
from gatehouse.core.helpers import PayloadError

from .api import MqttMessage
from .entity import MqttEntity, MqttEntityDescription, common_fields

#: Longest text a sensor takes as its state (the state machine's own limit).
MAX_TEXT = 255


@dataclass(frozen=True, kw_only=True)
class MqttSensorDescription(MqttEntityDescription, SensorEntityDescription):
    """One MQTT sensor as data: the shared fields plus unit, state class, precision."""


def describe(config: Mapping[str, Any]) -> MqttSensorDescription:
    """The description of one validated ``sensor`` config."""
    return MqttSensorDescription(
        **common_fields(config),
        unit_of_measurement=config.get("unit_of_measurement"),
        state_class=config.get("state_class"),
        suggested_display_precision=config.get("suggested_display_precision"),
    )


class MqttSensor(MqttEntity, SensorEntity):
    """Every MQTT sensor; what it reads comes from its description."""

    platform_domain: ClassVar[str] = "sensor"
    entity_description: MqttSensorDescription

    def _on_state(self, message: MqttMessage) -> None:
        try:
            value = self._reader.read(message.payload, None)
        except PayloadError as err:
            self._reject(message, err)
            return
        cls = value.__class__
        if cls is not float and cls is not int:
            if cls is str:
                if len(value) > MAX_TEXT:
                    self._reject(message, f"value longer than {MAX_TEXT} characters")
                    return
                if not value:
                    value = None
            elif cls is bool:
                value = "on" if value else "off"
            elif value is not None:
                self._reject(message, "value is not a string or number")
                return
        self._accepted()
        self._attr_native_value = value
        if value is None or self.entity_description.suggested_display_precision is not None:
            self._write_value()
        else:
            self._write_value(value)
