"""Jinja2 templates, sandboxed, with access to the host's states.

Templates come from configuration and from the web UI (MQTT ``value_template``,
automations), so they run in jinja2's *immutable sandbox*: no attribute access to
private members, no mutation of the objects handed in, no Python builtins beyond the
helpers below. Compiled templates are cached, since the same ``value_template`` renders
for every incoming message.

Plugins add globals through the ``gatehouse_template_globals`` hook.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from functools import lru_cache
from typing import TYPE_CHECKING, Any

import jinja2
from jinja2.sandbox import ImmutableSandboxedEnvironment

from .const import STATE_UNKNOWN
from .exceptions import GatehouseError

if TYPE_CHECKING:
    from .host import Host

_LOGGER = logging.getLogger(__name__)


class TemplateError(GatehouseError):
    """A template failed to compile or render; the message says where and why."""


def _to_float(value: Any, default: Any = 0.0) -> Any:
    try:
        return float(value)
    except (TypeError, ValueError):
        return default


def _to_int(value: Any, default: Any = 0) -> Any:
    try:
        return int(float(value))
    except (TypeError, ValueError):
        return default


class TemplateEngine:
    """Compiles and renders templates for one host."""

    def __init__(self, host: Host) -> None:
        self._host = host
        env = ImmutableSandboxedEnvironment(undefined=jinja2.StrictUndefined, autoescape=False)
        env.globals.update(
            states=self._states,
            state_attr=self._state_attr,
            is_state=self._is_state,
            now=lambda: datetime.now(UTC),
            as_timestamp=lambda dt: dt.timestamp() if isinstance(dt, datetime) else _to_float(dt),
            time=time.time,
        )
        env.filters.update(float=_to_float, int=_to_int, to_json=json.dumps,
                           from_json=json.loads)
        # pluggy returns the last registered plugin first; walk in registration order so
        # that a later plugin's name replaces an earlier one, as the hookspec says.
        for contributed in reversed(host.plugins.hook.gatehouse_template_globals(host=host)):
            for name, value in (contributed or {}).items():
                if name in env.globals:
                    _LOGGER.warning("Template global %r is replaced by a plugin", name)
                env.globals[name] = value
        self._env = env
        self._compile = lru_cache(maxsize=512)(self._compile_uncached)

    def _states(self, entity_id: str) -> str:
        state = self._host.states.get(entity_id)
        return state.state if state is not None else STATE_UNKNOWN

    def _state_attr(self, entity_id: str, name: str) -> Any:
        state = self._host.states.get(entity_id)
        return state.attributes.get(name) if state is not None else None

    def _is_state(self, entity_id: str, value: str) -> bool:
        return self._states(entity_id) == value

    def _compile_uncached(self, source: str) -> jinja2.Template:
        try:
            return self._env.from_string(source)
        except jinja2.TemplateSyntaxError as err:
            raise TemplateError(
                f"template syntax error at line {err.lineno}: {err.message}"
            ) from err

    def compile(self, source: str) -> jinja2.Template:
        """Compile (cached); raises ``TemplateError`` with the line of a syntax error."""
        return self._compile(source)

    def render(self, source: str, variables: Mapping[str, Any] | None = None) -> str:
        """Render ``source``; errors (undefined names, sandbox refusals) → ``TemplateError``."""
        template = self.compile(source)
        try:
            return template.render(**(variables or {}))
        except jinja2.TemplateError as err:
            raise TemplateError(f"template error: {err}") from err
        except (TypeError, ValueError, ArithmeticError, KeyError) as err:
            raise TemplateError(f"template error: {type(err).__name__}: {err}") from err
