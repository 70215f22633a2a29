"""One automation: its triggers, its conditions and its actions (a ``Script``).

When a trigger fires (in the loop, synchronously) the run's trace is started, the
trigger recorded (``trigger/<idx>``), the variables made (``trigger_variables`` as
rendered when the triggers were attached, ``this``, ``trigger``, the trigger's own
``variables``, then the automation's ``variables``) and the conditions checked inline
(``condition/<i>``). Only when they pass is a task started for the actions: in a
busy house most triggers end at a condition, and those cost no task.
``last_triggered`` is set and ``automation_triggered`` fired when the actions start,
as in Home Assistant.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Mapping
from typing import Any, Final

from gatehouse.core import ConfigEntry, Context, Host, HostKey
from gatehouse.integrations.script.api import (
    Check,
    Item,
    Script,
    ScriptError,
    ScriptResult,
    attach_triggers,
    compile_conditions,
    normalize_trigger,
    render_value,
)

from .const import DOMAIN, EVENT_AUTOMATION_TRIGGERED
from .entity import AutomationEntity

_LOGGER = logging.getLogger(__name__)

#: ``last_triggered`` by automation id, for the host's life (survives reloads).
_LAST_TRIGGERED: Final[HostKey[dict[str, dt.datetime]]] = HostKey("automation.last_triggered")


class Automation:
    """See the module docstring. ``config`` is checked (``AUTOMATION_SCHEMA``)."""

    def __init__(self, host: Host, entry: ConfigEntry[Any], item: Item,
                 config: Mapping[str, Any]) -> None:
        self.host = host
        self.entry = entry
        self.item = item
        self.key = item.key
        self.alias: str = config.get("alias") or item.key
        self.config = config
        self.triggers = [normalize_trigger(t) for t in config["triggers"]]
        self.condition: Check | None = compile_conditions(host, config["conditions"])
        self.variables: dict[str, Any] = dict(config["variables"])
        self.trigger_variables: dict[str, Any] = dict(config["trigger_variables"])
        self.script = Script(
            host, config["actions"], domain=DOMAIN, item_id=item.key,
            name=f"automation {self.alias}", mode=config["mode"], max_runs=config["max"],
            max_exceeded=config["max_exceeded"], config=item.raw,
            blueprint_inputs=item.blueprint_inputs,
            stored_traces=config["trace"]["stored_traces"])
        self.entity = AutomationEntity(self)
        self.script.on_change = self.entity.changed
        self.enabled = False
        # kept across reloads (Home Assistant restores it): a reload rebuilds this object
        self._kept = host.data.setdefault(_LAST_TRIGGERED, {})
        self.last_triggered: dt.datetime | None = self._kept.get(item.key)
        self._detach: Callable[[], None] | None = None
        #: ``trigger_variables`` as rendered when the triggers were attached.
        self._attach_variables: dict[str, Any] = {}

    def __repr__(self) -> str:
        return f"<Automation {self.key} {'on' if self.enabled else 'off'}>"

    def check_triggers(self) -> None:
        """Attach and detach once, so a broken trigger is found at load time."""
        self.attach()
        self.detach()

    def attach(self) -> None:
        if self._detach is None:
            this = {"entity_id": self.entity.entity_id}
            self._attach_variables = render_value(self.host, self.trigger_variables,
                                                  {"this": this})
            variables = {"this": this, **self._attach_variables}
            self._detach = attach_triggers(self.host, self.triggers, self._triggered,
                                           f"automation {self.alias}", variables)

    def detach(self) -> None:
        if self._detach is not None:
            self._detach()
            self._detach = None

    def enable(self) -> None:
        self.attach()
        self.enabled = True
        self.entity.changed()

    async def disable(self, stop_actions: bool = True) -> None:
        self.detach()
        self.enabled = False
        if stop_actions:
            await self.script.stop()
        self.entity.changed()

    def _this(self) -> Any:
        state = self.host.states.get(self.entity.entity_id or "")
        return state if state is not None else {"entity_id": self.entity.entity_id}

    def _triggered(self, data: dict[str, Any], context: Context | None) -> None:
        if not self.enabled:
            return
        run_context = Context(parent_id=context.id if context is not None else None)
        self.start(data, run_context, skip_condition=False)

    def start(self, trigger: Mapping[str, Any], context: Context, *,
              skip_condition: bool, extra: Mapping[str, Any] | None = None) -> bool:
        """Check the conditions and start the actions in a task; False if they failed."""
        trace = self.script.new_trace(context, trigger=trigger.get("description"))
        variables: dict[str, Any] = {**self._attach_variables, **(extra or {}),
                                     "this": self._this(), "trigger": dict(trigger)}
        trace.step(f"trigger/{trigger.get('idx', 0)}", variables=variables)
        try:
            # a trigger's own variables (rendered when it fires), then the automation's
            idx = str(trigger.get("idx", ""))
            own = self.triggers[int(idx)].get("variables") if idx.isdigit() and int(
                idx) < len(self.triggers) else None
            if isinstance(own, Mapping):
                for key, value in own.items():
                    variables[str(key)] = render_value(self.host, value, variables)
            for key, value in self.variables.items():
                variables[key] = render_value(self.host, value, variables)
        except ScriptError as err:
            trace.finished("error", err)
            _LOGGER.error("Automation %s: variables: %s", self.alias, err)
            return False
        if not skip_condition and self.condition is not None and not self.condition(
                variables, trace, "condition"):
            trace.finished("failed_conditions")
            return False
        self.last_triggered = self._kept[self.key] = dt.datetime.now(dt.UTC)
        self.host.bus.fire(EVENT_AUTOMATION_TRIGGERED,
                           {"name": self.alias, "entity_id": self.entity.entity_id,
                            "source": trigger.get("description")}, context)
        # no state write here: the run's start writes last_triggered and current at once
        self.entry.spawn(self._run(variables, context, trace), f"automation {self.alias}")
        return True

    async def _run(self, variables: dict[str, Any], context: Context, trace: Any) -> ScriptResult:
        return await self.script.run(variables, context, trace)
