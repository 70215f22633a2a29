"""One NATS connection per config entry: options, first connect, status.

nats-py reconnects by itself (to any server of the list: cluster failover) and buffers
publishes meanwhile, so after the first connect the integration only watches the
connection's status. The first connect is different: with ``max_reconnect_attempts``
at -1 (retry forever, the default) nats-py would never give up on unreachable servers,
so set-up bounds it with ``setup_timeout`` and turns the last error into
``ConfigEntryNotReady`` (the host retries with backoff) or ``ConfigEntryAuthFailed``.
"""

from __future__ import annotations

import importlib.util
import logging
import ssl
from collections.abc import Callable, Mapping
from typing import Any

import anyio
import anyio.to_thread
import nats.errors
from nats.aio.client import Client as NATS
from nats.js.client import JetStreamContext

from gatehouse.core import ConfigEntryAuthFailed, ConfigEntryError, ConfigEntryNotReady

from .const import (
    CONF_CLIENT_NAME,
    CONF_CONNECT_TIMEOUT,
    CONF_CREDS_FILE,
    CONF_INSECURE,
    CONF_MAX_PINGS,
    CONF_MAX_RECONNECT,
    CONF_NAME,
    CONF_NKEY_SEED,
    CONF_PASSWORD,
    CONF_PING_INTERVAL,
    CONF_RECONNECT_WAIT,
    CONF_SERVERS,
    CONF_SETUP_TIMEOUT,
    CONF_TLS,
    CONF_TLS_CA,
    CONF_TLS_CERT,
    CONF_TLS_HOSTNAME,
    CONF_TLS_KEY,
    CONF_TOKEN,
    CONF_USER,
)

_LOGGER = logging.getLogger(__name__)

StatusListener = Callable[[], None]


def is_auth_error(err: BaseException) -> bool:
    """nats-py reports a refused CONNECT as a plain error with the server's text."""
    if isinstance(err, nats.errors.AuthorizationError):
        return True
    text = str(err).lower()
    return "authorization violation" in text or "authentication" in text


def build_tls_context(config: Mapping[str, Any]) -> ssl.SSLContext | None:
    """The client's TLS context, or None when TLS is not asked for.

    Verification stays on (CA and host name) unless ``insecure`` says otherwise; a
    client certificate is presented when one is configured (mutual TLS). Reads files,
    so call it from a worker thread.
    """
    wants_tls = (
        config.get(CONF_TLS)
        or config.get(CONF_TLS_CA)
        or config.get(CONF_TLS_CERT)
        or any(str(s).startswith(("tls://", "wss://")) for s in config[CONF_SERVERS])
    )
    if not wants_tls:
        return None
    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=config.get(CONF_TLS_CA))
    if config.get(CONF_TLS_CERT):
        context.load_cert_chain(config[CONF_TLS_CERT], config[CONF_TLS_KEY])
    if config.get(CONF_INSECURE):
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


class NatsClient:
    """A nats-py connection with the entry's options and a status others can follow.

    ``connected``, ``reconnects`` and ``last_error`` are what the connectivity entity
    shows; listeners added with ``on_status`` are called (in the loop) on each change.
    """

    def __init__(self, config: Mapping[str, Any]) -> None:
        self._config = config
        self.nc = NATS()
        self._js: JetStreamContext | None = None
        self.connected = False
        self.reconnects = 0
        self.last_error: str | None = None
        self._last_exc: BaseException | None = None
        self._listeners: list[StatusListener] = []
        self._closing = False
        self._connect_scope: anyio.CancelScope | None = None

    # -- status ----------------------------------------------------------------------

    def on_status(self, listener: StatusListener) -> Callable[[], None]:
        """Call ``listener`` on connect, disconnect and errors; returns the undo."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener) if listener in self._listeners else None

    def _notify(self) -> None:
        for listener in list(self._listeners):
            try:
                listener()
            except Exception:
                _LOGGER.exception("NATS status listener %r failed", listener)

    @property
    def connected_url(self) -> str | None:
        url = self.nc.connected_url
        return None if url is None else f"{url.scheme}://{url.hostname}:{url.port}"

    async def _on_error(self, err: Exception) -> None:
        self._last_exc = err
        self.last_error = f"{type(err).__name__}: {err}".rstrip(": ")
        _LOGGER.debug("NATS %s: %s", self._config[CONF_NAME], self.last_error)
        if self._connect_scope is not None and is_auth_error(err):
            self._connect_scope.cancel()  # retrying cannot fix credentials
        self._notify()

    async def _on_disconnected(self) -> None:
        if self.connected and not self._closing:
            _LOGGER.warning("NATS %s: disconnected", self._config[CONF_NAME])
        self.connected = False
        self._notify()

    async def _on_reconnected(self) -> None:
        self.connected = True
        self.reconnects += 1
        _LOGGER.info("NATS %s: reconnected to %s", self._config[CONF_NAME], self.connected_url)
        self._notify()

    async def _on_closed(self) -> None:
        self.connected = False
        self._notify()

    # -- connect / close -------------------------------------------------------------

    @property
    def js(self) -> JetStreamContext:
        """The JetStream context (one per connection: it owns the async-ack inbox)."""
        if self._js is None:
            self._js = self.nc.jetstream(timeout=float(self._config[CONF_CONNECT_TIMEOUT]) + 3)
        return self._js

    async def _options(self) -> dict[str, Any]:
        config = self._config
        options: dict[str, Any] = {
            "servers": list(config[CONF_SERVERS]),
            "name": config.get(CONF_CLIENT_NAME) or f"gatehouse {config[CONF_NAME]}",
            "connect_timeout": config[CONF_CONNECT_TIMEOUT],
            "reconnect_time_wait": config[CONF_RECONNECT_WAIT],
            "max_reconnect_attempts": config[CONF_MAX_RECONNECT],
            "ping_interval": config[CONF_PING_INTERVAL],
            "max_outstanding_pings": config[CONF_MAX_PINGS],
            "allow_reconnect": True,
            "error_cb": self._on_error,
            "disconnected_cb": self._on_disconnected,
            "reconnected_cb": self._on_reconnected,
            "closed_cb": self._on_closed,
        }
        if config.get(CONF_USER):
            options["user"] = config[CONF_USER]
            options["password"] = config.get(CONF_PASSWORD, "")
        if config.get(CONF_TOKEN):
            options["token"] = config[CONF_TOKEN]
        if config.get(CONF_NKEY_SEED) or config.get(CONF_CREDS_FILE):
            if importlib.util.find_spec("nkeys") is None:
                raise ConfigEntryError(
                    "NKey and creds authentication need the 'nkeys' package "
                    "(pip install 'nats-py[nkeys]')"
                )
            if config.get(CONF_NKEY_SEED):
                options["nkeys_seed_str"] = config[CONF_NKEY_SEED]
            else:
                options["user_credentials"] = config[CONF_CREDS_FILE]
        try:
            tls = await anyio.to_thread.run_sync(build_tls_context, config)
        except (OSError, ssl.SSLError) as err:
            raise ConfigEntryError(f"cannot load TLS files: {err}") from err
        if tls is not None:
            options["tls"] = tls
            if config.get(CONF_TLS_HOSTNAME):
                options["tls_hostname"] = config[CONF_TLS_HOSTNAME]
        return options

    async def connect(self) -> None:
        """Connect once, within ``setup_timeout``; map failures to entry errors."""
        options = await self._options()
        timeout = float(self._config[CONF_SETUP_TIMEOUT])
        try:
            with anyio.CancelScope() as self._connect_scope, anyio.fail_after(timeout):
                await self.nc.connect(**options)
            if self._connect_scope.cancelled_caught:
                raise nats.errors.AuthorizationError
        except (TimeoutError, OSError, nats.errors.Error) as err:
            with anyio.CancelScope(shield=True):
                await self.close()
            cause = self._last_exc or err
            if is_auth_error(cause):
                raise ConfigEntryAuthFailed(f"NATS refused the credentials: {cause}") from err
            detail = f"{type(cause).__name__}: {cause}".rstrip(": ")
            raise ConfigEntryNotReady(
                f"no NATS server of {', '.join(self._config[CONF_SERVERS])} answered "
                f"within {timeout:g} s ({detail})"
            ) from err
        except BaseException:
            with anyio.CancelScope(shield=True):
                await self.close()
            raise
        finally:
            self._connect_scope = None
        self.connected = True
        self.last_error = None
        self._notify()

    async def close(self) -> None:
        """Close the connection (idempotent): nats-py's tasks and socket go with it."""
        self._closing = True
        if not self.nc.is_closed:
            try:
                await self.nc.close()
            except Exception:
                _LOGGER.debug("Error closing NATS connection", exc_info=True)
        self.connected = False
        self._listeners.clear()

    def diagnostics(self) -> dict[str, Any]:
        """JSON-able status without secrets."""
        stats = self.nc.stats
        return {
            "connected": self.connected,
            "server": self.connected_url,
            "reconnects": self.reconnects,
            "last_error": self.last_error,
            "in_msgs": stats.get("in_msgs"),
            "out_msgs": stats.get("out_msgs"),
        }
