"""The host's template engine: one per host, built on first use, shared by everyone.

Building an engine runs the ``gatehouse_template_globals`` hook of every plugin and
starts an empty compile cache, so an engine per call (or per integration) repeats that
work and caches nothing. ``template_engine(host)`` keeps one in ``host.data``.

Every render runs on the host's budget (``TemplateLimits``: steps, seconds, size; see
``gatehouse.core.template.budget``). The limits come from ``configure_templates`` if it
was called, else from the core configuration's ``templates:`` block (``gatehouse:
templates: {steps: ..., seconds: ..., size: ...}``, validated by
``TEMPLATE_LIMITS_SCHEMA``) when the host has one, else the defaults.

Home Assistant's way of using templates (``render_template``, ``render_info``,
``track_template``): the result stripped and read back as a Python value (``native``),
an undefined variable rendered empty with a warning instead of failing (``strict``
False), and, for ``track_template``, re-rendered whenever a state it read changes.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Final

from ..const import CORE_DOMAIN
from ..keys import HostKey
from ..template import (
    DEFAULT_LIMITS,
    RenderInfo,
    TemplateEngine,
    TemplateError,
    TemplateLimits,
    TemplateTracker,
    TrackerHub,
    limits_from_config,
)

if TYPE_CHECKING:
    from ..host import Host

_ENGINE: Final[HostKey[TemplateEngine]] = HostKey("core.template_engine")
_LIMITS: Final[HostKey[TemplateLimits]] = HostKey("core.template_limits")
_HUB: Final[HostKey[TrackerHub]] = HostKey("core.template_trackers")


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


def render_template(
    host: Host,
    source: str,
    variables: Mapping[str, Any] | None = None,
    *,
    native: bool = True,
    strict: bool = False,
    name: str | None = None,
) -> Any:
    """Render ``source`` as Home Assistant does: stripped, read back as a Python value
    when ``native`` (``"21.5"`` → 21.5, ``"on"`` stays text). Raises ``TemplateError``
    naming the template (``name``, default the start of the source) and the line."""
    info = template_engine(host).render_info(
        source, variables, name=name, native=native, strict=strict
    )
    if info.error is not None:
        raise info.error
    return info.result


def render_info(
    host: Host,
    source: str,
    variables: Mapping[str, Any] | None = None,
    *,
    native: bool = True,
    strict: bool = False,
    name: str | None = None,
) -> RenderInfo:
    """Render ``source`` and say what it read (``entities``, ``domains``,
    ``all_states``, ``has_time``); an error is in ``.error``, not raised."""
    return template_engine(host).render_info(
        source, variables, name=name, native=native, strict=strict
    )


def track_template(
    host: Host,
    source: str,
    variables: Mapping[str, Any] | None,
    action: Callable[[Any, Any], None],
    *,
    rate_limit: float | None = None,
    native: bool = True,
    strict: bool = False,
    name: str | None = None,
    on_batch: Callable[[], None] | None = None,
) -> TemplateTracker:
    """Render ``source`` now and call ``action(old, new)`` whenever a change of a state
    it read changes its result (a render error is passed as the ``TemplateError``).

    Returns the tracker: call it to stop; ``.result`` is the latest result (the first
    render's on return), ``.refresh()`` renders at once. ``rate_limit`` (seconds): at
    most one render per period; default one a minute for a template that reads every
    state, one a second for a domain, none for entities. ``on_batch``: called once
    after the trackers sharing it changed on one state change (an entity's
    ``write_state``). Must be called in the loop.
    """
    hub = host.data.get(_HUB)
    if hub is None:
        hub = host.data[_HUB] = TrackerHub(host)
    return TemplateTracker(
        hub, template_engine(host), source, variables, action, rate_limit=rate_limit,
        native=native, strict=strict, name=name, on_batch=on_batch,
    )
