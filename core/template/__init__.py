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
from .engine import TemplateEngine, template_name

__all__ = [
    "DEFAULT_LIMITS",
    "TEMPLATE_LIMITS_SCHEMA",
    "RenderBudget",
    "TemplateBudgetError",
    "TemplateEngine",
    "TemplateError",
    "TemplateLimits",
    "limits_from_config",
    "template_name",
]
