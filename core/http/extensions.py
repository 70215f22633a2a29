"""What plugins add to the web server: API routes and UI panels.

Plugins return these from the ``gatehouse_http_routes`` and ``gatehouse_panels`` hooks
(see ``gatehouse.core.hookspecs``). Both are plain data so that a plugin can describe
its additions without importing aiohttp at module level.

Security is not optional for plugin additions: every plugin route lives under ``/api/``
and requires an authenticated user (the same middleware as the core routes; admins only
with ``require_admin``), and panel files are only served to a logged-in browser. A
plugin cannot declare a public route.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:
    from ..host import Host

_LOGGER = logging.getLogger(__name__)

#: ``async def handler(request: aiohttp.web.Request) -> aiohttp.web.StreamResponse``.
Handler = Callable[[Any], Awaitable[Any]]

_METHODS: Final = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE"})
_PANEL_NAME: Final = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")


@dataclass(frozen=True, slots=True)
class RouteDef:
    """One API route of a plugin.

    ``path`` must start with ``/api/`` and may hold aiohttp placeholders
    (``/api/echo/{name}``); ``handler`` gets the aiohttp request, whose authenticated
    user is ``request[gatehouse.core.http.USER_KEY]`` and what that user may do
    ``request[gatehouse.core.http.PERMISSIONS_KEY]``. Without ``require_admin`` every
    logged-in user reaches it, read-only ones included: filter by the permissions.
    """

    method: str
    path: str
    handler: Handler
    #: Only admins may call it (the core answers 403 to other users).
    require_admin: bool = False

    def problem(self) -> str | None:
        """Why this route cannot be added, or None."""
        if self.method.upper() not in _METHODS:
            return f"method {self.method!r} is not one of {sorted(_METHODS)}"
        if not self.path.startswith("/api/") or ".." in self.path:
            return f"path {self.path!r} must start with /api/"
        return None


@dataclass(frozen=True, slots=True)
class Panel:
    """A page of the web UI provided by a plugin.

    ``static_dir`` is the plugin's folder of files, served (to logged-in users only) at
    ``/panels/<name>/``; ``entry`` is the file inside it that the UI loads: a ``.js``
    module (``kind`` "module": the UI imports it and mounts the custom element
    ``gatehouse-panel-<name>``) or an ``.html`` page (``kind`` "html": shown in a frame).
    ``icon`` is an mdi name such as ``mdi:bell``.
    """

    name: str
    title: str
    static_dir: Path
    entry: str
    icon: str = "mdi:puzzle"
    require_admin: bool = False

    @property
    def kind(self) -> str:
        return "html" if self.entry.endswith((".html", ".htm")) else "module"

    @property
    def url(self) -> str:
        return f"/panels/{self.name}/{self.entry}"

    def problem(self) -> str | None:
        if not _PANEL_NAME.match(self.name):
            return f"panel name {self.name!r} must be lower-case letters, digits, - or _"
        if not self.entry.endswith((".js", ".mjs", ".html", ".htm")) or ".." in self.entry:
            return f"panel entry {self.entry!r} must be a .js module or an .html page"
        if not (Path(self.static_dir) / self.entry).is_file():
            return f"panel entry {Path(self.static_dir) / self.entry} does not exist"
        return None

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "title": self.title,
            "icon": self.icon,
            "url": self.url,
            "kind": self.kind,
            "require_admin": self.require_admin,
        }


def collect_routes(host: Host) -> list[RouteDef]:
    """Every valid route of every registered plugin; bad ones are logged and skipped."""
    found: list[RouteDef] = []
    for plugin, results in _call(host, "gatehouse_http_routes"):
        for route in results:
            problem = route.problem() if isinstance(route, RouteDef) else "not a RouteDef"
            if problem is not None:
                _log_once(f"Plugin {plugin}: ignoring HTTP route {route!r}: {problem}")
                continue
            found.append(route)
    return found


def collect_panels(host: Host) -> dict[str, Panel]:
    """Every valid panel by name; a name already taken is logged and skipped."""
    panels: dict[str, Panel] = {}
    for plugin, results in _call(host, "gatehouse_panels"):
        for panel in results:
            problem = panel.problem() if isinstance(panel, Panel) else "not a Panel"
            if problem is None and panel.name in panels:
                problem = f"panel name {panel.name!r} is already used"
            if problem is not None:
                _log_once(f"Plugin {plugin}: ignoring panel {panel!r}: {problem}")
                continue
            panels[panel.name] = panel
    return panels


#: Problems already reported: panels are collected on every request of the UI, and
#: one broken plugin must not fill the log.
_REPORTED: set[str] = set()


def _log_once(message: str) -> None:
    if message not in _REPORTED:
        _REPORTED.add(message)
        _LOGGER.error("%s", message)


def _call(host: Host, hook_name: str) -> list[tuple[str, list[Any]]]:
    """Call a list-returning hook plugin by plugin, so one broken plugin is contained."""
    out: list[tuple[str, list[Any]]] = []
    for impl in getattr(host.plugins.hook, hook_name).get_hookimpls():
        try:
            result = impl.function(host=host)
        except Exception:
            _LOGGER.exception("Plugin %s failed in %s", impl.plugin_name, hook_name)
            continue
        if result is None:
            continue
        out.append((impl.plugin_name, list(result)))
    return out
