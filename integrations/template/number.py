"""Template numbers: the value is the ``state`` template's; ``number.set_value`` runs
``set_value`` with the new ``value`` (and, ``optimistic``, takes it at once)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from gatehouse.core import Host, NumberEntity
from gatehouse.core.helpers import TemplateError

from .const import CONF_MAX, CONF_MIN, CONF_OPTIMISTIC, CONF_SET_VALUE, CONF_STEP, CONF_UNIT
from .entity import TemplateEntity


class TemplateNumber(TemplateEntity, NumberEntity):
    """A number read by a template and set by actions."""

    def __init__(self, host: Host, config: Mapping[str, Any], **kwargs: Any) -> None:
        super().__init__(host, config, **kwargs)
        self._attr_native_min_value = float(config[CONF_MIN])
        self._attr_native_max_value = float(config[CONF_MAX])
        self._attr_native_step = float(config[CONF_STEP])
        self._attr_native_unit_of_measurement = config.get(CONF_UNIT)
        self._optimistic = bool(config.get(CONF_OPTIMISTIC))

    def apply_state(self, value: Any) -> None:
        if isinstance(value, TemplateError):
            self._attr_native_value = None
            return
        try:
            self._attr_native_value = float(value)
        except (TypeError, ValueError):
            self._attr_native_value = None

    async def set_native_value(self, value: float) -> None:
        await self.run_actions(CONF_SET_VALUE, {"value": value})
        if self._optimistic:
            self._attr_native_value = value
            self.write_state()
