"""Every hook a Gatehouse plugin can implement, in one place.

How the house uses pluggy (read this before writing a plugin):

* A plugin is a module (or object) registered with the host's plugin manager. Shipped
  integrations and third-party packages come in through the same door: the entry-point
  group ``gatehouse.integrations``, where the entry-point *name* is the integration's
  domain and the *value* its package, e.g. in ``pyproject.toml``::

      [project.entry-points."gatehouse.integrations"]
      my_domain = "my_package.my_domain"

* Modules are imported lazily: only the integrations named in ``configuration.yaml`` or
  by a stored config entry are imported, registered and asked for their hooks.
* Hooks are for *broadcast*: every plugin that implements one is called, results come
  back as a list (pluggy order: last registered first) unless the spec says otherwise.
  Addressed work — "set up this entry of mqtt" — does not go through hooks: the
  ``gatehouse_integration`` hook hands the host an ``Integration`` object and the host
  calls its methods directly (see ``gatehouse.core.integration.Integration``).
* pluggy is synchronous. All hooks here are plain functions; an ``async def`` hookimpl
  would return an un-awaited coroutine. Start async work from ``setup_entry`` instead.

Implement a hook with the marker exported by the core::

    from gatehouse.core import hookimpl

    @hookimpl
    def gatehouse_integration() -> Integration:
        return MY_INTEGRATION
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    from .host import Host
    from .http.extensions import Panel, RouteDef, WsCommand
    from .integration import Integration

PROJECT_NAME = "gatehouse"

hookspec = pluggy.HookspecMarker(PROJECT_NAME)
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)


@hookspec
def gatehouse_integration() -> Integration:  # type: ignore[empty-body]
    """Return the ``Integration`` this plugin provides. Takes no arguments.

    Not a broadcast: when the plugin is registered (that is, when its domain is first
    needed) the host calls only that plugin's own implementation, so each result stands
    alone and is never combined with another plugin's. The host keys the result by
    ``integration.domain``, which must equal the entry-point name and the ``domain`` of
    the plugin's ``manifest.json``.

    A plugin that only contributes other hooks (template globals, say) does not
    implement this one.
    """


@hookspec
def gatehouse_host_started(host: Host) -> None:
    """Called once the host has set up every configured entry and is running.

    ``host`` is the running host. Return values are ignored. Exceptions propagate
    to the host start-up, so keep this to quick, safe work (logging, scheduling a
    task with ``host.spawn``).
    """


@hookspec
def gatehouse_host_stopping(host: Host) -> None:
    """Called when the host begins to stop, before config entries are unloaded.

    ``host`` is the stopping host. Return values are ignored; exceptions are logged
    and stopping goes on.
    """


@hookspec
def gatehouse_template_globals(host: Host) -> Mapping[str, Any]:  # type: ignore[empty-body]
    """Return names to add to the globals of every jinja2 template.

    ``host`` is the host the templates render for. Each plugin returns a mapping of
    name to value (usually a function); the mappings are merged in plugin order, a later
    plugin's name replacing an earlier one with a warning. Called when the template
    environment is built, not on every render.
    """


@hookspec
def gatehouse_diagnostics(host: Host) -> Mapping[str, Any]:  # type: ignore[empty-body]
    """Return a JSON-able mapping of diagnostics about this plugin.

    ``host`` is the running host. Used by ``gatehouse diagnostics`` and, later, the
    API. Results are collected per plugin name. Never put secrets in the result.
    """


@hookspec
def gatehouse_http_routes(host: Host) -> list[RouteDef]:  # type: ignore[empty-body]
    """Return API routes this plugin adds to the web server (``RouteDef`` objects).

    ``host`` is the running host. Called once, when the HTTP server starts (after the
    configured entries are set up): a plugin first loaded later gets its routes on the
    next start. The lists of all plugins are collected into one router; a route whose
    path does not start with ``/api/``, or that clashes with an existing route, is
    logged and skipped. Every plugin route requires an authenticated user: the handler
    reads it from ``request[gatehouse.core.http.USER_KEY]``, and what it may do from
    ``request[gatehouse.core.http.PERMISSIONS_KEY]``. Not called when the
    ``http:`` section is absent.
    """


@hookspec
def gatehouse_ws_commands(host: Host) -> list[WsCommand]:  # type: ignore[empty-body]
    """Return WebSocket commands this plugin adds (``WsCommand`` objects).

    ``host`` is the running host. Called once, when the HTTP server starts (after the
    configured entries are set up), like ``gatehouse_http_routes``. The lists of all
    plugins are collected by command name (``<domain>/<command>``); a second command
    with a name already taken, or a name that is not ``<domain>/<command>``, is logged
    and skipped. Every command needs an authenticated socket; the handler gets the
    caller's permissions. Not called when the ``http:`` section is absent.
    """


@hookspec
def gatehouse_panels(host: Host) -> list[Panel]:  # type: ignore[empty-body]
    """Return UI panels (pages) this plugin adds to the web UI (``Panel`` objects).

    ``host`` is the running host. Called whenever the UI asks for the panel list
    (``GET /api/panels``) or a panel file, so a plugin loaded after start-up shows up
    without a restart; keep it cheap and free of I/O. The lists of all plugins are
    collected by panel name; a second panel with a name already taken is logged and
    skipped. A panel's files are served only to logged-in users.
    """


#: Every hook specified above, for the meta-test that checks each one is documented and
#: exercised by a test.
HOOK_NAMES: tuple[str, ...] = (
    "gatehouse_integration",
    "gatehouse_host_started",
    "gatehouse_host_stopping",
    "gatehouse_template_globals",
    "gatehouse_diagnostics",
    "gatehouse_http_routes",
    "gatehouse_ws_commands",
    "gatehouse_panels",
)

