"""Template binary sensors: on when the state template renders a yes-word (``true``,
``on``, ``yes``, ``1``) or a non-zero number, as Home Assistant reads it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from gatehouse.core import BinarySensorEntity, Host
from gatehouse.core.helpers import TemplateError

from .const import CONF_DEVICE_CLASS
from .entity import TemplateEntity, as_boolean


class TemplateBinarySensor(TemplateEntity, BinarySensorEntity):
    """A binary sensor whose state is a template."""

    def __init__(self, host: Host, config: Mapping[str, Any], **kwargs: Any) -> None:
        super().__init__(host, config, **kwargs)
        self._attr_device_class = config.get(CONF_DEVICE_CLASS)

    def apply_state(self, value: Any) -> None:
        self._attr_is_on = None if isinstance(value, TemplateError) else as_boolean(value)
