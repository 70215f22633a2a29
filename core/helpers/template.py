"""The host's template engine: one per host, built on first use, shared by everyone.

Building an engine runs the ``gatehouse_template_globals`` hook of every plugin and
starts an empty compile cache, so an engine per call (or per integration) repeats that
work and caches nothing. ``template_engine(host)`` keeps one in ``host.data``.

Every render runs on the host's budget (``TemplateLimits``: steps, seconds, size; see
``gatehouse.core.template.budget``). The limits come from ``configure_templates`` if it
was called, else from the core configuration's ``templates:`` block (``gatehouse:
templates: {steps: ..., seconds: ..., size: ...}``, validated by
``TEMPLATE_LIMITS_SCHEMA``) when the host has one, else the defaults.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from ..const import CORE_DOMAIN
from ..keys import HostKey
from ..template import (
    DEFAULT_LIMITS,
    TemplateEngine,
    TemplateError,
    TemplateLimits,
    limits_from_config,
)

if TYPE_CHECKING:
    from ..host import Host

_ENGINE: Final[HostKey[TemplateEngine]] = HostKey("core.template_engine")
_LIMITS: Final[HostKey[TemplateLimits]] = HostKey("core.template_limits")


def template_limits(host: Host) -> TemplateLimits:
    """The budget of each render on ``host`` (see the module docstring)."""
    limits = host.data.get(_LIMITS)
    if limits is not None:
        return limits
    core = host.config.get(CORE_DOMAIN) or {}
    block = core.get("templates") if isinstance(core, dict) else None
    return limits_from_config(block) if isinstance(block, dict) else DEFAULT_LIMITS


def configure_templates(host: Host, limits: TemplateLimits) -> None:
    """Set the budget of every render on ``host`` (the engine follows at once)."""
    host.data[_LIMITS] = limits
    engine = host.data.get(_ENGINE)
    if engine is not None:
        engine.limits = limits


def template_engine(host: Host) -> TemplateEngine:
    """The host's engine (templates compiled once and cached for every caller)."""
    engine = host.data.get(_ENGINE)
    if engine is None:
        engine = host.data[_ENGINE] = TemplateEngine(host, limits=template_limits(host))
    return engine


def check_template(host: Host, source: str) -> str | None:
    """Why ``source`` does not compile with the host's engine, or None (for form checks)."""
    try:
        template_engine(host).compile(source)
    except TemplateError as err:
        return str(err)
    return None
