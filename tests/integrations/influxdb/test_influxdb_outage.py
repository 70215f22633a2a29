"""Outages and refusals with a real InfluxDB 1.x: the entry loads with the server down,
a server stopped mid-stream loses nothing once it is back, and refused credentials
(401 from ``auth-enabled``, 403 for a user without write rights) stop the entry with
the reason instead of retrying for ever."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import anyio
import anyio.to_thread
import pytest
from influxtools import ADMIN, InfluxServer, add_influx, assert_loaded, drained, v1_data

from gatehouse.core import ConfigEntryState, Host
from gatehouse.core.testing import wait_until

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(90)]


@pytest.fixture(scope="module")
def secured(tmp_path_factory: pytest.TempPathFactory) -> Iterator[InfluxServer]:
    server = InfluxServer(tmp_path_factory.mktemp("influxd-auth"), auth=True)
    server.start()
    try:
        yield server
    finally:
        server.stop()


async def test_loads_with_the_server_down_and_writes_once_it_is_up(
    host: Host, tmp_path: Path
) -> None:
    server = InfluxServer(tmp_path / "influxd")
    try:
        entry = await add_influx(host, v1_data(server, "later"))
        assert_loaded(entry)
        for i in range(100):
            host.states.set(f"sensor.boot_{i}", str(i), {"unit_of_measurement": "V"})
        await wait_until(lambda: entry.runtime_data.sender.requests >= 1)
        assert entry.runtime_data.outbox.stats().depth == 2  # one loop turn: 64 + 36 points
        await anyio.to_thread.run_sync(server.start)
        server.create_database("later")
        await drained(entry)
        assert await server.count("later", "V") == 100
        assert entry.runtime_data.outbox.link.is_on  # type: ignore[union-attr]
    finally:
        server.stop()


async def test_server_stopped_mid_stream_loses_nothing(host: Host, tmp_path: Path) -> None:
    server = InfluxServer(tmp_path / "influxd")
    server.start()
    try:
        server.create_database("stream")
        entry = await add_influx(host, v1_data(server, "stream", batch_size=500))
        sender = entry.runtime_data.sender
        total, restarted = 6000, False
        for i in range(total):
            host.states.set("sensor.stream", str(i), {"unit_of_measurement": "n"})
            if i % 200 == 199:
                await anyio.sleep(0.01)  # pacing: about 20k states/s
            if not restarted and sender.points_written >= 1000:
                restarted = True
                await anyio.to_thread.run_sync(server.stop)
                assert sender.points_written < total
                stopped_at = i
        assert restarted
        await wait_until(lambda: sender.last_error is not None)
        await anyio.to_thread.run_sync(server.start)
        await drained(entry, timeout=30)
        assert stopped_at < total - 1  # states went on while it was down
        rows = await server.rows("stream", 'SELECT "value" FROM "n"')
        assert sorted(int(r["value"]) for r in rows) == list(range(total))
        assert entry.runtime_data.outbox.stats().dead_lettered == 0
    finally:
        server.stop()


async def test_wrong_password_fails_setup_with_the_reason_and_no_secret(
    host: Host, secured: InfluxServer, caplog: pytest.LogCaptureFixture
) -> None:
    secured.create_database("auth1")
    entry = await add_influx(host, v1_data(secured, "auth1", username="admin",
                                           password="not-the-password-xyz"))
    assert entry.state is ConfigEntryState.SETUP_ERROR
    assert "refused the credentials (HTTP 401" in (entry.reason or "")
    assert "not-the-password-xyz" not in caplog.text
    assert "not-the-password-xyz" not in str(entry.reason)


async def test_right_password_writes_then_a_changed_password_stops_the_entry(
    host: Host, secured: InfluxServer
) -> None:
    secured.create_database("auth2")
    secured.query_sync("CREATE USER writer WITH PASSWORD 'w-pass-1'", method="POST")
    secured.query_sync('GRANT WRITE ON "auth2" TO writer', method="POST")
    entry = await add_influx(host, v1_data(secured, "auth2", username="writer",
                                           password="w-pass-1"))
    assert_loaded(entry)
    host.states.set("sensor.ok", "1")
    await drained(entry)
    assert await secured.count("auth2", "sensor.ok") == 1
    destination = entry.runtime_data.outbox.destination
    outbox = entry.runtime_data.outbox.outbox
    secured.query_sync("SET PASSWORD FOR writer = 'w-pass-2'", method="POST")
    host.states.set("sensor.ok", "2")
    await wait_until(lambda: entry.state is ConfigEntryState.SETUP_ERROR, timeout=10)
    assert "HTTP 401" in (entry.reason or "")
    assert outbox.stats(destination).depth == 1  # kept on disk, not retried for ever


async def test_user_without_write_right_is_refused_with_403(
    host: Host, secured: InfluxServer, caplog: pytest.LogCaptureFixture
) -> None:
    secured.create_database("auth3")
    secured.query_sync("CREATE USER reader WITH PASSWORD 'r-pass'", method="POST")
    secured.query_sync('GRANT READ ON "auth3" TO reader', method="POST")
    caplog.set_level(logging.INFO)
    entry = await add_influx(host, v1_data(secured, "auth3", username="reader",
                                           password="r-pass"))
    assert entry.state is ConfigEntryState.SETUP_ERROR
    assert "HTTP 403" in (entry.reason or "")
    assert "not authorized to write" in (entry.reason or "")
    assert ADMIN[1] not in caplog.text
