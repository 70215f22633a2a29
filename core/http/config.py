"""The ``http:`` section of ``configuration.yaml``.

Kept free of aiohttp so that ``check_config`` (and the CLI) can validate the section on
a machine where the web server's optional dependencies are not installed.
"""

from __future__ import annotations

import ipaddress
import re
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
#: Where onboarding (creating the owner while no user exists) may come from: loopback
#: and the private and link-local networks, so a host reachable from the internet
#: before it is set up cannot be claimed from there.
DEFAULT_ONBOARDING_NETWORKS: Final = (
    "127.0.0.0/8", "::1/128", "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16",
    "169.254.0.0/16", "fc00::/7", "fe80::/10",
)
#: Seconds a browser session lives without being used.
DEFAULT_SESSION_LIFETIME: Final = 14 * 24 * 3600.0
#: Seconds a browser session lives after its login at most, however much it is used: a
#: stolen cookie does not work for ever.
DEFAULT_SESSION_MAX_AGE: Final = 30 * 24 * 3600.0
#: Seconds a client has to send a request's head (from connecting, or from the previous
#: answer on a kept-alive connection, which is then closed as idle) and again its body:
#: a slow-loris client cannot hold a connection open for longer.
DEFAULT_CLIENT_TIMEOUT: Final = 30.0
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


def external_url(value: Any) -> str:
    """``https://gate.example[:port][/path]``: how browsers reach the UI (behind a proxy)."""
    if not isinstance(value, str):
        raise vol.Invalid(f"expected a URL like 'https://host', got {type(value).__name__}")
    parts = urlsplit(value.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise vol.Invalid("expected a URL like 'https://host[:port][/path]'")
    if parts.query or parts.fragment or parts.username:
        raise vol.Invalid("an external URL has no query, fragment or user part")
    return value.strip()


_HOSTNAME: Final = re.compile(
    r"^(?=.{1,253}$)[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?(\.[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?)*$"
)


def host_name(value: Any) -> str:
    """A DNS name this server is reached by (``gate.example``): no scheme, no port."""
    if not isinstance(value, str) or not _HOSTNAME.match(value.strip().lower().rstrip(".")):
        raise vol.Invalid("expected a host name like 'gate.example' (no scheme or port)")
    return value.strip().lower().rstrip(".")


def ip_network(value: Any) -> str:
    """An address or network (``192.168.1.0/24``, ``::1``), normalised."""
    try:
        return str(ipaddress.ip_network(str(value).strip(), strict=False))
    except ValueError as err:
        raise vol.Invalid(f"expected an IP address or network: {err}") from None


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
        # The URL browsers use (a reverse proxy's); its origin is trusted, its host allowed.
        vol.Optional("external_url"): external_url,
        # Further names this server is reached by (IP addresses, localhost and this
        # machine's name always are): an Origin is only trusted by one of these names.
        vol.Optional("allowed_hosts", default=list): [host_name],
        # As in Home Assistant: the X-Forwarded-For of a request from one of
        # trusted_proxies names the real client (logins, onboarding); from anyone else it
        # is ignored.
        vol.Inclusive("use_x_forwarded_for", "proxy",
                      msg="use_x_forwarded_for and trusted_proxies go together"): bool,
        vol.Inclusive("trusted_proxies", "proxy",
                      msg="use_x_forwarded_for and trusted_proxies go together"): [ip_network],
        vol.Optional("onboarding_networks", default=list(DEFAULT_ONBOARDING_NETWORKS)):
            vol.All([ip_network], vol.Length(min=1)),
        vol.Optional("login_attempts_threshold", default=DEFAULT_LOGIN_THRESHOLD): vol.All(
            vol.Coerce(int), vol.Range(min=1, max=1000)
        ),
        vol.Optional("login_lockout", default=DEFAULT_LOGIN_LOCKOUT): vol.All(
            vol.Coerce(float), vol.Range(min=1, max=7 * 86400)
        ),
        vol.Optional("session_lifetime", default=DEFAULT_SESSION_LIFETIME): vol.All(
            vol.Coerce(float), vol.Range(min=60, max=366 * 86400)
        ),
        vol.Optional("session_max_age", default=DEFAULT_SESSION_MAX_AGE): vol.All(
            vol.Coerce(float), vol.Range(min=60, max=366 * 86400)
        ),
        vol.Optional("client_timeout", default=DEFAULT_CLIENT_TIMEOUT): vol.All(
            vol.Coerce(float), vol.Range(min=0.1, max=3600)
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
