"""Template sensors: the state is the rendered text (Home Assistant's), at most 255
characters (longer is an error: the state becomes unknown)."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from gatehouse.core import Host, SensorEntity
from gatehouse.core.helpers import TemplateError

from .const import CONF_DEVICE_CLASS, CONF_STATE, CONF_STATE_CLASS, CONF_UNIT
from .entity import TemplateEntity

_LOGGER = logging.getLogger(__name__)
_MAX_STATE = 255


class TemplateSensor(TemplateEntity, SensorEntity):
    """A sensor whose state is a template."""

    def __init__(self, host: Host, config: Mapping[str, Any], **kwargs: Any) -> None:
        super().__init__(host, config, **kwargs)
        self._attr_native_unit_of_measurement = config.get(CONF_UNIT)
        self._attr_device_class = config.get(CONF_DEVICE_CLASS)
        self._attr_state_class = config.get(CONF_STATE_CLASS)

    def native(self, field: str) -> bool:
        return field != CONF_STATE

    def apply_state(self, value: Any) -> None:
        if isinstance(value, TemplateError) or value is None:
            self._attr_native_value = None
            return
        text = str(value)
        if len(text) > _MAX_STATE:
            _LOGGER.warning("%s: state template rendered %d characters, at most %d allowed",
                            self.label, len(text), _MAX_STATE)
            self._attr_native_value = None
            return
        self._attr_native_value = text
