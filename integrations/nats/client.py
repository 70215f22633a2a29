"""One NATS connection per config entry: options, first connect, status.

nats-py reconnects by itself (to any server of the list: cluster failover) and buffers
publishes meanwhile, so after the first connect the integration only watches the
connection's status. The first connect is different, and nats-py 2.16 offers nothing
like Go's ``RetryOnFailedConnect`` (a client that returns at once and connects in the
background): its ``connect()`` itself loops over the server list, pausing
``reconnect_time_wait`` per server, until one answers (for ever with
``max_reconnect_attempts`` at -1, the default; ``NoServersError`` once every server
used its attempts otherwise), and it holds its caller for as long as that takes.

So the entry runs that loop as an entry task (``start``) and waits for it only
``setup_timeout`` seconds: an entry whose servers are unreachable still loads, with its
outbox taking JetStream messages, and is wired up when the connect succeeds. Nothing
of nats-py is reached around: the loop is its own, the buffering is the outbox's. When
nats-py gives up (bounded ``max_reconnect_attempts``) the task starts over with a fresh
client after a backoff. A refusal of the credentials stops the loop at once: retrying
cannot fix it, so set-up raises ``ConfigEntryAuthFailed`` (or, when it comes later, the
entry's owner reloads it to report the same). A server that answers but fails the TLS
handshake at set-up (an untrusted certificate) is no outage either: set-up raises
``ConfigEntryNotReady`` for it, as before.

The config flow's check (``connect``) is one bounded attempt that raises.
"""

from __future__ import annotations

import importlib.util
import logging
import ssl
from collections.abc import Callable, Mapping
from typing import Any, Final

import anyio
import anyio.to_thread
import nats.errors
from nats.aio.client import Client as NATS
from nats.js.client import JetStreamContext

from gatehouse.core import ConfigEntry, ConfigEntryAuthFailed, ConfigEntryError, ConfigEntryNotReady
from gatehouse.core.helpers import Backoff, loads

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

#: Pause before a fresh client tries again, after nats-py gave up a first connect.
FIRST_CONNECT_RETRY: Final = Backoff(initial=1.0, maximum=60.0)


async def flush_in_order(nc: NATS, timeout: int) -> None:
    """Return once the server has processed every command sent on ``nc`` before the call.

    ``nc.flush()`` alone does not promise that: nats-py (2.15 and 2.16 checked) writes
    flush's PING straight to the socket, ahead of SUB/PUB commands still waiting in its
    pending buffer for the flusher task, so the PONG can come back before an earlier
    publish or subscription reached the server (a request then meets "no responders"
    under load). The first round trip wakes the flusher, which writes the whole pending
    buffer before the first PONG can be read; the second PING therefore follows those
    commands on the wire, and its PONG proves the server has them.
    """
    await nc.flush(timeout=timeout)
    await nc.flush(timeout=timeout)


def is_auth_error(err: BaseException) -> bool:
    """nats-py reports a refused CONNECT as a plain error with the server's text."""
    if isinstance(err, nats.errors.AuthorizationError):
        return True
    text = str(err).lower()
    return "authorization violation" in text or "authentication" in text


def json_or_none(data: bytes) -> Any:
    """A message's payload parsed as JSON, or None when it is not JSON (for callers
    that get the text as well and may not care)."""
    try:
        return loads(data)
    except ValueError:
        return None


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
        #: Set once the first connect succeeded, or the server refused the credentials.
        self._first = anyio.Event()
        #: The server's refusal of the credentials, when that ended the first connect.
        self.refused: BaseException | None = None
        #: False until the first connect: a plain publish would only be buffered.
        self.ever_connected = False

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

    def link_attributes(self) -> dict[str, Any]:
        """What the connectivity sensor shows beside on/off."""
        return {
            "server": self.connected_url,
            "reconnects": self.reconnects,
            "last_error": self.last_error,
        }

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

    async def _dial(self, options: Mapping[str, Any]) -> None:
        """nats-py's connect, which tries the server list until one answers.

        Raises ``AuthorizationError`` as soon as a server refuses the credentials
        (``_on_error`` cancels the attempt), and nats-py's last error when it gives up.
        """
        scope = self._connect_scope = anyio.CancelScope()
        try:
            with scope:
                await self.nc.connect(**options)
        finally:
            self._connect_scope = None
        if scope.cancelled_caught:
            raise nats.errors.AuthorizationError
        self.connected = True
        self.ever_connected = True
        self.last_error = None
        self._first.set()
        self._notify()

    def _failure(self, err: BaseException) -> BaseException:
        """The error that explains a failed connect: nats-py's last report, if any."""
        return self._last_exc or err

    async def connect(self) -> None:
        """One bounded attempt (``setup_timeout``), for the config flow's check.

        Maps failures to entry errors; the client is closed after a failure.
        """
        options = await self._options()
        timeout = float(self._config[CONF_SETUP_TIMEOUT])
        try:
            with anyio.fail_after(timeout):
                await self._dial(options)
        except (TimeoutError, OSError, nats.errors.Error) as err:
            with anyio.CancelScope(shield=True):
                await self.close()
            cause = self._failure(err)
            if is_auth_error(cause):
                raise ConfigEntryAuthFailed(f"NATS refused the credentials: {cause}") from err
            raise ConfigEntryNotReady(self.unreachable(timeout, cause)) from err
        except BaseException:
            with anyio.CancelScope(shield=True):
                await self.close()
            raise

    def unreachable(self, timeout: float, cause: BaseException | None = None) -> str:
        """Says that no server answered within ``timeout`` s, and the last error."""
        cause = cause or self._last_exc
        detail = f"{type(cause).__name__}: {cause}".rstrip(": ") if cause else "no answer"
        return (
            f"no NATS server of {', '.join(self._config[CONF_SERVERS])} answered "
            f"within {timeout:g} s ({detail})"
        )

    async def start(self, entry: ConfigEntry[Any]) -> bool:
        """Start connecting as an entry task; wait ``setup_timeout`` s for the first connect.

        True when connected; False when no server answered in time (the task goes on
        trying, see the module docstring, and ``first_outcome`` tells when it ends).
        Raises ``ConfigEntryAuthFailed`` when a server refused the credentials,
        ``ConfigEntryNotReady`` when the last try failed in the TLS handshake, and
        ``ConfigEntryError`` for TLS files that cannot be loaded.
        """
        options = await self._options()
        entry.spawn(self._keep_dialing(options), f"nats {self._config[CONF_NAME]} connect")
        timeout = float(self._config[CONF_SETUP_TIMEOUT])
        with anyio.move_on_after(timeout):
            await self._first.wait()
        self.raise_if_refused()
        if not self.connected and isinstance(self._last_exc, ssl.SSLError):
            # A server answers but the TLS handshake fails (an untrusted certificate):
            # not an outage but a mismatch to mend, reported as set-up always did.
            raise ConfigEntryNotReady(self.unreachable(timeout))
        return self.connected

    def raise_if_refused(self) -> None:
        """``ConfigEntryAuthFailed`` if the first connect ended with a refusal."""
        if self.refused is not None:
            raise ConfigEntryAuthFailed(f"NATS refused the credentials: {self.refused}")

    async def first_outcome(self) -> None:
        """Return once the first connect succeeded or was refused."""
        await self._first.wait()

    async def _keep_dialing(self, options: Mapping[str, Any]) -> None:
        """The first connect, for as long as it takes (an entry task, see ``start``)."""
        retry = FIRST_CONNECT_RETRY.counter()
        while True:
            try:
                await self._dial(options)
                return
            except (TimeoutError, OSError, nats.errors.Error) as err:
                cause = self._failure(err)
            with anyio.CancelScope(shield=True):
                await self._close_nc()
            if is_auth_error(cause):
                self.refused = cause
                self._first.set()
                return
            delay = retry.failed()
            _LOGGER.debug(
                "NATS %s: nats-py gave up connecting (%s); again in %.1f s",
                self._config[CONF_NAME], cause, delay,
            )
            await anyio.sleep(delay)
            self.nc = NATS()  # a nats-py client is not connected again once closed

    async def _close_nc(self) -> None:
        if not self.nc.is_closed:
            try:
                await self.nc.close()
            except Exception:
                _LOGGER.debug("Error closing NATS connection", exc_info=True)

    async def close(self) -> None:
        """Close the connection (idempotent): nats-py's tasks and socket go with it."""
        self._closing = True
        await self._close_nc()
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
