"""The server as the host runs it: a real TCP listener, HTTPS, start-up and stop."""

from __future__ import annotations

import logging
import socket
import ssl
import subprocess
import sys
import time
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any

import aiohttp
import anyio
import anyio.to_thread
import pytest
from aiohttp import ClientSession, WSMsgType

from gatehouse.core import Host
from gatehouse.core.bootstrap import load_configuration
from gatehouse.core.host import HostState
from gatehouse.core.http.server import HTTP_SERVER, HttpStartError
from gatehouse.core.plugins import PluginManager
from gatehouse.core.testing import Pki, make_host
from httpkit import OWNER

pytestmark = pytest.mark.anyio


def _write(config_dir: Path, http: str) -> None:
    (config_dir / "configuration.yaml").write_text(
        "gatehouse:\n  control_socket: false\ndemo:\n  name: Demo\nhttp:\n" + http,
        encoding="utf-8",
    )


async def test_real_listener_serves_and_stops_with_the_host(
    config_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    _write(config_dir, "  server_host: 127.0.0.1\n  server_port: 0\n")
    host = make_host(config_dir)
    closes: list[Any] = []

    async def read_until_closed(ws: aiohttp.ClientWebSocketResponse) -> None:
        while True:
            msg = await ws.receive()
            if msg.type is not WSMsgType.TEXT:
                break
        closes.append((msg.type, msg.data, msg.extra))

    async with ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as session:
        async with anyio.create_task_group() as tg, host.running():
            server = host.data[HTTP_SERVER]
            assert server.port > 0
            base = f"http://127.0.0.1:{server.port}"
            health = await session.get(f"{base}/api/health")
            assert health.status == 200
            # A fresh host says how it is claimed (and from where).
            assert "No user exists yet" in caplog.text
            made = await session.post(f"{base}/api/onboarding/users", json=OWNER)
            assert made.status == 200
            token = await session.post(f"{base}/api/auth/tokens", json={"name": "ws"},
                                       headers={"Origin": base})
            value = (await token.json())["token"]
            states = await session.get(f"{base}/api/states")
            assert len(await states.json()) == 3

            ws = await session.ws_connect(f"{base}/api/websocket")
            await ws.receive_json(timeout=5)
            await ws.send_json({"type": "auth", "access_token": value})
            assert (await ws.receive_json(timeout=5))["type"] == "auth_ok"
            tg.start_soon(read_until_closed, ws)
            # the host stopped: the socket was told why, the listener is gone
        assert closes == [(WSMsgType.CLOSE, 1001, "server stopping")]
        with pytest.raises(aiohttp.ClientConnectionError):
            await session.get(f"{base}/api/health")


async def test_https_listener_with_secure_cookies(config_dir: Path, pki: Pki) -> None:
    _write(config_dir, (
        "  server_host: 127.0.0.1\n  server_port: 0\n"
        f"  ssl_certificate: {pki.server_cert}\n  ssl_key: {pki.server_key}\n"
    ))
    host = make_host(config_dir)
    trust = ssl.create_default_context(cafile=str(pki.ca_cert))
    async with host.running():
        server = host.data[HTTP_SERVER]
        assert server.runtime.https is True
        base = f"https://127.0.0.1:{server.port}"
        async with ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as session:
            health = await session.get(f"{base}/api/health", ssl=trust)
            assert health.status == 200
            # Browsers are told to come back over HTTPS only (not in plain HTTP answers:
            # see test_security_headers_everywhere).
            assert health.headers["Strict-Transport-Security"] == "max-age=31536000"
            made = await session.post(f"{base}/api/onboarding/users", json=OWNER, ssl=trust)
            cookie: SimpleCookie = SimpleCookie()
            cookie.load(made.headers["Set-Cookie"])
            morsel = cookie["gatehouse_session"]
            assert morsel["secure"] is True and morsel["httponly"] is True
            # Plain HTTP on the TLS port gets nowhere, and an untrusting client refuses.
            with pytest.raises(aiohttp.ClientError):
                await session.get(f"http://127.0.0.1:{server.port}/api/health")
            with pytest.raises(aiohttp.ClientConnectorCertificateError):
                await session.get(f"{base}/api/health")


async def test_port_in_use_fails_the_start_naming_the_port(
    config_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A configured web server that cannot listen fails the host's start (it used to
    run on without its UI, which nobody would notice until they needed it)."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        _write(config_dir, f"  server_host: 127.0.0.1\n  server_port: {port}\n")
        host = make_host(config_dir)
        with caplog.at_level(logging.ERROR), pytest.raises(HttpStartError) as caught:
            async with host.running():
                pytest.fail("the host started without its web server")
    assert f"127.0.0.1:{port}" in str(caught.value)
    assert f"127.0.0.1:{port}" in caplog.text
    # Stopped cleanly: entries unloaded, nothing left running.
    assert host.state is HostState.STOPPED
    assert not [e for e in host.config_entries.entries() if str(e.state) == "loaded"]


def test_gatehouse_run_exits_non_zero_when_its_port_is_taken(config_dir: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        _write(config_dir, f"  server_host: 127.0.0.1\n  server_port: {port}\n")
        gatehouse = str(Path(sys.executable).parent / "gatehouse")
        proc = subprocess.run(
            [gatehouse, "run", "-c", str(config_dir), "--log-level", "INFO"],
            capture_output=True, text=True, timeout=60, check=False,
        )
    output = proc.stdout + proc.stderr
    assert proc.returncode != 0, output
    assert f"cannot listen on 127.0.0.1:{port}" in output
    assert "Address already in use" in output or "address already in use" in output
    assert "Traceback" not in output  # a known reason is one line, not a stack


async def test_invalid_http_section_starts_no_server(
    config_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    _write(config_dir, "  server_port: 0\n  ssl_certificate: cert.pem\n")
    host = make_host(config_dir)
    with caplog.at_level(logging.ERROR):
        async with host.running():
            assert HTTP_SERVER not in host.data
    assert "ssl_certificate and ssl_key go together" in caplog.text
    assert "http: configuration is invalid" in caplog.text


async def test_missing_certificate_fails_the_start(config_dir: Path,
                                                  caplog: pytest.LogCaptureFixture) -> None:
    """Like a taken port: the configured server cannot run, so the host does not start."""
    _write(config_dir, "  server_port: 0\n  ssl_certificate: nope.pem\n  ssl_key: nope.key\n")
    host: Host = make_host(config_dir)
    with caplog.at_level(logging.ERROR), pytest.raises(HttpStartError):
        async with host.running():
            pytest.fail("the host started without its web server")
    assert "cannot load ssl_certificate/ssl_key" in caplog.text


def test_check_config_knows_the_http_section(config_dir: Path) -> None:
    _write(config_dir, "  server_port: 8123\n  trusted_origins: ['https://ui.example']\n")
    result = load_configuration(config_dir, PluginManager())
    assert result.ok, result.issues
    assert result.config["http"]["server_port"] == 8123
    assert result.config["http"]["trusted_origins"] == ["https://ui.example"]
    assert result.config["http"]["server_host"] == "0.0.0.0"

    _write(config_dir, "  server_prot: 8123\n  trusted_origins: ['ftp://x/y']\n")
    issues = load_configuration(config_dir, PluginManager()).issues
    messages = " | ".join(str(i) for i in issues)
    assert "did you mean 'server_port'" in messages
    assert "trusted_origins" in messages
    assert all(i.domain == "http" for i in issues)


# -- slow clients (issue 9: 300 slow-loris connections were still open after 600 s) ----


def _trickle_until_closed(port: int, data: bytes, pause: float, deadline: float) -> float:
    """Send ``data`` a byte at a time; seconds until the server closed the connection."""
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", port), timeout=deadline) as sock:
        sock.settimeout(pause)
        for byte in data:
            try:
                sock.sendall(bytes([byte]))
            except OSError:  # reset: closed
                return time.monotonic() - started
            try:
                if sock.recv(65536) == b"":
                    return time.monotonic() - started
            except TimeoutError:  # nothing yet: the pause between two bytes
                pass
            except OSError:
                return time.monotonic() - started
            if time.monotonic() - started > deadline:
                break
    raise AssertionError(f"still open after {deadline} s")


async def test_a_slow_loris_is_closed_within_the_client_timeout(config_dir: Path) -> None:
    _write(config_dir, "  server_host: 127.0.0.1\n  server_port: 0\n  client_timeout: 1\n")
    host = make_host(config_dir)
    async with host.running():
        port = host.data[HTTP_SERVER].port
        head = b"GET /api/health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Padding: " + b"p" * 200
        # A byte every half second never completes the head: closed after ~1 s.
        elapsed = await anyio.to_thread.run_sync(_trickle_until_closed, port, head, 0.5, 20)
        assert elapsed < 15  # far below the 20 s it would trickle for (1 s in theory)


async def test_an_idle_kept_alive_connection_is_closed(config_dir: Path) -> None:
    _write(config_dir, "  server_host: 127.0.0.1\n  server_port: 0\n  client_timeout: 1\n")
    host = make_host(config_dir)

    def idle(port: int) -> bytes:
        with socket.create_connection(("127.0.0.1", port), timeout=20) as sock:
            sock.sendall(b"GET /api/health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            received = b""
            while chunk := sock.recv(65536):  # the answer, then EOF once idle too long
                received += chunk
            return received

    async with host.running():
        answer = await anyio.to_thread.run_sync(idle, host.data[HTTP_SERVER].port)
    assert answer.startswith(b"HTTP/1.1 200")
