"""The ``script.<key>`` entity: on while a run goes on, with Home Assistant's attributes
(``last_triggered``, ``mode``, ``current``, ``max``)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from gatehouse.core import STATE_OFF, STATE_ON, Entity

from .const import MODE_PARALLEL, MODE_QUEUED
from .runner import Script


class ScriptEntity(Entity):
    platform_domain = "script"

    def __init__(self, key: str, alias: str | None, script: Script,
                 icon: str | None = None, kept: dict[str, dt.datetime] | None = None) -> None:
        self._attr_unique_id = key
        self._attr_name = key  # the entity id is script.<key>, as in Home Assistant
        self._attr_icon = icon
        self.alias = alias or key.replace("_", " ")
        self.script = script
        #: ``last_triggered`` by key for the host's life: a reload rebuilds the entity
        self._kept = kept if kept is not None else {}
        self.last_triggered: dt.datetime | None = self._kept.get(key)

    def friendly_name(self) -> str | None:
        if self.registry_entry is not None and self.registry_entry.name:
            return self.registry_entry.name
        return self.alias

    @property
    def state(self) -> Any:
        return STATE_ON if self.script.is_running else STATE_OFF

    @property
    def extra_state_attributes(self) -> Mapping[str, Any]:
        attrs: dict[str, Any] = {
            "last_triggered": self.last_triggered.isoformat() if self.last_triggered else None,
            "mode": self.script.mode,
            "current": self.script.running,
        }
        if self.script.mode in (MODE_QUEUED, MODE_PARALLEL):
            attrs["max"] = self.script.max_runs
        return attrs

    def triggered(self) -> None:
        """A run was asked for (``script.<key>``, ``turn_on``, ``toggle``)."""
        self.last_triggered = self._kept[self._attr_unique_id or ""] = dt.datetime.now(dt.UTC)

    def changed(self) -> None:
        """The script started or ended a run."""
        if self.host is not None and self.entity_id is not None:
            self.write_state()
