"""Build the aiohttp application of one host: middlewares, routes, shared runtime.

Tests build the same application the server runs (``create_app``) and drive it with
aiohttp's test client, so there is exactly one way routes and security get wired.

Middlewares, outermost first: security headers on every answer; errors as JSON; the
real client address behind a trusted proxy; authentication and request checks. Routes:
the core's, then the plugins' (``gatehouse_http_routes``), then the UI's catch-all for
files, which must come last.

While the application runs it is the host's authority on users, so it installs the
service registry's permissions resolver (user id → ``Permissions``; ``None`` for a user
that does not exist, which the registry refuses): every service call made for a user,
through REST, the WebSocket or anything a call leads to, is checked there. It is
removed when the application stops.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aiohttp import web

from ..area_registry import area_registry
from ..logging_setup import attach_ring
from ..permissions import Permissions
from . import origins
from .auth import admin_only, any_user, auth_middleware, headers_middleware
from .auth_store import AuthStore
from .body import MAX_BODY
from .config import HTTP_SCHEMA
from .errors import Handler, error_middleware
from .extensions import RouteDef, collect_routes
from .forwarded import forwarded_middleware, networks
from .jsoncache import JsonCache
from .metrics import get_metrics
from .ratelimit import LoginLimiter
from .runtime import RUNTIME_KEY, HttpRuntime

if TYPE_CHECKING:
    from ..host import Host

_LOGGER = logging.getLogger(__name__)


def _frontend_dir(host: Host, config: dict[str, Any]) -> Path | None:
    from .static import DEFAULT_FRONTEND

    configured = config.get("frontend_dir")
    if configured is None:
        return DEFAULT_FRONTEND if DEFAULT_FRONTEND.is_dir() else None
    path = Path(configured)
    return path if path.is_absolute() else host.config_dir / path


async def create_app(host: Host, config: dict[str, Any] | None = None) -> web.Application:
    """The web application of ``host``; ``config`` is the ``http:`` section (validated)."""
    from . import (
        static,
        views_api,
        views_auth,
        views_backup,
        views_config,
        views_ha,
        views_webhook,
        websocket,
        ws_commands,
    )

    settings: dict[str, Any] = HTTP_SCHEMA(dict(config or {}))
    auth = AuthStore(host.storage_dir, session_lifetime=settings["session_lifetime"],
                     session_max_age=settings["session_max_age"])
    await auth.load()
    runtime = HttpRuntime(
        host=host,
        config=settings,
        auth=auth,
        limiter=LoginLimiter(settings["login_attempts_threshold"], settings["login_lockout"]),
        cache=JsonCache(),
        metrics=get_metrics(host),
        frontend_dir=_frontend_dir(host, settings),
        trusted_origins=origins.trusted_origins(settings),
        allowed_hosts=origins.allowed_hosts(settings),
        ws_max_pending=settings["ws_max_pending"],
        ws_max_pending_bytes=settings["ws_max_pending_bytes"],
        trusted_proxies=networks(settings.get("trusted_proxies") or ()),
        use_x_forwarded_for=bool(settings.get("use_x_forwarded_for")),
        onboarding_networks=networks(settings["onboarding_networks"]),
        client_timeout=settings["client_timeout"],
    )
    app = web.Application(
        middlewares=[
            headers_middleware, error_middleware, forwarded_middleware, auth_middleware
        ],
        client_max_size=MAX_BODY,
    )
    app[RUNTIME_KEY] = runtime
    for module in (views_api, views_config, views_auth, views_backup, views_ha, views_webhook,
                   websocket):
        app.add_routes(module.routes)
    assert ws_commands.COMMANDS  # importing it registered the WebSocket commands
    runtime.plugin_commands = ws_commands.plugin_commands(host)
    for route in collect_routes(host):
        _add_plugin_route(app, route)
    app.add_routes(static.routes)
    _add_http_metrics(app, runtime)
    stop_revoking = auth.on_revoke(lambda: websocket.close_revoked(runtime))

    def resolve(user_id: str) -> Permissions | None:
        user = auth.get_user(user_id)
        return user.permissions if user is not None else None

    detach_ring: list[Callable[[], None]] = []

    async def install(_app: web.Application) -> None:
        host.services.set_permissions(resolve)
        # Recent log lines for GET /api/error_log (``run`` attached it already).
        detach_ring.append(attach_ring())
        # Loaded now rather than on the first config/area_registry/list: the UI asks
        # for it with the states snapshot, and its file read then waited behind the
        # snapshot's encoding (about 0.1 s of the overview's first render). A file that
        # cannot be read fails the area commands, as before, not the web server.
        try:
            await area_registry(host)
        except Exception as err:  # noqa: BLE001 - the commands report it in detail
            _LOGGER.warning("The area registry could not be loaded: %s", err)

    async def flush(_app: web.Application) -> None:
        stop_revoking()
        for detach in detach_ring:
            detach()
        if host.services.permissions is resolve:  # not a later app's
            host.services.set_permissions(None)
        await auth.flush()

    app.on_startup.append(install)
    app.on_cleanup.append(flush)
    return app


def _add_plugin_route(app: web.Application, route: RouteDef) -> None:
    plugin_handler = route.handler

    async def handler(request: web.Request) -> web.StreamResponse:
        response: web.StreamResponse = await plugin_handler(request)
        return response

    # A plugin route is for any user unless it asks for admins; the handler finds the
    # user's permissions in request[PERMISSIONS_KEY] to filter what it answers.
    (admin_only if route.require_admin else any_user)(handler)
    wrapped: Handler = handler
    method = route.method.upper()
    taken = {
        (r.method, r.resource.canonical) for r in app.router.routes() if r.resource is not None
    }
    if (method, route.path) in taken:
        # aiohttp would accept it and never call it (the first route wins): say so.
        _LOGGER.error("Ignoring plugin route %s %s: the path is taken", method, route.path)
        return
    try:
        if method == "GET":  # with HEAD, as the core's GET routes (same checks)
            app.router.add_get(route.path, wrapped)
        else:
            app.router.add_route(method, route.path, wrapped)
    except (RuntimeError, ValueError) as err:
        _LOGGER.error("Ignoring plugin route %s %s: %s", method, route.path, err)


def _add_http_metrics(app: web.Application, runtime: HttpRuntime) -> None:
    metrics = runtime.metrics
    undos = []
    try:
        undos.append(metrics.gauge(
            "gatehouse_websocket_connections", "Open WebSocket API connections",
            lambda: len(runtime.connections),
        ))
        undos.append(metrics.counter(
            "gatehouse_websocket_messages_sent", "Messages sent to WebSocket clients",
            lambda: runtime.ws_messages_sent,
        ))
    except ValueError:  # a second app on the same host (tests): the first one reports
        pass

    async def remove(_app: web.Application) -> None:
        for undo in undos:
            undo()

    app.on_cleanup.append(remove)
