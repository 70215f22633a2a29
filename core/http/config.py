"""The ``http:`` section of ``configuration.yaml``.

Kept free of aiohttp so that ``check_config`` (and the CLI) can validate the section on
a machine where the web server's optional dependencies are not installed.
"""

from __future__ import annotations

from typing import Any, Final
from urllib.parse import urlsplit

import voluptuous as vol

#: The top-level key of configuration.yaml; a built-in domain, not a plugin.
HTTP_DOMAIN: Final = "http"

DEFAULT_PORT: Final = 8123
#: Every interface: an appliance is reached over the LAN.
DEFAULT_HOST: Final = "0.0.0.0"
#: Password checks (logins, password changes) per window, per client address and per
#: user name; the one that uses the budget up is refused (429) like every later one.
DEFAULT_LOGIN_THRESHOLD: Final = 5
#: The window (seconds) attempts are counted in: a slot frees when it leaves the window.
DEFAULT_LOGIN_LOCKOUT: Final = 300.0
#: Seconds a browser session lives without being used.
DEFAULT_SESSION_LIFETIME: Final = 14 * 24 * 3600.0
#: Messages a WebSocket client may have waiting before it is disconnected as too slow.
DEFAULT_WS_MAX_PENDING: Final = 4096
#: Bytes a WebSocket client may have waiting: one slow client costs at most this (plus
#: one message larger than it on its own, such as a snapshot of many thousand states).
DEFAULT_WS_MAX_PENDING_BYTES: Final = 4 << 20


def origin(value: Any) -> str:
    """``https://gate.example:8443`` (scheme, host, optional port; nothing else)."""
    if not isinstance(value, str):
        raise vol.Invalid(
            f"expected an origin like 'https://host:port', got {type(value).__name__}"
        )
    parts = urlsplit(value.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise vol.Invalid("expected an origin like 'https://host:port'")
    if parts.path not in ("", "/") or parts.query or parts.fragment or parts.username:
        raise vol.Invalid("an origin has no path, query or user part")
    return normalize_origin(value.strip())


def normalize_origin(value: str) -> str:
    """Lower-case scheme and host, default port dropped: how two origins are compared."""
    parts = urlsplit(value)
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    try:
        port = parts.port
    except ValueError:
        return f"{scheme}://{host}"
    if port is None or (scheme, port) in (("http", 80), ("https", 443)):
        return f"{scheme}://{host}"
    return f"{scheme}://{host}:{port}"


HTTP_SCHEMA: Final = vol.Schema(
    {
        vol.Optional("server_host", default=DEFAULT_HOST): vol.All(str, vol.Length(min=1)),
        # 0 asks the OS for a free port (tests, benchmarks).
        vol.Optional("server_port", default=DEFAULT_PORT): vol.All(
            vol.Coerce(int), vol.Range(min=0, max=65535)
        ),
        vol.Inclusive("ssl_certificate", "ssl", msg="ssl_certificate and ssl_key go together"):
            vol.All(str, vol.Length(min=1)),
        vol.Inclusive("ssl_key", "ssl", msg="ssl_certificate and ssl_key go together"):
            vol.All(str, vol.Length(min=1)),
        vol.Optional("trusted_origins", default=list): [origin],
        vol.Optional("login_attempts_threshold", default=DEFAULT_LOGIN_THRESHOLD): vol.All(
            vol.Coerce(int), vol.Range(min=1, max=1000)
        ),
        vol.Optional("login_lockout", default=DEFAULT_LOGIN_LOCKOUT): vol.All(
            vol.Coerce(float), vol.Range(min=1, max=7 * 86400)
        ),
        vol.Optional("session_lifetime", default=DEFAULT_SESSION_LIFETIME): vol.All(
            vol.Coerce(float), vol.Range(min=60, max=366 * 86400)
        ),
        vol.Optional("ws_max_pending", default=DEFAULT_WS_MAX_PENDING): vol.All(
            vol.Coerce(int), vol.Range(min=1, max=1_000_000)
        ),
        vol.Optional("ws_max_pending_bytes", default=DEFAULT_WS_MAX_PENDING_BYTES): vol.All(
            vol.Coerce(int), vol.Range(min=1024, max=1 << 30)
        ),
        # Where the web UI's files are; default: the frontend/ folder of the source tree.
        vol.Optional("frontend_dir"): vol.All(str, vol.Length(min=1)),
    }
)
