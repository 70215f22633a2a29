"""Triggers of trigger-based template entities: the script engine's, every platform.

A ``template:`` block with ``trigger:`` (or ``triggers:``) renders its entities only
when one fires (Home Assistant's trigger-based template entities), with ``trigger``
(the firing's data) and the block's ``variables`` rendered against it. The triggers
are the automations' (``gatehouse.integrations.script.api.attach_triggers``): state,
numeric_state, event, mqtt, time, time_pattern, template, webhook... in both of Home
Assistant's syntaxes. An unknown platform fails the set-up naming the block.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from gatehouse.core import Context, Host
from gatehouse.core.helpers import TemplateError
from gatehouse.integrations.script.api import ScriptError, attach_triggers, render_value

from .errors import TemplateEntityError

if TYPE_CHECKING:
    from .entity import TemplateEntity

_LOGGER = logging.getLogger(__name__)


def attach_block(host: Host, triggers: list[Any], variables: Mapping[str, Any],
                 entities: list[TemplateEntity], name: str) -> Callable[[], None]:
    """Attach the triggers of one block; each firing renders its ``entities``."""

    def fire(trigger: dict[str, Any], context: Context | None) -> None:
        data = {key: value for key, value in trigger.items() if not key.startswith("_")}
        try:
            rendered = render_value(host, dict(variables), {"trigger": data})
        except (TemplateError, ScriptError) as err:
            _LOGGER.warning("%s: variables failed: %s", name, err)
            rendered = {}
        for entity in entities:
            entity.triggered(data, rendered)

    try:
        return attach_triggers(host, triggers, fire, name)
    except (ScriptError, ValueError) as err:
        raise TemplateEntityError(f"{name}: {err}") from err
