"""Numbers: a settable value with a range and step (a valve setpoint)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

import voluptuous as vol

from ..entity import Entity
from ..exceptions import ServiceValidationError
from ..services import ServiceCall
from ._service import register_entity_service

if TYPE_CHECKING:
    from ..host import Host


class NumberEntity(Entity):
    platform_domain: ClassVar[str] = "number"
    _attr_native_value: float | None = None
    _attr_native_min_value: float = 0.0
    _attr_native_max_value: float = 100.0
    _attr_native_step: float = 1.0
    _attr_native_unit_of_measurement: str | None = None
    _attr_mode: str = "auto"

    @property
    def native_value(self) -> float | None:
        return self._attr_native_value

    @property
    def min_value(self) -> float:
        return self._attr_native_min_value

    @property
    def max_value(self) -> float:
        return self._attr_native_max_value

    @property
    def step(self) -> float:
        return self._attr_native_step

    @property
    def unit_of_measurement(self) -> str | None:
        if self._attr_native_unit_of_measurement is not None:
            return self._attr_native_unit_of_measurement
        return super().unit_of_measurement

    @property
    def state(self) -> Any:
        return self.native_value

    def state_attributes(self) -> dict[str, Any]:
        return {"min": self.min_value, "max": self.max_value, "step": self.step,
                "mode": self._attr_mode}

    async def set_native_value(self, value: float) -> None:
        raise NotImplementedError


async def _set_value(entity: NumberEntity, call: ServiceCall) -> None:
    value = float(call.data["value"])
    if not entity.min_value <= value <= entity.max_value:
        raise ServiceValidationError(
            "number", "set_value",
            f"{value} is outside {entity.min_value}..{entity.max_value} of {entity.entity_id}",
        )
    await entity.set_native_value(value)


def register_services(host: Host) -> None:
    register_entity_service(
        host, "number", "set_value", NumberEntity, _set_value,
        {vol.Required("value"): vol.Coerce(float)},
    )
