"""What every template entity shares: its templates, how they are followed, ``this``.

An entity has templates for fields: ``state`` (its platform's), ``availability``,
``icon`` and one per ``attributes`` key. Without triggers each template is followed
with ``track_template``: it re-renders when a state it reads changes, and the entity
writes its state then (one tracker per template; all share the host's one
``state_changed`` listener), and the entity writes once per state change however many
of its templates changed (``on_batch``). With triggers (a block with ``trigger:``), nothing is
tracked: every template renders when a trigger fires, with ``trigger`` and the block's
``variables``.

``this`` is the entity's own current state (read when a template reads it, so it is
never stale and never re-renders the entity by itself, as in Home Assistant).

Render errors: a failed ``state`` makes the state unknown, a failed ``availability``
leaves the entity available (Home Assistant's choice: the error is in the log, not in
a dashboard gone grey), a failed icon or attribute drops that field.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from gatehouse.core import Entity, Host
from gatehouse.core.helpers import TemplateError, render_template, track_template

from .actions import Actions
from .const import (
    CONF_ATTRIBUTES,
    CONF_AVAILABILITY,
    CONF_ICON,
    CONF_NAME,
    CONF_PRESS,
    CONF_SET_VALUE,
    CONF_STATE,
    CONF_TURN_OFF,
    CONF_TURN_ON,
)

#: The fields that hold action sequences.
ACTION_FIELDS = (CONF_TURN_ON, CONF_TURN_OFF, CONF_SET_VALUE, CONF_PRESS)

if TYPE_CHECKING:
    from gatehouse.core import State

_LOGGER = logging.getLogger(__name__)

_TRUE_WORDS = frozenset({"1", "true", "yes", "on", "enable"})


def as_boolean(value: Any) -> bool:
    """Home Assistant's ``result_as_boolean``: yes-words and non-zero numbers are True,
    anything else (None, errors, other text) False."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return value != 0
    return isinstance(value, str) and value.strip().lower() in _TRUE_WORDS


class LiveThis:
    """``this`` in a template: the entity's state at the moment it is read."""

    __slots__ = ("_entity",)

    def __init__(self, entity: Entity) -> None:
        self._entity = entity

    def _current(self) -> State | None:
        host, entity_id = self._entity.host, self._entity.entity_id
        if host is None or entity_id is None:
            return None
        return host.states.get(entity_id)

    @property
    def entity_id(self) -> str | None:
        return self._entity.entity_id

    @property
    def state(self) -> str:
        current = self._current()
        return current.state if current is not None else "unknown"

    @property
    def attributes(self) -> Mapping[str, Any]:
        current = self._current()
        return current.attributes if current is not None else {}

    @property
    def last_changed(self) -> datetime | None:
        current = self._current()
        return current.last_changed_dt if current is not None else None

    @property
    def last_updated(self) -> datetime | None:
        current = self._current()
        return current.last_updated_dt if current is not None else None

    def __repr__(self) -> str:
        return f"<template this {self._entity.entity_id}>"


class TemplateEntity(Entity):
    """The shared half of every template entity (module docstring); a platform class
    adds ``apply_state``."""

    def __init__(
        self,
        host: Host,
        config: Mapping[str, Any],
        *,
        unique_id: str | None,
        triggered: bool,
        variables: Mapping[str, Any] | None = None,
    ) -> None:
        self._config = config
        self._triggered = triggered
        self._static_variables = dict(variables or {})
        self._attr_unique_id = unique_id
        self._this = LiveThis(self)
        self._attributes: dict[str, Any] = {}
        name = config.get(CONF_NAME)
        self._attr_name = str(render_template(host, name, native=False)) if name else None
        self.templates: dict[str, str] = {}
        if config.get(CONF_STATE) is not None:
            self.templates[CONF_STATE] = config[CONF_STATE]
        for key in (CONF_AVAILABILITY, CONF_ICON):
            if config.get(key) is not None:
                self.templates[key] = config[key]
        for key, source in (config.get(CONF_ATTRIBUTES) or {}).items():
            self.templates[f"{CONF_ATTRIBUTES}.{key}"] = source
        if CONF_AVAILABILITY in self.templates:
            self._attr_available = True
        #: Action sequences by field, compiled now (a malformed one fails the set-up).
        self.actions = {
            field: Actions(host, config[field], f"{self._attr_name or 'template'} {field}")
            for field in ACTION_FIELDS if config.get(field)
        }

    async def run_actions(self, field: str, variables: Mapping[str, Any]) -> None:
        """Run the ``field`` actions with ``this`` and ``variables``."""
        await self.actions[field].run({**self.variables(), **variables}, self._call_context,
                                      f"{self.label} {field}")

    @property
    def label(self) -> str:
        return self.entity_id or self._attr_name or "template entity"

    def apply_state(self, value: Any) -> None:
        """Take a rendered ``state`` (or the ``TemplateError``); platforms override."""

    def variables(self) -> dict[str, Any]:
        return {**self._static_variables, "this": self._this}

    # -- following the templates --------------------------------------------------------

    async def added_to_host(self) -> None:
        if self._triggered:
            return
        assert self.host is not None
        for field, source in self.templates.items():
            tracker = track_template(
                self.host, source, self.variables(), self._follower(field),
                native=self.native(field), name=f"{self.label} {field}",
                on_batch=self.write_state,
            )
            self.apply(field, tracker.result)
            self.on_remove(tracker)

    def native(self, field: str) -> bool:
        """Whether ``field`` renders to a Python value (sensors keep their text)."""
        return True

    def _follower(self, field: str) -> Any:
        def follow(old: Any, new: Any) -> None:
            self.apply(field, new)  # written once per change by on_batch

        return follow

    def triggered(self, trigger: Mapping[str, Any], variables: Mapping[str, Any]) -> None:
        """A trigger of the block fired: render every template once and write."""
        assert self.host is not None
        context = {**self.variables(), **variables, "trigger": dict(trigger)}
        for field, source in self.templates.items():
            try:
                result: Any = render_template(
                    self.host, source, context, native=self.native(field),
                    name=f"{self.label} {field}",
                )
            except TemplateError as err:
                _LOGGER.warning("%s", err)
                result = err
            self.apply(field, result)
        self.write_state()

    def apply(self, field: str, value: Any) -> None:
        failed = isinstance(value, TemplateError)
        if field == CONF_STATE:
            self.apply_state(value)
        elif field == CONF_AVAILABILITY:
            self._attr_available = True if failed else as_boolean(value)
        elif field == CONF_ICON:
            self._attr_icon = None if failed or value in (None, "") else str(value)
        else:
            key = field.partition(".")[2]
            if failed:
                self._attributes.pop(key, None)
            else:
                self._attributes[key] = value
            self._attr_extra_state_attributes = dict(self._attributes)
