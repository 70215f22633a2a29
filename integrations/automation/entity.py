"""The ``automation.<alias>`` entity: on while enabled, with Home Assistant's attributes
(``id``, ``last_triggered``, ``mode``, ``current``, ``max``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from gatehouse.core import STATE_OFF, STATE_ON, Entity

if TYPE_CHECKING:
    from .automation import Automation


class AutomationEntity(Entity):
    platform_domain = "automation"

    def __init__(self, automation: Automation) -> None:
        self.automation = automation
        self._attr_unique_id = automation.key
        self._attr_name = automation.alias

    @property
    def state(self) -> Any:
        return STATE_ON if self.automation.enabled else STATE_OFF

    @property
    def extra_state_attributes(self) -> Mapping[str, Any]:
        auto = self.automation
        script = auto.script
        attrs: dict[str, Any] = {
            "id": auto.key,
            "last_triggered": (auto.last_triggered.isoformat()
                               if auto.last_triggered is not None else None),
            "mode": script.mode,
            "current": script.running,
        }
        if script.mode in ("queued", "parallel"):
            attrs["max"] = script.max_runs
        return attrs

    def changed(self) -> None:
        if self.host is not None and self.entity_id is not None:
            self.write_state()
