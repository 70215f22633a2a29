"""The local control socket: how the ``gatehouse`` CLI talks to a running host.

A Unix socket at ``<config>/.gatehouse.sock`` with mode 0600: only the account that runs
the host (and root) can connect, the same trust model as ``docker.sock``, so no token is
needed and none can leak. The protocol is one JSON object per line each way:
``{"cmd": "states"}`` → ``{"ok": true, "result": [...]}`` or
``{"ok": false, "error": {"type": "ServiceNotFound", "message": "..."}}``.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import json
import logging
import os
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from .exceptions import GatehouseError

if TYPE_CHECKING:
    from .host import Host

_LOGGER = logging.getLogger(__name__)

SOCKET_NAME: Final = ".gatehouse.sock"
MAX_REQUEST: Final = 1 << 20

Command = Callable[["Host", dict[str, Any]], Awaitable[Any]]


def socket_path(config_dir: Path) -> Path:
    return config_dir / SOCKET_NAME


async def _states(host: Host, req: dict[str, Any]) -> Any:
    wanted = req.get("entity_ids") or []
    states = host.states.all() if not wanted else [
        s for s in (host.states.get(e) for e in wanted) if s is not None
    ]
    return [s.as_dict() for s in sorted(states, key=lambda s: s.entity_id)]


async def _call_service(host: Host, req: dict[str, Any]) -> Any:
    svc = host.services.get(req["domain"], req["service"])
    from .services import SupportsResponse

    want = svc.supports_response is not SupportsResponse.NONE
    return await host.services.call(
        req["domain"], req["service"], req.get("data") or {}, return_response=want
    )


async def _services(host: Host, req: dict[str, Any]) -> Any:
    return {
        domain: sorted(services)
        for domain, services in sorted(host.services.services().items())
    }


async def _entries(host: Host, req: dict[str, Any]) -> Any:
    return [e.as_summary() for e in host.config_entries.entries()]


async def _entry_reload(host: Host, req: dict[str, Any]) -> Any:
    ok = await host.config_entries.reload(req["entry_id"])
    return {"ok": ok, **host.config_entries.get(req["entry_id"]).as_summary()}


async def _entry_remove(host: Host, req: dict[str, Any]) -> Any:
    await host.config_entries.remove(req["entry_id"])
    return {"removed": req["entry_id"]}


async def _entry_add(host: Host, req: dict[str, Any]) -> Any:
    flow = host.config_entries.flow
    result = await flow.init(req["domain"])
    if result["type"] == "form":
        result = await flow.configure(result["flow_id"], req.get("data") or {})
    if result["type"] == "form":
        # One request, one step: nobody can continue this flow, so do not keep it.
        with contextlib.suppress(GatehouseError):
            flow.abort(result["flow_id"])
    return dict(result)


async def _diagnostics(host: Host, req: dict[str, Any]) -> Any:
    return collect_diagnostics(host)


def collect_diagnostics(host: Host) -> dict[str, Any]:
    """Host figures plus what each plugin's ``gatehouse_diagnostics`` hook returns."""
    plugins: dict[str, Any] = {}
    for impl in host.plugins.hook.gatehouse_diagnostics.get_hookimpls():
        try:
            plugins[impl.plugin_name] = impl.function(host=host)
        except Exception as err:  # noqa: BLE001 - one plugin's failure is a finding
            plugins[impl.plugin_name] = {"error": repr(err)}
    return {
        "host": {
            "state": str(host.state),
            "states": len(host.states),
            "entities": len(host.entities),
            "services": host.services.count(),
            "listeners": host.bus.listener_count(),
            "events_fired": host.bus.fired_count,
            "entries": [e.as_summary() for e in host.config_entries.entries()],
            "integrations": sorted(host.plugins.loaded()),
        },
        "plugins": plugins,
    }


async def _ping(host: Host, req: dict[str, Any]) -> Any:
    return {"state": str(host.state), "config_dir": str(host.config_dir), "pid": os.getpid()}


COMMANDS: dict[str, Command] = {
    "ping": _ping,
    "diagnostics": _diagnostics,
    "states": _states,
    "services": _services,
    "call_service": _call_service,
    "entries": _entries,
    "entry_add": _entry_add,
    "entry_reload": _entry_reload,
    "entry_remove": _entry_remove,
}


class ControlServer:
    """Serves ``COMMANDS`` on the control socket while the host runs."""

    def __init__(self, host: Host) -> None:
        self._host = host
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self.path = socket_path(host.config_dir)

    async def start(self) -> None:
        """Listen on the socket; a stale file is replaced, a live host's is not.

        Raises ``OSError`` (``EADDRINUSE``) when another host answers on the socket:
        taking it over would leave that host unreachable and, when this one stops,
        delete its socket.
        """
        if await _answers(self.path):
            raise OSError(errno.EADDRINUSE, f"another host is listening on {self.path}")
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()
        old_umask = os.umask(0o177)
        try:
            self._server = await asyncio.start_unix_server(
                self._client, path=str(self.path), limit=MAX_REQUEST
            )
        finally:
            os.umask(old_umask)
        os.chmod(self.path, 0o600)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            # Idle CLI connections would keep wait_closed() waiting (Python >= 3.12).
            for writer in list(self._writers):
                writer.close()
            await self._server.wait_closed()
            self._server = None
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        try:
            while line := await reader.readline():
                writer.write(await self._answer(line) + b"\n")
                await writer.drain()
        except (ConnectionError, asyncio.LimitOverrunError, ValueError):
            pass
        finally:
            self._writers.discard(writer)
            writer.close()

    async def _answer(self, line: bytes) -> bytes:
        try:
            req = json.loads(line)
            if not isinstance(req, dict):
                raise ValueError("request must be a JSON object")
            command = COMMANDS.get(str(req.get("cmd")))
            if command is None:
                raise ValueError(f"unknown command {req.get('cmd')!r}")
            result = await command(self._host, req)
            return json.dumps({"ok": True, "result": result}, default=str).encode()
        except (GatehouseError, ValueError, KeyError, TypeError) as err:
            return json.dumps(
                {"ok": False, "error": {"type": type(err).__name__, "message": str(err)}}
            ).encode()
        except Exception as err:
            _LOGGER.exception("Control command failed")
            return json.dumps(
                {"ok": False, "error": {"type": type(err).__name__, "message": str(err)}}
            ).encode()


async def _answers(path: Path) -> bool:
    """Whether something accepts connections on the Unix socket ``path``."""
    try:
        _, writer = await asyncio.wait_for(asyncio.open_unix_connection(str(path)), 2)
    except (OSError, TimeoutError):
        return False
    writer.close()
    return True


class ControlError(GatehouseError):
    """The control socket could not be used (timeout, connection reset, permission)."""


class HostNotRunning(ControlError):
    """No host answers on the control socket of that config dir."""


def request(config_dir: Path, payload: dict[str, Any], timeout: float = 30.0) -> Any:
    """Send one command to the host of ``config_dir`` (blocking; for the CLI)."""
    import socket

    path = socket_path(config_dir)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(timeout)
    try:
        try:
            sock.connect(str(path))
        except (FileNotFoundError, ConnectionRefusedError) as err:
            raise HostNotRunning(f"no Gatehouse host is running for {config_dir}") from err
        sock.sendall(json.dumps(payload).encode() + b"\n")
        buf = b""
        while not buf.endswith(b"\n"):
            chunk = sock.recv(65536)
            if not chunk:
                raise HostNotRunning("the host closed the connection")
            buf += chunk
    except TimeoutError as err:
        raise ControlError(f"the host did not answer within {timeout:g} s") from err
    except OSError as err:
        raise ControlError(f"cannot use the control socket {path}: {err}") from err
    finally:
        sock.close()
    try:
        return json.loads(buf)
    except ValueError as err:
        raise ControlError(f"the host sent an invalid reply: {err}") from err
