"""Trigger-based template blocks: the script engine's triggers, conditions and actions.

A ``template:`` block with ``trigger:`` (or ``triggers:``) renders its entities only
when one fires (Home Assistant's trigger-based template entities), with ``trigger``
(the firing's data) and the block's ``variables`` rendered against it. Then, as in Home
Assistant, ``condition:`` may stop the update, and ``action:`` runs first, its
variables (``variables`` actions, ``response_variable``s) reaching the templates.

Triggers, conditions and actions are the automations'
(``gatehouse.integrations.script.api``): every trigger platform (state,
numeric_state, event, mqtt, time, time_pattern, template, webhook...) in both of Home
Assistant's syntaxes. Anything malformed fails the set-up naming the block.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from gatehouse.core import Context, Host
from gatehouse.core.helpers import TemplateError
from gatehouse.integrations.script.api import (
    Script,
    ScriptError,
    attach_triggers,
    compile_conditions,
    render_value,
)

from .errors import TemplateEntityError

if TYPE_CHECKING:
    from .entity import TemplateEntity

_LOGGER = logging.getLogger(__name__)


class TriggerBlock:
    """One trigger-based block: what fires it and the entities it renders."""

    def __init__(self, name: str, triggers: list[Any], *, variables: Mapping[str, Any],
                 conditions: list[Any], actions: Any, entities: list[TemplateEntity]) -> None:
        self.name = name
        self.triggers = triggers
        self.variables = dict(variables)
        self.conditions = conditions
        self.actions = actions
        self.entities = entities

    def attach(self, host: Host) -> Callable[[], None]:
        """Compile conditions and actions, attach the triggers; returns the undo."""
        try:
            check = compile_conditions(host, self.conditions) if self.conditions else None
            script = Script(host, self.actions, domain="script", item_id=self.name,
                            name=self.name, mode="queued", max_runs=10, stored_traces=0) \
                if self.actions else None
        except (ScriptError, ValueError) as err:
            raise TemplateEntityError(f"{self.name}: {err}") from err

        def fire(trigger: dict[str, Any], context: Context | None) -> None:
            data = {key: value for key, value in trigger.items() if not key.startswith("_")}
            try:
                rendered = render_value(host, self.variables, {"trigger": data})
            except (TemplateError, ScriptError) as err:
                _LOGGER.warning("%s: variables failed: %s", self.name, err)
                return
            variables = {**rendered, "trigger": data}
            if check is not None and not check(variables, None, "condition"):
                return
            if script is None:
                self._render(data, rendered)
                return
            host.spawn(self._after_actions(script, data, variables, context),
                       f"{self.name} actions")

        try:
            return attach_triggers(host, self.triggers, fire, self.name)
        except (ScriptError, ValueError) as err:
            raise TemplateEntityError(f"{self.name}: {err}") from err

    async def _after_actions(self, script: Script, trigger: dict[str, Any],
                             variables: dict[str, Any], context: Context | None) -> None:
        result = await script.run(variables, context)
        if result.error is not None:
            _LOGGER.warning("%s: action failed: %s", self.name, result.error)
            return
        merged = {key: value for key, value in result.variables.items() if key != "trigger"}
        self._render(trigger, merged)

    def _render(self, trigger: dict[str, Any], variables: Mapping[str, Any]) -> None:
        for entity in self.entities:
            if entity.host is not None:  # not removed meanwhile
                entity.triggered(trigger, variables)
