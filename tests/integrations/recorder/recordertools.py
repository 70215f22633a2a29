"""Shared helpers of the recorder tests: a running host with the web server and the
recorder, users of every role with tokens, plain HTTP and WebSocket calls."""

from __future__ import annotations

import textwrap
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import ClientSession

from gatehouse.core import Host
from gatehouse.core.http.server import HTTP_SERVER
from gatehouse.core.permissions import Policy
from gatehouse.core.testing import make_host
from gatehouse.integrations.recorder.runtime import RecorderRuntime
from gatehouse.integrations.recorder.services import LOADED

BASE_CONFIG = """\
gatehouse:
  control_socket: false
http:
  server_host: 127.0.0.1
  server_port: 0
"""


@dataclass
class Rig:
    host: Host
    base: str
    config_dir: Path
    tokens: dict[str, str] = field(default_factory=dict)

    @property
    def recorder(self) -> RecorderRuntime:
        return next(iter(LOADED.runtimes(self.host).values()))

    def headers(self, role: str = "admin") -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[role]}"}

    async def get(self, path: str, role: str = "admin", **params: Any) -> tuple[int, Any]:
        async with ClientSession() as session, session.get(
            f"{self.base}{path}", params=params, headers=self.headers(role)
        ) as response:
            return response.status, await response.json()

    async def ws(self, message: dict[str, Any], role: str = "admin") -> dict[str, Any]:
        """One command on a new socket; its answer."""
        async with ClientSession() as session, session.ws_connect(
                f"{self.base}/api/websocket") as sock:
            await sock.receive_json()
            await sock.send_json({"type": "auth", "access_token": self.tokens[role]})
            assert (await sock.receive_json())["type"] == "auth_ok"
            await sock.send_json({"id": 1, **message})
            found: dict[str, Any] = await sock.receive_json()
            return found


@asynccontextmanager
async def running(config_dir: Path, recorder: str = "recorder:\n  commit_interval: 0.05\n",
                  extra: str = "", base: str = BASE_CONFIG) -> AsyncIterator[Rig]:
    text = base + textwrap.dedent(recorder) + textwrap.dedent(extra)
    (config_dir / "configuration.yaml").write_text(text, encoding="utf-8")
    host = make_host(config_dir)
    async with host.running():
        server = host.data.get(HTTP_SERVER)
        assert server is not None
        rig = Rig(host, f"http://127.0.0.1:{server.port}", config_dir)
        auth = server.runtime.auth
        for role in ("admin", "user", "read_only"):
            user = await auth.create_user(f"rec_{role}", "rec password", role=role)
            if role == "user":  # may read switches only
                user = await auth.update_user(user.id, by=None,
                                              policy=Policy(read=("switch.*",)))
            rig.tokens[role] = (await auth.create_token(user, "tests"))[1]
        yield rig
