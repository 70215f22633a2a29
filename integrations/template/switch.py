"""Template switches: ``turn_on``/``turn_off`` run actions; the state is the ``state``
template's, or, without one (or with ``optimistic: true``), the last command's."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from gatehouse.core import Host, SwitchEntity
from gatehouse.core.helpers import TemplateError

from .const import CONF_OPTIMISTIC, CONF_STATE, CONF_TURN_OFF, CONF_TURN_ON
from .entity import TemplateEntity, as_boolean


class TemplateSwitch(TemplateEntity, SwitchEntity):
    """A switch made of two action lists and an optional state template."""

    def __init__(self, host: Host, config: Mapping[str, Any], **kwargs: Any) -> None:
        super().__init__(host, config, **kwargs)
        self._attr_assumed_state = config.get(CONF_STATE) is None or bool(
            config.get(CONF_OPTIMISTIC)
        )
        if config.get(CONF_STATE) is None:
            self._attr_is_on = False

    def apply_state(self, value: Any) -> None:
        self._attr_is_on = None if isinstance(value, TemplateError) else as_boolean(value)

    async def switch_to(self, on: bool) -> None:
        await self.run_actions(CONF_TURN_ON if on else CONF_TURN_OFF, {})
