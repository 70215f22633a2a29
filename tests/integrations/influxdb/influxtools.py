"""What only the InfluxDB tests need beside the kit (``import influxtools``).

* ``InfluxServer``: a real InfluxDB 1.x (Debian's ``influxd``) on ephemeral loopback
  ports with a generated ``influxdb.conf`` and its data, meta and WAL dirs in a temp
  dir; ``auth=True`` turns on ``auth-enabled`` and makes an admin user (so 401 is the
  server's own). Started and stopped by fixtures (one per test module: tests use
  distinct databases), restartable for outage tests, killable.
* ``select``/``rows``: read points back with ``/query?...&epoch=ns``.
* ``V2Server``: an aiohttp server that follows the documented ``/api/v2/write``
  contract (``Authorization: Token``, ``org``/``bucket``/``precision``, gzip bodies,
  204, ``{"code","message"}`` errors, 400/401/404/413/429/503 with ``Retry-After``),
  with scripted answers, and a ``/api/v2/query`` answering Flux as annotated CSV.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import signal
import ssl
import subprocess
import textwrap
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
import anyio.to_thread
import pytest
from aiohttp import web

from gatehouse.core import ConfigEntry, ConfigEntryState, Host
from gatehouse.core.helpers import slugify
from gatehouse.core.testing import LOOPBACK, add_entry, free_ports, wait_until_sync

INFLUXD = shutil.which("influxd") or "/usr/bin/influxd"
ADMIN = ("admin", "admin-secret-pw")

#: Fast retries so outages in tests cost milliseconds; flush at once unless asked.
FAST: dict[str, Any] = {
    "flush_interval": 0,
    "timeout": 2.0,
    "outbox": {"retry_initial": 0.05, "retry_max": 0.3, "breaker_reset": 0.3,
               "stats_interval": 0.2},
}


def need_influxd() -> None:
    if not os.path.exists(INFLUXD):
        pytest.fail("influxd is missing: run scripts/_setup.sh (apt package influxdb)")


class InfluxServer:
    """One influxd process (see the module docstring)."""

    def __init__(self, root: Path, *, auth: bool = False) -> None:
        self.root = root
        self.auth = auth
        self.rpc_port, self.port = free_ports(2)
        self.process: subprocess.Popen[bytes] | None = None
        self.log = root / "influxd.log"
        root.mkdir(parents=True, exist_ok=True)
        self.conf = root / "influxdb.conf"
        self.conf.write_text(
            textwrap.dedent(
                f"""\
                reporting-disabled = true
                bind-address = "{LOOPBACK}:{self.rpc_port}"
                [meta]
                  dir = "{root}/meta"
                [data]
                  dir = "{root}/data"
                  wal-dir = "{root}/wal"
                  query-log-enabled = false
                  wal-fsync-delay = "0s"
                [http]
                  bind-address = "{LOOPBACK}:{self.port}"
                  auth-enabled = {"true" if auth else "false"}
                  log-enabled = false
                  max-body-size = 25000000
                [monitor]
                  store-enabled = false
                [continuous_queries]
                  enabled = false
                [subscriber]
                  enabled = false
                """
            ),
            encoding="utf-8",
        )

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    def start(self) -> None:
        need_influxd()
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [INFLUXD, "-config", str(self.conf)], stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        try:
            wait_until_sync(self._ready, timeout=30, message="influxd /ping")
        except AssertionError:
            self.stop()
            raise AssertionError(self.log.read_text(errors="replace")[-3000:]) from None
        if self.auth:
            # Allowed without credentials while no user exists (InfluxDB's bootstrap).
            self.query_sync(
                f"CREATE USER {ADMIN[0]} WITH PASSWORD '{ADMIN[1]}' WITH ALL PRIVILEGES",
                method="POST", credentials=None,
            )

    def _ready(self) -> bool:
        if self.process is not None and self.process.poll() is not None:
            raise AssertionError(f"influxd exited: {self.log.read_text(errors='replace')[-3000:]}")
        try:
            with urllib.request.urlopen(f"{self.url}/ping", timeout=0.5) as response:
                return bool(response.status == 204)
        except OSError:
            return False

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is None:
            return
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def kill(self) -> None:
        process, self.process = self.process, None
        if process is not None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()

    # -- queries ----------------------------------------------------------------------

    def query_sync(
        self, q: str, *, db: str | None = None, method: str = "GET",
        credentials: tuple[str, str] | None = ADMIN,
    ) -> dict[str, Any]:
        params = {"q": q, "epoch": "ns"}
        if db:
            params["db"] = db
        headers = {"Content-Type": "application/x-www-form-urlencoded"}
        if credentials is not None and self.auth:
            token = base64.b64encode(":".join(credentials).encode()).decode()
            headers["Authorization"] = f"Basic {token}"
        encoded = urllib.parse.urlencode(params)
        if method == "GET":
            request = urllib.request.Request(f"{self.url}/query?{encoded}", headers=headers)
        else:
            request = urllib.request.Request(
                f"{self.url}/query", data=encoded.encode(), method="POST", headers=headers,
            )
        with urllib.request.urlopen(request, timeout=30) as response:
            document: dict[str, Any] = json.loads(response.read())
        result = document["results"][0]
        if "error" in result:
            raise AssertionError(f"{q}: {result['error']}")
        return document

    def create_database(self, name: str) -> None:
        self.query_sync(f'CREATE DATABASE "{name}"', method="POST")

    def rows_sync(self, db: str, q: str) -> list[dict[str, Any]]:
        """Every row of every series of ``q`` as dicts (with ``_measurement``)."""
        document = self.query_sync(q, db=db)
        out: list[dict[str, Any]] = []
        for series in document["results"][0].get("series") or []:
            for values in series["values"]:
                row = dict(zip(series["columns"], values, strict=True))
                row["_measurement"] = series["name"]
                row.update(series.get("tags") or {})
                out.append(row)
        return out

    async def rows(self, db: str, q: str = "SELECT * FROM /.*/") -> list[dict[str, Any]]:
        return await anyio.to_thread.run_sync(self.rows_sync, db, q)

    async def count(self, db: str, measurement: str, field: str = "value") -> int:
        rows = await self.rows(db, f'SELECT count("{field}") FROM "{measurement}"')
        return int(rows[0]["count"]) if rows else 0


def v1_data(server: InfluxServer, database: str, **extra: Any) -> dict[str, Any]:
    """Entry data for ``server`` (with ``FAST`` unless ``extra`` says otherwise)."""
    data: dict[str, Any] = {"host": LOOPBACK, "port": server.port, "database": database,
                            **FAST, **extra}
    if server.auth and "username" not in data:
        data["username"], data["password"] = ADMIN
    return data


async def add_influx(
    host: Host, data: Mapping[str, Any], title: str = "Influx"
) -> ConfigEntry[Any]:
    return await add_entry(
        host, "influxdb", {"name": title, **data}, title=title, unique_id=slugify(title),
    )


def assert_loaded(entry: ConfigEntry[Any]) -> None:
    assert entry.state is ConfigEntryState.LOADED, (entry.state, entry.reason)


# --------------------------------------------------------------------------- 2.x


@dataclass
class Answer:
    """A scripted answer: status, JSON body (``{"code", "message"}``), headers."""

    status: int
    body: Mapping[str, Any] | None = None
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass
class Request:
    params: dict[str, str]
    headers: dict[str, str]
    body: bytes
    lines: list[str]
    at: float


class V2Server:
    """``/api/v2/write`` and ``/api/v2/query`` as InfluxDB 2.x documents them.

    Writes are checked like the real server does (token, org and bucket known,
    precision valid, body gzip-decoded per ``Content-Encoding``, size limit → 413),
    then ``script`` (a list of answers, or a callable of the request) may answer
    instead; otherwise 204 and the lines are stored in ``points``.
    """

    def __init__(self, *, token: str = "tok-123", org: str = "acme", bucket: str = "home",
                 max_body: int = 10 * 1024 * 1024) -> None:
        self.token, self.org, self.bucket, self.max_body = token, org, bucket, max_body
        self.requests: list[Request] = []
        self.probes = 0
        self.points: list[str] = []
        self.script: list[Answer] = []
        self.decide: Callable[[Request], Answer | None] | None = None
        self.flux_csv = ",result,table,_time,_value\n,_result,0,2026-12-04T00:00:00Z,21.5\n"
        self.queries: list[dict[str, Any]] = []
        #: ``/api/v3/query_sql`` (InfluxDB 3.x) answers these rows (``format: json``).
        self.sql_rows: list[dict[str, Any]] = [
            {"time": "2026-12-04T00:00:00", "temp": 19.0},
            {"time": "2026-12-04T00:01:00", "temp": 19.5},
        ]
        self.port = 0
        self._runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    def _error(self, status: int, code: str, message: str,
               headers: Mapping[str, str] | None = None) -> web.Response:
        return web.json_response({"code": code, "message": message}, status=status,
                                 headers=headers)

    def _auth(self, request: web.Request) -> web.Response | None:
        if request.headers.get("Authorization") != f"Token {self.token}":
            return self._error(401, "unauthorized", "unauthorized access")
        return None

    async def _write(self, request: web.Request) -> web.Response:
        refused = self._auth(request)
        if refused is not None:
            return refused
        params = dict(request.query)
        if params.get("org") != self.org:
            org = params.get("org")
            return self._error(404, "not found", f'organization name "{org}" not found')
        if params.get("bucket") != self.bucket:
            return self._error(404, "not found", f'bucket "{params.get("bucket")}" not found')
        if params.get("precision", "ns") not in ("ns", "us", "ms", "s"):
            return self._error(400, "invalid", "invalid precision")
        # aiohttp has already undone Content-Encoding: gzip here (a body that is not
        # gzip is refused by it with 400); Content-Length is the size on the wire.
        body = await request.read()
        if len(body) > self.max_body:
            return self._error(413, "request too large", "Request Entity Too Large")
        lines = [line for line in body.decode().split("\n") if line]
        if not lines:  # an empty write (the entry's credentials probe): 204
            self.probes += 1
            return web.Response(status=204)
        record = Request(params, dict(request.headers), body, lines, time.monotonic())
        self.requests.append(record)
        answer = self.script.pop(0) if self.script else None
        if answer is None and self.decide is not None:
            answer = self.decide(record)
        if answer is not None and answer.status != 204:
            return web.json_response(answer.body or {}, status=answer.status,
                                     headers=answer.headers)
        self.points.extend(lines)
        return web.Response(status=204)

    async def _query(self, request: web.Request) -> web.Response:
        refused = self._auth(request)
        if refused is not None:
            return refused
        document = await request.json()
        self.queries.append(document)
        if "error(" in document.get("query", ""):
            return self._error(400, "invalid", "compilation failed: error in query")
        return web.Response(text=self.flux_csv, content_type="text/csv")

    async def _sql(self, request: web.Request) -> web.Response:
        refused = self._auth(request)
        if refused is not None:
            return refused
        document = await request.json()
        self.queries.append(document)
        if document.get("db") != self.bucket:
            return self._error(404, "not found", f"database not found: {document.get('db')}")
        return web.json_response(self.sql_rows)

    async def start(self, ssl_context: ssl.SSLContext | None = None) -> None:
        app = web.Application(client_max_size=self.max_body * 4)
        app.router.add_post("/api/v2/write", self._write)
        app.router.add_post("/api/v2/query", self._query)
        app.router.add_post("/api/v3/query_sql", self._sql)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        self.port = free_ports(1)[0]
        site = web.TCPSite(self._runner, LOOPBACK, self.port, ssl_context=ssl_context)
        await site.start()

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    def data(self, **extra: Any) -> dict[str, Any]:
        return {"api_version": 2, "host": LOOPBACK, "port": self.port, "org": self.org,
                "bucket": self.bucket, "token": self.token, **FAST, **extra}


async def drained(entry: ConfigEntry[Any], timeout: float = 20.0) -> None:
    """Wait until the entry's outbox destination is empty (delivered or dead), the
    points of the current loop turn included."""
    entry.runtime_data.exporter.flush()
    link = entry.runtime_data.outbox
    with anyio.fail_after(timeout):
        await link.outbox.wait_drained(link.destination)


async def dead_letters(entry: ConfigEntry[Any]) -> list[Any]:
    link = entry.runtime_data.outbox
    return list(await link.outbox.dead_letters(link.destination))
