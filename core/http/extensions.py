"""What plugins add to the web server: API routes, WebSocket commands and UI panels.

Plugins return these from the ``gatehouse_http_routes``, ``gatehouse_ws_commands`` and
``gatehouse_panels`` hooks (see ``gatehouse.core.hookspecs``). All are plain data so
that a plugin can describe its additions without importing aiohttp at module level.

Security is not optional for plugin additions: every plugin route lives under ``/api/``
and requires an authenticated user (the same middleware as the core routes; admins only
with ``require_admin``), every plugin WebSocket command runs on an authenticated socket
(admins only with ``require_admin``) under a ``<domain>/...`` name that cannot shadow a
core command, and panel files are only served to a logged-in browser. A plugin cannot
declare a public route.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from ..keys import HostKey

if TYPE_CHECKING:
    from ..host import Host

_LOGGER = logging.getLogger(__name__)

#: ``async def handler(request: aiohttp.web.Request) -> aiohttp.web.StreamResponse``.
Handler = Callable[[Any], Awaitable[Any]]

#: ``async def handler(permissions, args) -> result`` of a plugin WebSocket command.
WsHandler = Callable[[Any, dict[str, Any]], Awaitable[Any]]
#: ``async def subscribe(permissions, args, send) -> undo`` of a plugin subscription.
WsSubscribe = Callable[[Any, dict[str, Any], Callable[[Any], None]],
                       Awaitable[Callable[[], None]]]

_METHODS: Final = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE"})
_PANEL_NAME: Final = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
#: ``<domain>/<command>[/...]``: at least one slash, so never a core command's name
#: (the core's own slashed names are reserved in ``problem``).
_WS_NAME: Final = re.compile(r"^[a-z0-9_]{1,64}(/[a-z0-9_]{1,64}){1,4}$")
_WS_RESERVED: Final = frozenset({"auth", "config_entries", "config", "frontend", "get",
                                 "subscribe", "unsubscribe"})


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
class WsCommand:
    """One WebSocket command of a plugin, in Home Assistant's protocol.

    A client sends ``{"id": 5, "type": name, ...fields}``; ``schema`` (a voluptuous
    schema, or a dict for one; None: no fields) validates the fields (a failure answers
    ``invalid_format`` with the field); ``handler(permissions, args)`` is awaited with
    the caller's permissions (``gatehouse.core.permissions.Permissions``) and the
    validated fields, and what it returns (JSON-able, or ``RawJson`` bytes the plugin
    encoded itself, off the loop, for a large answer) is the answer's ``result``. An
    error the core knows (``ServiceValidationError``, ``Unauthorized``...) is answered
    with its code and message; any other is ``unknown_error`` and logged. ``name`` is
    ``<domain>/<command>`` (``schema_guard/paths``). Without ``require_admin`` every
    user's socket may send it, read-only ones included: filter by the permissions.
    """

    name: str
    handler: WsHandler
    schema: Any = None
    #: Only admins may send it (others get ``unauthorized``).
    require_admin: bool = False
    #: A subscription (as HA's ``history/stream``): awaited instead of ``handler`` as
    #: ``subscribe(permissions, args, send)``, it returns the undo; the core answers the
    #: result (null) right after, and each ``send(event)`` (JSON-able or ``RawJson``)
    #: then delivers ``{"id", "type": "event", "event": event}`` until the client
    #: unsubscribes (``unsubscribe_events``) or leaves, when the undo runs.
    subscribe: WsSubscribe | None = None

    def problem(self) -> str | None:
        """Why this command cannot be added, or None."""
        if not _WS_NAME.match(self.name):
            return (f"command name {self.name!r} must be <domain>/<command> in lower-case "
                    "letters, digits and _")
        if self.name.split("/", 1)[0] in _WS_RESERVED:
            return f"command name {self.name!r} uses a prefix the core reserves"
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


@dataclass(frozen=True, slots=True)
class Webhook:
    """A webhook: ``POST /api/webhook/<webhook_id>`` hands ``handler`` the request as
    ``{"webhook_id", "method", "json", "data", "query"}`` (``json`` when the body is
    JSON, ``data`` when it is a form), in the loop.

    The only public plugin entry point of the web server, as in Home Assistant: the id
    is the credential (make it long and random). ``local_only`` (default) ignores
    callers outside loopback and the private and link-local ranges; ``methods``
    defaults to POST and PUT. Registered with ``register_webhook``, which returns the
    undo. Any answer is an empty 200 (an unknown id too), so ids cannot be probed.
    """

    webhook_id: str
    handler: Callable[[dict[str, Any]], Any]
    methods: tuple[str, ...] = ("POST", "PUT")
    local_only: bool = True


WEBHOOKS: Final[HostKey[dict[str, Webhook]]] = HostKey("http.webhooks")


def register_webhook(host: Host, webhook: Webhook) -> Callable[[], None]:
    """Make ``webhook`` reachable; ``ValueError`` if its id is taken."""
    table = host.data.setdefault(WEBHOOKS, {})
    if webhook.webhook_id in table:
        raise ValueError(f"webhook id {webhook.webhook_id!r} is already used")
    table[webhook.webhook_id] = webhook

    def unregister() -> None:
        if table.get(webhook.webhook_id) is webhook:
            del table[webhook.webhook_id]

    return unregister


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


def collect_ws_commands(host: Host) -> dict[str, WsCommand]:
    """Every valid WebSocket command by name; a name already taken is logged and skipped."""
    commands: dict[str, WsCommand] = {}
    for plugin, results in _call(host, "gatehouse_ws_commands"):
        for command in results:
            problem = command.problem() if isinstance(command, WsCommand) else "not a WsCommand"
            if problem is None and command.name in commands:
                problem = f"command name {command.name!r} is already used"
            if problem is not None:
                _log_once(f"Plugin {plugin}: ignoring WebSocket command {command!r}: {problem}")
                continue
            commands[command.name] = command
    return commands


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
