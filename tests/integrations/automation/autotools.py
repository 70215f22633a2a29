"""Shared helpers for the automation and script tests: a host running a config, and a
service that records its calls so tests wait on them (no sleeps)."""

from __future__ import annotations

import textwrap
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio

from gatehouse.core import Host, ServiceCall
from gatehouse.core.testing import make_host


class Recorder:
    """``test.record`` (and ``test.fail``, which raises): calls kept in order."""

    def __init__(self, host: Host) -> None:
        self.calls: list[dict[str, Any]] = []
        self._changed = anyio.Event()
        host.services.register("test", "record", self._record)
        host.services.register("test", "fail", self._fail)
        host.services.register("test", "respond", self._respond,
                               supports_response=__import__(
                                   "gatehouse.core", fromlist=["SupportsResponse"]
                               ).SupportsResponse.OPTIONAL)

    def _record(self, call: ServiceCall) -> None:
        self.calls.append(dict(call.data))
        self._changed.set()
        self._changed = anyio.Event()

    def _fail(self, call: ServiceCall) -> None:
        from gatehouse.core import GatehouseError

        raise GatehouseError("the device said no")

    def _respond(self, call: ServiceCall) -> dict[str, Any]:
        return {"echo": dict(call.data)}

    async def wait(self, count: int, timeout: float = 5.0) -> list[dict[str, Any]]:
        """Wait until at least ``count`` calls were recorded."""
        with anyio.fail_after(timeout):
            while len(self.calls) < count:
                await self._changed.wait()
        return self.calls

    def values(self, key: str = "value") -> list[Any]:
        return [c.get(key) for c in self.calls]


def write(config_dir: Path, name: str, text: str) -> Path:
    path = config_dir / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


@asynccontextmanager
async def running(config_dir: Path, configuration: str,
                  **files: str) -> AsyncIterator[tuple[Host, Recorder]]:
    """A host on ``configuration`` (and ``files``: name → text), with a recorder."""
    write(config_dir, "configuration.yaml", configuration)
    for name, text in files.items():
        write(config_dir, name.replace("__", "/").replace("_yaml", ".yaml"), text)
    host = make_host(config_dir)
    async with host.running():
        yield host, Recorder(host)


async def next_event(host: Host, event_type: str, timeout: float = 5.0) -> Any:
    """Register now, then await the next ``event_type`` (use with a task group)."""
    got: list[Any] = []
    done = anyio.Event()

    def seen(event: Any) -> None:
        got.append(event)
        done.set()

    undo = host.bus.listen(event_type, seen)
    try:
        with anyio.fail_after(timeout):
            await done.wait()
    finally:
        undo()
    return got[0]


WEB = """\
gatehouse:
  control_socket: false
http:
  server_host: 127.0.0.1
  server_port: 0
"""


class Socket:
    """One authenticated admin WebSocket with increasing ids."""

    def __init__(self, ws: Any) -> None:
        self.ws = ws
        self.next_id = 0

    async def call(self, type_: str, **fields: Any) -> dict[str, Any]:
        self.next_id += 1
        await self.ws.send_json({"id": self.next_id, "type": type_, **fields})
        while True:
            answer: dict[str, Any] = await self.ws.receive_json(timeout=10)
            if answer.get("id") == self.next_id and answer["type"] == "result":
                return answer

    async def result(self, type_: str, **fields: Any) -> Any:
        answer = await self.call(type_, **fields)
        assert answer["success"], answer
        return answer["result"]


@asynccontextmanager
async def web_running(config_dir: Path, configuration: str, **files: str
                      ) -> AsyncIterator[tuple[Host, Recorder, Socket, str, dict[str, str]]]:
    """``running`` with the web server: (host, recorder, admin socket, base url, tokens)."""
    from aiohttp import ClientSession

    from gatehouse.core.http.server import HTTP_SERVER

    async with running(config_dir, WEB + configuration, **files) as (host, rec):
        server = host.data.get(HTTP_SERVER)
        assert server is not None
        auth = server.runtime.auth
        tokens = {}
        for role in ("admin", "user"):
            user = await auth.create_user(f"auto_{role}", "auto password", role=role)
            tokens[role] = (await auth.create_token(user, "tests"))[1]
        base = f"http://127.0.0.1:{server.port}"
        async with ClientSession(base_url=base) as http, http.ws_connect("/api/websocket") as ws:
            assert (await ws.receive_json(timeout=10))["type"] == "auth_required"
            await ws.send_json({"type": "auth", "access_token": tokens["admin"]})
            assert (await ws.receive_json(timeout=10))["type"] == "auth_ok"
            yield host, rec, Socket(ws), base, tokens
