"""The control socket: one JSON object per line, errors as JSON, never a dead server."""

from __future__ import annotations

import asyncio
import errno
import json
import os
import socket
import stat
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import anyio
import anyio.to_thread
import pytest

from gatehouse.core import Host
from gatehouse.core.cli import EXIT_FAILED, EXIT_NOT_RUNNING, main
from gatehouse.core.control import (
    MAX_REQUEST,
    ControlError,
    ControlServer,
    HostNotRunning,
    request,
    socket_path,
)
from gatehouse.core.testing import make_host

pytestmark = pytest.mark.anyio


class Client:
    """A raw connection to the control socket."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    async def send_line(self, line: bytes) -> dict[str, Any]:
        self.writer.write(line + b"\n")
        await self.writer.drain()
        with anyio.fail_after(10):
            reply = await self.reader.readline()
        assert reply.endswith(b"\n"), reply
        answer = json.loads(reply)
        assert isinstance(answer, dict)
        return answer

    async def ask(self, payload: Any) -> dict[str, Any]:
        return await self.send_line(json.dumps(payload).encode())


@pytest.fixture
async def client(host: Host) -> AsyncIterator[Client]:
    reader, writer = await asyncio.open_unix_connection(str(socket_path(host.config_dir)))
    yield Client(reader, writer)
    writer.close()


def _error(answer: dict[str, Any]) -> dict[str, Any]:
    assert answer["ok"] is False, answer
    error = answer["error"]
    assert isinstance(error["type"], str) and isinstance(error["message"], str)
    return error  # type: ignore[no-any-return]


async def test_socket_is_private_to_the_owner(host: Host) -> None:
    path = socket_path(host.config_dir)
    mode = path.stat().st_mode
    assert stat.S_ISSOCK(mode)
    assert stat.S_IMODE(mode) == 0o600


async def test_ping_answers_with_host_state(client: Client, host: Host) -> None:
    answer = await client.ask({"cmd": "ping"})
    assert answer["ok"] is True
    assert answer["result"] == {
        "state": "running", "config_dir": str(host.config_dir), "pid": os.getpid(),
    }


async def test_bad_requests_get_error_json_and_the_connection_stays_usable(
    client: Client,
) -> None:
    error = _error(await client.ask({"cmd": "no_such_command"}))
    assert error["type"] == "ValueError"
    assert "unknown command 'no_such_command'" in error["message"]

    error = _error(await client.send_line(b'{"cmd": "states"'))  # malformed JSON
    assert error["type"] == "JSONDecodeError"

    error = _error(await client.send_line(b"\xff\xfe not even utf-8"))
    assert error["type"] in {"JSONDecodeError", "UnicodeDecodeError"}

    error = _error(await client.ask(["cmd", "states"]))
    assert "JSON object" in error["message"]

    error = _error(await client.ask({"no": "cmd"}))
    assert "unknown command None" in error["message"]

    error = _error(await client.ask({"cmd": "call_service"}))  # required fields missing
    assert error["type"] == "KeyError"

    # after all that, the same connection still serves real commands
    assert (await client.ask({"cmd": "ping"}))["result"]["state"] == "running"
    assert (await client.ask({"cmd": "states"}))["ok"] is True


async def test_service_errors_keep_their_type(client: Client, host: Host) -> None:
    host.services.register("test", "echo", lambda call: None, {"text": str})
    error = _error(await client.ask({"cmd": "call_service", "domain": "test", "service": "ech"}))
    assert error["type"] == "ServiceNotFound"
    assert "did you mean 'test.echo'" in error["message"]
    error = _error(await client.ask(
        {"cmd": "call_service", "domain": "test", "service": "echo", "data": {"text": 3}}
    ))
    assert error["type"] == "ServiceValidationError"
    ok = await client.ask(
        {"cmd": "call_service", "domain": "test", "service": "echo", "data": {"text": "x"}}
    )
    assert ok == {"ok": True, "result": None}


async def test_a_failing_command_is_reported_and_the_server_goes_on(
    client: Client, host: Host
) -> None:
    def explode(call: Any) -> None:
        raise ZeroDivisionError("the handler broke")

    host.services.register("test", "explode", explode)
    answer = await client.ask({"cmd": "call_service", "domain": "test", "service": "explode"})
    error = _error(answer)
    assert error["type"] == "ZeroDivisionError"
    assert (await client.ask({"cmd": "ping"}))["ok"] is True


async def test_oversized_request_closes_only_that_connection(host: Host) -> None:
    path = str(socket_path(host.config_dir))
    reader, writer = await asyncio.open_unix_connection(path)
    writer.write(b"x" * (MAX_REQUEST + 1024))
    try:
        await writer.drain()
        with anyio.fail_after(10):
            rest = await reader.read()
    except ConnectionError:
        rest = b""
    finally:
        writer.close()
    assert rest == b""  # closed without an answer
    reader, writer = await asyncio.open_unix_connection(path)
    assert (await Client(reader, writer).ask({"cmd": "ping"}))["ok"] is True
    writer.close()


async def test_blocking_request_helper_talks_to_the_host(host: Host) -> None:
    reply = await anyio.to_thread.run_sync(request, host.config_dir, {"cmd": "services"})
    assert reply["ok"] is True
    assert "switch" in reply["result"]


def test_request_without_a_host(tmp_path: Path) -> None:
    with pytest.raises(HostNotRunning, match="no Gatehouse host is running"):
        request(tmp_path, {"cmd": "ping"})
    # a stale socket file left by a killed host: nobody listens
    stale = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    stale.bind(str(socket_path(tmp_path)))
    stale.close()
    assert socket_path(tmp_path).exists()
    with pytest.raises(HostNotRunning):
        request(tmp_path, {"cmd": "ping"})


def test_request_timeout_is_a_control_error_not_a_traceback(tmp_path: Path) -> None:
    mute = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    mute.bind(str(socket_path(tmp_path)))
    mute.listen(1)  # the kernel accepts the connection; nobody ever answers
    try:
        with pytest.raises(ControlError, match=r"did not answer within 0\.2 s") as err:
            request(tmp_path, {"cmd": "ping"}, timeout=0.2)
        assert not isinstance(err.value, HostNotRunning)
    finally:
        mute.close()


def test_cli_reports_control_errors_without_traceback(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def broken(config_dir: Path, payload: Any, timeout: float = 30.0) -> Any:
        raise ControlError("the host did not answer within 30 s")

    monkeypatch.setattr("gatehouse.core.control.request", broken)
    assert main(["states", "-c", str(tmp_path)]) == EXIT_FAILED
    assert main(["entries", "list", "-c", str(tmp_path)]) == EXIT_FAILED
    err = capsys.readouterr().err
    assert err.count("error: the host did not answer within 30 s") == 2
    assert "Traceback" not in err


def test_cli_main_in_process_without_a_host(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["states", "-c", str(tmp_path)]) == EXIT_NOT_RUNNING
    assert "no Gatehouse host is running" in capsys.readouterr().err


async def test_stale_socket_file_is_replaced_on_start(config_dir: Path) -> None:
    stale = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    stale.bind(str(socket_path(config_dir)))
    stale.close()
    host = make_host(config_dir)
    async with host.running():
        reply = await anyio.to_thread.run_sync(request, config_dir, {"cmd": "ping"})
        assert reply["result"]["pid"] == os.getpid()
    assert not socket_path(config_dir).exists()


async def test_a_second_server_does_not_steal_a_live_socket(host: Host) -> None:
    path = socket_path(host.config_dir)
    inode = path.stat().st_ino
    second = ControlServer(host)
    with pytest.raises(OSError) as err:
        await second.start()
    assert err.value.errno == errno.EADDRINUSE
    assert path.stat().st_ino == inode  # the first host's socket is untouched
    reply = await anyio.to_thread.run_sync(request, host.config_dir, {"cmd": "ping"})
    assert reply["ok"] is True


async def test_stop_is_not_held_up_by_an_idle_client(config_dir: Path) -> None:
    host = make_host(config_dir)
    with anyio.fail_after(10):
        async with host.running():
            reader, writer = await asyncio.open_unix_connection(str(socket_path(config_dir)))
            assert (await Client(reader, writer).ask({"cmd": "ping"}))["ok"] is True
            # leave the connection open while the host stops
    assert not socket_path(config_dir).exists()
    with anyio.fail_after(10):
        assert await reader.read() == b""  # the server closed our side
    writer.close()


async def test_entry_add_that_stops_at_a_form_leaves_no_flow_behind(
    client: Client, host: Host
) -> None:
    answer = await client.ask({"cmd": "entry_add", "domain": "demo", "data": {"name": 5}})
    assert answer["ok"] is True
    assert answer["result"]["type"] == "form"
    assert answer["result"]["errors"] == {"name": "expected str"}
    assert host.config_entries.flow.progress() == []  # nobody could continue it
    created = await client.ask({"cmd": "entry_add", "domain": "demo", "data": {"name": "Ctl"}})
    assert created["result"]["type"] == "create_entry"
    assert created["result"]["entry_state"] == "loaded"
    assert host.states.get("switch.ctl_switch") is not None
    error = _error(await client.ask({"cmd": "entry_add", "domain": "dmeo"}))
    assert error["type"] == "IntegrationNotFound"
    assert "did you mean 'demo'" in error["message"]
