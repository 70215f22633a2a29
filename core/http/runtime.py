"""What every handler of one HTTP app shares, under one typed application key.

One object instead of a dozen ``AppKey`` entries: handlers write ``rt(request).host``,
and mypy knows every attribute's type.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aiohttp import web

from ..permissions import Permissions
from .auth_store import AccessToken, AuthStore, Session, User
from .jsoncache import JsonCache
from .metrics import MetricsRegistry
from .ratelimit import LoginLimiter
from .registry_json import RegistryJson

if TYPE_CHECKING:
    from ..host import Host
    from .websocket import Connection
    from .ws_commands import CommandDef


@dataclass(eq=False)
class HttpRuntime:
    host: Host
    config: dict[str, Any]
    auth: AuthStore
    limiter: LoginLimiter
    cache: JsonCache
    metrics: MetricsRegistry
    frontend_dir: Path | None
    #: Origins always allowed: ``trusted_origins`` and ``external_url``'s (``origins``).
    trusted_origins: frozenset[str]
    #: Names (besides IP addresses and localhost) this server is reached by.
    allowed_hosts: frozenset[str]
    ws_max_pending: int
    ws_max_pending_bytes: int
    #: The plugins' WebSocket commands (``gatehouse_ws_commands``), made with the app.
    plugin_commands: dict[str, CommandDef] = field(default_factory=dict)
    #: Open WebSocket connections, closed when the server stops.
    connections: set[Connection] = field(default_factory=set)
    #: Set when the server begins to stop: health answers 503, new sockets are refused.
    stopping: bool = False
    #: Messages written to WebSocket clients since the server started (a counter: it
    #: does not go down when a client leaves).
    ws_messages_sent: int = 0
    #: Whether the server's listener is HTTPS (shown by ``GET /api/config``).
    https: bool = False
    #: ``trusted_proxies`` and ``use_x_forwarded_for`` (``forwarded``).
    trusted_proxies: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = ()
    use_x_forwarded_for: bool = False
    #: Whether an ignored X-Forwarded-For was logged already (it is logged once).
    warned_untrusted_forward: bool = False
    #: Client networks onboarding is allowed from.
    onboarding_networks: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = ()
    #: ``client_timeout``: for a request's head (aiohttp's keep-alive timeout) and body.
    client_timeout: float = 30.0
    #: Seconds between checks that an idle WebSocket's credential is still live (an
    #: expired session); revocations close sockets at once without waiting for it.
    ws_recheck_interval: float = 60.0
    #: The registry lists' JSON, one piece per entry (``registry_json``).
    registry_json: RegistryJson = field(init=False)

    def __post_init__(self) -> None:
        self.registry_json = RegistryJson(
            self.host.entity_registry.get, self.host.device_registry.get
        )


RUNTIME_KEY: web.AppKey[HttpRuntime] = web.AppKey("gatehouse_http", HttpRuntime)
#: The authenticated user of a request (absent on public routes without credentials).
USER_KEY: web.RequestKey[User] = web.RequestKey("gatehouse_user", User)
#: What the authenticated user of a request may do (``core/permissions.py``): set with
#: ``USER_KEY``, so a plugin's route handler can filter what it answers
#: (``request[PERMISSIONS_KEY].can_read(entity_id)``).
PERMISSIONS_KEY: web.RequestKey[Permissions] = web.RequestKey(
    "gatehouse_permissions", Permissions
)
#: The browser session behind a request authenticated by cookie (absent for tokens).
SESSION_KEY: web.RequestKey[Session] = web.RequestKey("gatehouse_session", Session)
#: The long-lived token a request authenticated with (absent for sessions).
TOKEN_KEY: web.RequestKey[AccessToken] = web.RequestKey("gatehouse_token", AccessToken)
#: Set on a request that carried an X-Forwarded-For we did not honour (``forwarded``).
UNVERIFIED_FORWARD_KEY: web.RequestKey[bool] = web.RequestKey("gatehouse_unverified_fwd", bool)


def rt(request: web.Request) -> HttpRuntime:
    return request.app[RUNTIME_KEY]


def current_user(request: web.Request) -> User:
    """The user of an authenticated request (the middleware guarantees there is one)."""
    user: User = request[USER_KEY]
    return user


def current_permissions(request: web.Request) -> Permissions:
    """What the user of an authenticated request may do."""
    permissions: Permissions = request[PERMISSIONS_KEY]
    return permissions
