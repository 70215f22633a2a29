"""Sensors: a read-only value with an optional unit, device class and state class."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from ..const import ATTR_STATE_CLASS
from ..entity import Entity, EntityDescription

if TYPE_CHECKING:
    from ..host import Host


@dataclass(frozen=True, kw_only=True)
class SensorEntityDescription(EntityDescription):
    """A sensor described as data; ``value_fn`` extracts the value from device data."""

    state_class: str | None = None
    suggested_display_precision: int | None = None
    value_fn: Callable[[Any], Any] | None = None


class SensorEntity(Entity):
    platform_domain: ClassVar[str] = "sensor"
    entity_description: SensorEntityDescription | None = None
    _attr_native_value: Any = None
    _attr_native_unit_of_measurement: str | None = None
    _attr_state_class: str | None = None
    _attr_suggested_display_precision: int | None = None

    @property
    def native_value(self) -> Any:
        return self._attr_native_value

    @property
    def unit_of_measurement(self) -> str | None:
        if self._attr_native_unit_of_measurement is not None:
            return self._attr_native_unit_of_measurement
        return super().unit_of_measurement

    @property
    def state_class(self) -> str | None:
        if self._attr_state_class is not None:
            return self._attr_state_class
        return self.entity_description.state_class if self.entity_description else None

    @property
    def suggested_display_precision(self) -> int | None:
        if self._attr_suggested_display_precision is not None:
            return self._attr_suggested_display_precision
        desc = self.entity_description
        return desc.suggested_display_precision if desc else None

    @property
    def state(self) -> Any:
        value = self.native_value
        precision = self.suggested_display_precision
        if precision is not None and isinstance(value, float):
            return f"{value:.{precision}f}"
        return value

    def state_attributes(self) -> dict[str, Any] | None:
        state_class = self.state_class
        return {ATTR_STATE_CLASS: state_class} if state_class else None


def register_services(host: Host) -> None:
    """Sensors have no services."""
