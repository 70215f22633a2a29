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

import logging
from collections.abc import Mapping
from functools import lru_cache
from typing import TYPE_CHECKING, Any

import jinja2

from .budget import (
    DEFAULT_LIMITS,
    Collector,
    RenderBudget,
    TemplateBudgetError,
    TemplateError,
    TemplateLimits,
    spending,
)
from .homeapi import install_home_api
from .info import RenderInfo
from .native import parse_result
from .sandbox import BudgetedEnvironment, render
from .undefined import HomeUndefined

if TYPE_CHECKING:
    from ..host import Host

_LOGGER = logging.getLogger(__name__)

#: Longest excerpt of a template's source used as its name in messages.
_NAME_LENGTH = 40


def is_template(source: str) -> bool:
    """Whether ``source`` has any jinja in it (else it is its own result)."""
    return "{{" in source or "{%" in source or "{#" in source


def template_line(err: BaseException, template: jinja2.Template) -> int | None:
    """The template line where ``err`` was raised (the innermost template frame)."""
    line = None
    trace = err.__traceback__
    while trace is not None:
        if trace.tb_frame.f_code.co_filename == "<template>":
            line = template.get_corresponding_lineno(trace.tb_lineno)
        trace = trace.tb_next
    return line


def locate(err: TemplateError, template: jinja2.Template, label: str) -> TemplateError:
    """``err`` with the template's name and line, if it had neither."""
    if err.line is not None:
        return err
    line = err.line = template_line(err, template)
    if err.template is None:  # raised by a function: its message names neither
        err.template = label
        where = f", line {line}" if line is not None else ""
        err.args = (f"template {label!r}{where}: {err}",)
    elif line is not None:
        err.args = (f"{err} (line {line})",)
    return err


def template_name(source: str) -> str:
    """A short name for a template that has none: the start of its first line."""
    first = source.strip().splitlines()[0] if source.strip() else ""
    return first if len(first) <= _NAME_LENGTH else first[: _NAME_LENGTH - 1] + "…"


class TemplateEngine:
    """Compiles and renders templates for one host, on ``limits`` (default: the house
    defaults; ``helpers.configure_templates`` sets a host's own)."""

    def __init__(self, host: Host, *, limits: TemplateLimits = DEFAULT_LIMITS) -> None:
        self._host = host
        env = BudgetedEnvironment(undefined=HomeUndefined, autoescape=False, limits=limits)
        install_home_api(env, host)
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
        #: Compilations so far (cache misses): what the benchmark and tests watch.
        self.compilations = 0

    @property
    def limits(self) -> TemplateLimits:
        """The budget of each render (may be changed; applies to the next render)."""
        return self._env.limits

    @limits.setter
    def limits(self, limits: TemplateLimits) -> None:
        self._env.limits = limits

    def _compile_uncached(self, source: str) -> jinja2.Template:
        self.compilations += 1
        try:
            template = self._env.from_string(source)
        except jinja2.TemplateSyntaxError as err:
            label = template_name(source)
            raise TemplateError(
                f"template {label!r}, line {err.lineno}: syntax error: {err.message}",
                template=label, line=err.lineno,
            ) from err
        # jinja copies the globals into every render's context; from a ChainMap that is
        # a lookup per global (~60), from a dict one C copy. The globals are complete
        # once the engine is built, so the template keeps a flat copy.
        template.globals = dict(template.globals)
        return template

    def compile(self, source: str) -> jinja2.Template:
        """Compile (cached); raises ``TemplateError`` naming the template and the line of
        a syntax error.

        The template renders on this engine's budget however it is rendered.
        """
        return self._compile(source)

    def render(
        self,
        source: str,
        variables: Mapping[str, Any] | None = None,
        *,
        name: str | None = None,
        strict: bool = True,
        collect: Collector | None = None,
        compiled: jinja2.Template | None = None,
    ) -> str:
        """Render ``source``.

        Errors (undefined names in a ``strict`` render, sandbox refusals, a function
        given what it cannot convert) → ``TemplateError`` naming ``name`` (default: the
        start of the source) and the template line where it happened; a render over
        budget → ``TemplateBudgetError`` naming the limit as well. Not ``strict``: an
        undefined value renders empty, with a warning (Home Assistant's way).
        ``collect`` records what the render reads (``render_info``). ``compiled``:
        ``source`` already compiled (a tracker keeps its own, so a thousand tracked
        templates do not depend on the 512-entry cache).
        """
        template = compiled if compiled is not None else self.compile(source)
        label = name if name is not None else template_name(source)
        try:
            return render(
                template, variables or {}, self._env.limits, label, collect=collect,
                strict=strict,
            )
        except TemplateError as err:
            raise locate(err, template, label) from None
        except RecursionError:
            raise TemplateBudgetError(label, "depth", "nested too deeply") from None
        except Exception as err:
            line = template_line(err, template)
            kind = "" if isinstance(err, jinja2.TemplateError) else f"{type(err).__name__}: "
            where = f", line {line}" if line is not None else ""
            raise TemplateError(
                f"template {label!r}{where}: {kind}{err}", template=label, line=line
            ) from err

    def render_info(
        self,
        source: str,
        variables: Mapping[str, Any] | None = None,
        *,
        name: str | None = None,
        native: bool = True,
        strict: bool = False,
        compiled: jinja2.Template | None = None,
    ) -> RenderInfo:
        """Render ``source`` recording what it reads; the result Home Assistant's way:
        stripped, and read back as a Python value when ``native``. An error is in
        ``error`` (``result`` is then None), never raised."""
        collector = Collector()
        if not is_template(source):
            return RenderInfo.from_collector(parse_result(source) if native else source,
                                             collector)
        try:
            text = self.render(source, variables, name=name, strict=strict,
                               collect=collector, compiled=compiled).strip()
        except TemplateError as err:
            return RenderInfo.from_collector(None, collector, err)
        return RenderInfo.from_collector(parse_result(text) if native else text, collector)

    def measure(self, source: str, variables: Mapping[str, Any] | None = None) -> RenderBudget:
        """Render ``source`` and return the budget it used (steps, output, elapsed):
        how the defaults were chosen, and a way to check a template against them."""
        template = self.compile(source)
        with spending(RenderBudget(self._env.limits, template_name(source))) as budget:
            "".join(template.root_render_func(template.new_context(dict(variables or {}))))
        return budget
