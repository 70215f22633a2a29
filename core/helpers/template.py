"""The host's template engine: one per host, built on first use, shared by everyone.

Building an engine runs the ``gatehouse_template_globals`` hook of every plugin and
starts an empty compile cache, so an engine per call (or per integration) repeats that
work and caches nothing. ``template_engine(host)`` keeps one in ``host.data``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from ..keys import HostKey
from ..template import TemplateEngine, TemplateError

if TYPE_CHECKING:
    from ..host import Host

_ENGINE: Final[HostKey[TemplateEngine]] = HostKey("core.template_engine")


def template_engine(host: Host) -> TemplateEngine:
    """The host's engine (templates compiled once and cached for every caller)."""
    engine = host.data.get(_ENGINE)
    if engine is None:
        engine = host.data[_ENGINE] = TemplateEngine(host)
    return engine


def check_template(host: Host, source: str) -> str | None:
    """Why ``source`` does not compile with the host's engine, or None (for form checks)."""
    try:
        template_engine(host).compile(source)
    except TemplateError as err:
        return str(err)
    return None
