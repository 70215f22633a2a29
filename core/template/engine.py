"""The template engine of a host: compiles (cached) and renders on a budget.

Templates come from configuration, from the web UI and from devices (MQTT
``value_template``, discovery configs, automations), so they run in jinja2's *immutable
sandbox* (no private attributes, no mutation of the objects handed in, no Python
builtins beyond the helpers below) made to count (``sandbox.py``): every render has a
budget of steps, time and size (``budget.py``) and stops itself when it is spent.
Compiled templates are cached, since the same ``value_template`` renders for every
incoming message.

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

from ..const import STATE_UNKNOWN
from ..util.jsonpath import loads
from .budget import (
    DEFAULT_LIMITS,
    RenderBudget,
    TemplateBudgetError,
    TemplateError,
    TemplateLimits,
    spending,
)
from .sandbox import BudgetedEnvironment, render

if TYPE_CHECKING:
    from ..host import Host

_LOGGER = logging.getLogger(__name__)

#: Longest excerpt of a template's source used as its name in messages.
_NAME_LENGTH = 40


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


def template_name(source: str) -> str:
    """A short name for a template that has none: the start of its first line."""
    first = source.strip().splitlines()[0] if source.strip() else ""
    return first if len(first) <= _NAME_LENGTH else first[: _NAME_LENGTH - 1] + "…"


class TemplateEngine:
    """Compiles and renders templates for one host, on ``limits`` (default: the house
    defaults; ``helpers.configure_templates`` sets a host's own)."""

    def __init__(self, host: Host, *, limits: TemplateLimits = DEFAULT_LIMITS) -> None:
        self._host = host
        env = BudgetedEnvironment(undefined=jinja2.StrictUndefined, autoescape=False, limits=limits)
        env.globals.update(
            states=self._states,
            state_attr=self._state_attr,
            is_state=self._is_state,
            now=lambda: datetime.now(UTC),
            as_timestamp=lambda dt: dt.timestamp() if isinstance(dt, datetime) else _to_float(dt),
            time=time.time,
        )
        # from_json: the house's JSON reader, which refuses absurd nesting (PayloadError,
        # a ValueError) instead of raising RecursionError.
        env.filters.update(float=_to_float, int=_to_int, to_json=json.dumps, from_json=loads)
        # pluggy returns the last registered plugin first; walk in registration order so
        # that a later plugin's name replaces an earlier one, as the hookspec says.
        for contributed in reversed(host.plugins.hook.gatehouse_template_globals(host=host)):
            for name, value in (contributed or {}).items():
                if name in env.globals:
                    _LOGGER.warning("Template global %r is replaced by a plugin", name)
                env.globals[name] = value
        env.guard_filters()
        self._env = env
        self._compile = lru_cache(maxsize=512)(self._compile_uncached)

    @property
    def limits(self) -> TemplateLimits:
        """The budget of each render (may be changed; applies to the next render)."""
        return self._env.limits

    @limits.setter
    def limits(self, limits: TemplateLimits) -> None:
        self._env.limits = limits

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
        """Compile (cached); raises ``TemplateError`` with the line of a syntax error.

        The template renders on this engine's budget however it is rendered.
        """
        return self._compile(source)

    def render(
        self, source: str, variables: Mapping[str, Any] | None = None, *, name: str | None = None
    ) -> str:
        """Render ``source``; errors (undefined names, sandbox refusals) → ``TemplateError``,
        a render over budget → ``TemplateBudgetError`` naming ``name`` (default: the start
        of the source) and the limit."""
        template = self.compile(source)
        label = name if name is not None else template_name(source)
        try:
            return render(template, variables or {}, self._env.limits, label)
        except TemplateError:
            raise
        except RecursionError:
            raise TemplateBudgetError(label, "depth", "nested too deeply") from None
        except jinja2.TemplateError as err:
            raise TemplateError(f"template error: {err}") from err
        except (TypeError, ValueError, ArithmeticError, KeyError) as err:
            raise TemplateError(f"template error: {type(err).__name__}: {err}") from err

    def measure(self, source: str, variables: Mapping[str, Any] | None = None) -> RenderBudget:
        """Render ``source`` and return the budget it used (steps, output, elapsed):
        how the defaults were chosen, and a way to check a template against them."""
        template = self.compile(source)
        with spending(RenderBudget(self._env.limits, template_name(source))) as budget:
            "".join(template.root_render_func(template.new_context(dict(variables or {}))))
        return budget
