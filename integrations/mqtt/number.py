"""MQTT numbers: a value commanded on ``command_topic``, reported on ``state_topic``."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from gatehouse.core import NumberEntity
from gatehouse.core.helpers import PayloadError, TemplateEngine

from .api import MqttMessage
from .entity import (
    Command,
    MqttEntity,
    MqttEntityDescription,
    command_of,
    common_fields,
    optimistic,
)

if TYPE_CHECKING:
    from .runtime import MqttRuntime


@dataclass(frozen=True, kw_only=True)
class MqttNumberDescription(MqttEntityDescription):
    """One MQTT number as data: the shared fields plus its range and command topic."""

    command: Command
    min: float = 1.0
    max: float = 100.0
    step: float = 1.0
    mode: str = "auto"
    optimistic: bool = False


def describe(config: Mapping[str, Any]) -> MqttNumberDescription:
    """The description of one validated ``number`` config."""
    return MqttNumberDescription(
        **common_fields(config),
        unit_of_measurement=config.get("unit_of_measurement"),
        command=command_of(config),
        min=float(config.get("min", 1.0)),
        max=float(config.get("max", 100.0)),
        step=float(config.get("step", 1.0)),
        mode=str(config.get("mode", "auto")),
        optimistic=optimistic(config),
    )


class MqttNumber(MqttEntity, NumberEntity):
    """Every MQTT number; ``set_value`` publishes, the state topic confirms."""

    platform_domain: ClassVar[str] = "number"
    entity_description: MqttNumberDescription

    def __init__(
        self,
        runtime: MqttRuntime,
        description: MqttNumberDescription,
        engine: TemplateEngine | None,
        *,
        discovery_id: str | None = None,
    ) -> None:
        super().__init__(runtime, description, engine, discovery_id=discovery_id)
        self._attr_native_min_value = description.min
        self._attr_native_max_value = description.max
        self._attr_native_step = description.step
        self._attr_mode = description.mode

    def _on_state(self, message: MqttMessage) -> None:
        try:
            value = float(self._reader.read(message.payload, None))
        except PayloadError as err:
            self._reject(message, err)
            return
        except (TypeError, ValueError):
            self._reject(message, "not a number")
            return
        self._accepted()
        self._attr_native_value = value
        self._write_value()

    async def set_native_value(self, value: float) -> None:
        integral = value.is_integer() and self.step.is_integer()
        await self._send(
            self.entity_description.command, str(int(value)) if integral else str(value)
        )
        if self.entity_description.optimistic:
            self._attr_native_value = value
            self.write_state()
