"""Jinja2 templates: sandboxed, with access to the host's states, and on a budget.

==============  ==========================================================================
``engine``      ``TemplateEngine``: one per host (``helpers.template_engine``), compiles
                with a cache and renders
``budget``      ``TemplateLimits`` (steps, seconds, size), the per-render
                ``RenderBudget``, ``TemplateError`` and ``TemplateBudgetError``
``sandbox``     jinja2's immutable sandbox made to count: the compiler writes the
                budget checks into every loop, output and literal
``guards``      the operators, methods and filters that could build something huge,
                checked before they do
``homeapi``     Home Assistant's template API put into the environment: ``states``
                (``states.py``), host functions (``home.py``: ``is_state``,
                ``expand``, ``area_*``, ``device_*``), the rest (``functions.py``)
``undefined``   undefined values: errors when strict, empty with a warning if not
``native``      the rendered text read back as a Python value (``parse_result``)
``info``        ``RenderInfo``: the result and what the render read
``tracking``    ``TrackerHub`` (one state listener per host), ``TemplateTracker``
==============  ==========================================================================

Internal: integrations use ``gatehouse.core.helpers`` (``template_engine``,
``check_template``, ``configure_templates``, ``TemplateEngine``, ``TemplateError``...).
"""

from .budget import (
    DEFAULT_LIMITS,
    TEMPLATE_LIMITS_SCHEMA,
    RenderBudget,
    TemplateBudgetError,
    TemplateError,
    TemplateLimits,
    limits_from_config,
)
from .engine import TemplateEngine, is_template, template_name
from .info import RenderInfo
from .native import parse_result
from .tracking import TemplateTracker, TrackerHub

__all__ = [
    "DEFAULT_LIMITS",
    "TEMPLATE_LIMITS_SCHEMA",
    "RenderBudget",
    "RenderInfo",
    "TemplateBudgetError",
    "TemplateEngine",
    "TemplateError",
    "TemplateLimits",
    "TemplateTracker",
    "TrackerHub",
    "is_template",
    "limits_from_config",
    "parse_result",
    "template_name",
]
