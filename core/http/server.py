"""The HTTP server as a component of the host: started by bootstrap, stopped with it.

The server task lives in the host's task group (``host.task_group.start``), so it
cannot outlive the host; ``host.on_shutdown`` stops it in order: health turns 503,
WebSocket clients get a "going away" close, in-flight requests get a few seconds, then
the listener closes.

Slow clients: a connection has ``client_timeout`` seconds to complete a request's head,
from connecting or from its previous answer (an idle kept-alive connection is closed
after as long), and again to send the body (``body``). aiohttp offers no cap on the
number of connections; the operating system's limit on open files is the one there is.

A configured web server that cannot start (port taken, bad certificate) fails the
host's start with ``HttpStartError`` naming the address and the reason: a host that ran
on without its UI would look fine until someone needed it (and a second instance on the
same port is usually a mistake worth stopping for).
"""

from __future__ import annotations

import logging
import ssl
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import anyio
import anyio.to_thread
from aiohttp import WSCloseCode, web
from anyio.abc import TaskStatus

from ..exceptions import GatehouseError
from ..keys import HostKey
from .app import create_app
from .runtime import RUNTIME_KEY, HttpRuntime

if TYPE_CHECKING:
    from ..host import Host

_LOGGER = logging.getLogger(__name__)

SHUTDOWN_TIMEOUT: Final = 5.0


class HttpServer:
    def __init__(self, host: Host, config: dict[str, Any]) -> None:
        self._host = host
        self._config = config
        self._runner: web.AppRunner | None = None
        self._stop_requested = anyio.Event()
        self._done = anyio.Event()
        self.app: web.Application | None = None
        #: (host, port) pairs actually listened on (port 0 resolved).
        self.addresses: list[tuple[str, int]] = []

    @property
    def runtime(self) -> HttpRuntime:
        assert self.app is not None
        return self.app[RUNTIME_KEY]

    @property
    def port(self) -> int:
        return self.addresses[0][1]

    async def run(self, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        """Listen, report started, serve until ``stop`` or cancellation, clean up."""
        await self._start()
        task_status.started()
        try:
            await self._stop_requested.wait()
        finally:
            with anyio.CancelScope(shield=True):
                await self._cleanup()
                self._done.set()

    async def stop(self) -> None:
        """Stop serving and wait until the listener is closed (a shutdown callback)."""
        if self.app is not None:
            self.runtime.stopping = True
        self._stop_requested.set()
        await self._done.wait()

    async def _start(self) -> None:
        config = self._config
        context = await _ssl_context(self._host.config_dir, config)
        self.app = await create_app(self._host, config)
        self.runtime.https = context is not None
        # aiohttp's keep-alive timeout also runs from the moment a connection is made
        # until its first request's head is complete: it is the header timeout too.
        runner = web.AppRunner(self.app, access_log=None, handle_signals=False,
                               shutdown_timeout=SHUTDOWN_TIMEOUT,
                               keepalive_timeout=config["client_timeout"])
        await runner.setup()
        try:
            site = web.TCPSite(runner, config["server_host"], config["server_port"],
                               ssl_context=context, reuse_address=True)
            await site.start()
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        self.addresses = [(str(a[0]), int(a[1])) for a in runner.addresses]
        scheme = "https" if context is not None else "http"
        for address, port in self.addresses:
            _LOGGER.info("Web server listening on %s://%s:%d", scheme, address, port)
        if not self.runtime.auth.has_users:
            _LOGGER.warning(
                "No user exists yet: open the web UI from a local network (http: "
                "onboarding_networks) and create the owner account"
            )

    async def _cleanup(self) -> None:
        if self.app is not None:
            runtime = self.runtime
            runtime.stopping = True
            async with anyio.create_task_group() as tg:
                for connection in list(runtime.connections):
                    tg.start_soon(connection.close, WSCloseCode.GOING_AWAY, "server stopping")
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None


async def _ssl_context(config_dir: Path, config: dict[str, Any]) -> ssl.SSLContext | None:
    if "ssl_certificate" not in config:
        return None
    cert = _resolve(config_dir, config["ssl_certificate"])
    key = _resolve(config_dir, config["ssl_key"])

    def load() -> ssl.SSLContext:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.load_cert_chain(cert, key)
        return context

    try:
        return await anyio.to_thread.run_sync(load)
    except (OSError, ssl.SSLError) as err:
        raise GatehouseError(f"cannot load ssl_certificate/ssl_key: {err}") from err


def _resolve(config_dir: Path, name: str) -> Path:
    path = Path(name)
    return path if path.is_absolute() else config_dir / path


HTTP_SERVER: Final[HostKey[HttpServer]] = HostKey("http.server")


class HttpStartError(GatehouseError):
    """The configured web server could not start; the message says where and why."""


async def async_start_http(host: Host, config: dict[str, Any]) -> HttpServer:
    """Start the web server in the host's task group, or raise ``HttpStartError``."""
    server = HttpServer(host, config)
    try:
        await host.task_group.start(server.run)
    except OSError as err:
        where = f"{config['server_host']}:{config['server_port']}"
        raise HttpStartError(
            f"the web server cannot listen on {where}: {err.strerror or err}"
        ) from err
    except GatehouseError as err:
        raise HttpStartError(f"the web server cannot start: {err}") from err
    host.on_shutdown(server.stop)
    host.data[HTTP_SERVER] = server
    return server
